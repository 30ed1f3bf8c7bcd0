// Package tally is the counting engine: it turns chat_1 records into the chat
// metric families, each chat counted once, under label values that are cleaned and
// bounded. Every label, group and family is defined once, in this file: a label's
// name, how a record gives its value and when the series budget folds it; a group's
// labels; a family's name, help, type, group, buckets and what a chat adds to it.
// Live counting, the state file, the series budget and history are all driven by
// these definitions, and the families of what is open now (now.go) sit beside them.
package tally

import (
	"math"
	"strings"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Namespace prefixes every metric of the exporter.
const Namespace = "wolkvox"

// OperationLabel is the first label of every operation's metric.
const OperationLabel = "operation"

// Kind is a family's metric type.
type Kind int

// The kinds of chat families.
const (
	Counter Kind = iota
	Histogram
)

func (k Kind) String() string {
	if k == Histogram {
		return "histogram"
	}
	return "counter"
}

// Label is a label chats are counted under: its name, how a record gives its
// value, and when the series budget folds it into "other".
type Label struct {
	Name string
	// savedAs names the label in the state file, where that differs from Name.
	savedAs string
	// value is the label's value for a record: its upstream text made a safe label
	// value, and bounded by max_label_values (labels.go).
	value func(b *Batch, r *wolkvox.Record) string
	// fold is the step of the series budget at which the label folds into "other":
	// the labels of a group fold step by step, the lowest first (budget.go).
	fold int

	index int // in AllLabels
}

// The labels.
var (
	Channel = &Label{Name: "channel", fold: 3,
		value: func(b *Batch, r *wolkvox.Record) string { return b.label("channel", r.Channel, cleanValue) }}
	Skill = &Label{Name: "skill", fold: 2,
		value: func(b *Batch, r *wolkvox.Record) string { return b.label("skill", r.SkillID, b.skillName) }}
	Feeling = &Label{Name: "feeling", fold: 1,
		value: func(b *Batch, r *wolkvox.Record) string { return b.label("feeling", r.Feeling, cleanValue) }}
	LastParticipant = &Label{Name: "last_participant", fold: 1,
		value: func(b *Batch, r *wolkvox.Record) string {
			return b.label("last_participant", r.LastParticipant, cleanValue)
		}}
	// A disposition's code and description are bounded as one value, so that they
	// never split into a mismatched pair; so are an agent's id and name.
	Code = &Label{Name: "code", fold: 1,
		value: func(b *Batch, r *wolkvox.Record) string {
			return b.labelPair("disposition", r.CodAct, r.CodActDescription)[0]
		}}
	Description = &Label{Name: "description", fold: 1,
		value: func(b *Batch, r *wolkvox.Record) string {
			return b.labelPair("disposition", r.CodAct, r.CodActDescription)[1]
		}}
	AgentID = &Label{Name: "agent_id", savedAs: "id", fold: 1,
		value: func(b *Batch, r *wolkvox.Record) string { return b.labelPair("agent", r.AgentID, r.AgentName)[0] }}
	AgentName = &Label{Name: "agent_name", savedAs: "name", fold: 1,
		value: func(b *Batch, r *wolkvox.Record) string { return b.labelPair("agent", r.AgentID, r.AgentName)[1] }}

	// AllLabels are every label.
	AllLabels = []*Label{Channel, Skill, Feeling, LastParticipant, Code, Description, AgentID, AgentName}
)

// Group is a set of labels that chats are counted under. Every family belongs to a
// group; the series of a label set hold a value for each family of its group.
type Group struct {
	// Name is the group's list in the state file.
	Name string
	// Labels are the group's labels, after operation, in the order series show them.
	Labels []*Label
	// agent groups are counted only with agent_metrics: true.
	agent bool

	index    int
	families []*Family
	columns  int // cells in a series of the group
}

// The groups.
var (
	ByChat        = &Group{Name: "chats", Labels: []*Label{Channel, Skill, Feeling, LastParticipant}}
	ByScope       = &Group{Name: "scopes", Labels: []*Label{Channel, Skill}}
	ByDisposition = &Group{Name: "dispositions", Labels: []*Label{Channel, Skill, Code, Description}}
	ByAgent       = &Group{Name: "agents", Labels: []*Label{AgentID, AgentName}, agent: true}

	// Groups are every group, in order: the series budget fits a chat's labels to
	// them in this order (budget.go).
	Groups = []*Group{ByChat, ByScope, ByDisposition, ByAgent}
)

// Value is the value of label l in key k of group g, "" if g has no such label.
func (g *Group) Value(k Key, l *Label) string {
	for i, gl := range g.Labels {
		if gl == l {
			return k[i]
		}
	}
	return ""
}

// LabelNames are the names of the group's labels.
func (g *Group) LabelNames() []string {
	names := make([]string, len(g.Labels))
	for i, l := range g.Labels {
		names[i] = l.Name
	}
	return names
}

// FamilyNames are the names of the group's families.
func (g *Group) FamilyNames() []string {
	names := make([]string, len(g.families))
	for i, f := range g.families {
		names[i] = f.Name
	}
	return names
}

// counts tells whether chats are counted in the group under s.
func (g *Group) counts(s Settings) bool { return !g.agent || s.AgentMetrics }

// Split is a label of a family whose value each chat decides. Every value is
// exposed for every label set of the group, so that its series exist from the start.
type Split struct {
	Label  string
	Values []string
	by     splitBy // what of a chat decides its value
}

// splitBy names what decides a chat's split value; a name, not a function, keeps a
// counted chat off the heap.
type splitBy int

const byTimedOut splitBy = iota // "false", then "true"

// value is the index of c's value of the split.
func (s *Split) value(c *Chat) int {
	if s.by == byTimedOut && c.timedOut {
		return 1
	}
	return 0
}

// Family is one chat metric family.
type Family struct {
	// Name is the whole name: the namespace, Subsystem and Short, joined as
	// client_golang's BuildFQName joins them.
	Name             string
	Subsystem, Short string
	Help             string
	Kind             Kind
	Group            *Group
	// Split, when set, is a label after the group's, decided by each chat.
	Split *Split
	// buckets picks the family's bucket bounds from the configuration (histograms).
	buckets func(config.Histograms) []float64
	// takes is the field a chat adds to a counter or observes into a histogram, or
	// eachChat: a counter of chats.
	takes int
	// saved names the family's values in the state file, one per split value.
	saved []string

	index  int // in Families
	column int // the family's first cell in a series of its group
}

// Families are the chat metric families, in the order they are exposed and written.
var Families = []*Family{
	{
		Short: "chats_total", Help: "Chats closed, each counted once by conn_id.",
		Kind: Counter, Group: ByChat, takes: eachChat, saved: []string{"value"},
	},
	{
		Subsystem: "chat", Short: "answer_delay_seconds", Help: "Time from the customer starting the chat to the agent answering (the report's ASA).",
		Kind: Histogram, Group: ByScope, takes: answerDelay, saved: []string{"answer_delay"},
		buckets: func(h config.Histograms) []float64 { return h.AnswerDelay },
	},
	{
		Subsystem: "chat", Short: "duration_seconds",
		Help: "Chat length (chat_duration); timed_out is true for chats the platform closed by timeout (cod_act TIMEOUTCHAT), about a day after they opened.",
		Kind: Histogram, Group: ByScope, takes: duration, saved: []string{"duration", "timed_out_duration"},
		Split:   &Split{Label: "timed_out", Values: []string{"false", "true"}, by: byTimedOut},
		buckets: func(h config.Histograms) []float64 { return h.Duration },
	},
	{
		Subsystem: "chat", Short: "handle_time_seconds", Help: "Time the agent spent on the chat (time_on_agent).",
		Kind: Histogram, Group: ByScope, takes: handleTime, saved: []string{"handle_time"},
		buckets: func(h config.Histograms) []float64 { return h.HandleTime },
	},
	{
		Subsystem: "chat", Short: "customer_characters_total", Help: "Characters typed by customers.",
		Kind: Counter, Group: ByScope, takes: customerChars, saved: []string{"customer_characters"},
	},
	{
		Subsystem: "chat", Short: "agent_characters_total", Help: "Characters typed by agents.",
		Kind: Counter, Group: ByScope, takes: agentChars, saved: []string{"agent_characters"},
	},
	{
		Subsystem: "chat", Short: "agent_messages_total", Help: "Times agents wrote to customers.",
		Kind: Counter, Group: ByScope, takes: agentMessages, saved: []string{"agent_messages"},
	},
	{
		Subsystem: "chat", Short: "dispositions_total", Help: "Chats by disposition code (cod_act) and its description.",
		Kind: Counter, Group: ByDisposition, takes: eachChat, saved: []string{"value"},
	},
	{
		Subsystem: "agent", Short: "chats_total", Help: "Chats per agent (agent_metrics: true).",
		Kind: Counter, Group: ByAgent, takes: eachChat, saved: []string{"chats"},
	},
	{
		Subsystem: "agent", Short: "handle_time_seconds_total", Help: "Handle time per agent (agent_metrics: true).",
		Kind: Counter, Group: ByAgent, takes: handleTime, saved: []string{"handle_seconds"},
	},
}

// ChatsFamily is wolkvox_chats_total: the chats counted.
var ChatsFamily = Families[0]

// fields are the numeric fields of a record that families take. An empty or
// invalid value skips only that observation, counted as <name>_empty or
// <name>_invalid in wolkvox_records_skipped_total.
var fields = [...]struct {
	name string
	of   func(*wolkvox.Record) wolkvox.Number
}{
	answerDelay:   {"answer_delay", func(r *wolkvox.Record) wolkvox.Number { return r.AnswerDelay }},
	duration:      {"duration", func(r *wolkvox.Record) wolkvox.Number { return r.Duration }},
	handleTime:    {"handle_time", func(r *wolkvox.Record) wolkvox.Number { return r.HandleTime }},
	customerChars: {"customer_characters", func(r *wolkvox.Record) wolkvox.Number { return r.CustomerChars }},
	agentChars:    {"agent_characters", func(r *wolkvox.Record) wolkvox.Number { return r.AgentChars }},
	agentMessages: {"agent_messages", func(r *wolkvox.Record) wolkvox.Number { return r.AgentAnswers }},
}

// The indexes of fields.
const (
	answerDelay = iota
	duration
	handleTime
	customerChars
	agentChars
	agentMessages
	numFields
)

// Skip reasons of whole records, as the reason label of wolkvox_records_skipped_total.
const (
	ReasonConnIDEmpty = "conn_id_empty"
	ReasonNotARecord  = "not_a_record" // an element of data that is not an object
)

// SkipReasons lists every reason a record or one of its values is skipped for.
func SkipReasons() []string {
	out := []string{ReasonConnIDEmpty, ReasonNotARecord}
	for _, f := range fields {
		out = append(out, f.name+"_empty", f.name+"_invalid")
	}
	return out
}

// eachChat is what a family that counts chats takes: 1 a chat.
const eachChat = -1

// value is what c adds to f, and whether it adds anything.
func (f *Family) value(c *Chat) (float64, bool) {
	if f.takes == eachChat {
		return 1, true
	}
	v := c.values[f.takes]
	return v, !math.IsNaN(v)
}
func init() {
	for i, l := range AllLabels {
		l.index = i
	}
	for i, g := range Groups {
		g.index = i
		if len(g.Labels) > len(Key{}) {
			panic("tally: group " + g.Name + " has more labels than a Key holds: raise maxGroupLabels")
		}
	}
	if len(Groups) > maxGroups || len(AllLabels) > maxLabels {
		panic("tally: more groups or labels than a Chat holds: raise maxGroups or maxLabels")
	}
	fittings = map[bool][]fitting{false: planFittings(false), true: planFittings(true)}
	for i, f := range Families {
		f.index = i
		f.Name = strings.Join(nonEmpty(Namespace, f.Subsystem, f.Short), "_")
		g := f.Group
		f.column = g.columns
		g.columns += f.values()
		g.families = append(g.families, f)
	}
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// LabelNames are the family's label names: operation, the group's, and the split's.
func (f *Family) LabelNames() []string {
	names := append([]string{OperationLabel}, f.Group.LabelNames()...)
	if f.Split != nil {
		names = append(names, f.Split.Label)
	}
	return names
}

// Buckets are the family's bucket bounds under h; nil for a counter.
func (f *Family) Buckets(h config.Histograms) []float64 {
	if f.buckets == nil {
		return nil
	}
	return f.buckets(h)
}

// values is how many series of the family a label set of its group has, one per
// split value.
func (f *Family) values() int {
	if f.Split == nil {
		return 1
	}
	return len(f.Split.Values)
}
