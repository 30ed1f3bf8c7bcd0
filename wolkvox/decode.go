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

// decodeAnswer reads a 200 answer as a stream, record by record, so a large answer
// is never held in memory. data may be a list, a single object, null or missing.
func decodeAnswer(r io.Reader, each func(*Record)) (int, envelope, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var env envelope
	if err := expectDelim(dec, '{'); err != nil {
		return 0, env, fmt.Errorf("answer is not a JSON object: %w", err)
	}
	n := 0
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return n, env, err
		}
		if strings.ToLower(strings.TrimSpace(key)) == "data" {
			if env.dataPassed {
				return n, env, errors.New("data appears twice")
			}
			env.dataPassed = true
			if err := decodeData(dec, each, &n); err != nil {
				return n, env, fmt.Errorf("record %d: %w", n+1, err)
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return n, env, fmt.Errorf("field %q: %w", key, err)
		}
		env.set(key, raw)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return n, env, err
	}
	return n, env, nil
}

func decodeData(dec *json.Decoder, each func(*Record), n *int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		return nil
	case json.Delim('{'):
		// A single record sent as an object instead of a list.
		rec, err := decodeOpenedRecord(dec)
		if err != nil {
			return err
		}
		*n++
		each(rec)
		return nil
	case json.Delim('['):
	default:
		return fmt.Errorf("data is %v, not a list or an object", tok)
	}
	for dec.More() {
		var w wireRecord
		if err := dec.Decode(&w); err != nil {
			return err
		}
		if !w.present {
			continue // a null element carries no chat
		}
		*n++
		each(w.record())
	}
	return expectDelim(dec, ']')
}

// decodeOpenedRecord reads a record whose opening brace the decoder already took. It
// is rare (a single record sent as an object), so it re-assembles the object and
// decodes it like any other.
func decodeOpenedRecord(dec *json.Decoder) (*Record, error) {
	fields := map[string]json.RawMessage{}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
		fields[key] = raw
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	obj, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	var w wireRecord
	if err := json.Unmarshal(obj, &w); err != nil {
		return nil, err
	}
	return w.record(), nil
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

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("expected an object key, got %v", tok)
	}
	return key, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("expected %q, got %v", want, tok)
	}
	return nil
}
