package wolkvox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Answers are read with encoding/json's Decoder, token by token down to values
// small enough to decode whole (a chat_1 record, a message), so that neither an
// answer nor a list in it is ever held whole. A value the exporter does not keep
// is dropped from the decoder's buffer, by skipValue or, for a key that names no
// field of a struct, by encoding/json: customer data in it never becomes a Go
// string.

// walkAnswer reads an answer's object: its envelope (code, error, msg) and its
// data, which may be a list, a single object, null or missing, read as
// walkElements reads it. An element that is not an object is skipped, checked as
// JSON, and counted in notObjects; a null one counts as neither. Nothing after
// the answer's object is read.
func walkAnswer(dec *json.Decoder, data objects) (env envelope, notObjects int, err error) {
	tok, err := token(dec)
	if err != nil {
		return env, 0, fmt.Errorf("answer is not a JSON object: %w", err)
	}
	if tok != json.Delim('{') {
		return env, 0, fmt.Errorf("answer is %s, not a JSON object", kindOf(tok))
	}
	err = walkObject(dec, func(key string) error {
		name := strings.ToLower(strings.TrimSpace(key))
		switch name {
		case "data":
			if env.dataPassed {
				return errors.New("data appears twice")
			}
			env.dataPassed = true
			s, err := walkElements(dec, data)
			if err != nil {
				return err
			}
			if s.scalar != "" {
				return fmt.Errorf("data is %s, not a list or an object", s.scalar)
			}
			notObjects = s.notObjects
		case "code", "error", "msg", "message":
			var raw json.RawMessage
			if err := decode(dec, &raw); err != nil {
				return fmt.Errorf("field %s: %w", name, err)
			}
			env.set(name, raw)
		default:
			return skipValue(dec)
		}
		return nil
	})
	return env, notObjects, err
}

// walkObject reads the members of an object whose '{' was read, through its '}',
// calling member with each key and dec at its value; member reads the value whole.
func walkObject(dec *json.Decoder, member func(key string) error) error {
	for dec.More() {
		tok, err := token(dec)
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("a key is %s", kindOf(tok)) // the Decoder lets no such key pass
		}
		if err := member(key); err != nil {
			return err
		}
	}
	return closing(dec, '}')
}

// shape is what walkElements found.
type shape struct {
	notObjects int    // elements skipped because they are not objects
	scalar     string // the kind of the value when it is neither a list, an object nor null
}

// objects says how walkElements reads the objects of a value.
type objects struct {
	what string // an element's name in errors: "record" gives "record 3: ..."
	// object reads an object whose '{' was read, through its '}'.
	object func() error
	// whole, when set, reads each element of a list whole, dec at its start, and
	// says whether it is not an object; object then reads only a value that is a
	// single object. Read whole, an element's keys are matched to a struct's fields
	// by encoding/json; read a token at a time, an element too large to hold (an
	// agent's open chats with their messages) is never held whole.
	whole func() (notObject bool, err error)
}

// walkElements reads a value meant to hold objects: a list of them, a single object
// or null. It reads each object as o says. A scalar value is read, and its kind
// returned for the caller to judge.
func walkElements(dec *json.Decoder, o objects) (shape, error) {
	var s shape
	tok, err := token(dec)
	if err != nil {
		return s, err
	}
	switch tok {
	case nil:
		return s, nil
	case json.Delim('{'):
		return s, o.object()
	case json.Delim('['):
	default:
		s.scalar = kindOf(tok)
		return s, nil
	}
	for i := 1; dec.More(); i++ {
		if err := s.element(dec, o); err != nil {
			return s, fmt.Errorf("%s %d: %w", o.what, i, err)
		}
	}
	return s, closing(dec, ']')
}

func (s *shape) element(dec *json.Decoder, o objects) error {
	if o.whole != nil {
		notObject, err := o.whole()
		if notObject {
			s.notObjects++
		}
		return err
	}
	tok, err := token(dec)
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		// A null element carries nothing.
		return nil
	case json.Delim('{'):
		return o.object()
	case json.Delim('['):
		// Not an object, but valid JSON: its neighbours still count.
		if err := skipList(dec); err != nil {
			return err
		}
	}
	s.notObjects++
	return nil
}

// skipped is a value read and dropped: the Decoder checks it and hands its bytes
// to UnmarshalJSON, which keeps nothing.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// skipValue reads the next value whole and drops it.
func skipValue(dec *json.Decoder) error {
	var v skipped
	return decode(dec, &v)
}

// skipList drops the rest of a list whose '[' was read.
func skipList(dec *json.Decoder) error {
	for dec.More() {
		if err := skipValue(dec); err != nil {
			return err
		}
	}
	return closing(dec, ']')
}

// text is a value the API sends as a string, a number or, in error, anything
// else, read as rawText reads it: a string's text, "" for null, else as written.
type text string

func (t *text) UnmarshalJSON(raw []byte) error {
	*t = text(rawText(raw))
	return nil
}

// token is dec.Token, with an answer that ends early told from one that ends.
func token(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	return tok, endsEarly(dec, err)
}

// decode is dec.Decode, with an answer that ends early told from one that ends.
func decode(dec *json.Decoder, v any) error {
	return endsEarly(dec, dec.Decode(v))
}

func endsEarly(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("answer ends early, at byte %d: %w", dec.InputOffset(), io.ErrUnexpectedEOF)
	}
	return err
}

// closing reads the token that ends a list or an object; More said nothing else
// comes before it, or failed to read.
func closing(dec *json.Decoder, end json.Delim) error {
	tok, err := token(dec)
	if err != nil {
		return err
	}
	if tok != end {
		return fmt.Errorf("%s where %q should be", kindOf(tok), rune(end)) // the Decoder lets none pass
	}
	return nil
}

// kindOf names a token, for errors that must not quote it.
func kindOf(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case json.Delim:
		if tok == '[' {
			return "a list"
		}
		if tok == '{' {
			return "an object"
		}
		return fmt.Sprintf("%q", rune(tok))
	}
	return fmt.Sprintf("%T", tok)
}
