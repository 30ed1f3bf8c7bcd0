package wolkvox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
// is never held in memory: encoding/json's Decoder holds one element of data at a
// time. data may be a list, a single object, null or missing. Each record is
// passed to each as soon as it is read. An element that is not a record is
// skipped and counted: it belongs to one element, not to the answer.
func decodeAnswer(r io.Reader, each func(*Record)) (elements, envelope, error) {
	d := recordReader{dec: json.NewDecoder(r), each: each}
	env, notRecords, err := walkAnswer(d.dec, objects{what: "record", object: d.object, whole: d.element})
	d.n.notRecords = notRecords
	return d.n, env, err
}

// recordReader reads the records of an answer, reusing its buffers from one record
// to the next.
type recordReader struct {
	dec  *json.Decoder
	each func(*Record)
	n    elements
	// wire is decoded into through wirep, which a null element turns nil.
	wire  wireRecord
	wirep *wireRecord
	text  []byte // the kept text of a record, its fields one after another
	forms forms
}

// element reads an element of data whole.
func (d *recordReader) element() (notRecord bool, err error) {
	d.wire.reset()
	d.wirep = &d.wire
	err = decode(d.dec, &d.wirep)
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		// Valid JSON that is not an object: a wireText takes any value, so an
		// object never fails to decode.
		return true, nil
	}
	if err != nil || d.wirep == nil {
		return false, err // a null element carries no chat
	}
	d.record()
	return false, nil
}

// object reads data sent as a single object, whose '{' was read: a member at a
// time, each value decoded into the field encoding/json would give it.
func (d *recordReader) object() error {
	d.wire.reset()
	err := walkObject(d.dec, func(key string) error {
		if f := d.wire.field(key); f != nil {
			return decode(d.dec, f)
		}
		return skipValue(d.dec)
	})
	if err != nil {
		return err
	}
	d.record()
	return nil
}

// record passes on the Record read. Its strings share one allocation, except
// ConnID, which callers keep long after the record (to count each chat once) and
// so gets its own, and the normalized label values, which the forms share.
func (d *recordReader) record() {
	fields := d.wire.fields()
	var ends [numFields]int
	d.text = d.text[:0]
	for f, w := range fields {
		d.text = append(d.text, w.b...)
		ends[f] = len(d.text)
	}
	all := string(d.text)
	var text [numFields]string
	start := 0
	for f, end := range ends {
		text[f], start = all[start:end], end
	}
	d.n.records++
	d.each(d.forms.record(string(bytes.TrimSpace(d.wire.ConnID.b)), &text))
}

// wireRecord is a record as encoding/json reads it: the kept fields only, so that
// customer data (names, emails, phones, ids, comments) is skipped in the decoder's
// buffer, never decoded. Keys match as encoding/json matches them: the exact name,
// else without regard to case ("asa" fills ASA); the last of repeated keys wins.
type wireRecord struct {
	ConnID            wireText `json:"conn_id"`
	Channel           wireText `json:"channel"`
	Date              wireText `json:"date"`
	SkillID           wireText `json:"skill_id"`
	AgentID           wireText `json:"agent_id"`
	AgentName         wireText `json:"agent_name"`
	CodAct            wireText `json:"cod_act"`
	CodActDescription wireText `json:"description_cod_act"`
	Feeling           wireText `json:"feeling"`
	LastParticipant   wireText `json:"last_participant_who_spoke"`
	AnswerDelay       wireText `json:"ASA"`
	Duration          wireText `json:"chat_duration"`
	HandleTime        wireText `json:"time_on_agent"`
	CustomerChars     wireText `json:"customer_chars"`
	AgentChars        wireText `json:"agent_chars"`
	AgentAnwersSpace  wireText `json:"agent_anwers "`
	AgentAnwers       wireText `json:"agent_anwers"`
	AgentAnswers      wireText `json:"agent_answers"`
}

// fields are w's fields, indexed by fConnID and the other field constants.
func (w *wireRecord) fields() [numFields]*wireText {
	return [numFields]*wireText{
		fConnID: &w.ConnID, fChannel: &w.Channel, fDate: &w.Date, fSkillID: &w.SkillID,
		fAgentID: &w.AgentID, fAgentName: &w.AgentName, fCodAct: &w.CodAct,
		fCodActDescription: &w.CodActDescription, fFeeling: &w.Feeling, fLastParticipant: &w.LastParticipant,
		fAnswerDelay: &w.AnswerDelay, fDuration: &w.Duration, fHandleTime: &w.HandleTime,
		fCustomerChars: &w.CustomerChars, fAgentChars: &w.AgentChars,
		fAgentAnwersSpace: &w.AgentAnwersSpace, fAgentAnwers: &w.AgentAnwers, fAgentAnswers: &w.AgentAnswers,
	}
}

// reset makes every field missing, keeping its buffer.
func (w *wireRecord) reset() {
	for _, f := range w.fields() {
		f.b = f.b[:0]
	}
}

// field is the field of w that encoding/json fills with key's value, or nil. It is
// found by decoding an object of that key alone, so that a key matches as it does
// in a whole record.
func (w *wireRecord) field(key string) *wireText {
	name, err := json.Marshal(key)
	var probe wireRecord
	if err != nil || json.Unmarshal(slices.Concat([]byte("{"), name, []byte(":0}")), &probe) != nil {
		return nil
	}
	for f, p := range probe.fields() {
		if len(p.b) > 0 {
			return w.fields()[f]
		}
	}
	return nil
}

// wireText is a kept field's text, in a buffer reused from one record to the next.
// The API sends every value as a string, but not always: a string gives its text
// (bad UTF-8 reads as U+FFFD, as encoding/json reads it), null gives nothing, as a
// missing key does, and any other value is kept as written, so a number parses and
// an object does not.
type wireText struct{ b []byte }

func (t *wireText) UnmarshalJSON(raw []byte) error {
	t.b = t.b[:0]
	switch {
	case raw[0] == 'n': // null
	case raw[0] != '"':
		t.b = append(t.b, raw...)
	case bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw):
		t.b = append(t.b, raw[1:len(raw)-1]...)
	default:
		// Escapes, or bad UTF-8: read by encoding/json, at the cost of a string.
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		t.b = append(t.b, s...)
	}
	return nil
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
