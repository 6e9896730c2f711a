package models

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgError gives an error of PostgreSQL or of its driver a reply code;
// errors of this package pass unchanged. The server's own refusals are
// told apart by SQLSTATE; every other failure of the driver is one of
// reaching the server (a refused or lost connection, a timeout, a closed
// pool), which is unavailable: the pool reconnects and a retry may
// succeed.
func pgError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	// The client sees no driver text, which names the database's host
	// and port; the cause stays in the chain for the server's log.
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok {
		return &Error{Code: CodeUnavailable, Message: "store: the database is unreachable", Err: err}
	}
	switch {
	case pgUnavailable(pgErr.Code):
		return &Error{Code: CodeUnavailable, Message: "store: the database is unavailable (SQLSTATE " + pgErr.Code + ")", Err: err}
	case pgErr.Code == "23505": // unique_violation: an id taken meanwhile by another node
		return &Error{Code: CodeConflict, Message: "store: the id was taken meanwhile", Err: err}
	case pgErr.Code == "54000": // program_limit_exceeded: a row too large for an index
		return Errorf(CodeTooLarge, "store: %w", err)
	case strings.HasPrefix(pgErr.Code, "22"): // data_exception: a value the column cannot hold
		return Errorf(CodeBadRequest, "store: %w", err)
	}
	return fmt.Errorf("models: store: %w", err)
}

// pgUnavailable reports whether SQLSTATE code means that the server, not
// the statement, failed: connection exceptions (08), insufficient
// resources (53), operator intervention (57: admin or crash shutdown, a
// terminated backend, a server starting), and the transaction rollbacks
// that a rerun cures (40: a deadlock with another node, a
// serialization failure).
func pgUnavailable(code string) bool {
	switch code[:min(len(code), 2)] {
	case "08", "53", "57", "40":
		return true
	}
	return false
}

// pgBreaks reports whether err ends the transaction for every write of a
// group (see [groupTx.broken]) rather than for the one that ran into it:
// all but the refusals of a write's own values.
func pgBreaks(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return !ok || pgUnavailable(pgErr.Code)
}

// pgRerun reports whether a transaction that failed with err may be run
// again at once: a deadlock with another node's transaction (which
// PostgreSQL broke by rolling this one back) or a serialization failure.
func pgRerun(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// checkText refuses, as a bad request, a model name or id that a
// PostgreSQL text column cannot hold: bbolt keys are any bytes, text is
// UTF-8 without NUL.
func checkText(what, s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return Errorf(CodeBadRequest, "%s %q cannot be stored: %w", what, truncate(s, 64), errNotText)
	}
	return nil
}
