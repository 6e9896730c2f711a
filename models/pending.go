package models

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tidwall/btree"
	"go.etcd.io/bbolt"
)

// The pending changes of a [Store]: those that are in its write-ahead
// log, and so acknowledged, but not yet applied to the bbolt file (see
// store_apply.go). They are kept in memory as one ordered tree of the
// latest value of each key they touched, and every read of the store
// reads the file and the tree together, through a storeView.
//
// Every key of the file is named by a model type, a part of the type's
// bucket, and a key in that part. Each change is tagged with the
// position, in the log, of the write that made it; a view ignores the
// changes at or below the position the file it reads has applied, which
// the file already holds (or holds newer).

// part is where a key lives in a model type's bucket.
type part byte

const (
	// partType is the type's bucket itself: its one key, "", is set
	// when the type is made.
	partType part = iota
	// partStream holds the keys of the type's bucket: streamKey.
	partStream
	partDocs
	partOrder
	// partOrderSeq holds the order bucket's sequence, at key "", as 8
	// bytes big-endian.
	partOrderSeq
	partEvents
)

// subBucket names the bucket of each part that is one.
var subBucket = [...][]byte{partDocs: docsBucket, partOrder: orderBucket, partEvents: eventsBucket}

// change is the latest change of one key of the store that the file may
// not have yet: its value, or its removal.
type change struct {
	model string
	part  part
	key   string
	val   []byte
	del   bool
	// pos is the log position of the write that made it.
	pos uint64
}

func changeLess(a, b *change) bool {
	if c := cmp.Compare(a.model, b.model); c != 0 {
		return c < 0
	}
	if a.part != b.part {
		return a.part < b.part
	}
	return a.key < b.key
}

// size is what a change holds in memory, roughly, for the bound on the
// pending changes.
func (c change) size() int { return len(c.model) + len(c.key) + len(c.val) + 64 }

// newPendingTree returns an empty tree of pending changes. It holds
// pointers: each group writes a copy-on-write copy of the tree, and a node
// copied at a group's first change to it then copies 8 bytes an item, not
// a change's 80 (which made a lone create copy about 20 KB).
func newPendingTree() *btree.BTreeG[*change] {
	return btree.NewBTreeGOptions(changeLess, btree.Options{NoLocks: true})
}

// storeView is one consistent read of a [Store]: a bbolt transaction of
// the file, which has applied the log up to applied, and the pending
// changes as they were just before it began.
type storeView struct {
	btx     *bbolt.Tx
	pending *btree.BTreeG[*change]
	applied uint64
	// files caches the file's buckets of the type read last: the writes
	// of a group come in runs of one type, and bbolt opens a nested
	// bucket of a read transaction anew at each call.
	files fileBuckets
	// probe is the key of a lookup in pending, kept here so that each
	// lookup does not allocate one.
	probe change
}

// fileBuckets are the file's buckets of one model type, each looked up
// at its first use: parts[partStream] is the type's own; nil where the
// file has none.
type fileBuckets struct {
	model  string
	looked uint8 // bit p: parts[p] has been looked up
	parts  [partEvents + 1]*bbolt.Bucket
	// cursors are the parts' cursors, made at the first get: a bbolt
	// Get makes a new cursor, and its stack, at every call.
	cursors [partEvents + 1]*bbolt.Cursor
}

// pendingChange returns the pending change of a key, if there is one the
// file does not hold.
func (v *storeView) pendingChange(model string, p part, key string) (*change, bool) {
	if v.pending == nil {
		return nil, false
	}
	v.probe = change{model: model, part: p, key: key}
	c, ok := v.pending.Get(&v.probe)
	if !ok || c.pos <= v.applied {
		return nil, false
	}
	return c, true
}

// typeBucket returns the file's bucket of model, or nil.
func (v *storeView) typeBucket(model string) *bbolt.Bucket {
	return v.fileBucket(model, partStream)
}

// fileBucket returns the file's bucket of part p of model (the type's
// own for partStream), or nil.
func (v *storeView) fileBucket(model string, p part) *bbolt.Bucket {
	f := &v.files
	if f.looked == 0 || f.model != model {
		*f = fileBuckets{model: model, looked: 1 << partStream}
		f.parts[partStream] = v.btx.Bucket(rootBucket).Bucket([]byte(model))
	}
	if f.looked&(1<<p) == 0 {
		f.looked |= 1 << p
		if m := f.parts[partStream]; m != nil && subBucket[p] != nil {
			f.parts[p] = m.Bucket(subBucket[p])
		}
	}
	return f.parts[p]
}

