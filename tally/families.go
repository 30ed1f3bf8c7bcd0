// Package tally is the counting engine: it turns chat_1 records into the chat
// metric families, each chat counted once, under label values that are cleaned and
// bounded. Every family is defined once, in this file: its name, help, type, labels,
// buckets and what a chat adds to it. Live counting, the state file, the series
// budget and history are all driven by these definitions.
package tally

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

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

// Group is a set of labels that chats are counted under. Every family belongs to a
// group; the series of a label set hold a value for each family of its group.
type Group struct {
	// Name is the group's list in the state file.
	Name string
	// Labels are the label names, after operation.
	Labels []string
	// saved are the labels' keys in the state file, when they differ from Labels.
	saved []string
	// agent groups are counted only with agent_metrics: true.
	agent bool

	index    int
	families []*Family
	columns  int // cells in a series of the group
}

// The groups.
var (
	ByChat        = &Group{Name: "chats", Labels: []string{"channel", "skill", "feeling", "last_participant"}}
	ByScope       = &Group{Name: "scopes", Labels: []string{"channel", "skill"}}
	ByDisposition = &Group{Name: "dispositions", Labels: []string{"channel", "skill", "code", "description"}}
	ByAgent       = &Group{Name: "agents", Labels: []string{"agent_id", "agent_name"}, saved: []string{"id", "name"}, agent: true}

	// Groups are every group, in order.
	Groups = []*Group{ByChat, ByScope, ByDisposition, ByAgent}
)

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
	// Name is the whole name, made of the namespace, subsystem and name.
	Name            string
	subsystem, name string
	Help            string
	Kind            Kind
	Group           *Group
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
	desc   *prometheus.Desc
}

// Families are the chat metric families, in the order they are exposed and written.
var Families = []*Family{
	{
		name: "chats_total", Help: "Chats closed, each counted once by conn_id.",
		Kind: Counter, Group: ByChat, takes: eachChat, saved: []string{"value"},
	},
	{
		subsystem: "chat", name: "answer_delay_seconds", Help: "Time from the customer starting the chat to the agent answering (the report's ASA).",
		Kind: Histogram, Group: ByScope, takes: answerDelay, saved: []string{"answer_delay"},
		buckets: func(h config.Histograms) []float64 { return h.AnswerDelay },
	},
	{
		subsystem: "chat", name: "duration_seconds",
		Help: "Chat length (chat_duration); timed_out is true for chats the platform closed by timeout (cod_act TIMEOUTCHAT), about a day after they opened.",
		Kind: Histogram, Group: ByScope, takes: duration, saved: []string{"duration", "timed_out_duration"},
		Split:   &Split{Label: "timed_out", Values: []string{"false", "true"}, by: byTimedOut},
		buckets: func(h config.Histograms) []float64 { return h.Duration },
	},
	{
		subsystem: "chat", name: "handle_time_seconds", Help: "Time the agent spent on the chat (time_on_agent).",
		Kind: Histogram, Group: ByScope, takes: handleTime, saved: []string{"handle_time"},
		buckets: func(h config.Histograms) []float64 { return h.HandleTime },
	},
	{
		subsystem: "chat", name: "customer_characters_total", Help: "Characters typed by customers.",
		Kind: Counter, Group: ByScope, takes: customerChars, saved: []string{"customer_characters"},
	},
	{
		subsystem: "chat", name: "agent_characters_total", Help: "Characters typed by agents.",
		Kind: Counter, Group: ByScope, takes: agentChars, saved: []string{"agent_characters"},
	},
	{
		subsystem: "chat", name: "agent_messages_total", Help: "Times agents wrote to customers.",
		Kind: Counter, Group: ByScope, takes: agentMessages, saved: []string{"agent_messages"},
	},
	{
		subsystem: "chat", name: "dispositions_total", Help: "Chats by disposition code (cod_act) and its description.",
		Kind: Counter, Group: ByDisposition, takes: eachChat, saved: []string{"value"},
	},
	{
		subsystem: "agent", name: "chats_total", Help: "Chats per agent (agent_metrics: true).",
		Kind: Counter, Group: ByAgent, takes: eachChat, saved: []string{"chats"},
	},
	{
		subsystem: "agent", name: "handle_time_seconds_total", Help: "Handle time per agent (agent_metrics: true).",
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
	for i, g := range Groups {
		g.index = i
	}
	for i, f := range Families {
		f.index = i
		f.Name = prometheus.BuildFQName(Namespace, f.subsystem, f.name)
		g := f.Group
		f.column = g.columns
		g.columns += f.values()
		g.families = append(g.families, f)
		f.desc = prometheus.NewDesc(f.Name, f.Help, f.LabelNames(), nil)
	}
}

// LabelNames are the family's label names: operation, the group's, and the split's.
func (f *Family) LabelNames() []string {
	names := append([]string{OperationLabel}, f.Group.Labels...)
	if f.Split != nil {
		names = append(names, f.Split.Label)
	}
	return names
}

// Desc describes the family to client_golang.
func (f *Family) Desc() *prometheus.Desc { return f.desc }

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
