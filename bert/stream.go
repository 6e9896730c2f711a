package bert

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// A Decoder reads and decodes terms from an input stream. Terms follow
// each other directly, each starting with the version byte 131; there is
// no other framing.
type Decoder struct {
	r        io.Reader
	buf      []byte
	start    int   // start of the unread bytes in buf
	err      error // sticky: the reader's error, returned once the buffer is used up
	fatal    error // sticky: a term that cannot be skipped, so the stream is lost
	lim      Limits
	zeroCopy bool
	sc       scanner // the scan of the term being read, kept across reads
}

// NewDecoder returns a new decoder that reads from r, with default
// limits.
//
// The decoder reads ahead: it may read bytes from r beyond the term it
// returns, and keeps them for the next call. [Decoder.Buffered] returns
// them.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, lim: Limits{}.withDefaults()}
}

// SetLimits sets the limits for the terms read from now on; zero fields
// take their defaults. MaxSize also bounds the decoder's buffer.
func (dec *Decoder) SetLimits(l Limits) { dec.lim = l.withDefaults() }

// SetZeroCopy makes Decode return binaries and byte lists as sub-slices
// of the term's bytes, as [UnmarshalOptions] ZeroCopy does. The decoder
// then never reuses a buffer that a returned value may alias: each term
// read after a refill lives in a fresh buffer, and the caller may keep
// the results as long as it likes, but must not modify them if it also
// keeps a RawTerm or other alias of the same bytes.
func (dec *Decoder) SetZeroCopy(on bool) { dec.zeroCopy = on }

// Buffered returns a reader of the bytes read from r but not yet decoded.
func (dec *Decoder) Buffered() io.Reader {
	return &sliceReader{b: dec.buf[dec.start:]}
}

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// Decode reads the next term and stores it in the value pointed to by v,
// as [Unmarshal] does. It returns io.EOF when the input ends cleanly
// between terms, and io.ErrUnexpectedEOF when it ends inside one.
//
// A read error, a malformed term or a term over the limits is sticky:
// every later call returns it, because the stream cannot be resynchronised.
// An *UnmarshalTypeError is not: the term was read in full and the next
// Decode goes on with the term after it.
func (dec *Decoder) Decode(v any) error {
	term, inner, err := dec.next()
	if err != nil {
		return err
	}
	data := term
	if inner != nil {
		data = inner
	}
	return decodeChecked(data, v, dec.zeroCopy)
}

// ReadTerm returns the bytes of the next whole term (with its version
// byte), checked but not decoded. The slice is valid until the next call
// unless zero-copy decoding is on.
func (dec *Decoder) ReadTerm() ([]byte, error) {
	term, _, err := dec.next()
	return term, err
}

