package wolkvox

import (
	"encoding/json"
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

// wireRecord is a record as the API sends it. Only the fields the exporter uses are
// decoded; unknown ones, customer data among them, are skipped. encoding/json matches
// keys without regard to case, so "ASA" and "asa" both land in AnswerDelay.
type wireRecord struct {
	ConnID            text `json:"conn_id"`
	Channel           text `json:"channel"`
	Date              text `json:"date"`
	SkillID           text `json:"skill_id"`
	AgentID           text `json:"agent_id"`
	AgentName         text `json:"agent_name"`
	CodAct            text `json:"cod_act"`
	CodActDescription text `json:"description_cod_act"`
	Feeling           text `json:"feeling"`
	LastParticipant   text `json:"last_participant_who_spoke"`
	AnswerDelay       text `json:"ASA"`
	Duration          text `json:"chat_duration"`
	HandleTime        text `json:"time_on_agent"`
	CustomerChars     text `json:"customer_chars"`
	AgentChars        text `json:"agent_chars"`
	// The documented key is misspelled and has a trailing space; one client reads
	// "agent_answers". Any of them fills AgentAnswers.
	AgentAnwersSpace text `json:"agent_anwers "`
	AgentAnwers      text `json:"agent_anwers"`
	AgentAnswers     text `json:"agent_answers"`

	present bool // false for a JSON null
}

// UnmarshalJSON tells a null element from an object, then decodes the fields.
func (w *wireRecord) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	type plain wireRecord
	if err := json.Unmarshal(b, (*plain)(w)); err != nil {
		return err
	}
	w.present = true
	return nil
}

func (w *wireRecord) record() *Record {
	answers := w.AgentAnwersSpace
	for _, alt := range []text{w.AgentAnwers, w.AgentAnswers} {
		if answers == "" {
			answers = alt
		}
	}
	return &Record{
		ConnID: string(w.ConnID), Channel: string(w.Channel), Date: string(w.Date), SkillID: string(w.SkillID),
		AgentID: string(w.AgentID), AgentName: string(w.AgentName), CodAct: string(w.CodAct),
		CodActDescription: string(w.CodActDescription), Feeling: string(w.Feeling),
		LastParticipant: string(w.LastParticipant), AnswerDelay: string(w.AnswerDelay), Duration: string(w.Duration),
		HandleTime: string(w.HandleTime), CustomerChars: string(w.CustomerChars), AgentChars: string(w.AgentChars),
		AgentAnswers: string(answers),
	}
}

// text is a value kept as text whether the server sent a string, a number or null;
// anything else is kept as written, so it fails to parse as a number later.
type text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	*t = text(rawText(b))
	return nil
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