// get returns the value of key in part p of model, or nil. A value of the
// file is valid only during the view; one of the tree, as long as the
// tree lives, which it does unchanged: neither may be written to.
func (v *storeView) get(model string, p part, key []byte) []byte {
	if c, ok := v.pendingChange(model, p, string(key)); ok {
		if c.del {
			return nil
		}
		return c.val
	}
	b := v.fileBucket(model, p)
	if b == nil {
		return nil
	}
	c := v.files.cursors[p]
	if c == nil {
		c = b.Cursor()
		v.files.cursors[p] = c
	}
	// Seek gives a nested bucket's key a nil value, as Get does.
	if k, val := c.Seek(key); bytes.Equal(k, key) {
		return val
	}
	return nil
}

// hasType reports whether the store holds model.
func (v *storeView) hasType(model string) bool {
	if _, ok := v.pendingChange(model, partType, ""); ok {
		return true
	}
	return v.typeBucket(model) != nil
}

// orderSequence returns the last place given in model's order.
func (v *storeView) orderSequence(model string) uint64 {
	if c, ok := v.pendingChange(model, partOrderSeq, ""); ok {
		return binary.BigEndian.Uint64(c.val)
	}
	if b := v.fileBucket(model, partOrder); b != nil {
		return b.Sequence()
	}
	return 0
}

// count returns the number of keys in part p of model.
func (v *storeView) count(model string, p part) int {
	b := v.fileBucket(model, p)
	n := 0
	if b != nil {
		n = b.Stats().KeyN
	}
	v.eachPending(model, p, "", func(c *change) bool {
		inFile := b != nil && b.Get([]byte(c.key)) != nil
		switch {
		case !c.del && !inFile:
			n++
		case c.del && inFile:
			n--
		}
		return true
	})
	return n
}

// eachPending calls fn with the pending changes of part p of model from
// key from on, in key order, that the file does not hold, until fn
// returns false.
func (v *storeView) eachPending(model string, p part, from string, fn func(*change) bool) {
	if v.pending == nil {
		return
	}
	v.pending.Ascend(&change{model: model, part: p, key: from}, func(c *change) bool {
		if c.model != model || c.part != p {
			return false
		}
		return c.pos <= v.applied || fn(c)
	})
}

// types returns the names of the model types, sorted bytewise.
func (v *storeView) types() []string {
	var names []string
	c := v.btx.Bucket(rootBucket).Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		if val == nil { // a bucket: a model type
			names = append(names, string(k))
		}
	}
	if v.pending == nil {
		return names
	}
	var made []string
	v.pending.Scan(func(c *change) bool {
		if c.part == partType && c.pos > v.applied {
			made = append(made, c.model)
		}
		return true
	})
	if len(made) == 0 {
		return names
	}
	return mergeSorted(names, made)
}

// mergeSorted merges two sorted lists of names, without duplicates.
func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

// viewCursor walks the keys of one part of a model type in a view, in
// key order: the file's and the pending ones merged, a pending change
// taking the place of the file's value, a pending removal hiding it.
type viewCursor struct {
	view  *storeView
	model string
	part  part
	// file is nil when the file has no such bucket; fk and fv are its
	// current key and value (fk nil at its end).
	file   *bbolt.Cursor
	fk, fv []byte
	// it walks the pending changes; pc is its current change, pcOK
	// false at the end of the part's changes.
	it   btree.IterG[*change]
	pc   *change
	pcOK bool
}

// cursor returns a cursor on part p of model; call seek or first before
// reading, and release when done.
func (v *storeView) cursor(model string, p part) *viewCursor {
	c := &viewCursor{view: v, model: model, part: p}
	if b := v.fileBucket(model, p); b != nil {
		c.file = b.Cursor()
	}
	if v.pending != nil {
		c.it = v.pending.Iter()
	}
	return c
}

func (c *viewCursor) release() {
	if c.view.pending != nil {
		c.it.Release()
	}
}

func (c *viewCursor) first() (k, v []byte) { return c.seek(nil) }

