package models

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the error code of a {sync, error, {Code, Message}} reply.
type Code string

// The error codes of the wire contract.
const (
	CodeBadRequest   Code = "bad_request"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeTooLarge     Code = "too_large"
	CodeRateLimited  Code = "rate_limited"
	CodeUnavailable  Code = "unavailable"
	CodeInternal     Code = "internal"
)

// Sentinel errors, one per code. Handlers wrap them to choose the code of
// their reply: fmt.Errorf("character %q: %w", id, models.ErrNotFound).
var (
	ErrBadRequest   = &Error{Code: CodeBadRequest, Message: "bad request"}
	ErrNotFound     = &Error{Code: CodeNotFound, Message: "not found"}
	ErrConflict     = &Error{Code: CodeConflict, Message: "conflict"}
	ErrUnauthorized = &Error{Code: CodeUnauthorized, Message: "unauthorized"}
	ErrForbidden    = &Error{Code: CodeForbidden, Message: "forbidden"}
	ErrTooLarge     = &Error{Code: CodeTooLarge, Message: "too large"}
	ErrRateLimited  = &Error{Code: CodeRateLimited, Message: "rate limited"}
	ErrUnavailable  = &Error{Code: CodeUnavailable, Message: "unavailable"}
	ErrInternal     = &Error{Code: CodeInternal, Message: "internal error"}
)

// Error is an error with a reply code. Two Errors match under errors.Is
// when their codes are equal, so any *Error with CodeNotFound is
// ErrNotFound.
type Error struct {
	Code Code
	// Message is the text the client sees in {sync, error, {Code, Message}}.
	Message string
	// Err is the cause, if any; Unwrap returns it so that errors.Is and
	// errors.As see through an *Error to, say, a *bert.SyntaxError.
	Err error
}

// Errorf returns an *Error with the given code and a formatted message.
// A %w verb in format sets the error's cause ([Error.Err]) as well, the way
// fmt.Errorf does.
func Errorf(code Code, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: wrapped.Error()}
	switch u := wrapped.(type) {
	case interface{ Unwrap() error }:
		e.Err = u.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(u.Unwrap()...)
	}
	return e
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Unwrap returns the cause of e, or nil.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the reply code for err: the code of the first *Error in
// its chain, or CodeInternal.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternal
}

// MessageOf returns the message a client should see for err. When err's
// chain holds an *Error, it is err's text with that Error's code prefix
// left out: fmt.Errorf("character %q: %w", "7", ErrNotFound) gives
// `character "7": not found`, sent as {not_found, Message}. Otherwise it is
// "internal error", so that unexpected failures (file paths, driver
// errors) are logged by the server but never sent to clients.
func MessageOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return strings.Replace(err.Error(), e.Error(), e.Message, 1)
	}
	return ErrInternal.Message
}
