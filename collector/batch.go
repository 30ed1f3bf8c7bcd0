package collector

import (
	"errors"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// batch builds the tally of one answer, record by record, as it streams in. It
// reads the state the call started from, which no one modifies.
type batch struct {
	s          *settings
	base       *state
	generation int
	tally      *tally
	ids        map[uint64]struct{}
	staged     map[string]map[string]struct{}
}

func newBatch(s *settings, base *state) *batch {
	return &batch{
		s:          s,
		base:       base,
		generation: base.generation,
		tally:      newTally(s.buckets),
		ids:        map[uint64]struct{}{},
		staged:     map[string]map[string]struct{}{},
	}
}

// Skip reasons, as the reason label of wolkvox_records_skipped_total.
const reasonConnIDEmpty = "conn_id_empty"

var observedFields = []string{"answer_delay", "duration", "handle_time", "customer_characters", "agent_characters", "agent_messages"}

func skipReasons() []string {
	out := []string{reasonConnIDEmpty}
	for _, f := range observedFields {
		out = append(out, f+"_empty", f+"_invalid")
	}
	return out
}

// add counts one record, unless its conn_id was counted before.
func (b *batch) add(r *wolkvox.Record) {
	id := strings.TrimSpace(r.ConnID)
	if id == "" {
		b.tally.skipped[reasonConnIDEmpty]++
		return
	}
	key := connKey(id)
	if _, dup := b.ids[key]; dup {
		return
	}
	if _, dup := b.base.seen[key]; dup {
		return
	}
	b.ids[key] = struct{}{}

	sc := scope{
		channel: b.admit("channel", normalizeChannel(r.Channel)),
		skill:   b.admit("skill", b.skillName(r.SkillID)),
	}
	b.tally.chat(chatKey{
		scope:           sc,
		feeling:         b.admit("feeling", normalizeFeeling(r.Feeling)),
		lastParticipant: b.admit("last_participant", normalizeParticipant(r.LastParticipant)),
	}, time.Time{}).v++

	st := b.tally.scope(sc, time.Time{})
	if v, ok := b.parse("answer_delay", r.AnswerDelay, wolkvox.ParseSeconds); ok {
		st.answerDelay.observe(v)
	}
	if v, ok := b.parse("duration", r.Duration, wolkvox.ParseSeconds); ok {
		st.duration.observe(v)
	}
	handle, handleOK := b.parse("handle_time", r.HandleTime, wolkvox.ParseSeconds)
	if handleOK {
		st.handleTime.observe(handle)
	}
	if v, ok := b.parse("customer_characters", r.CustomerChars, wolkvox.ParseCount); ok {
		st.customerChars += v
	}
	if v, ok := b.parse("agent_characters", r.AgentChars, wolkvox.ParseCount); ok {
		st.agentChars += v
	}
	if v, ok := b.parse("agent_messages", r.AgentAnswers, wolkvox.ParseCount); ok {
		st.agentMessages += v
	}

	code, desc := b.admitPair("disposition", cleanValue(r.CodAct), cleanValue(r.CodActDescription))
	b.tally.disposition(dispositionKey{scope: sc, code: code, description: desc}, time.Time{}).v++

	if b.s.cfg.AgentMetrics {
		agentID, agentName := b.admitPair("agent", cleanValue(r.AgentID), cleanValue(r.AgentName))
		a := b.tally.agent(agentKey{id: agentID, name: agentName}, time.Time{})
		a.chats++
		if handleOK {
			a.handleSeconds += handle
		}
	}
}

func (b *batch) skillName(id string) string {
	id = strings.TrimSpace(id)
	if name, ok := b.s.cfg.Skills[id]; ok {
		return cleanValue(name)
	}
	return cleanValue(id)
}

func (b *batch) admit(label, value string) string {
	return b.base.limiter.admit(label, value, b.staged)
}

// admitPair limits two labels that belong together (a code and its description)
// as one value, so they never split into a mismatched pair.
func (b *batch) admitPair(label, first, second string) (string, string) {
	if b.admit(label, first+"\x00"+second) == otherValue {
		return otherValue, otherValue
	}
	return first, second
}

// parse reads one numeric field; an empty or bad value skips only this observation.
func (b *batch) parse(field, raw string, parse func(string) (float64, error)) (float64, bool) {
	v, err := parse(raw)
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
