package actors

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// The application protocol of docs/protocol.md, as the session actor reads
// and writes it.
//
// A request is one of
//
//	{sync, Method, Model, Props}
//	{sync, Method, Model, Props, Ref}
//	{sync, {Method, Model, Props}}
//
// where sync, Method and Model are atoms or text (binary, byte list):
// BERT-JS sends atoms, other clients may send text, and both mean the
// same. Props is anything [models.ParseProps] accepts. A reply is
//
//	{sync, ok, Msg}        | {sync, ok, Msg, Ref}
//	{sync, error, Reason}  | {sync, error, Reason, Ref}
//
// with Reason = {Code, MessageBinary}, and a push is
//
//	{sync, Event, Model, Props, Seq}.

var (
	atomSync  = bert.Atom("sync")
	atomOK    = bert.Atom("ok")
	atomError = bert.Atom("error")
)

const requestShapes = "want {sync, Method, Model, Props}, {sync, Method, Model, Props, Ref} or {sync, {Method, Model, Props}}"

// parseRequest reads a request term. It returns the Ref whenever the term
// has one, even with an error, so that the error reply carries it too.
func parseRequest(term any) (req models.Request, ref any, hasRef bool, err error) {
	t, ok := term.(bert.Tuple)
	if !ok || len(t) < 2 {
		return req, nil, false, models.Errorf(models.CodeBadRequest, "request is %s; %s", bert.KindOf(term), requestShapes)
	}
	if s, ok := bert.AsString(t[0]); !ok || s != "sync" {
		return req, nil, false, models.Errorf(models.CodeBadRequest, "request does not start with sync; %s", requestShapes)
	}
	var method, model, props any
	switch len(t) {
	case 5:
		ref, hasRef = t[4], true
		fallthrough
	case 4:
		method, model, props = t[1], t[2], t[3]
	case 2:
		inner, ok := t[1].(bert.Tuple)
		if !ok || len(inner) != 3 {
			return req, nil, false, models.Errorf(models.CodeBadRequest, "request is {sync, %s}; %s", bert.KindOf(t[1]), requestShapes)
		}
		method, model, props = inner[0], inner[1], inner[2]
	default:
		return req, nil, false, models.Errorf(models.CodeBadRequest, "request is a tuple of %d elements; %s", len(t), requestShapes)
	}
	req, err = newRequest(method, model, props)
	return req, ref, hasRef, err
}

// newRequest checks the three parts of a request and builds it.
func newRequest(method, model, props any) (models.Request, error) {
	ms, ok := bert.AsString(method)
	if !ok {
		return models.Request{}, models.Errorf(models.CodeBadRequest, "method is %s, want an atom such as read", bert.KindOf(method))
	}
	name, ok := bert.AsString(model)
	if !ok {
		return models.Request{}, models.Errorf(models.CodeBadRequest, "model is %s, want an atom or a binary", bert.KindOf(model))
	}
	p, err := models.ParseProps(props)
	if err != nil {
		return models.Request{}, err
	}
	switch m := models.Method(ms); m {
	case methodSubscribe, methodUnsubscribe, methodBroadcast:
		if name == "" || len(name) > models.MaxModelNameSize {
			return models.Request{}, models.Errorf(models.CodeBadRequest, "model name of %d bytes, want 1 to %d", len(name), models.MaxModelNameSize)
		}
		return models.Request{Method: m, Model: name, Props: p}, nil
	case models.Create, models.Read, models.Update, models.Patch, models.Delete:
		return models.NewRequest(m, name, p)
	}
	return models.Request{}, models.Errorf(models.CodeBadRequest,
		"unknown method %q, want create, read, update, patch, delete, subscribe, unsubscribe or broadcast", truncate(ms, 64))
}

