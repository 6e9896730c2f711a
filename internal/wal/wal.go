// Package wal implements the write-ahead log of the document store.
//
// The store acknowledges a group of writes once Append has put their records
// in the log and synced them, and applies them to its bbolt file later. After
// a crash, Open finds the end of the log and Replay hands back the records the
// bbolt file does not have yet. Release lets the log recycle what bbolt holds.
//
// # On-disk format
//
// A log is a directory of segment files named by a 16-hex-digit segment
// number, "0000000000000007.wal", read in name order. Every segment is
// preallocated to its full size by writing zeros and starts with the 8-byte
// header "BSWAL1\n" followed by a version byte (1). Records follow, each a
// 16-byte little-endian header {payload length u32, CRC-32C u32, position u64}
// and the payload; the CRC (Castagnoli) covers the 8 position bytes and the
// payload. A record never spans segments: one that does not fit in the rest of
// a segment starts the next one.
//
// The log is the longest chain of valid records with consecutive positions. In
// a segment it ends at the first record that is invalid, out of sequence, or
// longer than the bytes left; it goes on in the next segment only if that
// segment's first record has exactly the expected position. Zeros end the log,
// since position 0 is never used. Released segments are renamed to
// "<number>.spare" and later renamed to a new segment number; their stale
// records cannot extend the chain, as their positions are all lower.
package wal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	defaultSegmentSize = 64 << 20
	magic              = "BSWAL1\n\x01" // magic and version byte
	segHeaderLen       = int64(len(magic))
	recHeaderLen       = 16
	maxSpares          = 2
	zeroChunk          = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrTooLarge is returned by Append for a record that cannot fit in a
	// segment; nothing is written.
	ErrTooLarge = errors.New("wal: record too large for a segment")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("wal: log closed")
	// ErrBroken wraps the error that made an Append fail: the state of the
	// log on disk is unknown, so it refuses further Appends. Open it again.
	ErrBroken = errors.New("wal: log broken")
)

// Options configure Open. Zero fields take the defaults.
type Options struct {
	// SegmentSize is the size of each segment file, preallocated (default
	// 64 MiB). A record must fit in one segment with its header.
	SegmentSize int64
}

// segment is a segment of the log, in chain order.
type segment struct {
	num   uint64
	first uint64 // position of its first record; 0 while it has none
	end   int64  // end of its records as Open found them, for Replay
	size  int64
}

// A Log is a write-ahead log open in a directory. Only one goroutine may call
// Append at a time; Release and Last may be called concurrently with any
// method.
type Log struct {
	dir     string
	after   uint64
	segSize int64
	last    atomic.Uint64

	wmu      sync.Mutex // held by Append, Replay and Close
	f        *os.File   // current segment, nil until the first Append after a jump
	off      int64      // write offset in f
	size     int64      // size of f
	next     uint64
	seq      uint64 // highest segment number used
	err      error  // sticky, wraps ErrBroken
	appended bool
	buf      []byte

	mu     sync.Mutex // guards the fields below and closed; also held by Release
	segs   []segment  // the last one is the current segment
	spares []string
	closed bool
}

