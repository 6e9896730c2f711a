package actors

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

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

// TestModelNameTaken: an actor already registered in protoactor under
// the name a model type would once have been spawned by ("model/NAME")
// neither receives the type's requests nor keeps Shutdown waiting: the
// System's own map is the one registry of model actors, and their
// protoactor ids are unique.
func TestModelNameTaken(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	stolen := make(chan any, 10)
	squatter, err := sys.as.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if r, ok := ctx.Message().(*modelRequest); ok {
			stolen <- r
		}
	}), "model/m")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.as.Root.Stop(squatter) })

	got, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "m", Props: models.Props{{Key: "k", Value: int64(1)}}})
	if err != nil || prop(t, got, "k") != int64(1) {
		t.Fatalf("Call: %v, %v", got, err)
	}
	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("read", "m", nil, int64(2)))
	reply, _ := tr.next(t)
	wantOK(t, reply, int64(2))
	select {
	case r := <-stolen:
		t.Fatalf("the actor registered as model/m got %#v", r)
	default:
	}

	m, err := sys.model("m")
	if err != nil {
		t.Fatal(err)
	}
	if m.pid.Id == "model/m" {
		t.Fatalf("model actor has the squatter's id %q", m.pid.Id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := sys.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-m.done:
	default:
		t.Fatal("Shutdown returned before the model actor stopped")
	}
}

// TestModelFirstUseRace: concurrent first requests for a type spawn one
// model actor, which they all share, and Shutdown stops it.
func TestModelFirstUseRace(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	const n = 32
	start := make(chan struct{})
	states := make(chan *modelState, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			m, err := sys.model("m")
			if err != nil {
				t.Error(err)
			}
			states <- m
		})
	}
	close(start)
	wg.Wait()
	close(states)
	first := <-states
	for m := range states {
		if m != first {
			t.Fatal("concurrent first uses got different model states")
		}
	}
	if c := sys.modelCount(); c != 1 {
		t.Fatalf("%d model actors, want 1", c)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-first.done
}
