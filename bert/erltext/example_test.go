package erltext_test

import (
	"fmt"
	"log"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

func ExampleParse() {
	term, err := erltext.Parse(`{sync, create, character, [{name, <<"Ann">>}, {level, 16#0A}]}.`)
	if err != nil {
		log.Fatal(err)
	}
	t := term.(bert.Tuple)
	fmt.Println(t[0], t[1], t[2])
	text, _ := erltext.Format(term)
	fmt.Println(text)
	// Output:
	// sync create character
	// {sync,create,character,[{name,<<"Ann">>},{level,10}]}
}

func ExampleParse_error() {
	_, err := erltext.Parse("{ok,\n  Pid}")
	fmt.Println(err)
	// Output:
	// erltext: line 2, column 3: variable Pid is not a term
}

func ExampleFormat() {
	text, err := erltext.Format(bert.Tuple{
		bert.Atom("reply"), bert.Atom("Caps"), []byte("héllo"), bert.ByteList{1, 2}, 1e-10, nil,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(text)
	// Output:
	// {reply,'Caps',<<"héllo"/utf8>>,[1,2],1.0e-10,{bert,nil}}
}
