package models_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/bertsync/bertsync/models"
)

// ExampleDocuments serves a model type with no Go code: the generic
// document model on a store file.
func ExampleDocuments() {
	dir, err := os.MkdirTemp("", "bertsync-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := models.OpenStore(filepath.Join(dir, "bertsync.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	docs := models.NewDocuments(store, []string{"note"})
	if _, ok := docs.Handler("secret"); !ok {
		fmt.Println("secret: not served")
	}
	h, _ := docs.Handler("note")
	ctx := context.Background()
	// A note created without an id gets one from the store: unguessable,
	// so different on every run. The output names it ID1.
	var id1 string
	run := func(method models.Method, props models.Props) {
		req, err := models.NewRequest(method, "note", props)
		if err == nil {
			var reply any
			reply, err = h.Sync(ctx, req)
			if err == nil {
				if method == models.Create && !props.Has("id") {
					id1, _ = reply.(models.Props).Text("id")
					fmt.Printf("new id: %d characters\n", len(id1))
				}
				text, _ := erltext.Format(models.ReplyTerm(reply))
				if id1 != "" {
					text = strings.ReplaceAll(text, `<<"`+id1+`">>`, "ID1")
				}
				fmt.Printf("%s -> %s\n", method, text)
				return
			}
		}
		fmt.Printf("%s -> {%s, %q}\n", method, models.CodeOf(err), models.MessageOf(err))
	}
	run(models.Create, models.Props{{Key: "text", Value: []byte("buy milk")}})
	// A client may choose the id; an integer id is its text.
	run(models.Create, models.Props{{Key: "id", Value: int64(2)}, {Key: "text", Value: []byte("call Bo")}, {Key: "done", Value: true}})
	run(models.Patch, models.Props{{Key: "id", Value: bert.ByteList(id1)}, {Key: "done", Value: false}})
	run(models.Read, models.Props{{Key: "limit", Value: int64(10)}})
	run(models.Delete, models.Props{{Key: "id", Value: int64(2)}})
	run(models.Read, models.Props{{Key: "id", Value: []byte("2")}})
	// Output:
	// secret: not served
	// new id: 29 characters
	// create -> [{id,ID1},{text,<<"buy milk">>}]
	// create -> [{id,<<"2">>},{text,<<"call Bo">>},{done,{bert,true}}]
	// patch -> [{id,ID1},{text,<<"buy milk">>},{done,{bert,false}}]
	// read -> [[{id,ID1},{text,<<"buy milk">>},{done,{bert,false}}],[{id,<<"2">>},{text,<<"call Bo">>},{done,{bert,true}}]]
	// delete -> [{id,<<"2">>},{text,<<"call Bo">>},{done,{bert,true}}]
	// read -> {not_found, "note \"2\" not found"}
}
