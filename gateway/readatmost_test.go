package gateway

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// readAtMost keeps messages up to the limit whole, reports the length of
// longer ones and discards them, around the size of its pooled buffer.
func TestReadAtMost(t *testing.T) {
	for _, limit := range []int{1, 10, readSmall - 1, readSmall, readSmall + 1, 3 * readSmall} {
		for _, size := range []int{0, 1, 9, 10, 11, readSmall - 1, readSmall, readSmall + 1, 2*readSmall + 7, 4 * readSmall} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			// OneByteReader makes every read short, as a message split
			// over several frames reads.
			for _, r := range []io.Reader{bytes.NewReader(msg), iotest.OneByteReader(bytes.NewReader(msg))} {
				data, n, err := readAtMost(r, limit)
				if err != nil {
					t.Fatalf("limit %d, size %d: %v", limit, size, err)
				}
				if n != int64(size) {
					t.Fatalf("limit %d, size %d: n = %d", limit, size, n)
				}
				if size <= limit && !bytes.Equal(data, msg) {
					t.Fatalf("limit %d, size %d: data of %d bytes differs", limit, size, len(data))
				}
				if size > limit && data != nil {
					t.Fatalf("limit %d, size %d: kept %d bytes over the limit", limit, size, len(data))
				}
			}
		}
	}
}
