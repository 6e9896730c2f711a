package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	echo := HandlerFunc(func(ctx context.Context, req Request) (any, error) { return req.Props, nil })
	if err := r.Register("character", echo); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := r.Register("arena", echo); err != nil {
		t.Fatalf("Register: %v", err)
	}
	for _, tt := range []struct {
		name string
		h    Handler
		want string
	}{
		{"character", echo, "already registered"},
		{"", echo, "empty model name"},
		{strings.Repeat("x", MaxModelNameSize+1), echo, "model name of"},
		{"nilhandler", nil, "nil handler"},
	} {
		if err := r.Register(tt.name, tt.h); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Register(%.10q) error = %v, want %q", tt.name, err, tt.want)
		}
	}
	if h, ok := r.Lookup("character"); !ok || h == nil {
		t.Error("Lookup(character) found nothing")
	}
	if _, ok := r.Lookup("nilhandler"); ok {
		t.Error("a failed Register left a handler")
	}
	if _, ok := r.Lookup("Character"); ok {
		t.Error("Lookup is not case-sensitive")
	}
	if got := r.Names(); !slices.Equal(got, []string{"arena", "character"}) {
		t.Errorf("Names = %v", got)
	}
	var nilReg *Registry
	if _, ok := nilReg.Lookup("x"); ok || nilReg.Names() != nil {
		t.Error("a nil Registry is not empty")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	h := HandlerFunc(func(ctx context.Context, req Request) (any, error) { return nil, nil })
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("m%d", i)
				if err := r.Register(name, h); err != nil && !strings.Contains(err.Error(), "already registered") {
					errs <- err
				}
				if _, ok := r.Lookup(name); !ok {
					errs <- fmt.Errorf("goroutine %d: %s missing after Register", g, name)
				}
				_ = r.Names()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(r.Names()); n != 50 {
		t.Errorf("%d names, want 50", n)
	}
}
