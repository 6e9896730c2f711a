package gateway

import "sync/atomic"

// pushTexts converts pushes to their text form (the UTF-8 binary string,
// see binstring.go) once for all their subscribers. A push reaches every
// subscriber's transport with the same Data array (the [actors.Frame]
// contract), so the array identifies the push: the latest few
// conversions are kept, keyed by it, and every text subscriber of a push
// shares one. An entry holds its Data, so the array cannot be freed and
// reused by another push while the entry names it.
//
// The slots are lock-free: the writers of thousands of connections look
// up the same push at once. Two writers that miss together both convert,
// which costs time, never correctness. At most pushTextSlots pushes and
// their text forms are retained beyond their queues' lifetime, about
// 3 × pushTextSlots × the largest message.
type pushTexts struct {
	slots [pushTextSlots]atomic.Pointer[pushText]
	next  atomic.Uint32
}

// pushTextSlots is how many recent pushes keep their text form: enough
// for the pushes of several model types to interleave.
const pushTextSlots = 8

type pushText struct {
	data, text []byte
}

// text returns data, a push's BERT bytes, as a text frame carries it.
func (c *pushTexts) text(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && len(e.data) == len(data) && &e.data[0] == &data[0] {
			return e.text
		}
	}
	e := &pushText{data: data, text: appendBinaryString(make([]byte, 0, binaryStringLen(data)), data)}
	c.slots[c.next.Add(1)%pushTextSlots].Store(e)
	return e.text
}
