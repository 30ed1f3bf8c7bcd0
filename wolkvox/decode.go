package wolkvox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// envelope is the part of an answer around the records.
type envelope struct {
	hasCode    bool
	code       int
	errText    string
	msg        string
	isWolkvox  bool // at least one of code, error, msg was present
	dataPassed bool
}

func (e envelope) text() string {
	switch {
	case e.errText != "" && e.msg != "" && e.errText != e.msg:
		return e.errText + ": " + e.msg
	case e.errText != "":
		return e.errText
	default:
		return e.msg
	}
}

// elements counts what the data of an answer held: records passed on, and elements
// skipped because they are not records (a string, a number, a list or a boolean
// where a record's object should be). A null element carries nothing and counts as
// neither.
type elements struct {
	records, notRecords int
}

// decodeAnswer reads a 200 answer as a stream, record by record, so a large answer
// is never held in memory. data may be a list, a single object, null or missing.
// Each record is passed to each as soon as it is read. An element that is not a
// record is skipped and counted: it belongs to one element, not to the answer.
func decodeAnswer(r io.Reader, each func(*Record)) (elements, envelope, error) {
	return decodeWith(newScanner(r, scanBufSize), each)
}

func decodeWith(s *scanner, each func(*Record)) (elements, envelope, error) {
	var env envelope
	var n elements
	if err := s.expect('{', "where the answer's object should start"); err != nil {
		return n, env, fmt.Errorf("answer is not a JSON object: %w", err)
	}
	if err := s.push(); err != nil {
		return n, env, err
	}
	c, err := s.peek()
	if err != nil {
		return n, env, err
	}
	if c == '}' {
		s.leave()
		return n, env, nil
	}
	var key []byte
	for {
		if key, err = s.readString(key[:0]); err != nil {
			return n, env, err
		}
		if err := s.expect(':', "after a key"); err != nil {
			return n, env, err
		}
		name := strings.ToLower(strings.TrimSpace(string(key)))
		switch name {
		case "data":
			if env.dataPassed {
				return n, env, errors.New("data appears twice")
			}
			env.dataPassed = true
			if err := decodeData(s, each, &n); err != nil {
				return n, env, fmt.Errorf("record %d: %w", n.records+n.notRecords+1, err)
			}
		case "code", "error", "msg", "message":
			raw, err := s.capture()
			if err != nil {
				return n, env, fmt.Errorf("field %s: %w", name, err)
			}
			env.set(name, raw)
		default:
			if err := s.skip(); err != nil {
				return n, env, err
			}
		}
		// After the answer's object, nothing is read, as encoding/json's Decoder does.
		if more, err := s.separator('}', "after a value in the answer's object"); err != nil || !more {
			return n, env, err
		}
	}
}

func decodeData(s *scanner, each func(*Record), n *elements) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	var d recordDecoder
	switch c {
	case 'n':
		return s.literal("null")
	case '{':
		// A single record sent as an object instead of a list.
		rec, err := d.decode(s)
		if err != nil {
			return err
		}
		n.records++
		each(rec)
		return nil
	case '[':
	default:
		return fmt.Errorf("data is %s, not a list or an object", kind(c))
	}
	if err := s.enter(); err != nil {
		return err
	}
	if c, err = s.peek(); err != nil {
		return err
	}
	if c == ']' {
		s.leave()
		return nil
	}
	for {
		switch c {
		case 'n':
			// A null element carries no chat.
			if err := s.literal("null"); err != nil {
				return err
			}
		case '{':
			rec, err := d.decode(s)
			if err != nil {
				return err
			}
			n.records++
			each(rec)
		default:
			// Not a record, but valid JSON: the answer's other records still count.
			if err := s.skip(); err != nil {
				return err
			}
			n.notRecords++
		}
		if more, err := s.separator(']', "after a record"); err != nil || !more {
			return err
		}
		if c, err = s.peek(); err != nil {
			return err
		}
	}
}

// kind names the JSON value that starts with c, for errors that must not quote it.
func kind(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '[':
		return "a list"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("not JSON (%q)", c)
}

// rawText turns a JSON value into text: strings unquoted, null empty, anything else
// kept as written (so a number parses, and an object fails to parse as one).
func rawText(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && bytes.IndexByte(raw[1:len(raw)-1], '"') < 0:
		return string(raw[1 : len(raw)-1]) // no escapes: the common case, without a second decode
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s
		}
	}
	return string(raw)
}

func (e *envelope) set(key string, raw json.RawMessage) {
	switch strings.ToLower(strings.TrimSpace(key)) {
	case "code":
		e.isWolkvox = true
		// code is the number 200 in some answers and the string "200" in others.
		if c, err := strconv.Atoi(strings.TrimSpace(rawText(raw))); err == nil {
			e.hasCode, e.code = true, c
		}
	case "error":
		e.isWolkvox = true
		e.errText = rawText(raw)
	case "msg", "message":
		e.isWolkvox = true
		e.msg = rawText(raw)
	}
}

// parseEnvelope reads a small non-200 body. It reports whether the body is Wolkvox
// JSON: an object with code, error or msg.
func parseEnvelope(raw []byte) (envelope, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return envelope{}, false
	}
	var env envelope
	for k, v := range fields {
		env.set(k, v)
	}
	return env, env.isWolkvox
}