// next finds the next complete term in the buffer, reading as needed.
//
// A term that is not all there yet is scanned as far as it goes, and
// after each read the scan goes on from the term it stopped in rather
// than from the start, so that a large term arriving in many small reads
// costs time linear in its size. Reading stops as soon as the buffer
// holds the bytes the scan has found missing: bytes past the term may
// not come until the peer has had an answer.
func (dec *Decoder) next() (term, inner []byte, err error) {
	if dec.fatal != nil {
		return nil, nil, dec.fatal
	}
	dec.sc = scanner{maxDepth: dec.lim.MaxDepth, resumable: true, pos: 1, frames: dec.sc.frames[:0]}
	defer func() { dec.sc.data = nil }()
	// need is how many bytes the term needs at least, atMost how many it
	// may take.
	need, atMost := 1, dec.lim.MaxSize
	for {
		data := dec.buf[dec.start:]
		if len(data) >= need && len(data) > 0 {
			if data[0] != versionMagic {
				dec.fatal = syntaxErr(0, "term does not start with version byte 131")
				return nil, nil, dec.fatal
			}
			if len(data) > 1 && data[1] == tagCompressed {
				return dec.nextCompressed()
			}
			dec.sc.data = data
			end, err := dec.sc.resume()
			if err == nil {
				if end > dec.lim.MaxSize {
					dec.fatal = &LimitError{Err: ErrTooLarge, Limit: dec.lim.MaxSize, Offset: int64(dec.lim.MaxSize)}
					return nil, nil, dec.fatal
				}
				dec.start += end
				return data[:end:end], nil, nil
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.need <= len(data) {
				dec.fatal = err
				return nil, nil, err
			}
			need, atMost = se.need, dec.lim.MaxSize
			if need > atMost && dec.sc.pos < len(data) && data[dec.sc.pos] == tagFloat {
				// A BERT-JS float may end the input short of its 31
				// bytes (see floatExtEnd), and only the end of the
				// input tells: wait for it, reading up to one byte past
				// MaxSize, which says that the term is too large.
				if len(data) > dec.lim.MaxSize {
					dec.fatal = &LimitError{Err: ErrTooLarge, Limit: dec.lim.MaxSize, Offset: int64(dec.lim.MaxSize)}
					return nil, nil, dec.fatal
				}
				need, atMost = dec.lim.MaxSize+1, dec.lim.MaxSize+1
			}
		}
		if dec.err != nil {
			if len(data) > 0 && errors.Is(dec.err, io.EOF) {
				// The buffer is all the input there is: scan it as a
				// whole input, which lets a BERT-JS float at the very end
				// be short, as Unmarshal does.
				end, in, err := scanTerm(data, dec.lim, true)
				switch {
				case err == nil && end > dec.lim.MaxSize:
					dec.fatal = &LimitError{Err: ErrTooLarge, Limit: dec.lim.MaxSize, Offset: int64(dec.lim.MaxSize)}
					return nil, nil, dec.fatal
				case err == nil:
					dec.start += end
					return data[:end:end], in, nil
				case errors.Is(err, io.ErrUnexpectedEOF):
					return nil, nil, io.ErrUnexpectedEOF
				}
				// Malformed whatever follows, as Unmarshal would say.
				dec.fatal = err
				return nil, nil, err
			}
			return nil, nil, dec.err
		}
		if need > atMost {
			dec.fatal = &LimitError{Err: ErrTooLarge, Limit: dec.lim.MaxSize, Offset: int64(min(need, math.MaxInt32))}
			return nil, nil, dec.fatal
		}
		dec.fill(need)
	}
}

// nextCompressed reads the compressed term (tag 80) that starts the
// buffer. Its zlib data says where it ends only by ending, so it is
// inflated as it arrives: the inflater pulls bytes through a termSource,
// which reads from r only when the buffer has no more, and never past
// the end of the zlib data.
func (dec *Decoder) nextCompressed() (term, inner []byte, err error) {
	src := &termSource{dec: dec}
	if !src.ensure(compressedHeader) {
		return nil, nil, dec.sourceErr(src.err)
	}
	src.n = compressedHeader
	data := dec.buf[dec.start:]
	size := int64(binary.BigEndian.Uint32(data[2:]))
	if size > int64(dec.lim.MaxDecompressed) {
		dec.fatal = &LimitError{Err: ErrTooLarge, Limit: dec.lim.MaxDecompressed, Offset: 1}
		return nil, nil, dec.fatal
	}
	inner, err = inflateFrom(src, size, int64(len(data)-compressedHeader))
	switch {
	case err == nil:
		err = scanInflated(inner, dec.lim)
	case err != errSizeMismatch && src.err != nil:
		// The zlib data is not all there. (Inflating past the declared
		// size is an error more bytes cannot fix, even when the
		// inflater has asked for them.)
		return nil, nil, dec.sourceErr(src.err)
	default:
		err = zlibError(err, 1, compressedHeader, src.n)
	}
	if err != nil {
		dec.fatal = err
		return nil, nil, err
	}
	end := src.n
	data = dec.buf[dec.start:]
	dec.start += end
	return data[:end:end], inner, nil
}

// sourceErr turns the reason a termSource stopped into Decode's error.
func (dec *Decoder) sourceErr(err error) error {
	var le *LimitError
	switch {
	case errors.As(err, &le):
		dec.fatal = err
	case errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	}
	return err
}

// A termSource reads the bytes of the term that starts the decoder's
// buffer, from offset n on, filling the buffer from the reader as it
// goes. It keeps the term within MaxSize. Once it fails it keeps its
// error in err: the reader's error, or a *LimitError.
type termSource struct {
	dec *Decoder
	n   int
	err error
}

// ensure reports whether the buffer holds the term's first n+k bytes,
// reading until it does.
func (s *termSource) ensure(k int) bool {
	dec := s.dec
	if s.err == nil && s.n+k > dec.lim.MaxSize {
		s.err = &LimitError{Err: ErrTooLarge, Limit: dec.lim.MaxSize, Offset: int64(dec.lim.MaxSize)}
	}
	for s.err == nil && len(dec.buf)-dec.start < s.n+k {
		if dec.err != nil {
			s.err = dec.err
			break
		}
		dec.fill(s.n + k)
	}
	return s.err == nil
}

func (s *termSource) ReadByte() (byte, error) {
	if !s.ensure(1) {
		return 0, s.err
	}
	c := s.dec.buf[s.dec.start+s.n]
	s.n++
	return c, nil
}

func (s *termSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !s.ensure(1) {
		return 0, s.err
	}
	n := copy(p[:min(len(p), s.dec.lim.MaxSize-s.n)], s.dec.buf[s.dec.start+s.n:])
	s.n += n
	return n, nil
}

// fill reads until at least need unread bytes are buffered or the reader
// fails; the error is kept in dec.err.
func (dec *Decoder) fill(need int) {
	unread := len(dec.buf) - dec.start
	if unread == 0 && cap(dec.buf) > 64<<10 && need <= 4096 {
		// Do not keep a big term's buffer for a long-lived stream of
		// small ones.
		dec.buf, dec.start = nil, 0
	}
	switch {
	case cap(dec.buf)-dec.start < need:
		dec.grow(need, unread)
	case cap(dec.buf)-len(dec.buf) < need-unread:
		// There is room only before the unread bytes. In zero-copy
		// mode the bytes there may be aliased by decoded values, so
		// they are never overwritten: move to a new buffer instead.
		if dec.zeroCopy {
			dec.grow(need, unread)
		} else {
			copy(dec.buf, dec.buf[dec.start:])
			dec.buf = dec.buf[:unread]
			dec.start = 0
		}
	}
	for empty := 0; len(dec.buf)-dec.start < need; {
		n, err := dec.r.Read(dec.buf[len(dec.buf):cap(dec.buf)])
		dec.buf = dec.buf[:len(dec.buf)+n]
		if err != nil {
			dec.err = err
			return
		}
		if n == 0 {
			if empty++; empty >= 100 {
				dec.err = io.ErrNoProgress
				return
			}
		}
	}
}

// grow moves the unread bytes to a new buffer with room for need bytes.
func (dec *Decoder) grow(need, unread int) {
	size := max(need, 2*unread, 4096)
	size = min(size, max(need, dec.lim.MaxSize))
	nb := make([]byte, unread, size)
	copy(nb, dec.buf[dec.start:])
	dec.buf = nb
	dec.start = 0
}

// decodeChecked decodes data, which scanTerm has accepted, into v.
func decodeChecked(data []byte, v any, zeroCopy bool) error {
	if p, ok := v.(*any); ok && p != nil {
		d := decodeStatePool.Get().(*decodeState)
		d.init(data, zeroCopy)
		d.startTerm(len(data))
		*p = d.term()
		d.endTerm(len(data))
		d.release()
		return nil
	}
	return UnmarshalOptions{ZeroCopy: zeroCopy}.unmarshalChecked(data, v)
}

// An Encoder writes terms to an output stream, each as one Write.
type Encoder struct {
	w       io.Writer
	profile Profile
	lim     Limits
	err     error
}

// NewEncoder returns a new encoder that writes to w in the [BERTJS]
// profile.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, lim: Limits{}.withDefaults()}
}

