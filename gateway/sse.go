package gateway

import (
	"bytes"
	"encoding/base64"
)

// The EventSource wire format is text: a message is one or more "data:"
// lines and a blank line; the browser joins the lines of a message with LF
// and hands the text to onmessage. A line ends at CR, LF or CRLF, so a CR
// byte cannot be carried at all (the browser would see LF) and LF bytes
// survive only as line breaks between "data:" lines.
//
// Two encodings follow from that:
//
//   - base64 (our client, which asks with ?bertsync=1): each message is
//     one "data:" line holding the standard base64 of its bytes. atob() in
//     the browser turns it straight back into the byte-per-char binary
//     string BERT-JS decodes.
//   - stock (bullet.js): the bytes as a UTF-8 binary string, split at LF
//     into "data:" lines. A message holding a CR byte is not sendable; the
//     caller must keep it for long-polling instead (see stream handling).

// appendEventBase64 appends msg as one base64 "data:" event.
func appendEventBase64(dst, msg []byte) []byte {
	dst = append(dst, "data: "...)
	dst = base64.StdEncoding.AppendEncode(dst, msg)
	return append(dst, "\n\n"...)
}

// appendEventStock appends msg as a byte-per-char event, split at LF. It
// reports false, appending nothing, when msg holds a CR byte.
func appendEventStock(dst, msg []byte) ([]byte, bool) {
	if bytes.IndexByte(msg, '\r') >= 0 {
		return dst, false
	}
	for {
		line, rest, found := bytes.Cut(msg, []byte{'\n'})
		dst = append(dst, "data: "...)
		dst = appendBinaryString(dst, line)
		dst = append(dst, '\n')
		if !found {
			break
		}
		msg = rest
	}
	return append(dst, '\n'), true
}

// stockSendable reports whether msg can go over a stock EventSource.
func stockSendable(msg []byte) bool { return bytes.IndexByte(msg, '\r') < 0 }
