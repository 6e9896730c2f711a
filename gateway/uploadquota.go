package gateway

import (
	"fmt"
	"sync"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
)

// The upload quota ([Config.UploadQuota]) bounds what one document can
// make the server keep on disk. A document names one file, but each
// upload that replaces it leaves the old file behind until a sweep
// removes it (filegc.go), so without a bound a client could fill the disk
// by uploading to one document again and again between two sweeps. The
// quota counts, per document, the bytes uploaded to it that no finished
// round of sweeps has examined yet: when a round ends, the uploads made
// before its cutoff are forgotten, since their files were either removed
// or are still named by a document (which names one file only).
//
// The count is reserved as the bytes arrive, so that concurrent uploads
// to one document cannot pass it together, and given back when an upload
// fails and keeps nothing.

// maxQuotaEntries bounds the entries of one document's ledger. Past it
// the two oldest are merged under the later time, which only keeps their
// bytes counted longer.
const maxQuotaEntries = 16

// quotaStep is how close in time uploads to one document share an entry;
// like the merge, sharing keeps the earlier bytes counted longer, by
// at most quotaStep.
const quotaStep = fileGracePeriod / 4

// docKey names a document.
type docKey struct{ model, id string }

// quotaEntry is bytes uploaded to a document, the last of them at at.
type quotaEntry struct {
	at time.Time
	n  int64
}

// uploadQuota is the ledger of the bytes uploaded to each document.
type uploadQuota struct {
	max int64 // resolved: not positive means no quota, and no ledger

	mu   sync.Mutex
	docs map[docKey][]quotaEntry
}

func newUploadQuota(max int64) *uploadQuota {
	return &uploadQuota{max: max, docs: make(map[docKey][]quotaEntry)}
}

// quotaError is an upload refused by the quota.
type quotaError struct {
	quota, used int64
}

func (e *quotaError) Error() string {
	return fmt.Sprintf("upload: the document's upload quota of %d bytes is used up (%d bytes uploaded to it since the last file sweep)", e.quota, e.used)
}

// reserve counts n more bytes for doc at now, or reports an error if
// that would pass the quota.
func (q *uploadQuota) reserve(doc docKey, n int64, now time.Time) error {
	if !limits.Set(q.max) {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.docs[doc]
	var used int64
	for _, e := range l {
		used += e.n
	}
	if used+n > q.max {
		return &quotaError{quota: q.max, used: used}
	}
	switch last := len(l) - 1; {
	case last >= 0 && now.Sub(l[last].at) < quotaStep:
		l[last].n += n
		l[last].at = now
	case len(l) == maxQuotaEntries:
		l[1].n += l[0].n
		l = append(l[:0], l[1:]...)
		fallthrough
	default:
		l = append(l, quotaEntry{at: now, n: n})
	}
	q.docs[doc] = l
	return nil
}

// release gives back n bytes reserved for doc, taking them from its
// oldest entries: what stays counted is then counted as late as it can
// be, so the quota never undercounts.
func (q *uploadQuota) release(doc docKey, n int64) {
	if !limits.Set(q.max) || n <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.docs[doc]
	for len(l) > 0 && n > 0 {
		take := min(n, l[0].n)
		l[0].n -= take
		n -= take
		if l[0].n == 0 {
			l = l[1:]
		}
	}
	if len(l) == 0 {
		delete(q.docs, doc)
	} else {
		q.docs[doc] = l
	}
}

// prune forgets the uploads made before cutoff.
func (q *uploadQuota) prune(cutoff time.Time) {
	if q == nil || !limits.Set(q.max) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for doc, l := range q.docs {
		i := 0
		for i < len(l) && l[i].at.Before(cutoff) {
			i++
		}
		switch {
		case i == len(l):
			delete(q.docs, doc)
		case i > 0:
			q.docs[doc] = append([]quotaEntry(nil), l[i:]...)
		}
	}
}

// quotaWriter reserves the bytes written through it for one document, as
// the first writer of an upload's copy, so that bytes past the quota
// reach neither the disk nor the hash.
type quotaWriter struct {
	q        *uploadQuota
	doc      docKey
	reserved int64
}

func (w *quotaWriter) Write(b []byte) (int, error) {
	if err := w.q.reserve(w.doc, int64(len(b)), time.Now()); err != nil {
		return 0, err
	}
	w.reserved += int64(len(b))
	return len(b), nil
}

// giveBack releases what w reserved.
func (w *quotaWriter) giveBack() {
	w.q.release(w.doc, w.reserved)
	w.reserved = 0
}
