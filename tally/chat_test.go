package tally

import (
	"maps"
	"slices"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// settings are an operation's defaults with agent metrics, edited by edits.
func settings(edits ...func(*Settings)) Settings {
	s := Settings{Operation: "main", AgentMetrics: true, MaxLabelValues: 100, MaxSeries: config.DefaultMaxSeries,
		Histograms: config.DefaultHistograms}
	for _, e := range edits {
		e(&s)
	}
	return s
}

func num(v float64) wolkvox.Number { return wolkvox.Number{Value: v} }

// wire is a number as the decoder reads the API's text.
func wire(text string) wolkvox.Number {
	v, err := wolkvox.ParseSeconds(text)
	return wolkvox.Number{Value: v, Err: err}
}

// rec is a record as the decoder gives it, edited by edits.
func rec(id string, edits ...func(*wolkvox.Record)) wolkvox.Record {
	r := wolkvox.Record{
		ConnID: id, Channel: "whatsapp", SkillID: "12", Feeling: "neutral", LastParticipant: "agent",
		AgentID: "7", AgentName: "Luis", CodAct: "SALE", CodActDescription: "Sale closed",
		AnswerDelay: num(15), Duration: num(540), HandleTime: num(480),
		CustomerChars: num(100), AgentChars: num(200), AgentAnswers: num(4),
	}
	for _, e := range edits {
		e(&r)
	}
	return r
}

// observed is what tl holds of each family, summed over its series: a counter's
// value, a histogram's observations; a split family by name and split value. Zeros
// are left out.
func observed(tl *Tally) map[string]float64 {
	out := map[string]float64{}
	for _, f := range Families {
		for _, s := range tl.series[f.Group.index] {
			for i, v := range f.SplitValues() {
				name := f.Name
				if v != "" {
					name += "{" + f.Split.Label + "=" + v + "}"
				}
				c := f.Cell(s, i)
				if f.Kind == Histogram {
					out[name] += float64(c.Count)
				} else {
					out[name] += c.Sum
				}
			}
		}
	}
	maps.DeleteFunc(out, func(_ string, v float64) bool { return v == 0 })
	return out
}

// perChat is what one chat built by rec adds to each family.
func perChat(timedOut bool) map[string]float64 {
	split := "false"
	if timedOut {
		split = "true"
	}
	return map[string]float64{
		"wolkvox_chats_total": 1, "wolkvox_chat_answer_delay_seconds": 1,
		"wolkvox_chat_duration_seconds{timed_out=" + split + "}": 1, "wolkvox_chat_handle_time_seconds": 1,
		"wolkvox_chat_customer_characters_total": 100, "wolkvox_chat_agent_characters_total": 200,
		"wolkvox_chat_agent_messages_total": 4, "wolkvox_chat_dispositions_total": 1,
		"wolkvox_agent_chats_total": 1, "wolkvox_agent_handle_time_seconds_total": 480,
	}
}

// sum adds maps of what chats add, less the observations in minus.
func sum(minus map[string]float64, chats ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range chats {
		for k, v := range m {
			out[k] += v
		}
	}
	for k, v := range minus {
		out[k] -= v
	}
	maps.DeleteFunc(out, func(_ string, v float64) bool { return v == 0 })
	return out
}

// Count counts a chat once per conn_id, in the batch and against what was counted
// before; an empty or invalid number skips that observation only, and each skip is
// counted by its reason, so that a bad field never loses a chat.
func TestBatchCount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  []string // conn_ids counted before the batch
		records []wolkvox.Record
		counted []bool // what Count reports for each record
		skipped map[string]float64
		want    map[string]float64 // what the batch adds to each family
	}{
		{
			name:    "each conn_id once within a batch",
			records: []wolkvox.Record{rec("a"), rec("b"), rec("a"), rec("a")},
			counted: []bool{true, true, false, false},
			want:    sum(nil, perChat(false), perChat(false)),
		},
		{
			name:    "a conn_id counted before is not counted again",
			before:  []string{"a", "c"},
			records: []wolkvox.Record{rec("a"), rec("b"), rec("c")},
			counted: []bool{false, true, false},
			want:    perChat(false),
		},
		{
			name:    "an empty conn_id is skipped, and counted as conn_id_empty each time",
			records: []wolkvox.Record{rec(""), rec("a"), rec("")},
			counted: []bool{false, true, false},
			skipped: map[string]float64{ReasonConnIDEmpty: 2},
			want:    perChat(false),
		},
		{
			name: "an empty number skips that observation only",
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.AnswerDelay = wire("") }),
				rec("b", func(r *wolkvox.Record) {
					r.AnswerDelay, r.AgentAnswers = wire("  "), wolkvox.Number{Err: wolkvox.ErrEmpty}
				}),
			},
			counted: []bool{true, true},
			skipped: map[string]float64{"answer_delay_empty": 2, "agent_messages_empty": 1},
			want: sum(map[string]float64{"wolkvox_chat_answer_delay_seconds": 2, "wolkvox_chat_agent_messages_total": 4},
				perChat(false), perChat(false)),
		},
		{
			name: "an invalid number skips that observation only, apart from empty ones",
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.HandleTime = wire("12:99") }),
				rec("b", func(r *wolkvox.Record) { r.HandleTime, r.Duration = wire("abc"), wire("") }),
			},
			counted: []bool{true, true},
			skipped: map[string]float64{"handle_time_invalid": 2, "duration_empty": 1},
			want: sum(map[string]float64{"wolkvox_chat_handle_time_seconds": 2, "wolkvox_agent_handle_time_seconds_total": 960,
				"wolkvox_chat_duration_seconds{timed_out=false}": 1}, perChat(false), perChat(false)),
		},
		{
			name: "every numeric field empty: the chat still counts, each observation skipped",
			records: []wolkvox.Record{rec("a", func(r *wolkvox.Record) {
				r.AnswerDelay, r.Duration, r.HandleTime = wire(""), wire(""), wire("")
				r.CustomerChars, r.AgentChars, r.AgentAnswers = wire(""), wire(""), wire("")
			})},
			counted: []bool{true},
			skipped: map[string]float64{"answer_delay_empty": 1, "duration_empty": 1, "handle_time_empty": 1,
				"customer_characters_empty": 1, "agent_characters_empty": 1, "agent_messages_empty": 1},
			want: map[string]float64{"wolkvox_chats_total": 1, "wolkvox_chat_dispositions_total": 1, "wolkvox_agent_chats_total": 1},
		},
		{
			name: "a record not counted counts none of its numbers as skipped",
			records: []wolkvox.Record{
				rec("", func(r *wolkvox.Record) { r.AnswerDelay = wire("") }),
				rec("a"), rec("a", func(r *wolkvox.Record) { r.AnswerDelay = wire("") }),
			},
			counted: []bool{false, true, false},
			skipped: map[string]float64{ReasonConnIDEmpty: 1},
			want:    perChat(false),
		},
		{
			name: "chats closed by timeout have their duration apart",
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.CodAct = "TIMEOUTCHAT" }),
				rec("b", func(r *wolkvox.Record) { r.CodAct = " timeoutchat " }),
				rec("c"),
				rec("d", func(r *wolkvox.Record) { r.CodAct = "TIMEOUT" }),
			},
			counted: []bool{true, true, true, true},
			want:    sum(nil, perChat(true), perChat(true), perChat(false), perChat(false)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before []uint64
			for _, id := range tc.before {
				before = append(before, ConnKey(id))
			}
			b := NewBatch(New(settings()), func(key uint64) bool { return slices.Contains(before, key) }, 0)
			var got []bool
			var ids []uint64
			for i := range tc.records {
				_, ok := b.Count(&tc.records[i])
				got = append(got, ok)
				if ok {
					ids = append(ids, ConnKey(tc.records[i].ConnID))
				}
			}
			if !slices.Equal(got, tc.counted) {
				t.Errorf("counted %v, want %v", got, tc.counted)
			}
			if !maps.Equal(b.IDs, setOf(ids)) {
				t.Errorf("the batch's IDs are %v, want the keys of the chats counted %v", b.IDs, ids)
			}
			if tc.skipped == nil {
				tc.skipped = map[string]float64{}
			}
			if !maps.Equal(b.Delta.Skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", b.Delta.Skipped, tc.skipped)
			}
			if got := observed(b.Delta); !maps.Equal(got, tc.want) {
				t.Errorf("the batch adds\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func setOf(ids []uint64) map[uint64]struct{} {
	out := map[uint64]struct{}{}
	for _, id := range ids {
		out[id] = struct{}{}
	}
	return out
}
