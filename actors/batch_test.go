package actors

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// countedMailbox is a mailbox whose count of user messages is set by the
// test.
type countedMailbox struct {
	actor.Mailbox
	count int
}

func (m countedMailbox) UserMessageCount() int { return m.count }

// A message run before protoactor counted it leaves a count of -1, and
// no further run: what it staged must be flushed then, or its writers
// wait for the next message to the type (a stall seen under load).
func TestMailboxDrained(t *testing.T) {
	for _, tc := range []struct {
		mb   actor.Mailbox
		want bool
	}{
		{nil, true},
		{countedMailbox{count: -1}, true},
		{countedMailbox{count: 0}, true},
		{countedMailbox{count: 1}, false},
	} {
		if got := mailboxDrained(tc.mb); got != tc.want {
			t.Errorf("mailboxDrained with %v messages counted = %v, want %v", tc.mb, got, tc.want)
		}
	}
}
