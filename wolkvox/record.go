package wolkvox

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Record is one chat of the chat_1 report, reduced to the fields the exporter uses.
// Customer personal data (name, email, phone, ids, comments) is never decoded, so it
// never reaches memory beyond the decoder's buffer. Values stay raw text: the API
// sends every value as a string, and each is parsed where it is used.
type Record struct {
	ConnID            string
	Channel           string
	Date              string
	SkillID           string
	AgentID           string
	AgentName         string
	CodAct            string
	CodActDescription string
	Feeling           string
	LastParticipant   string
	AnswerDelay       string // ASA
	Duration          string // chat_duration
	HandleTime        string // time_on_agent
	CustomerChars     string
	AgentChars        string
	AgentAnswers      string // "agent_anwers " on the wire, or "agent_answers"
}

// recordField maps a wire key, trimmed and lower-cased, to where its value goes.
// The documented key "agent_anwers " is misspelled and has a trailing space; one
// client reads "agent_answers": both land in the same field.
var recordField = map[string]func(*Record) *string{
	"conn_id":                    func(r *Record) *string { return &r.ConnID },
	"channel":                    func(r *Record) *string { return &r.Channel },
	"date":                       func(r *Record) *string { return &r.Date },
	"skill_id":                   func(r *Record) *string { return &r.SkillID },
	"agent_id":                   func(r *Record) *string { return &r.AgentID },
	"agent_name":                 func(r *Record) *string { return &r.AgentName },
	"cod_act":                    func(r *Record) *string { return &r.CodAct },
	"description_cod_act":        func(r *Record) *string { return &r.CodActDescription },
	"feeling":                    func(r *Record) *string { return &r.Feeling },
	"last_participant_who_spoke": func(r *Record) *string { return &r.LastParticipant },
	"asa":                        func(r *Record) *string { return &r.AnswerDelay },
	"chat_duration":              func(r *Record) *string { return &r.Duration },
	"time_on_agent":              func(r *Record) *string { return &r.HandleTime },
	"customer_chars":             func(r *Record) *string { return &r.CustomerChars },
	"agent_chars":                func(r *Record) *string { return &r.AgentChars },
	"agent_anwers":               func(r *Record) *string { return &r.AgentAnswers },
	"agent_answers":              func(r *Record) *string { return &r.AgentAnswers },
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
		return parseNonNegative(s)
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("duration %q: too many ':' parts", s)
	}
	var total float64
	for i, p := range parts {
		last := i == len(parts)-1
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
	}
	return total, nil
}

// ParseCount parses a non-negative count such as "120" (a decimal point is tolerated).
func ParseCount(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	return parseNonNegative(s)
}

func parseNonNegative(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	return v, nil
}
