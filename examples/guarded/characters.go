package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/bertsync/bertsync/models"
)

// byProp is the attribute that names who made a character: the Subject
// of the caller, stamped by the handler whatever the client sent.
const byProp = "by"

// gmRole is the "role" claim of the game master, who may broadcast and
// change anyone's characters.
const gmRole = "gm"

// Characters is the handler of the character model type and, being a
// models.Guard, its gatekeeper. It keeps the characters in memory, as
// props, so that whatever attributes the demo app sends (name, number, an
// uploaded file) are kept. The server runs it as one actor: Sync and
// Allow are never called concurrently, and Allow may read what Sync keeps.
type Characters struct {
	order []string // ids, in the order the characters were made
	byID  map[string]models.Props
}

var _ models.Guard = (*Characters)(nil)

// NewCharacters returns a handler with no characters.
func NewCharacters() *Characters {
	return &Characters{byID: make(map[string]models.Props)}
}

// Allow decides every request before it is served: after the access
// rules (which let every client request of this type through to here)
// and before Sync, for subscribe and broadcast too, which never reach
// Sync. req.Caller is who sent it: the token's sub as Subject, all its
// claims in Claims; the zero Caller for a client without a token.
func (c *Characters) Allow(ctx context.Context, req models.Request) error {
	if req.Method == models.Read {
		return nil // anyone may look at the table
	}
	if req.Caller.Anonymous() {
		// Answered {sync, error, {unauthorized, …}}: sign in and try again.
		return models.Errorf(models.CodeUnauthorized, "sign in to %s characters", req.Method)
	}
	gm := role(req.Caller) == gmRole
	switch req.Method {
	case models.Broadcast:
		if !gm {
			return models.Errorf(models.CodeForbidden, "only the game master broadcasts to the table")
		}
	case models.Update, models.Patch, models.Delete:
		ch, ok := c.byID[req.ID]
		if !ok || gm {
			return nil // Sync says not_found, or the game master may
		}
		if by, _ := ch.Text(byProp); by != req.Caller.Subject {
			return models.Errorf(models.CodeForbidden, "character %q is %s's", req.ID, by)
		}
	}
	// Create and subscribe: any player who signed in.
	return nil
}

// role is the caller's "role" claim, "" when there is none. Claims hold
// what encoding/json decoded from the token: a string claim is a string.
func role(c models.Caller) string {
	r, _ := c.Claims["role"].(string)
	return r
}

// Sync serves the five methods; Allow has let the request through.
func (c *Characters) Sync(ctx context.Context, req models.Request) (any, error) {
	switch req.Method {
	case models.Create:
		id := req.ID
		if id == "" {
			// 128 random bits: nobody can guess another's id.
			id = rand.Text()
		} else if _, taken := c.byID[id]; taken {
			return nil, fmt.Errorf("character %q: %w", id, models.ErrConflict)
		}
		ch := withID(id, req.Props).Set(byProp, []byte(req.Caller.Subject))
		c.byID[id] = ch
		c.order = append(c.order, id)
		return ch, nil
	case models.Read:
		if req.ID == "" {
			list := make([]models.Props, 0, len(c.order))
			for _, id := range c.order {
				list = append(list, c.byID[id])
			}
			return list, nil
		}
		return c.find(req.ID)
	case models.Update, models.Patch:
		prev, err := c.find(req.ID)
		if err != nil {
			return nil, err
		}
		// Update replaces the attributes, patch merges them; who made
		// the character stays, whatever the client sent.
		ch := req.Props
		if req.Method == models.Patch {
			ch = prev.Merge(req.Props)
		}
		by, _ := prev.Get(byProp)
		ch = withID(req.ID, ch).Set(byProp, by)
		c.byID[req.ID] = ch
		return ch, nil
	case models.Delete:
		ch, err := c.find(req.ID)
		if err != nil {
			return nil, err
		}
		delete(c.byID, req.ID)
		c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == req.ID })
		return ch, nil
	}
	return nil, models.Errorf(models.CodeBadRequest, "character does not %s", req.Method)
}

// find returns the character with the id, or a not_found error.
func (c *Characters) find(id string) (models.Props, error) {
	ch, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("character %q: %w", id, models.ErrNotFound)
	}
	return ch, nil
}

// withID returns props with "id" first, as a binary, and without byProp,
// which is the handler's to set.
func withID(id string, props models.Props) models.Props {
	out := models.Props{{Key: "id", Value: []byte(id)}}
	for _, p := range props {
		if p.Key != "id" && p.Key != byProp {
			out = append(out, p)
		}
	}
	return out
}
