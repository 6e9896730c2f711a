package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runTermCmd runs "bertsync term args..." with stdin and returns the exit
// status and both outputs.
func runTermCmd(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"term"}, args...), bytes.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestTermDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		args []string
		want string
	}{
		{"tuple", []byte{131, 104, 2, 100, 0, 1, 'a', 97, 1}, nil, "{a,1}\n"},
		{"utf8 atom and binary", []byte{131, 104, 2, 119, 5, 'h', 0xc3, 0xa9, 'l', 'o', 109, 0, 0, 0, 2, 'h', 'i'}, nil, "{'hélo',<<\"hi\">>}\n"},
		{"string and float", []byte{131, 108, 0, 0, 0, 2, 107, 0, 2, 'o', 'k', 70, 63, 248, 0, 0, 0, 0, 0, 0, 106}, nil, "[\"ok\",1.5]\n"},
		{"bert nil", []byte{131, 104, 2, 100, 0, 4, 'b', 'e', 'r', 't', 100, 0, 3, 'n', 'i', 'l'}, nil, "{bert,nil}\n"},
		{"empty list", []byte{131, 106}, []string{"--pretty"}, "[]\n"},
	}
	for _, tt := range tests {
		code, out, errOut := runTermCmd(t, tt.in, append([]string{"decode"}, tt.args...)...)
		if code != 0 || out != tt.want {
			t.Errorf("%s: term decode = %d, %q (stderr %q), want 0, %q", tt.name, code, out, errOut, tt.want)
		}
	}
}

func TestTermDecodePretty(t *testing.T) {
	text := `{sync,create,character,[{name,<<"Gandalf the Grey">>},{race,<<"maia">>},{level,20},{hp,1000},{mana,5000},{id,<<"abc-123">>}]}`
	code, data, errOut := runTermCmd(t, []byte(text), "encode")
	if code != 0 {
		t.Fatalf("encode: %d %s", code, errOut)
	}
	code, out, errOut := runTermCmd(t, []byte(data), "decode", "--pretty")
	if code != 0 {
		t.Fatalf("decode --pretty: %d %s", code, errOut)
	}
	if strings.Count(out, "\n") < 3 || !strings.HasSuffix(out, "}\n") {
		t.Errorf("decode --pretty did not break the term over lines:\n%s", out)
	}
	code, compact, _ := runTermCmd(t, []byte(data), "decode")
	if code != 0 || compact != text+"\n" {
		t.Errorf("decode = %d %q, want %q", code, compact, text)
	}
}

func TestTermDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		args []string
		code int
		msg  string
	}{
		{"empty input", nil, nil, 1, "empty input"},
		{"trailing bytes", []byte{131, 97, 1, 0}, nil, 1, "trailing"},
		{"no version byte", []byte{97, 1}, nil, 1, "131"},
		{"truncated", []byte{131, 108, 0, 0, 0, 5, 97}, nil, 1, "bert: "},
		{"pid", []byte{131, 103, 100, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0}, nil, 1, "103"},
		{"huge list claim", []byte{131, 108, 255, 255, 255, 255, 106}, nil, 1, "bert: "},
		{"argument", []byte{131, 106}, []string{"file.bert"}, 2, "unexpected argument"},
		{"bad flag", []byte{131, 106}, []string{"--nope"}, 2, "nope"},
	}
	for _, tt := range tests {
		code, out, errOut := runTermCmd(t, tt.in, append([]string{"decode"}, tt.args...)...)
		if code != tt.code || out != "" || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%s: term decode = %d, stdout %q, stderr %q; want %d and a message containing %q", tt.name, code, out, errOut, tt.code, tt.msg)
		}
	}
}

func TestTermEncode(t *testing.T) {
	tests := []struct {
		in   string
		args []string
		want []byte
	}{
		{"{a,1}.", nil, []byte{131, 104, 2, 119, 1, 'a', 97, 1}},
		{"{a,1}.", []string{"--profile", "erlang"}, []byte{131, 104, 2, 119, 1, 'a', 97, 1}},
		{"{a,1}", []string{"--profile", "bertjs"}, []byte{131, 104, 2, 100, 0, 1, 'a', 97, 1}},
		{"% a comment\n[].\n", nil, []byte{131, 106}},
		{`<<"hi">>`, nil, []byte{131, 109, 0, 0, 0, 2, 'h', 'i'}},
		{`"ok"`, nil, []byte{131, 107, 0, 2, 'o', 'k'}},
		{"1.5", nil, []byte{131, 70, 63, 248, 0, 0, 0, 0, 0, 0}},
		{"-1", nil, []byte{131, 98, 255, 255, 255, 255}},
		{"#{a => 1}", nil, []byte{131, 116, 0, 0, 0, 1, 119, 1, 'a', 97, 1}},
	}
	for _, tt := range tests {
		code, out, errOut := runTermCmd(t, []byte(tt.in), append([]string{"encode"}, tt.args...)...)
		if code != 0 || !bytes.Equal([]byte(out), tt.want) {
			t.Errorf("term encode %v of %q = %d, %v (stderr %q), want 0, %v", tt.args, tt.in, code, []byte(out), errOut, tt.want)
		}
	}
}

func TestTermRoundTrip(t *testing.T) {
	for _, text := range []string{
		`{sync,create,character,[{name,<<"Gandalf">>},{level,20},{x,1.5}]}`,
		`['hello world','Caps',[a|b],#{k => "v"},123456789012345678901234567890,-1.0e-10]`,
		`{bert,dict,[{a,1}]}`,
		`<<1,2:3>>`,
	} {
		code, data, errOut := runTermCmd(t, []byte(text), "encode")
		if code != 0 {
			t.Errorf("encode %s: %d %s", text, code, errOut)
			continue
		}
		code, out, errOut := runTermCmd(t, []byte(data), "decode")
		if code != 0 || out != text+"\n" {
			t.Errorf("decode(encode(%s)) = %d %q (stderr %q)", text, code, out, errOut)
		}
	}
}

func TestTermEncodeErrors(t *testing.T) {
	tests := []struct {
		in   string
		args []string
		code int
		msg  string
	}{
		{"", nil, 1, "empty input"},
		{"  \n", nil, 1, "empty input"},
		{"{a,", nil, 1, "line 1, column 4"},
		{"{a}\n{b}", nil, 1, "line 2, column 1"},
		{"X", nil, 1, "variable"},
		{"a", []string{"--profile", "json"}, 2, "unknown profile"},
		{"a", []string{"extra"}, 2, "unexpected argument"},
	}
	for _, tt := range tests {
		code, out, errOut := runTermCmd(t, []byte(tt.in), append([]string{"encode"}, tt.args...)...)
		if code != tt.code || out != "" || !strings.Contains(errOut, tt.msg) {
			t.Errorf("term encode %v of %q = %d, stdout %q, stderr %q; want %d and %q", tt.args, tt.in, code, out, errOut, tt.code, tt.msg)
		}
	}
}

func TestTermUsage(t *testing.T) {
	if code, _, errOut := runTermCmd(t, nil); code != 2 || !strings.Contains(errOut, "usage") {
		t.Errorf("term without subcommand = %d, %q", code, errOut)
	}
	if code, _, errOut := runTermCmd(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("term frobnicate = %d, %q", code, errOut)
	}
	if code, out, _ := runTermCmd(t, nil, "help"); code != 0 || !strings.Contains(out, "decode") {
		t.Errorf("term help = %d, %q", code, out)
	}
}