// Open opens the log in dir, creating dir if needed. after is the position
// the caller already holds durably elsewhere: records at or below it are
// stale. New records continue at max(after, last position in the log) + 1.
// after must never decrease from one Open to the next.
func Open(dir string, after uint64, opts Options) (*Log, error) {
	size := opts.SegmentSize
	if size == 0 {
		size = defaultSegmentSize
	}
	if size <= segHeaderLen+recHeaderLen {
		return nil, fmt.Errorf("wal: segment size %d too small", size)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	l := &Log{dir: dir, after: after, segSize: size}
	if err := l.load(); err != nil {
		if l.f != nil {
			l.f.Close()
		}
		return nil, err
	}
	return l, nil
}

// load scans the segments, makes the tail past the end of the log free, and
// recycles what is stale.
func (l *Log) load() error {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	var nums []uint64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := os.Remove(l.path(name)); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			continue
		}
		stem, kind, _ := strings.Cut(name, ".")
		num, err := strconv.ParseUint(stem, 16, 64)
		if len(stem) != 16 || err != nil || (kind != "wal" && kind != "spare") {
			continue
		}
		l.seq = max(l.seq, num)
		if kind == "wal" {
			nums = append(nums, num)
			continue
		}
		if fi, err := e.Info(); err != nil || fi.Size() != l.segSize || len(l.spares) == maxSpares {
			if err := os.Remove(l.path(name)); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			continue
		}
		l.spares = append(l.spares, l.path(name))
	}

	var next uint64 // expected position, 0 before the first record
	var tail []uint64
	for i, num := range nums {
		f, err := os.OpenFile(l.path(segName(num)), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		size, err := checkHeader(f)
		if err != nil {
			f.Close()
			return err
		}
		first, n, end, err := scanSegment(f, size, next, nil)
		if err != nil {
			f.Close()
			return err
		}
		if i > 0 && first == 0 {
			f.Close()
			tail = nums[i:]
			break
		}
		if l.f != nil {
			l.f.Close()
		}
		l.f, l.off, l.size, next = f, end, size, n
		l.segs = append(l.segs, segment{num: num, first: first, end: end, size: size})
		if first == 0 {
			tail = nums[i+1:]
			break
		}
	}

	// Past the end lie the records of the Append the crash interrupted. A
	// new record that happened to end where one of them begins would make it
	// look valid, so they are zeroed (or removed) before anything is written.
	if l.f != nil {
		if err := zeroTail(l.f, l.off, l.size); err != nil {
			return err
		}
	}
	for _, num := range tail {
		if err := os.Remove(l.path(segName(num))); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	if len(tail) > 0 {
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}

	var last uint64
	if next > 0 {
		last = next - 1
	}
	if len(l.segs) > 0 && l.segs[0].first > l.after+1 {
		return fmt.Errorf("wal: %s: log starts at position %d, after %d: records missing", l.dir, l.segs[0].first, l.after)
	}
	l.next = max(l.after, last) + 1
	l.last.Store(l.next - 1)
	if l.after <= last {
		return l.recycle(l.release(l.after))
	}
	// Every record is stale and the next position does not follow the last
	// one, so the chain must restart at the beginning of a new segment.
	if l.f != nil {
		l.f.Close()
		l.f, l.off, l.size = nil, 0, 0
	}
	return l.recycle(len(l.segs))
}

// Replay calls fn, in order, for every record of the log with a position
// above the after given to Open, up to the end of the log as Open found it.
// rec is valid only during the call. An error from fn stops Replay and is
// returned. Replay must be called before the first Append.
func (l *Log) Replay(fn func(pos uint64, rec []byte) error) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.appended {
		return errors.New("wal: Replay after Append")
	}
	// Open every file first: a concurrent Release may rename them.
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	files := make([]*os.File, 0, len(segs))
	var err error
	for _, s := range segs {
		var f *os.File
		if f, err = os.Open(l.path(segName(s.num))); err != nil {
			break
		}
		files = append(files, f)
	}
	l.mu.Unlock()
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	for i, s := range segs {
		if s.first == 0 {
			continue
		}
		var fnErr error
		_, _, end, err := scanSegment(files[i], s.end, s.first, func(pos uint64, rec []byte) bool {
			if pos > l.after {
				fnErr = fn(pos, rec)
			}
			return fnErr == nil
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return err
		}
		if end != s.end {
			return fmt.Errorf("wal: segment %s changed since Open", segName(s.num))
		}
	}
	return nil
}

// piece is the part of an Append's buffer that goes into one segment.
type piece struct {
	f      *os.File
	num    uint64 // segment number if fresh
	fresh  bool   // a new segment
	pos    uint64 // position of its first record
	off    int64
	lo, hi int
}

// Append writes recs as consecutive records at positions first, first+1, ...
// and returns once they are on disk. Appending no records returns the next
// position without I/O. Only one goroutine may call Append at a time.
func (l *Log) Append(recs [][]byte) (first uint64, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if l.err != nil {
		return 0, l.err
	}
	first = l.next
	if len(recs) == 0 {
		return first, nil
	}
	for _, r := range recs {
		if int64(len(r)) > l.segSize-segHeaderLen-recHeaderLen || uint64(len(r)) > math.MaxUint32 {
			return 0, fmt.Errorf("wal: %d-byte record: %w", len(r), ErrTooLarge)
		}
	}
	l.appended = true

	var pieces []piece
	buf := l.buf[:0]
	p := piece{f: l.f, pos: first, off: l.off}
	size := l.size
	for i, r := range recs {
		pos := first + uint64(i)
		if p.off+int64(len(buf)-p.lo+recHeaderLen+len(r)) > size {
			if len(buf) > p.lo {
				p.hi = len(buf)
				pieces = append(pieces, p)
			}
			l.seq++
			p = piece{num: l.seq, fresh: true, pos: pos, off: segHeaderLen, lo: len(buf)}
			size = l.segSize
		}
		buf = appendRecord(buf, pos, r)
	}
	p.hi = len(buf)
	pieces = append(pieces, p)
	l.buf = buf

	if err := l.write(pieces); err != nil {
		for _, p := range pieces {
			if p.fresh && p.f != nil {
				p.f.Close()
			}
		}
		l.err = fmt.Errorf("%w: %w", ErrBroken, err)
		return 0, l.err
	}

	last := pieces[len(pieces)-1]
	l.mu.Lock()
	for _, p := range pieces {
		if p.fresh {
			l.segs = append(l.segs, segment{num: p.num, first: p.pos, size: l.segSize})
		} else if s := &l.segs[len(l.segs)-1]; s.first == 0 {
			s.first = p.pos
		}
	}
	l.mu.Unlock()
	for _, p := range pieces[:len(pieces)-1] {
		p.f.Close()
	}
	if pieces[0].fresh && l.f != nil {
		l.f.Close()
	}
	l.f, l.off = last.f, last.off+int64(last.hi-last.lo)
	if last.fresh {
		l.size = l.segSize
	}
	l.next += uint64(len(recs))
	l.last.Store(l.next - 1)
	return first, nil
}

// write makes the segments the pieces need, writes each piece with one
// pwrite, then syncs each file once.
func (l *Log) write(pieces []piece) error {
	for i := range pieces {
		p := &pieces[i]
		if p.fresh {
			f, err := l.newSegment(p.num)
			if err != nil {
				return err
			}
			p.f = f
		}
		if _, err := p.f.WriteAt(l.buf[p.lo:p.hi], p.off); err != nil {
			return err
		}
	}
	for _, p := range pieces {
		if err := fdatasync(p.f); err != nil {
			return err
		}
	}
	return nil
}

// newSegment renames a spare to segment num or, lacking one, creates it.
func (l *Log) newSegment(num uint64) (*os.File, error) {
	name := l.path(segName(num))
	l.mu.Lock()
	var spare string
	if n := len(l.spares); n > 0 {
		spare, l.spares = l.spares[n-1], l.spares[:n-1]
	}
	l.mu.Unlock()
	if spare != "" {
		if err := os.Rename(spare, name); err != nil {
			return nil, err
		}
		if err := syncDir(l.dir); err != nil {
			return nil, err
		}
		return os.OpenFile(name, os.O_RDWR, 0)
	}

	// Zeros are written, not fallocated: the first write to an unwritten
	// extent changes metadata, which would make every Append's fdatasync
	// journal. The temporary name keeps a half-made segment out of the log.
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	err = fill(f, l.segSize)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err == nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return f, nil
}

// Last returns the position of the last record appended or found by Open,
// or the after given to Open if that is larger.
func (l *Log) Last() uint64 { return l.last.Load() }

// Release declares the records at or below upTo durable elsewhere. Segments
// holding only such records, except the one being written, are recycled as
// spares or removed.
func (l *Log) Release(upTo uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.recycle(l.release(upTo))
}

// release returns how many leading segments hold only records <= upTo.
func (l *Log) release(upTo uint64) int {
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].first-1 <= upTo {
		n++
	}
	return n
}

