package actors

import (
	"context"
	"testing"

	"github.com/bertsync/bertsync/models"
)

// BenchmarkRoundTrip measures one request through a session actor, a
// model actor and back to the transport, request after request, with
// encoding and decoding. BenchmarkChannelRoundTrip is its baseline: the
// same request and reply bytes over a plain Go channel to a goroutine.
func BenchmarkRoundTrip(b *testing.B) {
	sys := newTestSystem(b, Config{}, map[string]models.Handler{"m": echo})
	tr := newFakeTransport(16)
	s := sys.NewSession(tr)
	frame := enc(b, request("read", "m", kv("id", []byte("42"), "name", []byte("Arthur")), int64(1)))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Deliver(Frame{Data: frame})
		<-tr.frames
	}
}

func BenchmarkChannelRoundTrip(b *testing.B) {
	frame := enc(b, request("read", "m", kv("id", []byte("42"), "name", []byte("Arthur")), int64(1)))
	in, out := make(chan []byte, 16), make(chan []byte, 16)
	go func() {
		for f := range in {
			out <- f
		}
		close(out)
	}()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		in <- frame
		<-out
	}
	b.StopTimer()
	close(in)
	for range out {
	}
}

// BenchmarkFanOut measures one change pushed to 100 subscribed sessions,
// until the last of them has it.
func BenchmarkFanOut(b *testing.B) {
	const subscribers = 100
	sys := newTestSystem(b, Config{}, map[string]models.Handler{"m": echo})
	trs := make([]*fakeTransport, subscribers)
	for i := range trs {
		trs[i] = newFakeTransport(16)
		s := sys.NewSession(trs[i])
		send(b, s, request("subscribe", "m", nil))
		trs[i].next(b)
	}
	req := models.Request{Method: models.Create, Model: "m", Props: models.Props{{Key: "name", Value: []byte("Arthur")}}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sys.Call(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		for _, tr := range trs {
			<-tr.frames
		}
	}
}
