package tally

import (
	"maps"
	"slices"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// The families of what is open now, from the real-time APIs. Each read of an API
// replaces the last: a family shows one read, never a sum of reads. They are live
// only: history has no past "now", so history writes none of them.

// NowFamily is a family of what is open now: a gauge of the last read of its API.
type NowFamily struct {
	// Subsystem and Name make the metric's name after the namespace.
	Subsystem, Name string
	Help            string
	// Labels are the label names, after operation.
	Labels []string
	// API is the real-time API whose reads it shows.
	API wolkvox.API
	// Agent families are exported only with agent_metrics: true.
	Agent bool
}

// The families of what is open now.
var (
	ChatsActive = &NowFamily{Name: "chats_active", API: wolkvox.APIChats, Labels: []string{"channel"},
		Help: "Chats open now, by channel: assigned to an agent (the real-time API lists no queue), as api=chats last listed them."}
	ChatActiveOldest = &NowFamily{Subsystem: "chat", Name: "active_oldest_seconds", API: wolkvox.APIChats, Labels: []string{"channel"},
		Help: "How long the oldest open chat of the channel had been going when api=chats was last read: the read's time less the date of its first message. None for a channel without a dated message."}
	AgentChatsActive = &NowFamily{Subsystem: "agent", Name: "chats_active", API: wolkvox.APIChats, Labels: []string{"agent_id", "agent_name"}, Agent: true,
		Help: "Chats open now per agent, as api=chats last listed them (agent_metrics: true)."}
	AgentsByStatus = &NowFamily{Name: "agents", API: wolkvox.APIAgents, Labels: []string{"status"},
		Help: "Agents by their state now (agent_status, trimmed and lower-cased), as api=agents last listed them."}

	// NowFamilies are the families of what is open now, in the order they are exposed.
	NowFamilies = []*NowFamily{ChatsActive, ChatActiveOldest, AgentChatsActive, AgentsByStatus}
)

// ChannelNow is a channel's open chats at a read.
type ChannelNow struct {
	Open float64
	// Oldest is how long its oldest chat with a dated message had been going; Dated
	// tells whether any chat had one.
	Oldest time.Duration
	Dated  bool
}

// OpenNow is what one read of api=chats found open, by the labels its families show.
type OpenNow struct {
	At       time.Time
	Channels map[string]ChannelNow
	// Agents are the open chats of each agent listed, by agent_id and agent_name;
	// nil without agent_metrics.
	Agents map[[2]string]float64
}

// AgentsNow is what one read of api=agents found: agents by status.
type AgentsNow struct {
	At       time.Time
	Statuses map[string]float64
}

// Series is how many series the read adds to /metrics.
func (n *OpenNow) Series() int {
	if n == nil {
		return 0
	}
	out := len(n.Agents)
	for _, c := range n.Channels {
		out++
		if c.Dated {
			out++
		}
	}
	return out
}

// Series is how many series the read adds to /metrics.
func (n *AgentsNow) Series() int {
	if n == nil {
		return 0
	}
	return len(n.Statuses)
}

// nowLabels admits the label values of one read, bounded as chat labels are: each
// label by max_label_values, and all of them by what the series budget leaves.
type nowLabels struct {
	// none admits nothing before the read: each read admits its own values.
	none, admitted *limiter
	budget         int
}

func newNowLabels(s Settings, budget int) *nowLabels {
	return &nowLabels{none: newLimiter(s.MaxLabelValues), admitted: newLimiter(s.MaxLabelValues), budget: budget}
}

// admit returns the value, cleaned, to show a series under, or "other" past a
// limit; cost is the series a new value adds.
func (l *nowLabels) admit(label, raw string, cost int, known func(string) bool) string {
	v := cleanValue(raw)
	if known(v) {
		return v
	}
	if l.budget < cost {
		return OtherValue
	}
	if v = l.admitted.admit(l.none, label, v); v != OtherValue {
		l.budget -= cost
	}
	return v
}

// NewOpenNow turns a read of api=chats at at into its families' values under s. The
// channels of prev, the read before, show 0 where nothing is open on them now, so
// that a channel's series does not vanish when it empties. Agents are named by
// nameOf, as the agent families name them. budget is how many series the read may
// add; past it, labels fold into "other".
func NewOpenNow(s Settings, at time.Time, read wolkvox.OpenChats, prev *OpenNow, nameOf func(agentID string) string, budget int) *OpenNow {
	n := &OpenNow{At: at, Channels: map[string]ChannelNow{}}
	labels := newNowLabels(s, budget)
	known := func(v string) bool { _, ok := n.Channels[v]; return ok }
	if prev != nil {
		for _, ch := range slices.Sorted(maps.Keys(prev.Channels)) {
			n.Channels[labels.admit("channel", ch, 1, known)] = ChannelNow{}
		}
	}
	for _, c := range read.Chats {
		ch := labels.admit("channel", c.Channel, 2, known)
		cur := n.Channels[ch]
		cur.Open++
		if !c.FirstMessage.IsZero() {
			cur.Oldest, cur.Dated = max(cur.Oldest, at.Sub(c.FirstMessage)), true
		}
		n.Channels[ch] = cur
	}
	if !s.AgentMetrics {
		return n
	}
	n.Agents = map[[2]string]float64{}
	knownAgent := func(string) bool { return false }
	pairs := map[string][2]string{} // agent_id as listed -> its labels
	agent := func(id string) [2]string {
		if p, ok := pairs[id]; ok {
			return p
		}
		p := [2]string{OtherValue, OtherValue}
		if v := labels.admit("agent", id+"\x00"+nameOf(id), 1, knownAgent); v != OtherValue {
			p = [2]string{cleanValue(id), cleanValue(nameOf(id))}
		}
		pairs[id] = p
		return p
	}
	for _, id := range read.Agents {
		n.Agents[agent(id)] += 0
	}
	for _, c := range read.Chats {
		n.Agents[agent(c.AgentID)]++
	}
	return n
}

// NewAgentsNow turns a read of api=agents at at into agents by status under s; the
// statuses of prev show 0 where no agent is in them now. budget is as for NewOpenNow.
func NewAgentsNow(s Settings, at time.Time, read wolkvox.Agents, prev *AgentsNow, budget int) *AgentsNow {
	n := &AgentsNow{At: at, Statuses: map[string]float64{}}
	labels := newNowLabels(s, budget)
	known := func(v string) bool { _, ok := n.Statuses[v]; return ok }
	if prev != nil {
		for _, st := range slices.Sorted(maps.Keys(prev.Statuses)) {
			n.Statuses[labels.admit("status", st, 1, known)] += 0
		}
	}
	for _, a := range read.Agents {
		n.Statuses[labels.admit("status", a.Status, 1, known)]++
	}
	return n
}
