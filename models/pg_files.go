package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Uploaded files in PostgreSQL, for the gateway's file store (its
// FileStore interface) when many nodes share one database: every node
// stores and serves every file. A file is one row of files (its hex
// SHA-256, media type, size, pin and the time it was last stored) and
// its bytes are rows of file_chunks of pgFileChunk bytes each, numbered
// from 0, so that neither storing nor serving ever holds more than a
// chunk in memory, and a range is served by fetching only the chunks
// that cover it.
//
// files.created_at is the start of the file's grace period, the disk
// store's modification time: set when the file is first stored and moved
// forward whenever the same bytes are stored again, so that the sweep of
// any node leaves a file alone that an upload on any node has just found
// there. Each store moves it strictly forward, which lets an upload whose
// patch was refused remove the file it created only if no other upload
// (on this node or another) has stored it since.

// pgFileChunk is the size of a chunk of file_chunks. Readers rely on it
// to find the chunk of an offset: every chunk but the last is this long.
const pgFileChunk = 256 << 10

// pgCommitAttempts bounds the tries of a commit that keeps losing its
// file to concurrent sweeps between finding it and touching it.
const pgCommitAttempts = 3

// FileInfo describes a stored file.
type FileInfo struct {
	Size      int64
	MediaType string // "" if unknown
	// ModTime is when the file was last stored.
	ModTime time.Time
}

// PGFiles keeps uploaded files in the files and file_chunks tables of a
// PostgreSQL database (created by the store's migrations). It is safe
// for concurrent use, by any number of processes on one database.
//
// Its errors that come from the database have CodeUnavailable and a
// message that names no address or query; the driver's error is their
// cause ([Error.Err]). A missing file is CodeNotFound.
type PGFiles struct {
	pool *pgxpool.Pool
}

// NewPGFiles returns the file store of the database pool reaches. It
// does not own pool: closing it is the caller's business.
func NewPGFiles(pool *pgxpool.Pool) *PGFiles {
	return &PGFiles{pool: pool}
}

// errFilesUnavailable is the error of a database failure of the file
// store, with cause as its [Error.Err].
func errFilesUnavailable(op string, cause error) error {
	return &Error{Code: CodeUnavailable, Message: "the file store is unavailable (" + op + ")", Err: cause}
}

// errNoFile is the error of a file that is not stored.
var errNoFile = &Error{Code: CodeNotFound, Message: "no such file"}

// Commit stores the file at tmp (a received upload, whose hex SHA-256 is
// sum) with media type typ, in one transaction: the row first, then its
// chunks read from tmp one at a time. If sum is stored already, its
// bytes and first media type stay, and only its time is moved on (and
// its pin set when pin is). created says the file is new; stamp is its
// new time, for [PGFiles.Discard]. tmp is removed whatever happens.
func (p *PGFiles) Commit(ctx context.Context, tmp, sum, typ string, pin bool) (created bool, stamp time.Time, err error) {
	defer os.Remove(tmp)
	f, err := os.Open(tmp)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("models: files: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("models: files: %w", err)
	}
	for range pgCommitAttempts {
		created, stamp, found, err := p.commitOnce(ctx, f, st.Size(), sum, typ, pin)
		if err != nil || found {
			return created, stamp, err
		}
		// A sweep removed the file between the insert that found it and
		// the update that would have touched it: insert it again.
	}
	return false, time.Time{}, errFilesUnavailable("storing", errors.New("the file was removed by concurrent sweeps at every attempt"))
}

// commitOnce is one transaction of [PGFiles.Commit]; found false says
// that the file was there at the insert and gone at the update.
func (p *PGFiles) commitOnce(ctx context.Context, f *os.File, size int64, sum, typ string, pin bool) (created bool, stamp time.Time, found bool, err error) {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return false, time.Time{}, false, errFilesUnavailable("storing", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// clock_timestamp, not now(): a transaction that waited on another
	// storing the same file gets a later time than that one's.
	err = tx.QueryRow(ctx,
		`INSERT INTO files (sum, media_type, size, pinned, created_at) VALUES ($1, $2, $3, $4, clock_timestamp())
		 ON CONFLICT (sum) DO NOTHING RETURNING created_at`,
		sum, typ, size, pin).Scan(&stamp)
	switch {
	case err == nil:
		created = true
		if err := p.copyChunks(ctx, tx, f, size, sum); err != nil {
			return false, time.Time{}, false, err
		}
	case errors.Is(err, pgx.ErrNoRows):
		err = tx.QueryRow(ctx,
			`UPDATE files SET created_at = greatest(clock_timestamp(), created_at + interval '1 microsecond'),
			        pinned = pinned OR $2
			 WHERE sum = $1 RETURNING created_at`,
			sum, pin).Scan(&stamp)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, time.Time{}, false, nil
		}
		if err != nil {
			return false, time.Time{}, false, errFilesUnavailable("storing", err)
		}
	default:
		return false, time.Time{}, false, errFilesUnavailable("storing", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, time.Time{}, false, errFilesUnavailable("storing", err)
	}
	return created, stamp, true, nil
}

// copyChunks copies the size bytes of f into the chunks of sum, reading
// one chunk at a time into one buffer.
func (p *PGFiles) copyChunks(ctx context.Context, tx pgx.Tx, f *os.File, size int64, sum string) error {
	buf := make([]byte, pgFileChunk)
	var n int32
	var off int64
	var readErr error
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if off >= size {
			return nil, nil
		}
		m, err := io.ReadFull(f, buf[:min(int64(pgFileChunk), size-off)])
		if err != nil {
			readErr = fmt.Errorf("models: files: reading the received file: %w", err)
			return nil, readErr
		}
		row := []any{sum, n, buf[:m]}
		n++
		off += int64(m)
		return row, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"file_chunks"}, []string{"sum", "n", "data"}, rows); err != nil {
		if readErr != nil {
			return readErr
		}
		return errFilesUnavailable("storing", err)
	}
	return nil
}

