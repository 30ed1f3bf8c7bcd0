package wolkvox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads JSON from an io.Reader through a buffer of fixed size. It validates
// everything it passes over as encoding/json would, but it only copies the tokens
// it is asked to keep: unknown values, customer data among them, are skipped in
// the buffer. The buffer grows only for a single kept token longer than it.
type scanner struct {
	r     io.Reader
	buf   []byte
	pos   int    // next unread byte
	end   int    // end of the bytes read
	keep  int    // start of a token kept across refills, or -1
	base  int64  // offset in the answer of buf[0]
	err   error  // why r has no more bytes
	depth int    // objects and lists open around pos
	open  []byte // the objects and lists skip is inside: '{' or '['
}

const (
	scanBufSize = 64 << 10
	// maxDepth is encoding/json's nesting limit, counted from the answer's object.
	maxDepth = 10000
)

func newScanner(r io.Reader, size int) *scanner {
	return &scanner{r: r, buf: make([]byte, max(size, 1)), keep: -1}
}

// fill reads more input. It drops the bytes before pos, or before keep if a token
// is being kept, and reports false at the end of the input or on a read error.
func (s *scanner) fill() bool {
	if s.err != nil {
		return false
	}
	from := s.pos
	if s.keep >= 0 {
		from = s.keep
		s.keep = 0
	}
	if from > 0 {
		s.end = copy(s.buf, s.buf[from:s.end])
		s.pos -= from
		s.base += int64(from)
	}
	if s.end == len(s.buf) {
		grown := make([]byte, 2*len(s.buf))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.err = io.ErrNoProgress
	return false
}

// ensure makes n bytes available from pos, unless the input ends first.
func (s *scanner) ensure(n int) bool {
	for s.end-s.pos < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

// syntaxError reports a byte that does not belong where it is. Only the byte is
// named, never the text around it, which may be customer data.
func (s *scanner) syntaxError(what string) error {
	if s.pos >= s.end {
		return s.endError()
	}
	return fmt.Errorf("invalid character %q %s at byte %d", s.buf[s.pos], what, s.base+int64(s.pos))
}

// endError tells a cut answer from a failed read.
func (s *scanner) endError() error {
	if s.err == nil || errors.Is(s.err, io.EOF) {
		return fmt.Errorf("answer ends early, at byte %d", s.base+int64(s.end))
	}
	return s.err
}

// peek returns the next byte that is not whitespace, without taking it.
func (s *scanner) peek() (byte, error) {
	if s.pos < s.end && s.buf[s.pos] > ' ' {
		return s.buf[s.pos], nil
	}
	return s.peekSlow()
}

func (s *scanner) peekSlow() (byte, error) {
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				return c, nil
			}
			s.pos++
		}
		if !s.fill() {
			return 0, s.endError()
		}
	}
}

// expect takes c, the next byte that is not whitespace.
func (s *scanner) expect(c byte, what string) error {
	if s.pos < s.end && s.buf[s.pos] == c {
		s.pos++
		return nil
	}
	return s.expectSlow(c, what)
}

func (s *scanner) expectSlow(c byte, what string) error {
	got, err := s.peekSlow()
	if err != nil {
		return err
	}
	if got != c {
		return s.syntaxError(what)
	}
	s.pos++
	return nil
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stringStops flags the bytes of x (read little-endian) that stop a string scan:
// '"', '\\' and control characters. The lowest flag is exact.
func stringStops(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return (((q - lsb) &^ q) | ((b - lsb) &^ b) | ((x - lsb*0x20) &^ x)) & msb
}

// scanString passes over the rest of a string whose opening quote was taken, and
// leaves pos after the closing quote. It reports whether the string holds escapes
// or bytes outside ASCII. The string's bytes are kept only if keep is set.
func (s *scanner) scanString() (escaped, nonASCII bool, err error) {
	var seen uint64 // the bytes passed, ORed, to tell ASCII
	i := s.pos
	for {
		buf := s.buf[:s.end]
		for ; i+8 <= len(buf); i += 8 {
			x := binary.LittleEndian.Uint64(buf[i:])
			if m := stringStops(x); m != 0 {
				k := bits.TrailingZeros64(m)
				seen |= x & (1<<k - 1)
				i += k >> 3
				goto stop
			}
			seen |= x
		}
		for ; i < len(buf); i++ {
			c := buf[i]
			if c == '"' || c == '\\' || c < 0x20 {
				goto stop
			}
			seen |= uint64(c)
		}
		s.pos = i
		if !s.fill() {
			return false, false, s.endError()
		}
		i = s.pos
		continue
	stop:
		s.pos = i
		switch buf[i] {
		case '"':
			s.pos++
			return escaped, seen&msb != 0, nil
		case '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return false, false, err
			}
			i = s.pos
		default:
			return false, false, s.syntaxError("in string")
		}
	}
}

