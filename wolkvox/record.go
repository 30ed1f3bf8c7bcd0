package wolkvox

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one chat of the chat_1 report, reduced to the fields the exporter uses,
// in one form whatever the API's spelling: label values normalized, numbers parsed.
// Customer personal data (name, email, phone, ids, comments) is never decoded, so it
// never reaches memory beyond the decoder's buffer. The API sends every value as a
// string: a JSON string gives its text (bad UTF-8 reads as U+FFFD), null or a
// missing key gives "", and any other value is read as written, so a number parses
// and an object does not.
//
// A Record and its strings are the receiver's to keep: the decoder reuses none of
// them. ConnID has an allocation of its own, as it is kept long after the record.
type Record struct {
	ConnID            string // surrounding whitespace removed; "" when missing
	Channel           string // lower case: "whatsapp", "web", "facebook", "instagram"
	SkillID           string // surrounding whitespace removed
	Feeling           string // "very_negative", "negative", "neutral", "positive", "very_positive"
	LastParticipant   string // "agent", "customer", "chatbot" (sent as "chat-bot" too)
	AgentID           string
	AgentName         string
	CodAct            string // the disposition's code
	CodActDescription string

	AnswerDelay   Number // ASA, seconds
	Duration      Number // chat_duration, seconds
	HandleTime    Number // time_on_agent, seconds
	CustomerChars Number
	AgentChars    Number
	AgentAnswers  Number // times the agent wrote: "agent_anwers " on the wire, or "agent_answers"

	// Date is the date field as sent, the chat's open time; ParseDate reads it, and
	// Closed adds the duration to it.
	Date string
}

// Number is a numeric field of a record: its value, or why it has none.
type Number struct {
	Value float64
	Err   error // nil; ErrEmpty for an empty or missing field; else why the text is not a valid value
}

func seconds(s string) Number {
	v, err := ParseSeconds(s)
	return Number{v, err}
}

func count(s string) Number {
	v, err := ParseCount(s)
	return Number{v, err}
}

// The fields of a record the exporter keeps, in the order of fieldNames.
const (
	fConnID = iota
	fChannel
	fDate
	fSkillID
	fAgentID
	fAgentName
	fCodAct
	fCodActDescription
	fFeeling
	fLastParticipant
	fAnswerDelay
	fDuration
	fHandleTime
	fCustomerChars
	fAgentChars
	// The documented key is misspelled and has a trailing space; one client reads
	// "agent_answers". The first of them that is not empty fills AgentAnswers.
	fAgentAnwersSpace
	fAgentAnwers
	fAgentAnswers
	numFields
)

// fieldNames are the keys of the kept fields as the API spells them.
var fieldNames = [numFields]string{
	"conn_id", "channel", "date", "skill_id", "agent_id", "agent_name", "cod_act", "description_cod_act",
	"feeling", "last_participant_who_spoke", "ASA", "chat_duration", "time_on_agent", "customer_chars",
	"agent_chars", "agent_anwers ", "agent_anwers", "agent_answers",
}

var fieldNameBytes = func() (out [numFields][]byte) {
	for i, n := range fieldNames {
		out[i] = []byte(n)
	}
	return out
}()

// fieldSlots maps fieldHash of a name in lower case to its field plus one.
var fieldSlots = func() (slots [64]int8) {
	for f, name := range fieldNames {
		h := fieldHash([]byte(strings.ToLower(name)))
		if slots[h] != 0 {
			panic("fieldHash: " + name + " collides with " + fieldNames[slots[h]-1])
		}
		slots[h] = int8(f + 1)
	}
	return slots
}()

// fieldHash tells the kept fields apart by length and three bytes, ignoring ASCII
// case. Other keys may share a slot; the name is compared after.
func fieldHash(key []byte) uint {
	n := uint(len(key))
	if n == 0 {
		return 0
	}
	return (n + uint(key[0]|0x20) + uint(key[n-1]|0x20)*3 + uint(key[n/2]|0x20)*11) & 63
}

