package actors

import (
	"context"
	"reflect"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// The access rules (DESIGN §6) are enforced by the model actor, the one
// place every request of a type passes, whatever its transport: the
// session's frames, REST and uploads (through [System.Call]). The order:
// the rules decide by method and caller ([models.Rules.Check]), then a
// handler that is a [models.Guard] may refuse, then, for a type with
// "owner" rules, the document's owner is stamped at create, kept on
// change, and compared with the caller's subject wherever the rule is
// "owner": another owner's document is not_found, so nothing leaks.

// authorize checks req against the rules and the handler's Guard.
// unsubscribe is always allowed, so that a client can always stop
// listening.
func (a *modelActor) authorize(req models.Request) error {
	if req.Method == models.Unsubscribe {
		return nil
	}
	m := a.m
	if err := m.sys.cfg.Rules.Check(m.name, req.Method, req.Caller); err != nil {
		return err
	}
	g := guardOf(m.h)
	if g == nil {
		return nil
	}
	return a.withHandlerContext(func(ctx context.Context) error { return g.Allow(ctx, req) })
}

// guardOf returns h, or the handler it supervises, as a [models.Guard];
// nil if it is none.
func guardOf(h models.Handler) models.Guard {
	if sh, ok := h.(supervisedHandler); ok {
		return sh.guard()
	}
	g, _ := h.(models.Guard)
	return g
}

// ownership is the per-document part of the rules for one request.
type ownership struct {
	// field is the attribute that holds a document's owner; "" when
	// the type has no owner rule, and nothing below applies.
	field string
	// subject is the caller's.
	subject string
	// only: the method's rule is "owner", so the caller may see and
	// change their own documents only.
	only bool
}

func (a *modelActor) ownershipOf(req models.Request) ownership {
	rules := a.m.sys.cfg.Rules
	if !rules.UsesOwner(a.m.name) {
		return ownership{}
	}
	return ownership{
		field:   rules.OwnerField(a.m.name),
		subject: req.Caller.Subject,
		only:    rules.Access(a.m.name, req.Method) == models.Owner,
	}
}

// owns reports whether the document attrs belongs to the caller.
func (o ownership) owns(attrs models.Props) bool {
	owner, ok := attrs.Text(o.field)
	return ok && owner != "" && owner == o.subject
}

// prepare rewrites the request of a type with owner rules before its
// handler runs: a create is stamped with the caller as owner, whatever
// the client sent; an update keeps the stored owner and a patch cannot
// change it; and where the rule is "owner", changing another caller's
// document is not_found. It reads the document first, through the
// handler, for update, patch and delete.
func (a *modelActor) prepare(r *modelRequest, o ownership) error {
	if o.field == "" {
		return nil
	}
	req := &r.req
	switch req.Method {
	case models.Create:
		req.Props = o.stamp(req.Props)
	case models.Read:
		if req.ID == "" && o.only {
			req.Owned = &models.Ownership{Field: o.field, Subject: o.subject}
		}
	case models.Update, models.Patch, models.Delete:
		if req.ID == "" {
			return nil // the handler says what is wrong
		}
		prev, found, err := a.current(*req)
		if err != nil || !found {
			if req.Method == models.Update {
				req.Props = o.stamp(req.Props) // an upsert creates
			}
			return err
		}
		if o.only && !o.owns(prev) {
			return notYours(a.m.name, req.ID)
		}
		switch req.Method {
		case models.Update:
			req.Props = req.Props.Delete(o.field)
			if v, ok := prev.Get(o.field); ok {
				req.Props = req.Props.Set(o.field, v)
			}
		case models.Patch:
			req.Props = req.Props.Delete(o.field)
		}
	}
	return nil
}

// stamp sets the owner of a new document to the caller, or removes what
// the client put there for an anonymous caller.
func (o ownership) stamp(props models.Props) models.Props {
	props = props.Delete(o.field)
	if o.subject == "" {
		return props
	}
	return props.Set(o.field, []byte(o.subject))
}

// current reads the document req names through the handler, as the
// caller.
func (a *modelActor) current(req models.Request) (attrs models.Props, found bool, err error) {
	read := models.Request{Method: models.Read, Model: req.Model, ID: req.ID,
		Props: models.Props{{Key: "id", Value: []byte(req.ID)}}, Caller: req.Caller}
	var msg any
	err = a.withHandlerContext(func(ctx context.Context) (err error) {
		msg, err = a.m.h.Sync(ctx, read)
		return err
	})
	if models.CodeOf(err) == models.CodeNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	attrs, err = models.FromValue(msg)
	if err != nil {
		return nil, false, models.Errorf(models.CodeInternal, "the %s handler's read reply is not a document: %v", a.m.name, err)
	}
	return attrs, true, nil
}

// filterReply keeps another caller's documents out of a read's reply
// (msg, a term) where the rule is "owner": a single document is
// not_found, a collection lists the caller's only.
func (a *modelActor) filterReply(req models.Request, o ownership, msg any) (any, error) {
	if !o.only || req.Method != models.Read {
		return msg, nil
	}
	if req.ID != "" {
		attrs, err := models.FromValue(msg)
		if err != nil || !o.owns(attrs) {
			return nil, notYours(a.m.name, req.ID)
		}
		return msg, nil
	}
	list := reflect.ValueOf(msg)
	if list.Kind() != reflect.Slice {
		return nil, models.Errorf(models.CodeInternal, "the %s handler's collection read reply is a %T, not a list", a.m.name, msg)
	}
	mine := bert.List{}
	for i := range list.Len() {
		doc := list.Index(i).Interface()
		if attrs, err := models.FromValue(doc); err == nil && o.owns(attrs) {
			mine = append(mine, doc)
		}
	}
	return mine, nil
}

// notYours is the answer for another owner's document: the same as for
// one that does not exist.
func notYours(model, id string) error {
	return models.Errorf(models.CodeNotFound, "no %s with id %q", model, id)
}

// withHandlerContext runs fn with a handler's context (handlerContext).
func (a *modelActor) withHandlerContext(fn func(context.Context) error) error {
	ctx, release := a.handlerContext()
	defer release()
	return fn(ctx)
}

// handlerContext returns a handler's context, the request's deadline
// under the system's context, and the function that releases it: when
// the handler has returned, or for a commit, which outlives the call
// that hands it over, when the commit is done.
func (a *modelActor) handlerContext() (context.Context, func()) {
	m := a.m
	if d := m.sys.cfg.RequestTimeout; d > 0 {
		hctx := newHandlerContext(m.sys.ctx, d)
		return hctx, hctx.release
	}
	return m.sys.ctx, func() {}
}