// recycle turns the first n segments into spares, or removes them, oldest
// first so that the remaining segments always form the chain's tail.
func (l *Log) recycle(n int) error {
	for n > 0 {
		s := l.segs[0]
		name := l.path(segName(s.num))
		var err error
		if len(l.spares) < maxSpares && s.size == l.segSize {
			spare := l.path(fmt.Sprintf("%016x.spare", s.num))
			if err = os.Rename(name, spare); err == nil {
				l.spares = append(l.spares, spare)
			}
		} else {
			err = os.Remove(name)
		}
		if err == nil {
			err = syncDir(l.dir)
		}
		if err != nil {
			return fmt.Errorf("wal: release: %w", err)
		}
		l.segs = l.segs[1:]
		n--
	}
	return nil
}

// Close closes the log. Pending Releases are not needed for correctness.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	if l.f == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

func segName(num uint64) string { return fmt.Sprintf("%016x.wal", num) }

func appendRecord(b []byte, pos uint64, rec []byte) []byte {
	var h [recHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(rec)))
	binary.LittleEndian.PutUint64(h[8:], pos)
	binary.LittleEndian.PutUint32(h[4:], checksum(h[8:], rec))
	return append(append(b, h[:]...), rec...)
}

func checksum(pos, rec []byte) uint32 {
	return crc32.Update(crc32.Checksum(pos, castagnoli), castagnoli, rec)
}