// escape checks the escape at pos and passes over it.
func (s *scanner) escape() error {
	if !s.ensure(2) {
		return s.endError()
	}
	switch s.buf[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return nil
	case 'u':
		if !s.ensure(6) {
			return s.endError()
		}
		for _, c := range s.buf[s.pos+2 : s.pos+6] {
			if hexValue(c) < 0 {
				s.pos += 2
				return fmt.Errorf("invalid \\u escape at byte %d", s.base+int64(s.pos))
			}
		}
		s.pos += 6
		return nil
	}
	s.pos++
	return s.syntaxError("in string escape")
}

func hexValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// appendString appends the text of a checked string's content as encoding/json
// decodes it: escapes resolved, a lone surrogate and each invalid UTF-8 byte
// replaced by U+FFFD.
func appendString(dst, s []byte, escaped, nonASCII bool) []byte {
	if !escaped && (!nonASCII || utf8.Valid(s)) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch c = s[i+1]; c {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, hex4(s[i+2:])); pair != utf8.RuneError {
							dst = utf8.AppendRune(dst, pair)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, c)
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

func hex4(b []byte) rune {
	return hexValue(b[0])<<12 | hexValue(b[1])<<8 | hexValue(b[2])<<4 | hexValue(b[3])
}

// readString reads a string at pos (after whitespace) and appends its text to dst.
func (s *scanner) readString(dst []byte) ([]byte, error) {
	if err := s.expect('"', "where a string should start"); err != nil {
		return dst, err
	}
	raw, escaped, nonASCII, err := s.stringText()
	if err != nil {
		return dst, err
	}
	return appendString(dst, raw, escaped, nonASCII), nil
}

// stringText passes over a string whose opening quote was taken and returns its
// content as written, escapes unresolved; the bytes stay valid until the next read.
func (s *scanner) stringText() (raw []byte, escaped, nonASCII bool, err error) {
	s.keep = s.pos
	escaped, nonASCII, err = s.scanString()
	start := s.keep
	s.keep = -1
	if err != nil {
		return nil, false, false, err
	}
	return s.buf[start : s.pos-1], escaped, nonASCII, nil
}

// take consumes the byte that peek returned.
func (s *scanner) take() { s.pos++ }

// enter consumes the '{' or '[' that peek returned, and opens it.
func (s *scanner) enter() error {
	s.pos++
	return s.push()
}

// leave consumes the '}' or ']' that peek returned, and closes it.
func (s *scanner) leave() {
	s.pos++
	s.depth--
}

// separator reads what follows a value in an object or a list: more is true after
// a ',', false after end ('}' or ']'), which it closes.
func (s *scanner) separator(end byte, where string) (more bool, err error) {
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case ',':
		s.pos++
		return true, nil
	case end:
		s.leave()
		return false, nil
	}
	return false, s.syntaxError(where)
}

// skipValue passes over the value at pos, checking it. Most values skipped are
// strings, passed over without skip's stack.
func (s *scanner) skipValue() error {
	if s.pos < s.end && s.buf[s.pos] == '"' {
		s.pos++
		_, _, err := s.scanString()
		return err
	}
	return s.skip()
}

// literal passes over true, false or null at pos.
func (s *scanner) literal(word string) error {
	if !s.ensure(len(word)) {
		if s.end-s.pos > 0 && string(s.buf[s.pos:s.end]) != word[:s.end-s.pos] {
			return s.syntaxError("in literal")
		}
		return s.endError()
	}
	for i := 1; i < len(word); i++ {
		if s.buf[s.pos+i] != word[i] {
			s.pos += i
			return s.syntaxError("in literal " + word)
		}
	}
	s.pos += len(word)
	return nil
}

