package wal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// payload derives a record's bytes from its position, with varied sizes.
func payload(pos uint64) []byte {
	n := int(pos*37%300) + 1
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(pos) ^ byte(i*7)
	}
	copy(b, strconv.FormatUint(pos, 10))
	return b
}

func open(t testing.TB, dir string, after uint64, size int64) *Log {
	t.Helper()
	l, err := Open(dir, after, Options{SegmentSize: size})
	if err != nil {
		t.Fatalf("Open(after=%d): %v", after, err)
	}
	return l
}

// appendN appends n records with payload(pos), in groups of group.
func appendN(t testing.TB, l *Log, n, group int) {
	t.Helper()
	for n > 0 {
		k := min(n, group)
		recs := make([][]byte, k)
		next := l.Last() + 1
		for i := range recs {
			recs[i] = payload(next + uint64(i))
		}
		first, err := l.Append(recs)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if first != next {
			t.Fatalf("Append: first = %d, want %d", first, next)
		}
		n -= k
	}
}

type rec struct {
	pos uint64
	b   []byte
}

func replay(t testing.TB, l *Log) []rec {
	t.Helper()
	var got []rec
	err := l.Replay(func(pos uint64, b []byte) error {
		got = append(got, rec{pos, bytes.Clone(b)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

// checkReplay checks that the log replays exactly from..to with payload(pos).
func checkReplay(t testing.TB, l *Log, from, to uint64) {
	t.Helper()
	got := replay(t, l)
	if want := int(to - from + 1); len(got) != want {
		t.Fatalf("Replay: %d records, want %d (%d..%d)", len(got), want, from, to)
	}
	for i, r := range got {
		if want := from + uint64(i); r.pos != want || !bytes.Equal(r.b, payload(want)) {
			t.Fatalf("Replay record %d: pos %d (%q), want pos %d", i, r.pos, r.b, want)
		}
	}
}

func TestAppendReplay(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0, 1<<20)
	if first, err := l.Append(nil); err != nil || first != 1 {
		t.Fatalf("Append(nil) = %d, %v; want 1, nil", first, err)
	}
	appendN(t, l, 1, 1)
	appendN(t, l, 10, 10)
	appendN(t, l, 29, 3)
	if got := l.Last(); got != 40 {
		t.Fatalf("Last = %d, want 40", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = open(t, dir, 0, 1<<20)
	if got := l.Last(); got != 40 {
		t.Fatalf("Last after reopen = %d, want 40", got)
	}
	checkReplay(t, l, 1, 40)
	appendN(t, l, 5, 2)
	l.Close()

	l = open(t, dir, 0, 1<<20)
	defer l.Close()
	checkReplay(t, l, 1, 45)
}

func TestReplayAfter(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0, 1<<20)
	appendN(t, l, 30, 4)
	l.Close()

	for _, k := range []uint64{0, 1, 17, 29, 30} {
		l := open(t, dir, k, 1<<20)
		checkReplay(t, l, k+1, 30)
		l.Close()
	}
}

func TestReplayStops(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0, 1<<20)
	appendN(t, l, 5, 5)
	l.Close()
	l = open(t, dir, 0, 1<<20)
	defer l.Close()
	stop := errors.New("stop")
	n := 0
	err := l.Replay(func(pos uint64, b []byte) error {
		if n++; pos == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("Replay = %v after %d records, want stop after 3", err, n)
	}
	appendN(t, l, 1, 1)
	if err := l.Replay(func(uint64, []byte) error { return nil }); err == nil {
		t.Fatal("Replay after Append succeeded")
	}
}

// recordOffset returns the offset of record pos in a one-segment log of
// records payload(1), payload(2), ...
func recordOffset(pos uint64) int64 {
	off := segHeaderLen
	for p := uint64(1); p < pos; p++ {
		off += recHeaderLen + int64(len(payload(p)))
	}
	return off
}

func TestTornTail(t *testing.T) {
	damage := map[string]func(f *os.File, off int64, n int){
		"flip": func(f *os.File, off int64, n int) {
			b := make([]byte, 1)
			f.ReadAt(b, off+recHeaderLen+int64(n)/2)
			b[0] ^= 0x40
			f.WriteAt(b, off+recHeaderLen+int64(n)/2)
		},
		"truncate": func(f *os.File, off int64, n int) {
			half := (recHeaderLen + n) / 2
			f.WriteAt(make([]byte, recHeaderLen+n-half), off+int64(half))
		},
		"header": func(f *os.File, off int64, n int) {
			f.WriteAt(make([]byte, recHeaderLen), off)
		},
	}
	for name, damage := range damage {
		for _, torn := range []uint64{10, 7} { // the last record, or one followed by valid ones
			t.Run(fmt.Sprintf("%s/%d", name, torn), func(t *testing.T) {
				dir := t.TempDir()
				l := open(t, dir, 0, 1<<20)
				appendN(t, l, 10, 1)
				l.Close()

				f, err := os.OpenFile(filepath.Join(dir, segName(1)), os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				damage(f, recordOffset(torn), len(payload(torn)))
				f.Close()

				l = open(t, dir, 0, 1<<20)
				checkReplay(t, l, 1, torn-1)
				if got := l.Last(); got != torn-1 {
					t.Fatalf("Last = %d, want %d", got, torn-1)
				}
				// Same sizes as before: the old records that followed the
				// torn one would line up with the new ones.
				appendN(t, l, 1, 1)
				l.Close()

				l = open(t, dir, 0, 1<<20)
				defer l.Close()
				checkReplay(t, l, 1, torn)
			})
		}
	}
}

func countFiles(t *testing.T, dir string) (segs, spares int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".wal":
			segs++
		case ".spare":
			spares++
		default:
			t.Fatalf("unexpected file %s", e.Name())
		}
	}
	return segs, spares
}

func TestSegments(t *testing.T) {
	const size = 4 << 10
	dir := t.TempDir()
	l := open(t, dir, 0, size)
	var released uint64
	created := 0
	for round := range 40 {
		appendN(t, l, 25, 1+round%7)
		l.mu.Lock()
		live, spares := len(l.segs), len(l.spares)
		l.mu.Unlock()
		segs, sp := countFiles(t, dir)
		if segs != live || sp != spares || spares > maxSpares {
			t.Fatalf("round %d: %d segment files, %d spare files; log has %d segments, %d spares", round, segs, sp, live, spares)
		}
		created = max(created, int(l.seq))
		if round%3 == 2 {
			released = l.Last() - 20
			if err := l.Release(released); err != nil {
				t.Fatal(err)
			}
			if len(l.segs) > 1 && l.segs[1].first <= released+1 {
				t.Fatalf("segment %d, holding only records <= %d, not released", l.segs[0].num, released)
			}
		}
	}
	if created < 20 {
		t.Fatalf("only %d segments used", created)
	}
	last := l.Last()
	l.Close()

	// Every record that did not fit where the previous one ended must have
	// started the next segment, so each segment ends with less room left
	// than the next record needs.
	l = open(t, dir, released, size)
	for i, s := range l.segs[:len(l.segs)-1] {
		next := l.segs[i+1].first
		if room := int64(size) - s.end; room >= recHeaderLen+int64(len(payload(next))) {
			t.Fatalf("segment %d ends at %d with room for record %d", s.num, s.end, next)
		}
	}
	checkReplay(t, l, released+1, last)
	appendN(t, l, 50, 5)
	last = l.Last()
	l.Close()

	l = open(t, dir, released, size)
	defer l.Close()
	checkReplay(t, l, released+1, last)
}

func TestTooLarge(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0, 4<<10)
	appendN(t, l, 3, 1)
	fits := make([]byte, 4<<10-segHeaderLen-recHeaderLen)
	for _, n := range []int{len(fits) + 1, 1 << 20} {
		if _, err := l.Append([][]byte{payload(4), make([]byte, n)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Append(%d bytes) = %v, want ErrTooLarge", n, err)
		}
	}
	appendN(t, l, 1, 1)
	if first, err := l.Append([][]byte{fits}); err != nil || first != 5 {
		t.Fatalf("Append(largest) = %d, %v", first, err)
	}
	l.Close()

	l = open(t, dir, 0, 4<<10)
	defer l.Close()
	got := replay(t, l)
	if len(got) != 5 || got[3].pos != 4 || !bytes.Equal(got[3].b, payload(4)) || !bytes.Equal(got[4].b, fits) {
		t.Fatalf("Replay = %d records", len(got))
	}
}

func TestClosed(t *testing.T) {
	l := open(t, t.TempDir(), 0, 1<<20)
	appendN(t, l, 2, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([][]byte{{1}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if err := l.Release(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Release after Close = %v, want ErrClosed", err)
	}
}

func TestBroken(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0, 1<<20)
	appendN(t, l, 2, 1)
	l.f.Close() // make the next write fail
	for range 2 {
		if _, err := l.Append([][]byte{{1}}); !errors.Is(err, ErrBroken) {
			t.Fatalf("Append = %v, want ErrBroken", err)
		}
	}
	l = open(t, dir, 0, 1<<20)
	defer l.Close()
	checkReplay(t, l, 1, 2)
}

// TestJump opens a log with after beyond its last record: new records must
// start a chain that a later Open finds.
func TestJump(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 100, 1<<20)
	if got := l.Last(); got != 100 {
		t.Fatalf("Last = %d, want 100", got)
	}
	checkReplay(t, l, 101, 100)
	appendN(t, l, 10, 3)
	l.Close()

	l = open(t, dir, 500, 1<<20)
	checkReplay(t, l, 501, 500)
	appendN(t, l, 10, 3)
	l.Close()

	l = open(t, dir, 500, 1<<20)
	defer l.Close()
	checkReplay(t, l, 501, 510)

	if _, err := Open(dir, 200, Options{SegmentSize: 1 << 20}); err == nil {
		t.Fatal("Open with records missing after 200 succeeded")
	}
}

func TestConcurrentRelease(t *testing.T) {
	l := open(t, t.TempDir(), 0, 4<<10)
	defer l.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if last := l.Last(); last > 10 {
				if err := l.Release(last - 10); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	appendN(t, l, 2000, 4)
	close(done)
	wg.Wait()
}

const crashEnv = "WAL_CRASH_DIR"

// TestMain runs the test binary as the crash child when TestCrash starts
// it so, and the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
	}
	os.Exit(m.Run())
}

// crashChild is the process TestCrash kills: it appends until killed,
// printing each position once Append has returned, and releasing as it goes.
func crashChild(dir string) {
	l, err := Open(dir, 0, Options{SegmentSize: 16 << 10})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for i := 0; i < 200000; i++ {
		next := l.Last() + 1
		recs := make([][]byte, 1+i%4)
		var out strings.Builder
		for j := range recs {
			recs[j] = payload(next + uint64(j))
			fmt.Fprintln(&out, next+uint64(j))
		}
		if _, err := l.Append(recs); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		os.Stdout.WriteString(out.String())
		if last := l.Last(); last > 100 && i%10 == 0 {
			if err := l.Release(last - 100); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
	}
	os.Exit(0)
}

func TestCrash(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []uint64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		pos, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			t.Errorf("child: %s", sc.Text())
			continue
		}
		if acked = append(acked, pos); len(acked) == 200 {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed: %v", err)
	}
	for i, pos := range acked {
		if pos != uint64(i+1) {
			t.Fatalf("child acknowledged %d as its record %d", pos, i+1)
		}
	}

	// The child released at most up to 100 below what it had acknowledged.
	lastAcked := acked[len(acked)-1]
	after := lastAcked - 100
	l := open(t, dir, after, 16<<10)
	got := replay(t, l)
	if len(got) < int(lastAcked-after) {
		t.Fatalf("replayed %d records after %d, want at least up to %d", len(got), after, lastAcked)
	}
	for i, r := range got {
		if want := after + 1 + uint64(i); r.pos != want || !bytes.Equal(r.b, payload(want)) {
			t.Fatalf("record %d: pos %d, want %d with its payload", i, r.pos, want)
		}
	}
	t.Logf("%d acknowledged, %d replayed after %d", len(acked), len(got), after)
	appendN(t, l, 10, 3)
	last := l.Last()
	l.Close()
	l = open(t, dir, after, 16<<10)
	defer l.Close()
	checkReplay(t, l, after+1, last)
}

func BenchmarkAppend(b *testing.B) {
	l := open(b, b.TempDir(), 0, 0)
	defer l.Close()
	rec := [][]byte{bytes.Repeat([]byte{'x'}, 200)}
	if _, err := l.Append(rec); err != nil { // creates the first segment
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		if _, err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkAppendGroup(b *testing.B) {
	l := open(b, b.TempDir(), 0, 0)
	defer l.Close()
	recs := make([][]byte, 50)
	for i := range recs {
		recs[i] = bytes.Repeat([]byte{'x'}, 200)
	}
	if _, err := l.Append(recs); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		if _, err := l.Append(recs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "appends/s")
	b.ReportMetric(float64(n*len(recs))/b.Elapsed().Seconds(), "records/s")
}