// checkHeader checks f's segment header and returns the size of f.
func checkHeader(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("wal: %w", err)
	}
	var h [segHeaderLen]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || string(h[:]) != magic {
		return 0, fmt.Errorf("wal: %s: not a segment", f.Name())
	}
	return fi.Size(), nil
}

// scanSegment reads the chain of records in f from its header up to limit.
// want is the position the first record must have, or 0 for any. It returns
// the first position read (0 if none), the position expected next and the
// offset where the chain ends. fn, if not nil, is called for each record and
// stops the scan by returning false.
func scanSegment(f *os.File, limit int64, want uint64, fn func(uint64, []byte) bool) (first, next uint64, end int64, err error) {
	next, end = want, segHeaderLen
	br := bufio.NewReaderSize(io.NewSectionReader(f, end, limit-end), 64<<10)
	var h [recHeaderLen]byte
	var buf []byte
	for end+recHeaderLen <= limit {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return first, next, end, fmt.Errorf("wal: %s: %w", f.Name(), err)
		}
		n := int64(binary.LittleEndian.Uint32(h[0:]))
		pos := binary.LittleEndian.Uint64(h[8:])
		if pos == 0 || (next != 0 && pos != next) || end+recHeaderLen+n > limit {
			break
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return first, next, end, fmt.Errorf("wal: %s: %w", f.Name(), err)
		}
		if checksum(h[8:], buf) != binary.LittleEndian.Uint32(h[4:]) {
			break
		}
		if first == 0 {
			first = pos
		}
		end += recHeaderLen + n
		next = pos + 1
		if fn != nil && !fn(pos, buf) {
			break
		}
	}
	return first, next, end, nil
}

// zeroTail zeros f from off to size, skipping what already reads as zeros,
// and syncs what it wrote.
func zeroTail(f *os.File, off, size int64) error {
	buf, zero := make([]byte, zeroChunk), make([]byte, zeroChunk)
	wrote := false
	for off < size {
		b := buf[:min(zeroChunk, size-off)]
		if _, err := f.ReadAt(b, off); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		if !bytes.Equal(b, zero[:len(b)]) {
			if _, err := f.WriteAt(zero[:len(b)], off); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			wrote = true
		}
		off += int64(len(b))
	}
	if wrote {
		if err := fdatasync(f); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	return nil
}

// fill writes a segment header and zeros up to size.
func fill(f *os.File, size int64) error {
	zero := make([]byte, min(zeroChunk, size))
	copy(zero, magic)
	for off := int64(0); off < size; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero[:min(int64(len(zero)), size-off)], off); err != nil {
			return err
		}
		clear(zero[:segHeaderLen])
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
