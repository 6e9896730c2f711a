package actors

import (
	"context"
	"runtime"
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

// BenchmarkIdleSessionMemory reports the heap each idle session costs
// (session actor, mailbox, handle; the transport's own buffers aside).
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 2000
	sys := newTestSystem(b, Config{}, map[string]models.Handler{"m": echo})
	tr := newFakeTransport(1)
	var before, after runtime.MemStats
	b.ReportAllocs()
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		sessions := make([]*Session, n)
		for i := range sessions {
			sessions[i] = sys.NewSession(tr)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/session")
		for _, s := range sessions {
			s.Close()
		}
		for _, s := range sessions {
			<-s.Done()
		}
	}
}

// BenchmarkRoundTripParallel is BenchmarkRoundTrip with one session per
// benchmark goroutine, all at once; BenchmarkChannelRoundTripParallel is
// its baseline.
func BenchmarkRoundTripParallel(b *testing.B) {
	sys := newTestSystem(b, Config{}, map[string]models.Handler{"m": echo})
	frame := enc(b, request("read", "m", kv("id", []byte("42"), "name", []byte("Arthur")), int64(1)))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		tr := newFakeTransport(16)
		s := sys.NewSession(tr)
		for pb.Next() {
			s.Deliver(Frame{Data: frame})
			<-tr.frames
		}
		s.Close()
	})
}

func BenchmarkChannelRoundTripParallel(b *testing.B) {
	frame := enc(b, request("read", "m", kv("id", []byte("42"), "name", []byte("Arthur")), int64(1)))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		in, out := make(chan []byte, 16), make(chan []byte, 16)
		go func() {
			for f := range in {
				out <- f
			}
			close(out)
		}()
		for pb.Next() {
			in <- frame
			<-out
		}
		close(in)
	})
}