// encodeReply encodes the reply to one request, in at most limit bytes
// (not positive: no limit). If msg cannot be encoded the client gets an
// internal error instead, and if it passes the limit a too_large error:
// a reply over the message limit is an error, never a giant frame. If
// the Ref cannot be encoded in the session's profile (a map under
// BERT-JS, say), or takes the error reply past the limit, the reply goes
// without it rather than not at all.
func encodeReply(p bert.Profile, msg any, err error, ref any, hasRef bool, limit int) []byte {
	data, encErr := bert.Append(nil, replyTuple(msg, err, ref, hasRef), p)
	if encErr == nil && !limits.Exceeds(len(data), limit) {
		return data
	}
	if err == nil {
		if encErr != nil {
			err = models.Errorf(models.CodeInternal, "the reply cannot be encoded: %v", encErr)
		} else {
			err = models.Errorf(models.CodeTooLarge, "reply of %d bytes exceeds the message limit of %d bytes", len(data), limit)
		}
		data, encErr = bert.Append(nil, replyTuple(nil, err, ref, hasRef), p)
		if encErr == nil && !limits.Exceeds(len(data), limit) {
			return data
		}
	}
	data, encErr = bert.Append(nil, replyTuple(nil, err, nil, false), p)
	if encErr != nil {
		// Only text and atoms: cannot fail.
		panic(fmt.Sprintf("actors: encoding an error reply: %v", encErr))
	}
	if over := len(data) - limit; limits.Set(limit) && over > 0 {
		// Only a handler's error message can be this long: cut it.
		text := models.MessageOf(err)
		cut := truncateUTF8(text, max(len(text)-over-len("…"), 0)) + "…"
		data, _ = bert.Append(nil, replyTuple(nil, &models.Error{Code: models.CodeOf(err), Message: cut}, nil, false), p)
	}
	return data
}

// The envelopes of what the server sends around a message, in the
// BERT-JS profile (the Erlang profile's atoms are shorter), for
// [models.Request.MaxReplySize]: the version byte, a SMALL_TUPLE_EXT
// header, the atoms as ATOM_EXT (3 bytes and the text).
const (
	// replyEnvelope is {sync, ok, Msg} without Msg.
	replyEnvelope = 1 + 2 + (3 + len("sync")) + (3 + len("ok"))
	// pushEnvelope is {sync, created, Model, Props, Seq} without Model's
	// text and Props; Seq is at most a SMALL_BIG_EXT of 8 bytes. The
	// three change events have names of 7 letters.
	pushEnvelope = 1 + 2 + (3 + len("sync")) + (3 + len("created")) + 3 + (3 + 8)
)

// replyBudget is the [models.Request.MaxReplySize] of a request whose
// reply carries ref (when hasRef) in profile p, under a message limit of
// limit bytes (not positive: none, and the budget is -1).
func replyBudget(limit int, p bert.Profile, ref any, hasRef bool) int {
	if !limits.Set(limit) {
		return -1
	}
	over := replyEnvelope
	if hasRef {
		if data, err := bert.Append(nil, ref, p); err == nil {
			over += len(data) - 1
		}
	}
	return max(limit-over, 1)
}

// truncateUTF8 returns s cut to at most n bytes, at a character boundary
// when s is UTF-8.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func replyTuple(msg any, err error, ref any, hasRef bool) bert.Tuple {
	t := make(bert.Tuple, 3, 4)
	t[0] = atomSync
	if err != nil {
		t[1], t[2] = atomError, reasonTerm(err)
	} else {
		t[1], t[2] = atomOK, msg
	}
	if hasRef {
		t = append(t, ref)
	}
	return t
}

// reasonTerm is the {Code, MessageBinary} of an error reply.
func reasonTerm(err error) bert.Tuple {
	// The code is in the tuple already; MessageOf leaves it out of the text.
	return bert.Tuple{bert.Atom(models.CodeOf(err)), []byte(models.MessageOf(err))}
}

// publicError turns an error of a handler into the error a client sees:
// *models.Error chains as they are, a context deadline as unavailable,
// and anything else as an internal error without its text (which may
// name files or hosts); the caller logs the original.
func publicError(model string, err error) (pub error, internal bool) {
	if _, ok := errors.AsType[*models.Error](err); ok {
		return err, false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return models.Errorf(models.CodeUnavailable, "the %s handler timed out", model), false
	}
	return models.Errorf(models.CodeInternal, "the %s handler failed; the server log has the details", model), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
