package wolkvox

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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

// The fields of a record the exporter keeps: their index in wireRecord.fields and
// in the text forms.record reads.
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
