package models

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

func TestNewRequest(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	tests := []struct {
		name    string
		method  Method
		model   string
		props   Props
		wantID  string
		wantErr string
	}{
		{name: "no props", method: Read, model: "character", props: nil},
		{name: "binary id", method: Read, model: "character", props: Props{{"id", []byte("42")}}, wantID: "42"},
		{name: "byte list id", method: Update, model: "c", props: Props{{"id", bert.ByteList("abc")}}, wantID: "abc"},
		{name: "atom id", method: Delete, model: "c", props: Props{{"id", bert.Atom("x")}}, wantID: "x"},
		{name: "string id", method: Patch, model: "c", props: Props{{"id", "s"}}, wantID: "s"},
		{name: "integer id", method: Read, model: "c", props: Props{{"id", int64(-7)}}, wantID: "-7"},
		{name: "go int id", method: Read, model: "c", props: Props{{"id", 12}}, wantID: "12"},
		{name: "bignum id", method: Read, model: "c", props: Props{{"id", huge}}, wantID: "123456789012345678901234567890"},
		{name: "nil id", method: Create, model: "c", props: Props{{"id", nil}}, wantID: ""},
		{name: "empty id", method: Create, model: "c", props: Props{{"id", bert.ByteList{}}}, wantID: ""},
		{name: "float id", method: Read, model: "c", props: Props{{"id", 1.5}}, wantErr: "id is a float"},
		{name: "whole float id", method: Read, model: "c", props: Props{{"id", 7.0}}, wantID: "7"},
		{name: "negative whole float id", method: Read, model: "c", props: Props{{"id", -3.0}}, wantID: "-3"},
		{name: "inexact float id", method: Read, model: "c", props: Props{{"id", 1e300}}, wantErr: "id is a float"},
		{name: "tuple id", method: Read, model: "c", props: Props{{"id", bert.Tuple{}}}, wantErr: "id is a tuple"},
		{name: "long id", method: Read, model: "c", props: Props{{"id", []byte(strings.Repeat("x", MaxIDSize+1))}}, wantErr: "id of 1025 bytes"},
		{name: "unknown method", method: "subscribe", model: "c", wantErr: `unknown method "subscribe"`},
		{name: "empty method", method: "", model: "c", wantErr: "unknown method"},
		{name: "empty model", method: Read, model: "", wantErr: "empty model name"},
		{name: "long model", method: Read, model: strings.Repeat("m", MaxModelNameSize+1), wantErr: "model name of 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := NewRequest(tt.method, tt.model, tt.props)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewRequest error = %v, want a bad request saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if req.ID != tt.wantID || req.Method != tt.method || req.Model != tt.model {
				t.Errorf("NewRequest = %+v, want ID %q", req, tt.wantID)
			}
			if req.Props == nil || len(req.Props) != len(tt.props) {
				t.Errorf("Props = %#v, want the request's %d props", req.Props, len(tt.props))
			}
		})
	}
}

func TestParseMethod(t *testing.T) {
	for _, m := range []Method{Create, Read, Update, Patch, Delete} {
		if got, err := ParseMethod(string(m)); err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %q, %v", m, got, err)
		}
	}
	for _, s := range []string{"", "READ", "broadcast", "get"} {
		if _, err := ParseMethod(s); !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseMethod(%q) error = %v, want bad request", s, err)
		}
	}
}
