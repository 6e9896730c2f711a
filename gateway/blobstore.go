package gateway

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/bertsync/bertsync/models"
)

// FileStore keeps the bytes of uploaded files, addressed by the hex
// SHA-256 of their bytes: the disk under [Config.DataDir] (the default),
// or a database that many nodes share ([models.PGFiles]), so that every
// node stores and serves every file. The gateway's uploads add files to
// it, /files/ serves them and the sweep removes those no document names
// (filegc.go); which uploads are still in flight, and so are not to be
// swept, the gateway tracks itself, per node. Each stored file has a
// time, which begins its grace period: when it was last stored.
//
// Errors whose code callers should see carry a [models.Error]: a missing
// file is CodeNotFound; a store that cannot be reached is
// CodeUnavailable (answered 503 with its message). Other errors are
// internal, and their detail (paths) is logged, never sent.
type FileStore interface {
	// Commit stores the file at tmp, a received upload on the local disk
	// whose hex SHA-256 is sum, with media type typ; pin marks it as
	// never to be collected. When sum is stored already, its bytes and
	// first media type stay, its time becomes now and pin, if set, pins
	// it. created says the file is new; stamp identifies this commit's
	// time, for Discard. The file at tmp is gone after Commit, whatever
	// happens.
	Commit(ctx context.Context, tmp, sum, typ string, pin bool) (created bool, stamp time.Time, err error)

	// Discard removes the file sum, which a Commit created with time
	// stamp and nothing names, unless a later Commit stored it again.
	Discard(ctx context.Context, sum string, stamp time.Time) error

	// Open returns a reader of the file sum, which ctx bounds, with its
	// size, media type ("" if unknown) and time.
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, models.FileInfo, error)

	// Candidates returns, sorted, up to max hashes of stored files that
	// sort after after, and whether there are more: the files a sweep
	// examines in turn. It may leave out files that Collect would keep
	// whatever the documents say (pinned ones).
	Candidates(ctx context.Context, after string, max int) (sums []string, more bool, err error)

	// Collect removes the file sum, which no document names, unless it
	// is pinned or was stored at or after cutoff, and returns the bytes
	// it freed.
	Collect(ctx context.Context, sum string, cutoff time.Time) (freed int64, removed bool, err error)
}

// errorDetail is err's text for the server's log, with the causes that a
// [models.Error] keeps out of its text (and so out of replies): the
// driver's error behind an unavailable file store, say.
func errorDetail(err error) string {
	s := err.Error()
	for e := err; ; {
		me, ok := errors.AsType[*models.Error](e)
		if !ok || me.Err == nil {
			return s
		}
		s += " (" + me.Err.Error() + ")"
		e = me.Err
	}
}
