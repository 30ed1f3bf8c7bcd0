package tally

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

func TestNewOpenNow(t *testing.T) {
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	chat := func(agent, channel string, age time.Duration) wolkvox.OpenChat {
		c := wolkvox.OpenChat{AgentID: agent, Channel: channel}
		if age > 0 {
			c.FirstMessage = at.Add(-age)
		}
		return c
	}
	names := map[string]string{"1": "Ana", "2": "Luis"}
	for _, tc := range []struct {
		name     string
		settings Settings
		read     wolkvox.OpenChats
		prev     *OpenNow
		budget   int
		channels map[string]ChannelNow
		agents   map[[2]string]float64
	}{
		{
			name:     "by channel, the oldest dated chat, agents named, an agent without chats at 0",
			settings: Settings{MaxLabelValues: 10, AgentMetrics: true},
			read: wolkvox.OpenChats{Agents: []string{"1", "2", "3"}, Chats: []wolkvox.OpenChat{
				chat("1", "whatsapp", time.Hour), chat("1", "whatsapp", 2*time.Hour), chat("2", "web", 0)}},
			budget:   100,
			channels: map[string]ChannelNow{"whatsapp": {Open: 2, Oldest: 2 * time.Hour, Dated: true}, "web": {Open: 1}},
			agents:   map[[2]string]float64{{"1", "Ana"}: 2, {"2", "Luis"}: 1, {"3", "unknown"}: 0},
		},
		{
			name:     "no agent families without agent_metrics; a channel seen before at 0",
			settings: Settings{MaxLabelValues: 10},
			read:     wolkvox.OpenChats{Agents: []string{"1"}, Chats: []wolkvox.OpenChat{chat("1", "web", time.Minute)}},
			prev:     &OpenNow{Channels: map[string]ChannelNow{"instagram": {Open: 4}}},
			budget:   100,
			channels: map[string]ChannelNow{"web": {Open: 1, Oldest: time.Minute, Dated: true}, "instagram": {}},
		},
		{
			name:     "channels past max_label_values fold into other, each chat still open",
			settings: Settings{MaxLabelValues: 2},
			read: wolkvox.OpenChats{Chats: []wolkvox.OpenChat{
				chat("1", "a", 0), chat("1", "b", 0), chat("1", "c", 0), chat("1", "d", 0), chat("1", "a", 0)}},
			budget:   100,
			channels: map[string]ChannelNow{"a": {Open: 2}, "b": {Open: 1}, "other": {Open: 2}},
		},
		{
			name:     "past the series budget, labels fold into other",
			settings: Settings{MaxLabelValues: 10},
			read:     wolkvox.OpenChats{Chats: []wolkvox.OpenChat{chat("1", "a", 0), chat("1", "b", 0), chat("1", "c", 0)}},
			budget:   2,
			channels: map[string]ChannelNow{"a": {Open: 1}, "other": {Open: 2}},
		},
		{
			name:     "agents past max_label_values fold into other as a pair, their chats still open",
			settings: Settings{MaxLabelValues: 1, AgentMetrics: true},
			read: wolkvox.OpenChats{Agents: []string{"1", "2", "3"}, Chats: []wolkvox.OpenChat{
				chat("1", "web", 0), chat("2", "web", 0), chat("2", "web", 0)}},
			budget:   100,
			channels: map[string]ChannelNow{"web": {Open: 3}},
			agents:   map[[2]string]float64{{"1", "Ana"}: 1, {"other", "other"}: 2},
		},
		{
			name:     "upstream text made a safe label: empty, spaces, long",
			settings: Settings{MaxLabelValues: 10},
			read: wolkvox.OpenChats{Chats: []wolkvox.OpenChat{
				chat("1", "", 0), chat("1", "  two   words ", 0), chat("1", strings.Repeat("x", 300), 0)}},
			budget:   100,
			channels: map[string]ChannelNow{"unknown": {Open: 1}, "two words": {Open: 1}, strings.Repeat("x", maxValueLen): {Open: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewOpenNow(tc.settings, at, tc.read, tc.prev, func(id string) string { return names[id] }, tc.budget)
			if !maps.Equal(n.Channels, tc.channels) {
				t.Errorf("channels %v, want %v", n.Channels, tc.channels)
			}
			if !maps.Equal(n.Agents, tc.agents) {
				t.Errorf("agents %v, want %v", n.Agents, tc.agents)
			}
			if !n.At.Equal(at) {
				t.Errorf("read at %v, want %v", n.At, at)
			}
		})
	}
}

func TestNewAgentsNow(t *testing.T) {
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	agents := func(statuses ...string) wolkvox.Agents {
		var out wolkvox.Agents
		for _, s := range statuses {
			out.Agents = append(out.Agents, wolkvox.AgentState{Status: s})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		limit  int
		read   wolkvox.Agents
		prev   *AgentsNow
		budget int
		want   map[string]float64
	}{
		{"by state", 10, agents("ready", "busy", "ready", ""), nil, 100, map[string]float64{"ready": 2, "busy": 1, "unknown": 1}},
		{"a state seen before at 0", 10, agents("busy"), &AgentsNow{Statuses: map[string]float64{"break": 3}}, 100, map[string]float64{"busy": 1, "break": 0}},
		{"an operation's own break reasons past max_label_values fold", 2, agents("ready", "lunch", "training", "meeting"), nil, 100, map[string]float64{"ready": 1, "lunch": 1, "other": 2}},
		{"nothing read: nothing shown", 10, agents(), nil, 100, map[string]float64{}},
		{"past the series budget", 10, agents("ready", "busy", "acw"), nil, 1, map[string]float64{"ready": 1, "other": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewAgentsNow(Settings{MaxLabelValues: tc.limit}, at, tc.read, tc.prev, tc.budget)
			if !maps.Equal(n.Statuses, tc.want) {
				t.Errorf("statuses %v, want %v", n.Statuses, tc.want)
			}
			if n.Series() != len(tc.want) {
				t.Errorf("%d series, want %d", n.Series(), len(tc.want))
			}
		})
	}
}

// Series is what a read adds to /metrics, which the series budget counts: a series
// per channel, one more for a channel's oldest dated chat, one per agent.
func TestNowSeries(t *testing.T) {
	for _, tc := range []struct {
		name string
		open *OpenNow
		want int
	}{
		{"no read yet", nil, 0},
		{"nothing open", &OpenNow{Channels: map[string]ChannelNow{}}, 0},
		{"channels, one dated", &OpenNow{Channels: map[string]ChannelNow{"web": {Open: 2, Dated: true}, "whatsapp": {}}}, 3},
		{"and agents", &OpenNow{Channels: map[string]ChannelNow{"web": {Open: 1}}, Agents: map[[2]string]float64{{"1", "Ana"}: 1, {"2", "Luis"}: 0}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.open.Series(); got != tc.want {
				t.Errorf("%d series, want %d", got, tc.want)
			}
		})
	}
	var none *AgentsNow
	if got := none.Series(); got != 0 {
		t.Errorf("%d series of agents before a read, want 0", got)
	}
}