// fieldOf returns the field a key fills, or -1. Keys match without regard to case,
// as encoding/json matches them, so "ASA" and "asa" both fill AnswerDelay.
func fieldOf(key []byte, nonASCII bool) int {
	if nonASCII {
		// Unicode folding: "\u017f" (long s) matches "s", "\u212a" (Kelvin) "k".
		for f, name := range fieldNameBytes {
			if bytes.EqualFold(key, name) {
				return f
			}
		}
		return -1
	}
	f := int(fieldSlots[fieldHash(key)]) - 1
	if f < 0 {
		return -1
	}
	name := fieldNames[f]
	if len(key) != len(name) {
		return -1
	}
	if string(key) == name {
		return f
	}
	for i, c := range key {
		if lowerASCII(c) != lowerASCII(name[i]) {
			return -1
		}
	}
	return f
}

// recordDecoder reads records, reusing its buffers from one record to the next.
type recordDecoder struct {
	text  []byte               // the kept values of the record being read
	spans [numFields][2]uint32 // where each field's value is in text
	key   []byte               // an unescaped key
	forms forms
}

// decode reads the object at pos as a record. Only the kept fields are copied out
// of the scanner's buffer; a field given twice keeps its last value, as
// encoding/json does.
func (d *recordDecoder) decode(s *scanner) (*Record, error) {
	if err := s.enter(); err != nil { // '{'
		return nil, err
	}
	d.text = d.text[:0]
	d.spans = [numFields][2]uint32{}
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	if c == '}' {
		s.leave()
		return d.record(), nil
	}
	for {
		f, err := d.field(s)
		if err != nil {
			return nil, err
		}
		if err := s.expect(':', "after a key"); err != nil {
			return nil, err
		}
		if f < 0 {
			err = s.skipValue()
		} else {
			err = d.value(s, f)
		}
		if err != nil {
			return nil, err
		}
		more, err := s.separator('}', "after a value in a record")
		if err != nil {
			return nil, err
		}
		if !more {
			return d.record(), nil
		}
	}
}

// field reads a key and returns the field it fills, or -1.
func (d *recordDecoder) field(s *scanner) (int, error) {
	if err := s.expect('"', "where a key should start"); err != nil {
		return -1, err
	}
	key, escaped, nonASCII, err := s.stringText()
	if err != nil {
		return -1, err
	}
	if escaped {
		d.key = appendString(d.key[:0], key, true, nonASCII)
		key = d.key
		nonASCII = !isASCII(key)
	}
	return fieldOf(key, nonASCII), nil
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// value reads the value of field f: a string's text, nothing for null, and any
// other value as written, so a number reads as text and an object fails to parse
// as one.
func (d *recordDecoder) value(s *scanner, f int) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	start := len(d.text)
	switch c {
	case '"':
		s.take()
		raw, escaped, nonASCII, err := s.stringText()
		if err != nil {
			return err
		}
		d.text = appendString(d.text, raw, escaped, nonASCII)
	case 'n':
		if err := s.literal("null"); err != nil {
			return err
		}
	default:
		raw, err := s.capture()
		if err != nil {
			return err
		}
		d.text = append(d.text, raw...)
	}
	d.spans[f] = [2]uint32{uint32(start), uint32(len(d.text))} //nolint:gosec // G115: one record's kept text is far below 4 GiB
	return nil
}

// record builds the Record read. Its strings share one allocation, except ConnID,
// which callers keep long after the record (to count each chat once) and so gets
// its own, and the normalized label values, which the decoder shares.
func (d *recordDecoder) record() *Record {
	all := string(d.text)
	var text [numFields]string
	for f, span := range d.spans {
		text[f] = all[span[0]:span[1]]
	}
	connID := bytes.TrimSpace(d.text[d.spans[fConnID][0]:d.spans[fConnID][1]])
	return d.forms.record(string(connID), &text)
}