// Discard removes the file sum that a commit created with time stamp,
// unless a commit (of any node) has stored it since, which moved its
// time on.
func (p *PGFiles) Discard(ctx context.Context, sum string, stamp time.Time) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM files WHERE sum = $1 AND created_at = $2`, sum, stamp); err != nil {
		return errFilesUnavailable("removing", err)
	}
	return nil
}

// Open returns a reader of the file sum and what it is. The reader
// fetches the chunk that covers its offset when it reads, one query a
// chunk, within ctx; it holds one chunk at most.
func (p *PGFiles) Open(ctx context.Context, sum string) (io.ReadSeekCloser, FileInfo, error) {
	var fi FileInfo
	err := p.pool.QueryRow(ctx, `SELECT media_type, size, created_at FROM files WHERE sum = $1`, sum).
		Scan(&fi.MediaType, &fi.Size, &fi.ModTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fi, errNoFile
	}
	if err != nil {
		return nil, fi, errFilesUnavailable("reading", err)
	}
	return &pgFileReader{ctx: ctx, pool: p.pool, sum: sum, size: fi.Size, chunk: -1}, fi, nil
}

// Candidates returns, sorted, up to max hashes of stored files that sort
// after after and are not pinned, and whether there are more.
func (p *PGFiles) Candidates(ctx context.Context, after string, max int) (sums []string, more bool, err error) {
	rows, err := p.pool.Query(ctx,
		`SELECT sum FROM files WHERE sum > $1 AND NOT pinned ORDER BY sum LIMIT $2`, after, max+1)
	if err != nil {
		return nil, false, errFilesUnavailable("listing", err)
	}
	sums, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, false, errFilesUnavailable("listing", err)
	}
	if len(sums) > max {
		sums, more = sums[:max], true
	}
	return sums, more, nil
}

// Collect removes the file sum unless it is pinned or was stored at or
// after cutoff, and returns its size when it removed it. Its chunks go
// with it (ON DELETE CASCADE), in the same statement.
func (p *PGFiles) Collect(ctx context.Context, sum string, cutoff time.Time) (freed int64, removed bool, err error) {
	err = p.pool.QueryRow(ctx,
		`DELETE FROM files WHERE sum = $1 AND NOT pinned AND created_at < $2 RETURNING size`, sum, cutoff).Scan(&freed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, errFilesUnavailable("removing", err)
	}
	return freed, true, nil
}

// pgFileReader reads a file of [PGFiles] a chunk at a time.
type pgFileReader struct {
	ctx  context.Context
	pool *pgxpool.Pool
	sum  string
	size int64
	off  int64
	// chunk is the number of the chunk in buf; -1: none.
	chunk int64
	buf   chunkBuffer
}

// chunkBuffer receives a chunk's bytes from the driver into the same
// array every time (pgx scans a bytea into a []byte by allocating).
type chunkBuffer struct{ b []byte }

func (c *chunkBuffer) ScanBytes(v []byte) error {
	c.b = append(c.b[:0], v...)
	return nil
}

func (r *pgFileReader) Read(b []byte) (int, error) {
	if r.pool == nil {
		return 0, os.ErrClosed
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := r.off / pgFileChunk
	if n != r.chunk {
		if err := r.fetch(n); err != nil {
			return 0, err
		}
	}
	c := copy(b, r.buf.b[r.off-n*pgFileChunk:])
	r.off += int64(c)
	return c, nil
}

// fetch reads chunk n into r.buf, and checks that it is as long as the
// file's size says.
func (r *pgFileReader) fetch(n int64) error {
	r.chunk = -1
	err := r.pool.QueryRow(r.ctx, `SELECT data FROM file_chunks WHERE sum = $1 AND n = $2`, r.sum, n).Scan(&r.buf)
	if errors.Is(err, pgx.ErrNoRows) {
		// Removed while it was being read.
		return fmt.Errorf("models: files: chunk %d of %s: %w", n, r.sum, errNoFile)
	}
	if err != nil {
		return errFilesUnavailable("reading", err)
	}
	if want := min(int64(pgFileChunk), r.size-n*pgFileChunk); int64(len(r.buf.b)) != want {
		return fmt.Errorf("models: files: chunk %d of %s holds %d bytes, want %d", n, r.sum, len(r.buf.b), want)
	}
	r.chunk = n
	return nil
}

func (r *pgFileReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, fmt.Errorf("models: files: seek: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("models: files: seek to a negative offset %d", offset)
	}
	r.off = offset
	return offset, nil
}

// Close drops the chunk held; the reader holds no connection between
// reads.
func (r *pgFileReader) Close() error {
	r.pool, r.buf.b = nil, nil
	return nil
}
