package actors

import (
	"context"
	"math"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// Subscribe and recovery (DESIGN §5). The model actor is the one writer
// of its type's stream and serves a subscribe after committing what was
// staged before it, so the position it reads is the type's latest, and
// every event after it is pushed by this actor after the reply. A
// subscribe with since gets the events it missed with its reply
// (modelReply.after), which its session sends right after the reply and
// before any push that came meanwhile (session.go holds those back): no
// event is lost or doubled between history and the live pushes.

var (
	atomSeq       = bert.Atom("seq")
	atomEpoch     = bert.Atom("epoch")
	atomRecovered = bert.Atom("recovered")
	atomFiltered  = bert.Atom("filtered")
)

// subscribe serves a subscribe: it adds the session to the subscribers
// and answers [{seq, Top}, {epoch, Epoch}], with {recovered, Bool} and
// the replay when the request has since, and {filtered, true} when the
// subscribe rule is "owner".
func (a *modelActor) subscribe(ctx actor.Context, r *modelRequest, own ownership) {
	m := a.m
	who := r.sender()
	if who == nil {
		a.reply(ctx, r, nil, models.Errorf(models.CodeBadRequest, "subscribe needs a connection"))
		return
	}
	since, epoch, recovering, err := recoveryOf(r.req.Props)
	if err != nil {
		a.reply(ctx, r, nil, err)
		return
	}
	pos, err := a.position()
	if err != nil {
		a.reply(ctx, r, nil, err)
		return
	}
	sub := subscriber{pid: who, after: pos.Seq}
	if own.only {
		sub.owner = &own
	}
	var replay []*pushMsg
	recovered := false
	if recovering && epoch == pos.Epoch && !limits.Exceeds(pos.Seq-since, int64(m.sys.cfg.MaxRecoveryEvents)) {
		if replay, recovered, err = a.replay(sub, since, pos.Seq); err != nil {
			a.replyResult(ctx, r, nil, err)
			return
		}
	}
	if _, ok := m.subs[who.Id]; !ok {
		ctx.Watch(who)
	}
	if len(m.subs) == 0 {
		a.startOrder(pos.Seq)
	}
	m.subs[who.Id] = sub
	m.nsubs.Store(int32(len(m.subs)))
	reply := positionTerm(pos)
	if recovering {
		reply = append(reply, bert.Tuple{atomRecovered, recovered})
	}
	if sub.owner != nil {
		// This subscriber hears only some of the type's events: the Seqs
		// it skips are others', not a gap that calls for a reload.
		reply = append(reply, bert.Tuple{atomFiltered, true})
	}
	a.replyThen(ctx, r, reply, nil, replay)
}

// replay returns the pushes of the events after since, up to top, that
// sub hears, and whether the history had them all within
// [Config.MaxRecoverySize] (the caller checked [Config.MaxRecoveryEvents]).
// On a shared log the history may have gone past top since the position
// was read: those events come live, after the reply.
func (a *modelActor) replay(sub subscriber, since, top int64) ([]*pushMsg, bool, error) {
	m := a.m
	var events []models.Event
	var complete bool
	err := a.withHandlerContext(func(ctx context.Context) (err error) {
		events, complete, err = m.sys.cfg.Log.Since(ctx, m.name, since, m.sys.cfg.MaxRecoverySize)
		return err
	})
	if err != nil || !complete {
		return nil, false, err
	}
	pushes := make([]*pushMsg, 0, len(events))
	for _, e := range events {
		if e.Seq > top {
			break
		}
		p := &pushMsg{model: m.name, data: e.Data}
		if sub.owner != nil {
			event, attrs, ok := p.event()
			if !ok {
				return nil, false, models.Errorf(models.CodeInternal, "event %d of %s in history cannot be read", e.Seq, m.name)
			}
			if !sub.hears(event, attrs) {
				continue
			}
		}
		pushes = append(pushes, p)
	}
	return pushes, true, nil
}

// position reads where the type's stream is.
func (a *modelActor) position() (pos models.Position, err error) {
	m := a.m
	err = a.withHandlerContext(func(ctx context.Context) (err error) {
		pos, err = m.sys.cfg.Log.Position(ctx, m.name)
		return err
	})
	return pos, err
}

// positionTerm is the reply [{seq, Top}, {epoch, Epoch}].
func positionTerm(pos models.Position) bert.List {
	return bert.List{
		bert.Tuple{atomSeq, pos.Seq},
		bert.Tuple{atomEpoch, []byte(pos.Epoch)},
	}
}

// recoveryOf reads the since and epoch of a subscribe; recovering is
// false when it has no since. since is a non-negative integer (or a
// float holding one: JavaScript's numbers), epoch text; a since without
// an epoch can match no stream, so it is never recovered.
func recoveryOf(props models.Props) (since int64, epoch string, recovering bool, err error) {
	v, ok := props.Get("since")
	if !ok || v == nil {
		return 0, "", false, nil
	}
	switch n := v.(type) {
	case int64:
		since = n
	case float64:
		if n != math.Trunc(n) || n < 0 || n > 1<<53 {
			return 0, "", false, models.Errorf(models.CodeBadRequest, "since is %v, want a non-negative integer", n)
		}
		since = int64(n)
	default:
		return 0, "", false, models.Errorf(models.CodeBadRequest, "since is %s, want a non-negative integer", bert.KindOf(v))
	}
	if since < 0 {
		return 0, "", false, models.Errorf(models.CodeBadRequest, "since is %d, want a non-negative integer", since)
	}
	if e, ok := props.Get("epoch"); ok && e != nil {
		if epoch, ok = bert.AsString(e); !ok {
			return 0, "", false, models.Errorf(models.CodeBadRequest, "epoch is %s, want a binary", bert.KindOf(e))
		}
	}
	return since, epoch, true, nil
}
