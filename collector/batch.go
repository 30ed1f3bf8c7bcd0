package collector

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// batch builds the tally of one answer, record by record, as it streams in. It
// reads the state the call started from, which no one modifies.
type batch struct {
	s          *settings
	base       *state
	counted    func(key uint64) bool // whether a chat was counted before this answer
	generation int
	tally      *tally
	ids        map[uint64]struct{}
	staged     map[string]map[string]struct{}
	// labels remembers, per label, the value each raw upstream text became. An answer
	// repeats a few values thousands of times; within one batch a value once admitted
	// (or turned to "other") stays so.
	labels map[string]map[string]string
	pairs  map[string]map[[2]string][2]string
	// series counts the series of the base state and those this batch adds, against
	// maxSeries (see budget.go).
	series, maxSeries int
}

func newBatch(s *settings, base *state, counted func(key uint64) bool) *batch {
	return &batch{
		s:          s,
		base:       base,
		counted:    counted,
		generation: base.generation,
		tally:      newTally(s.buckets),
		ids:        make(map[uint64]struct{}, base.lastRecords), // answers are alike in size
		staged:     map[string]map[string]struct{}{},
		labels:     map[string]map[string]string{},
		pairs:      map[string]map[[2]string][2]string{},
		series:     base.tally.seriesCount(),
		maxSeries:  s.cfg.MaxSeries,
	}
}

// label returns the label value for a record's value, made safe by clean and
// bounded by the label limit.
func (b *batch) label(label, raw string, clean func(string) string) string {
	cache := b.labels[label]
	if v, ok := cache[raw]; ok {
		return v
	}
	if cache == nil {
		cache = map[string]string{}
		b.labels[label] = cache
	}
	// A record's text shares one allocation with the rest of the record: keep copies.
	v := b.admit(label, strings.Clone(clean(raw)))
	cache[strings.Clone(raw)] = v
	return v
}

// labelPair is label for two values limited together (see admit).
func (b *batch) labelPair(label, first, second string) (string, string) {
	cache := b.pairs[label]
	if v, ok := cache[[2]string{first, second}]; ok {
		return v[0], v[1]
	}
	if cache == nil {
		cache = map[[2]string][2]string{}
		b.pairs[label] = cache
	}
	v := [2]string{otherValue, otherValue}
	f, sec := strings.Clone(cleanValue(first)), strings.Clone(cleanValue(second))
	if b.admit(label, f+"\x00"+sec) != otherValue {
		v = [2]string{f, sec}
	}
	cache[[2]string{strings.Clone(first), strings.Clone(second)}] = v
	return v[0], v[1]
}

// Skip reasons, as the reason label of wolkvox_records_skipped_total.
const (
	reasonConnIDEmpty = "conn_id_empty"
	reasonNotARecord  = "not_a_record" // an element of data that is not an object
)

var observedFields = []string{"answer_delay", "duration", "handle_time", "customer_characters", "agent_characters", "agent_messages"}

func skipReasons() []string {
	out := []string{reasonConnIDEmpty, reasonNotARecord}
	for _, f := range observedFields {
		out = append(out, f+"_empty", f+"_invalid")
	}
	return out
}

// Observations of a chat, in the order of observedFields.
const (
	obsAnswerDelay = iota
	obsDuration
	obsHandleTime
	obsCustomerChars
	obsAgentChars
	obsAgentMessages
	numObserved
)

// counted is what one chat added: the label sets it was counted under, and its
// observations (NaN where one was skipped).
type counted struct {
	chat        chatKey
	disposition dispositionKey
	observed    [numObserved]float64
	timedOut    bool // closed by the platform's timeout: its duration is apart
}

// add counts one record, unless its conn_id was counted before.
func (b *batch) add(r *wolkvox.Record) { b.count(r) }

// count counts one record, unless its conn_id was counted before, and says what
// it added.
func (b *batch) count(r *wolkvox.Record) (counted, bool) {
	var c counted
	if r.ConnID == "" {
		b.tally.skipped[reasonConnIDEmpty]++
		return c, false
	}
	key := connKey(r.ConnID)
	if _, dup := b.ids[key]; dup {
		return c, false
	}
	if b.counted(key) {
		return c, false
	}
	b.ids[key] = struct{}{}

	k, folded := b.fitChat(chatKey{
		scope: scope{
			channel: b.label("channel", r.Channel, cleanValue),
			skill:   b.label("skill", r.SkillID, b.skillName),
		},
		feeling:         b.label("feeling", r.Feeling, cleanValue),
		lastParticipant: b.label("last_participant", r.LastParticipant, cleanValue),
	})
	b.tally.chat(k, time.Time{}).v++
	c.chat = k

	for i, n := range [numObserved]wolkvox.Number{r.AnswerDelay, r.Duration, r.HandleTime, r.CustomerChars, r.AgentChars, r.AgentAnswers} {
		c.observed[i] = math.NaN()
		if v, ok := b.number(observedFields[i], n); ok {
			c.observed[i] = v
		}
	}
	c.timedOut = r.TimedOut()
	b.tally.scope(k.scope, time.Time{}).observe(&c.observed, c.timedOut)

	code, desc := b.labelPair("disposition", r.CodAct, r.CodActDescription)
	dk, dispositionFolded := b.fitDisposition(dispositionKey{scope: k.scope, code: code, description: desc})
	b.tally.disposition(dk, time.Time{}).v++
	c.disposition = dk

	agentFolded := false
	if b.s.cfg.AgentMetrics {
		agentID, agentName := b.labelPair("agent", r.AgentID, r.AgentName)
		var ak agentKey
		ak, agentFolded = b.fitAgent(agentKey{id: agentID, name: agentName})
		a := b.tally.agent(ak, time.Time{})
		a.chats++
		if handle := c.observed[obsHandleTime]; !math.IsNaN(handle) {
			a.handleSeconds += handle
		}
	}
	if folded || dispositionFolded || agentFolded {
		b.tally.folded++
	}
	return c, true
}

func (b *batch) skillName(id string) string {
	id = strings.TrimSpace(id)
	if name, ok := b.s.cfg.Skills[id]; ok {
		return cleanValue(name)
	}
	return cleanValue(id)
}

// admit bounds the distinct values of label. Two labels that belong together (a
// code and its description) are admitted as one value joined by a NUL, so they
// never split into a mismatched pair.
func (b *batch) admit(label, value string) string {
	return b.base.limiter.admit(label, value, b.staged)
}

// number is one numeric field's value; an empty or bad value skips only this
// observation, counted under the field's name.
func (b *batch) number(field string, n wolkvox.Number) (float64, bool) {
	v, err := n.Value, n.Err
	switch {
	case errors.Is(err, wolkvox.ErrEmpty):
		b.tally.skipped[field+"_empty"]++
		return 0, false
	case err != nil:
		b.tally.skipped[field+"_invalid"]++
		return 0, false
	}
	return v, true
}
