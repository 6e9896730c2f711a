package models

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// The streams in the store file (see [Store] for the documents). Each
// model type's bucket holds, besides docs and order:
//
//	stream  a key, not a bucket: the Seq of the type's latest event, 8
//	        bytes big-endian
//	events  key: Seq as 8 bytes big-endian; value: the time it was
//	        appended, in Unix nanoseconds as 8 bytes big-endian, and
//	        the event's push message
//
// The "meta" root bucket holds the key "epoch": the epoch of every
// stream of the file, chosen when the file was made. The streams live in
// the types' buckets so that they count towards the bound on types: a
// broadcast to a new name makes a type as a create does.
var (
	metaBucket   = []byte("meta")
	epochKey     = []byte("epoch")
	streamKey    = []byte("stream")
	eventsBucket = []byte("events")
)

// pruneBatch bounds the events one append removes from the front of a
// history past its size or TTL, so that an append after a long quiet
// spell (or a smaller --history-size) costs no more than a few. What is
// left is removed by the next appends, and never replayed meanwhile:
// [Store.Since] checks the floor and the TTL itself.
const pruneBatch = 16

// appendFill is the fill percent of the buckets whose keys only grow
// (events and order by Seq): their pages split full, not half full as
// bbolt's default leaves them for keys that come in any order, so a
// commit writes fewer pages.
const appendFill = 0.95

// Append adds an event to the stream of model, in the transaction of the
// write, and returns its Seq.
func (tx *storeTx) Append(model string, encode func(seq int64) ([]byte, error)) (int64, error) {
	if err := tx.makeType(model, tx.s.cfg.MaxTypes); err != nil {
		return 0, err
	}
	top := streamTop(tx.view.get(model, partStream, streamKey))
	seq := top + 1
	data, err := encode(seq)
	if err != nil {
		return 0, err
	}
	tx.put(model, partStream, string(streamKey), seqKey(uint64(seq)))
	if tx.history == nil {
		tx.history = make(map[string]int)
	}
	// The history holds the kept events up to top.
	kept := tx.s.history[model] + tx.history[model]
	h := tx.s.cfg.History
	added := 0
	if h.Size > 0 {
		v := make([]byte, 8, 8+len(data))
		binary.BigEndian.PutUint64(v, uint64(tx.now.UnixNano()))
		tx.put(model, partEvents, string(seqKey(uint64(seq))), append(v, data...))
		added = 1
	}
	pruned := tx.prune(model, seq-int64(kept), seq-int64(h.Size), h.TTL)
	tx.history[model] += added - pruned
	return seq, nil
}

// prune removes, from the front of a history, whose first event is Seq
// front, the events up to Seq floor and those older than the TTL (none
// when it is 0), at most pruneBatch, and returns how many it removed.
// A history holds consecutive Seqs, so that each is found by its key.
// Events are appended in time order: once one is young enough to keep,
// so are those after it, and past the floor none is read.
func (tx *storeTx) prune(model string, front, floor int64, ttl time.Duration) int {
	young := ttl == 0
	for n := range pruneBatch {
		seq := front + int64(n)
		if seq > floor && young {
			return n
		}
		key := seqKey(uint64(seq))
		v := tx.view.get(model, partEvents, key)
		if v == nil {
			return n
		}
		young = young || !expired(v, tx.now, ttl)
		if seq > floor && young {
			return n
		}
		tx.delete(model, partEvents, string(key))
	}
	return pruneBatch
}

// expired reports whether the stored event v is older than ttl at now.
func expired(v []byte, now time.Time, ttl time.Duration) bool {
	return now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) >= ttl
}

// streamTop returns the Seq of the latest event of a type, from the value
// of its streamKey.
func streamTop(v []byte) int64 {
	if len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Position returns where the stream of model is.
func (s *Store) Position(ctx context.Context, model string) (Position, error) {
	pos := Position{Epoch: s.epoch}
	err := s.view(ctx, func(v *storeView) error {
		pos.Seq = streamTop(v.get(model, partStream, streamKey))
		return nil
	})
	return pos, err
}

// Since returns the events of model after Seq after (see [EventLog]).
func (s *Store) Since(ctx context.Context, model string, after int64, maxBytes int) ([]Event, bool, error) {
	var out []Event
	complete := false
	err := s.view(ctx, func(view *storeView) error {
		top := streamTop(view.get(model, partStream, streamKey))
		// The floor is that of the history as configured now: events it
		// should no longer hold, kept by a larger size before or not
		// pruned yet, are not replayed.
		var decided bool
		if complete, decided = sinceDecided(after, top, s.cfg.History.Size); decided {
			return nil
		}
		now, ttl := s.now(), s.cfg.History.TTL
		c := view.cursor(model, partEvents)
		defer c.release()
		k, v := c.seek(seqKey(uint64(after + 1)))
		if k == nil || int64(binary.BigEndian.Uint64(k)) != after+1 || len(v) < 8 || (ttl > 0 && expired(v, now, ttl)) {
			return nil // pruned, or too old
		}
		n := 0
		want := after + 1
		for ; k != nil; k, v = c.next() {
			seq := int64(binary.BigEndian.Uint64(k))
			if seq != want || len(v) < 8 {
				return fmt.Errorf("models: store: history of %s has event %d where %d belongs", model, seq, want)
			}
			if n += len(v) - 8; maxBytes > 0 && n > maxBytes {
				out = nil
				return nil
			}
			// Copied: v may be memory of the file, valid only in this
			// view.
			out = append(out, Event{
				Seq:  seq,
				Time: time.Unix(0, int64(binary.BigEndian.Uint64(v))),
				Data: append([]byte(nil), v[8:]...),
			})
			want++
		}
		if want != top+1 {
			return fmt.Errorf("models: store: history of %s ends at %d, its stream at %d", model, want-1, top)
		}
		complete = true
		return nil
	})
	if err != nil || !complete {
		return nil, false, err
	}
	return out, true, nil
}

// loadEpoch returns the epoch of the store file, choosing it if the file
// has none: it is new, or it was written before streams had one.
func loadEpoch(btx *bbolt.Tx) (string, error) {
	meta, err := btx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return "", err
	}
	if v := meta.Get(epochKey); len(v) > 0 {
		return string(v), nil
	}
	epoch := newEpoch()
	return epoch, meta.Put(epochKey, []byte(epoch))
}
