// Command character is a bertsync server with one model type written in
// Go: character, whose handler is the Go counterpart of an Erlang module's
// sync(Method, Props). Every other model type a client names, note or todo
// say, is served as usual by the generic document model in the store.
//
//	go run ./examples/character --addr 127.0.0.1:8080 --data ./data
//
// Then, from another shell:
//
//	go run ./cmd/bertsync call ws://127.0.0.1:8080/bullet \
//	    '{sync, create, character, [{name, <<"Ann">>}, {class, <<"bard">>}]}'
//
// The characters live in memory and are gone when the server stops; the
// documents of the other types are kept in --data. docs/models.md walks
// through the code.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"

	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// Character is a character's attributes as a Go struct. Its bert tags name
// the properties a front end sends and receives.
type Character struct {
	ID    string `bert:"id"`
	Name  string `bert:"name"`
	Class string `bert:"class,omitempty"`
	Level int    `bert:"level,omitempty"`
}

// Characters is the handler of the character model type. It keeps the
// characters in memory; the server runs it as one actor, so Sync is never
// called concurrently and needs no lock.
type Characters struct {
	last int // the last id given, as a number
	byID map[string]Character
}

// NewCharacters returns a handler with no characters.
func NewCharacters() *Characters {
	return &Characters{byID: make(map[string]Character)}
}

// Sync serves one request, as sync(Method, Props) does in Erlang: a clause
// per method. An error's code ([models.CodeOf]) is what the client sees in
// {sync, error, {Code, Message}}.
func (c *Characters) Sync(ctx context.Context, req models.Request) (any, error) {
	switch req.Method {
	case models.Create:
		var ch Character
		// Bind fills the fields the props name, following the bert tags.
		if err := req.Props.Bind(&ch); err != nil {
			return nil, err
		}
		if err := ch.validate(); err != nil {
			return nil, err
		}
		c.last++
		ch.ID = strconv.Itoa(c.last)
		c.byID[ch.ID] = ch
		return ch, nil
	case models.Read:
		if req.ID == "" {
			list := make([]Character, 0, len(c.byID))
			for _, ch := range c.byID {
				list = append(list, ch)
			}
			slices.SortFunc(list, func(a, b Character) int { return cmp.Compare(idNumber(a.ID), idNumber(b.ID)) })
			return list, nil
		}
		return c.find(req.ID)
	case models.Update, models.Patch:
		ch, err := c.find(req.ID)
		if err != nil {
			return nil, err
		}
		if req.Method == models.Update {
			ch = Character{} // update replaces, patch merges
		}
		if err := req.Props.Bind(&ch); err != nil {
			return nil, err
		}
		ch.ID = req.ID
		if err := ch.validate(); err != nil {
			return nil, err
		}
		c.byID[ch.ID] = ch
		return ch, nil
	case models.Delete:
		ch, err := c.find(req.ID)
		if err != nil {
			return nil, err
		}
		delete(c.byID, req.ID)
		return ch, nil
	}
	return nil, models.Errorf(models.CodeBadRequest, "character does not %s", req.Method)
}

// find returns the character with the id, or an error wrapping
// [models.ErrNotFound], which the client sees as {not_found, …}.
func (c *Characters) find(id string) (Character, error) {
	ch, ok := c.byID[id]
	if !ok {
		return Character{}, fmt.Errorf("character %q: %w", id, models.ErrNotFound)
	}
	return ch, nil
}

// validate reports what is wrong with ch as a bad_request error.
func (ch Character) validate() error {
	switch {
	case ch.Name == "":
		return models.Errorf(models.CodeBadRequest, "a character needs a name")
	case ch.Level < 0:
		return models.Errorf(models.CodeBadRequest, "level %d: want 0 or more", ch.Level)
	}
	return nil
}

// idNumber is the number of an id this handler gave, 0 for any other.
func idNumber(id string) int {
	n, _ := strconv.Atoi(id)
	return n
}

func main() {
	addr := flag.String("addr", gateway.DefaultAddr, "listen `address` host:port; port 0 picks a free one")
	data := flag.String("data", "./data", "data `directory` of the store, which keeps the documents of the other model types")
	flag.Parse()
	// SIGINT or SIGTERM ends ctx, and the server shuts down gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, *addr, *data, nil)
	stop()
	if err != nil {
		slog.Error("serve failed", "err", err)
		os.Exit(1)
	}
}

// serve registers the character model type and serves it, with the
// document model for every other type, until ctx ends. onListen, if not
// nil, gets the address once the server accepts connections.
func serve(ctx context.Context, addr, dataDir string, onListen func(net.Addr)) error {
	registry := models.NewRegistry()
	if err := registry.Register("character", NewCharacters()); err != nil {
		return err
	}
	return gateway.ListenAndServe(ctx, gateway.ServeConfig{
		Addr:     addr,
		DataDir:  dataDir,
		Registry: registry,
		OnListen: onListen,
	})
}