// record builds a Record from the text of its fields as sent.
func (fm *forms) record(connID string, text *[numFields]string) *Record {
	answers := text[fAgentAnwersSpace]
	if answers == "" {
		answers = text[fAgentAnwers]
	}
	if answers == "" {
		answers = text[fAgentAnswers]
	}
	return &Record{
		ConnID:            connID,
		Channel:           fm.form(&fm.channels, text[fChannel], channelForm),
		SkillID:           strings.TrimSpace(text[fSkillID]),
		Feeling:           fm.form(&fm.feelings, text[fFeeling], feelingForm),
		LastParticipant:   fm.form(&fm.participants, text[fLastParticipant], participantForm),
		AgentID:           text[fAgentID],
		AgentName:         text[fAgentName],
		CodAct:            text[fCodAct],
		CodActDescription: text[fCodActDescription],
		AnswerDelay:       seconds(text[fAnswerDelay]),
		Duration:          seconds(text[fDuration]),
		HandleTime:        seconds(text[fHandleTime]),
		CustomerChars:     count(text[fCustomerChars]),
		AgentChars:        count(text[fAgentChars]),
		AgentAnswers:      count(answers),
		Date:              text[fDate],
	}
}

// ErrEmpty reports a field that holds no value.
var ErrEmpty = errors.New("empty value")

// ParseSeconds parses a duration the way the API writes them: plain seconds ("95",
// "95.5") or clock time ("HH:MM:SS", "MM:SS", hours may exceed 24, seconds may have a
// fraction). It returns seconds.
func ParseSeconds(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	if !strings.Contains(s, ":") {
		v, err := parseNonNegative(s)
		if err != nil {
			return 0, err
		}
		return bounded(s, v, MaxSeconds)
	}
	if strings.Count(s, ":") > 2 {
		return 0, fmt.Errorf("duration %q: too many ':' parts", s)
	}
	var total float64
	for i, rest := 0, s; ; i++ {
		p, tail, more := strings.Cut(rest, ":")
		last := !more
		if p == "" || (!last && strings.ContainsAny(p, ".eE+-")) {
			return 0, fmt.Errorf("duration %q: bad part %q", s, p)
		}
		v, err := parseNonNegative(p)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		// Minutes and seconds below the leading part must be under 60.
		if i > 0 && v >= 60 {
			return 0, fmt.Errorf("duration %q: part %q is not below 60", s, p)
		}
		total = total*60 + v
		if last {
			return bounded(s, total, MaxSeconds)
		}
		rest = tail
	}
}

// ParseCount parses a non-negative count such as "120" (a decimal point is tolerated).
func ParseCount(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	v, err := parseNonNegative(s)
	if err != nil {
		return 0, err
	}
	return bounded(s, v, MaxCount)
}

// Plausibility bounds. A chat is closed by timeout after about a day, and the API
// answers 31 days at most; a larger value is a fault upstream, and one such value
// would skew every sum and average it lands in (or make them infinite).
const (
	MaxSeconds = 31 * 24 * 3600
	MaxCount   = 1e9
)

func bounded(s string, v, limit float64) (float64, error) {
	if v > limit {
		return 0, fmt.Errorf("%q is implausibly large (more than %g)", s, limit)
	}
	return v, nil
}

func parseNonNegative(s string) (float64, error) {
	// Most values are a few plain digits: read them without strconv's general path.
	if len(s) > 0 && len(s) <= 15 {
		var n uint64
		digits := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				digits = false
				break
			}
			n = n*10 + uint64(c-'0')
		}
		if digits {
			return float64(n), nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	return v, nil
}

// TimeoutCode is the disposition the platform gives a chat no agent coded: it
// closes it about 23 hours after it opened.
const TimeoutCode = "TIMEOUTCHAT"

// TimedOut says whether the platform closed the chat by timeout.
func (r *Record) TimedOut() bool { return strings.EqualFold(strings.TrimSpace(r.CodAct), TimeoutCode) }

// Closed is when the chat closed: its date, the open time, plus chat_duration, with
// wall-clock dates in loc. It is false when either is missing or invalid. History
// places each chat there, and the daily re-read tells from it how late a chat was
// listed.
func (r *Record) Closed(loc *time.Location) (time.Time, bool) {
	opened, err := ParseDate(r.Date, loc)
	if err != nil || r.Duration.Err != nil {
		return time.Time{}, false
	}
	return opened.Add(time.Duration(r.Duration.Value * float64(time.Second))), true
}