// SetProfile sets the profile of the terms written from now on.
func (enc *Encoder) SetProfile(p Profile) { enc.profile = p }

// SetLimits sets limits for encoding: MaxDepth bounds nesting (and so
// catches cycles) and MaxSize the length of one encoded term.
func (enc *Encoder) SetLimits(l Limits) { enc.lim = l.withDefaults() }

// Encode writes the term for v, with its version byte, to the stream.
// An encoding error writes nothing and leaves the encoder usable; a
// write error is sticky, since the stream may hold part of a term.
func (enc *Encoder) Encode(v any) error {
	if enc.err != nil {
		return enc.err
	}
	e := newEncodeState(nil, enc.profile, enc.lim.MaxDepth)
	defer e.release()
	e.buf = append(e.buf, versionMagic)
	if err := e.encode(v); err != nil {
		return err
	}
	if len(e.buf) > enc.lim.MaxSize {
		return &LimitError{Err: ErrTooLarge, Limit: enc.lim.MaxSize, Offset: int64(len(e.buf))}
	}
	if _, err := enc.w.Write(e.buf); err != nil {
		enc.err = err
		return err
	}
	return nil
}

// RawTerm is a complete encoded term, starting with the version byte
// 131. It implements [Marshaler] and [Unmarshaler], so it can delay
// decoding part of a term or embed a pre-encoded one, as
// json.RawMessage does. An empty RawTerm encodes as {bert, nil}.
type RawTerm []byte

// MarshalBERT returns m, or {bert, nil} if m is empty.
func (m RawTerm) MarshalBERT() ([]byte, error) {
	if len(m) == 0 {
		return Marshal(nil)
	}
	return m, nil
}

// UnmarshalBERT sets *m to a copy of data.
func (m *RawTerm) UnmarshalBERT(data []byte) error {
	if m == nil {
		return errors.New("bert: RawTerm: UnmarshalBERT on nil pointer")
	}
	*m = append((*m)[0:0], data...)
	return nil
}

var (
	_ Marshaler   = RawTerm(nil)
	_ Unmarshaler = (*RawTerm)(nil)
)
