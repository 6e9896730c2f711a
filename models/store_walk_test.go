package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestStoreTypesAndWalk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestStore(t)
	if types, err := s.Types(ctx); err != nil || len(types) != 0 {
		t.Fatalf("Types of an empty store: %v %v", types, err)
	}
	for _, d := range []struct{ model, id string }{
		{"post", "b"}, {"note", "2"}, {"post", "a"}, {"note", "1"}, {"gone", "x"},
	} {
		if _, err := s.Insert(ctx, d.model, d.id, Props{{"of", []byte(d.model + "/" + d.id)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remove(ctx, "gone", "x"); err != nil {
		t.Fatal(err)
	}
	// A type whose last document went is still a type.
	if types, err := s.Types(ctx); err != nil || !slices.Equal(types, []string{"gone", "note", "post"}) {
		t.Errorf("Types = %v %v", types, err)
	}

	var seen []string
	err := s.Walk(ctx, func(model string, d Doc) error {
		of, _ := d.Attrs.Text("of")
		if of != model+"/"+d.ID {
			t.Errorf("%s %s has attrs %v", model, d.ID, d.Attrs)
		}
		seen = append(seen, of)
		return nil
	})
	if want := []string{"note/1", "note/2", "post/a", "post/b"}; err != nil || !slices.Equal(seen, want) {
		t.Errorf("Walk saw %v (%v), want %v", seen, err, want)
	}

	// fn's error ends the walk and is Walk's.
	stop := errors.New("stop")
	n := 0
	err = s.Walk(ctx, func(string, Doc) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk with a failing fn: %v after %d documents", err, n)
	}
}

func TestStoreWalkContext(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	for i := range walkCheckEvery + 1 {
		if _, err := s.Insert(ctx, "doc", fmt.Sprintf("%05d", i), Props{}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := s.Walk(ctx, func(string, Doc) error {
		if n++; n == 1 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, ErrUnavailable) || n >= walkCheckEvery {
		t.Errorf("Walk after its context ended: %v after %d documents", err, n)
	}
	if err := s.Walk(ctx, func(string, Doc) error { return nil }); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Walk with an ended context: %v", err)
	}
}

func TestDocumentsStore(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	if got := NewDocuments(s, nil).Store(); got != s {
		t.Errorf("Store() = %p, want %p", got, s)
	}
	var d *Documents
	if d.Store() != nil {
		t.Error("a nil Documents has a store")
	}
}