// seek moves to the first key at or after key and returns it with its
// value; k is nil at the end.
func (c *viewCursor) seek(key []byte) (k, v []byte) {
	if c.file != nil {
		c.fk, c.fv = c.file.Seek(key)
	}
	if c.view.pending != nil {
		c.pcOK = c.it.Seek(&change{model: c.model, part: c.part, key: string(key)})
		c.settlePending()
	}
	return c.current()
}

// next moves past the current key.
func (c *viewCursor) next() (k, v []byte) {
	fromFile, fromPending := c.heads()
	if fromFile {
		c.fk, c.fv = c.file.Next()
	}
	if fromPending {
		c.pcOK = c.it.Next()
		c.settlePending()
	}
	return c.current()
}

// settlePending moves the pending walk past the changes the file holds,
// and ends it at the end of the part.
func (c *viewCursor) settlePending() {
	for c.pcOK {
		c.pc = c.it.Item()
		if c.pc.model != c.model || c.pc.part != c.part {
			c.pcOK = false
			return
		}
		if c.pc.pos > c.view.applied {
			return
		}
		c.pcOK = c.it.Next()
	}
}

// heads says which walk holds the current key: the file's, the pending
// one's, or both (the pending change wins).
func (c *viewCursor) heads() (fromFile, fromPending bool) {
	switch {
	case !c.pcOK:
		return c.fk != nil, false
	case c.fk == nil:
		return false, true
	}
	switch d := bytes.Compare(c.fk, []byte(c.pc.key)); {
	case d < 0:
		return true, false
	case d > 0:
		return false, true
	}
	return true, true
}

// current returns the current key and value, skipping pending removals.
func (c *viewCursor) current() (k, v []byte) {
	for {
		fromFile, fromPending := c.heads()
		switch {
		case fromPending && c.pc.del:
			// A removal: hide the file's key, if it has it, and go on.
			if fromFile {
				c.fk, c.fv = c.file.Next()
			}
			c.pcOK = c.it.Next()
			c.settlePending()
			continue
		case fromPending:
			return []byte(c.pc.key), c.pc.val
		case fromFile:
			return c.fk, c.fv
		}
		return nil, nil
	}
}

// The log's records. Each write that changed something is one record of
// the log: its changes, in the order it made them, each
//
//	op     1 byte: opPut or opDelete
//	part   1 byte
//	model  uvarint length, bytes
//	key    uvarint length, bytes
//	value  uvarint length, bytes (opPut only)
//
// so that replaying a record applies the write whole or, if it is not in
// the log, not at all.
const (
	opPut byte = iota + 1
	opDelete
)

// appendChange appends the encoding of c to rec.
func appendChange(rec []byte, c change) []byte {
	op := opPut
	if c.del {
		op = opDelete
	}
	rec = append(rec, op, byte(c.part))
	rec = binary.AppendUvarint(rec, uint64(len(c.model)))
	rec = append(rec, c.model...)
	rec = binary.AppendUvarint(rec, uint64(len(c.key)))
	rec = append(rec, c.key...)
	if !c.del {
		rec = binary.AppendUvarint(rec, uint64(len(c.val)))
		rec = append(rec, c.val...)
	}
	return rec
}

var errCorruptRecord = errors.New("models: store: corrupt log record")

// eachChange calls fn with the changes of a record, in order. Their
// model, key and value alias rec.
func eachChange(rec []byte, pos uint64, fn func(change) error) error {
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(rec)
		if w <= 0 || n > uint64(len(rec)-w) {
			return nil, false
		}
		f := rec[w : w+int(n)]
		rec = rec[w+int(n):]
		return f, true
	}
	for len(rec) > 0 {
		if len(rec) < 2 || rec[0] < opPut || rec[0] > opDelete || rec[1] > byte(partEvents) {
			return fmt.Errorf("%w at position %d", errCorruptRecord, pos)
		}
		c := change{del: rec[0] == opDelete, part: part(rec[1]), pos: pos}
		rec = rec[2:]
		model, ok1 := field()
		key, ok2 := field()
		ok3 := true
		if !c.del {
			c.val, ok3 = field()
		}
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("%w at position %d", errCorruptRecord, pos)
		}
		c.model, c.key = string(model), string(key)
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