// number passes over a number at pos, following JSON's grammar.
func (s *scanner) number() error {
	const (
		sign = iota
		lead
		zero
		integer
		point
		fraction
		exp
		expSign
		exponent
	)
	state := sign
	for {
		if s.pos == s.end && !s.fill() {
			if s.err != nil && !errors.Is(s.err, io.EOF) {
				return s.err
			}
			break
		}
		c := s.buf[s.pos]
		digit := '0' <= c && c <= '9'
		next := -1
		switch state {
		case sign:
			switch {
			case c == '-':
				next = lead
			case c == '0':
				next = zero
			case digit:
				next = integer
			}
		case lead:
			switch {
			case c == '0':
				next = zero
			case digit:
				next = integer
			}
		case zero, integer:
			switch {
			case digit && state == integer:
				next = integer
			case c == '.':
				next = point
			case c == 'e' || c == 'E':
				next = exp
			}
		case point, fraction:
			switch {
			case digit:
				next = fraction
			case state == fraction && (c == 'e' || c == 'E'):
				next = exp
			}
		case exp:
			switch {
			case c == '+' || c == '-':
				next = expSign
			case digit:
				next = exponent
			}
		case expSign, exponent:
			if digit {
				next = exponent
			}
		}
		if next < 0 {
			break
		}
		state = next
		s.pos++
	}
	switch state {
	case zero, integer, fraction, exponent:
		return nil
	}
	return s.syntaxError("in number")
}

// push opens an object or a list.
func (s *scanner) push() error {
	if s.depth++; s.depth > maxDepth {
		return fmt.Errorf("nesting deeper than %d at byte %d", maxDepth, s.base+int64(s.pos))
	}
	return nil
}

// skip passes over the value at pos (after whitespace), checking it. Objects and
// lists are walked without recursion.
func (s *scanner) skip() error {
	open := s.open[:0]
	defer func() { s.open = open[:0] }()
	for {
		// A value starts here.
		c, err := s.peek()
		if err != nil {
			return err
		}
		switch c {
		case '{', '[':
			s.pos++
			if err := s.push(); err != nil {
				return err
			}
			open = append(open, c)
			end, err := s.peek()
			if err != nil {
				return err
			}
			if end == c+2 { // '}' or ']'
				s.pos++
				s.depth--
				open = open[:len(open)-1]
				break
			}
			if c == '{' {
				if err := s.key(); err != nil {
					return err
				}
			}
			continue
		case '"':
			s.pos++
			if _, _, err := s.scanString(); err != nil {
				return err
			}
		case 't':
			err = s.literal("true")
		case 'f':
			err = s.literal("false")
		case 'n':
			err = s.literal("null")
		default:
			if c == '-' || '0' <= c && c <= '9' {
				err = s.number()
			} else {
				err = s.syntaxError("where a value should start")
			}
		}
		if err != nil {
			return err
		}
		// A value ended: close what it ends, then find the next value, if any.
		for {
			if len(open) == 0 {
				return nil
			}
			c, err := s.peek()
			if err != nil {
				return err
			}
			top := open[len(open)-1]
			if c == top+2 {
				s.pos++
				s.depth--
				open = open[:len(open)-1]
				continue
			}
			if c != ',' {
				return s.syntaxError("after a value")
			}
			s.pos++
			if top == '{' {
				if err := s.key(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// key passes over an object key and its colon.
func (s *scanner) key() error {
	if err := s.expect('"', "where a key should start"); err != nil {
		return err
	}
	if _, _, err := s.scanString(); err != nil {
		return err
	}
	return s.expect(':', "after a key")
}

// capture passes over the value at pos and returns its bytes as written. They stay
// valid until the next read.
func (s *scanner) capture() ([]byte, error) {
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	s.keep = s.pos
	err := s.skip()
	start := s.keep
	s.keep = -1
	return s.buf[start:s.pos], err
}
