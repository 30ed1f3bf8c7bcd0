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
		rec, err := decodeRecord(dec)
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
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok == nil {
			continue // a null element carries no chat
		}
		if tok != json.Delim('{') {
			return fmt.Errorf("list element is %v, not an object", tok)
		}
		rec, err := decodeRecord(dec)
		if err != nil {
			return err
		}
		*n++
		each(rec)
	}
	return expectDelim(dec, ']')
}

// decodeRecord reads one record after its opening brace. Unknown keys are skipped,
// known ones kept as text whether the server sent a string, a number or null.
func decodeRecord(dec *json.Decoder) (*Record, error) {
	rec := &Record{}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return nil, err
		}
		field, known := recordField[strings.ToLower(strings.TrimSpace(key))]
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
		if known {
			*field(rec) = rawText(raw)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return rec, nil
}

// rawText turns a JSON value into text: strings unquoted, null empty, anything else
// kept as written (so a number parses, and an object fails to parse as one).
func rawText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	if raw[0] == '"' {
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
