package actors

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

func TestNewSystemNeedsModels(t *testing.T) {
	t.Parallel()
	if _, err := NewSystem(context.Background(), Config{}); err == nil {
		t.Fatal("NewSystem with neither Registry nor Documents succeeded")
	}
}

func TestProtoactorLogsRouted(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	newTestSystem(t, Config{Logger: slog.New(logs)}, nil)
	if logs.count("actor system started") != 1 {
		t.Fatal("protoactor's start message did not reach Config.Logger")
	}
}

// TestDocumentsFallback: a registered handler wins, other types go to the
// document model, and a type the document model does not allow is
// unknown.
func TestDocumentsFallback(t *testing.T) {
	t.Parallel()
	store, err := models.OpenStore(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	sys := newTestSystem(t, Config{Documents: models.NewDocuments(store, []string{"todo", "character"})},
		map[string]models.Handler{"character": echo})
	t.Cleanup(func() { store.Close() }) // runs after the system's Shutdown

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("create", "todo", kv("title", []byte("write tests"))))
	reply, _ := tr.next(t)
	id := prop(t, wantOK(t, reply), "id")
	send(t, s, request("read", "todo", kv("id", id)))
	reply, _ = tr.next(t)
	if string(prop(t, wantOK(t, reply), "title").([]byte)) != "write tests" {
		t.Fatalf("read back %s", format(reply))
	}

	// The registered echo handler answers without an id.
	send(t, s, request("create", "character", kv("name", []byte("x"))))
	reply, _ = tr.next(t)
	if l, ok := wantOK(t, reply).(bert.List); !ok || len(l) != 1 {
		t.Fatalf("character created by %s, want the registered echo handler", format(reply))
	}
	send(t, s, request("read", "other", nil))
	reply, _ = tr.next(t)
	wantError(t, reply, models.CodeNotFound)
}
