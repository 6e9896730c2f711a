package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/models"
)

// The REST side of issue #8: a reply over the message limit is a 413,
// never a giant body; nothing is committed that cannot be answered; a
// collection is read in pages that fit.
func TestRESTReplyLimits(t *testing.T) {
	t.Parallel()
	const limit = 4 << 10
	reg := models.NewRegistry()
	huge := models.HandlerFunc(func(context.Context, models.Request) (any, error) {
		return models.Props{{Key: "blob", Value: []byte(strings.Repeat("x", 2*limit))}}, nil
	})
	if err := reg.Register("huge", huge); err != nil {
		t.Fatal(err)
	}
	ts := newTestServerActors(t, Config{}, actors.Config{MaxMessageSize: limit, Registry: reg})
	e := &restEnv{srv: ts.Server, sys: ts.sys}

	if r := e.doJSON(t, http.MethodGet, "/api/huge/1", ""); r.status != http.StatusRequestEntityTooLarge || r.errorCode(t) != "too_large" {
		t.Errorf("a Go handler's reply over the limit: %d %s, want 413 too_large", r.status, r.body)
	}

	// Refused before the commit: a document whose reply would not fit,
	// a key no atom can carry, an integer over MaxBignumBytes.
	for _, tt := range []struct{ name, body string }{
		{"document over the limit", fmt.Sprintf(`{"id": "big", "blob": %q}`, strings.Repeat("x", limit))},
		{"key beyond Latin-1", `{"id": "big", "名前": 1}`},
		{"bignum over the limit", fmt.Sprintf(`{"id": "big", "n": %s}`, strings.Repeat("9", models.MaxBignumDigits))},
		{"integer of 1M digits", fmt.Sprintf(`{"id": "big", "n": %s}`, strings.Repeat("9", 1<<20-100))},
	} {
		r := e.doJSON(t, http.MethodPost, "/api/c", tt.body)
		if r.status/100 != 4 {
			t.Errorf("%s: %d %s, want it refused", tt.name, r.status, r.body)
		}
		if r := e.doJSON(t, http.MethodGet, "/api/c/big", ""); r.status != http.StatusNotFound {
			t.Fatalf("%s: committed: GET answered %d %s", tt.name, r.status, r.body)
		}
	}

	const n = 12
	for i := range n {
		if r := e.doJSON(t, http.MethodPost, "/api/c", fmt.Sprintf(`{"i": %d, "blob": %q}`, i, strings.Repeat("y", 1000))); r.status != http.StatusCreated {
			t.Fatalf("create %d: %d %s", i, r.status, r.body)
		}
	}
	var read []any
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("no empty page")
		}
		r := e.doJSON(t, http.MethodGet, fmt.Sprintf("/api/c?offset=%d", len(read)), "")
		if r.status != http.StatusOK || len(r.body) > limit {
			t.Fatalf("page at offset %d: %d, %d bytes (limit %d)", len(read), r.status, len(r.body), limit)
		}
		page, ok := r.json(t).([]any)
		if !ok {
			t.Fatalf("page %s is not an array", r.body)
		}
		if len(page) == 0 {
			break
		}
		if len(page) == n {
			t.Fatalf("a page of all %d documents of 1000 bytes within %d bytes", n, limit)
		}
		read = append(read, page...)
	}
	for i, doc := range read {
		if m, _ := doc.(map[string]any); m["i"] != float64(i) {
			t.Fatalf("document %d of the paged read is %v", i, doc)
		}
	}
	if len(read) != n {
		t.Errorf("paged read got %d documents, want %d", len(read), n)
	}
}
