package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

const realTimePath = "/api/v2/real_time.php"

func rt(api string) string { return realTimePath + "?api=" + api }

type wireMsg struct {
	From string `json:"from"`
	Msg  string `json:"msg"`
	Date string `json:"date"`
}

type wireChat struct {
	ConnID        string    `json:"conn_id"`
	Channel       string    `json:"channel"`
	ConnectorID   string    `json:"connector_id"`
	CustomerPhone string    `json:"customer_phone"`
	Conversation  []wireMsg `json:"conversation"`
}

type wireAgent struct {
	AgentID     string     `json:"agent_id"`
	ActiveChats []wireChat `json:"active_chats"`
}

// decodeStrict decodes raw into v, refusing fields v does not have.
func decodeStrict(t *testing.T, raw []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", truncate(raw), err)
	}
}

// decodeOpen parses a 200 real-time answer whose data is a list of T, or one T as an object.
func decodeOpen[T any](t *testing.T, body []byte) (env envelope, data []T, single bool) {
	t.Helper()
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("bad JSON %q: %v", truncate(body), err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(env.Data), []byte("{")) {
		var one T
		decodeStrict(t, env.Data, &one)
		return env, []T{one}, true
	}
	decodeStrict(t, env.Data, &data)
	return env, data, false
}

// clocked is a server whose Options.Now the test sets.
type clocked struct {
	*simulator.Server
	mu  sync.Mutex
	now time.Time
}

func newClocked(src simulator.Source, opts simulator.Options) *clocked {
	c := &clocked{}
	opts.Now = func() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
	if opts.Location == nil {
		opts.Location = gmt5
	}
	c.Server = simulator.NewServer(src, opts)
	return c
}

func (c *clocked) at(t time.Time) *clocked {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	return c
}

// openByHand is what is open at t, found from the chats that close within a day of it.
func openByHand(src simulator.Source, t time.Time) []simulator.Chat {
	var out []simulator.Chat
	for _, c := range src.ChatsClosedBetween(t, t.Add(25*time.Hour)) {
		if c.AgentID != "" && !c.Opened.Add(c.AnswerDelay).After(t) && c.Closed.After(t) {
			out = append(out, c)
		}
	}
	return out
}

func byConnID(cs []simulator.Chat) []simulator.Chat {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b simulator.Chat) int { return strings.Compare(a.ConnID, b.ConnID) })
	return cs
}

func TestChatsOpenAt(t *testing.T) {
	traffic := simulator.NewTraffic(1, 120)
	tests := []struct {
		name    string
		at      time.Time
		atLeast int
	}{
		{"night", at(2026, 3, 10, 3, 0, 0), 300}, // forgotten chats of the day before
		{"morning", at(2026, 3, 10, 10, 0, 0), 300},
		{"evening, odd second", at(2026, 3, 10, 21, 29, 59), 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := traffic.ChatsOpenAt(tt.at)
			want := openByHand(traffic, tt.at)
			if len(got) < tt.atLeast {
				t.Errorf("only %d chats open", len(got))
			}
			if !slices.Equal(byConnID(got), byConnID(want)) {
				t.Fatalf("%d chats open, %d by hand", len(got), len(want))
			}
			sorted := slices.IsSortedFunc(got, func(a, b simulator.Chat) int {
				if c := a.Opened.Compare(b.Opened); c != 0 {
					return c
				}
				return strings.Compare(a.ConnID, b.ConnID)
			})
			if !sorted {
				t.Errorf("not sorted by Opened then ConnID")
			}
			timeouts := 0
			for _, c := range got {
				if c.CodAct == "TIMEOUTCHAT" {
					timeouts++
				}
			}
			// Chats left to time out stay open for 23 hours: most of what is open.
			if timeouts < len(got)/2 || timeouts == len(got) {
				t.Errorf("%d of %d open chats time out", timeouts, len(got))
			}
		})
	}

	t.Run("fixed chats", func(t *testing.T) {
		now := at(2026, 3, 10, 12, 0, 0)
		mk := func(id string, opened time.Time, asa time.Duration, closed time.Time, agent string) simulator.Chat {
			c := chat(id, closed)
			c.Opened, c.AnswerDelay, c.AgentID = opened, asa, agent
			return c
		}
		src := simulator.Chats{
			mk("answered-now", now.Add(-time.Minute), time.Minute, now.Add(time.Hour), "1001"),
			mk("not-answered-yet", now.Add(-time.Minute), time.Minute+time.Second, now.Add(time.Hour), "1001"),
			mk("closes-now", now.Add(-time.Hour), time.Second, now, "1002"),
			mk("closes-next-second", now.Add(-time.Hour), time.Second, now.Add(time.Second), "1002"),
			mk("in-queue", now.Add(-time.Hour), time.Second, now.Add(time.Hour), ""),
			mk("forgotten", now.Add(-22*time.Hour), 5*time.Second, now.Add(time.Hour), "1003"),
		}
		want := []string{"answered-now", "closes-next-second", "forgotten"}
		if got := chatIDs(src.ChatsOpenAt(now)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if got := chatIDs(openByHand(src, now)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("by hand %v, want %v", got, want)
		}
	})

	t.Run("replay", func(t *testing.T) {
		night := at(2026, 3, 10, 3, 0, 0)
		replayed := simulator.Replay(traffic, night).(simulator.OpenSource)
		now := time.Now()
		got := replayed.ChatsOpenAt(now)
		if len(got) == 0 {
			t.Fatal("nothing open in the replayed night")
		}
		ref := map[string]simulator.Chat{}
		for _, c := range traffic.ChatsClosedBetween(night, night.Add(25*time.Hour)) {
			ref[c.ConnID] = c
		}
		o, ok := ref[got[len(got)-1].ConnID]
		if !ok {
			t.Fatalf("%s is open in the replay but not in the night", got[0].ConnID)
		}
		shift := got[len(got)-1].Opened.Sub(o.Opened)
		want := traffic.ChatsOpenAt(now.Add(-shift))
		if len(got) != len(want) {
			t.Fatalf("%d chats open in the replay, %d in the source", len(got), len(want))
		}
		for i, c := range got {
			w := want[i]
			w.Opened, w.Closed = w.Opened.Add(shift), w.Closed.Add(shift)
			if c != w {
				t.Fatalf("chat %s replayed as %+v, want %+v", c.ConnID, c, w)
			}
		}
		// The night's traffic, not the wall clock's: a busy hour has more chats in conversation.
		coded := func(cs []simulator.Chat) (n int) {
			for _, c := range cs {
				if c.CodAct != "TIMEOUTCHAT" {
					n++
				}
			}
			return n
		}
		busy := simulator.Replay(traffic, at(2026, 3, 10, 11, 0, 0)).(simulator.OpenSource).ChatsOpenAt(now)
		if coded(busy) < 3*coded(got) {
			t.Errorf("%d coded chats open in a replayed busy hour, %d at night", coded(busy), coded(got))
		}
	})
}

func TestOpenChatsAnswer(t *testing.T) {
	src := simulator.NewTraffic(5, 120)
	s := newClocked(src, simulator.Options{Token: "secret", Server: "0010"})
	times := []time.Time{at(2026, 3, 10, 3, 0, 0), at(2026, 3, 10, 10, 0, 7), at(2026, 3, 10, 17, 45, 30)}
	phones, emails := 0, 0
	for _, now := range times {
		t.Run(now.Format("15:04:05"), func(t *testing.T) {
			a := do(s.at(now), rt("chats"), auth)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, truncate(a.body))
			}
			env, data, _ := decodeOpen[wireAgent](t, a.body)
			if want := fmt.Sprintf("%d records were found", len(data)); env.Msg != want || env.Error != nil {
				t.Errorf("msg %q error %v, want %q and null", env.Msg, env.Error, want)
			}
			open := map[string]simulator.Chat{}
			for _, c := range src.ChatsOpenAt(now) {
				open[c.ConnID] = c
			}
			var listed []simulator.OpenChat
			var agentIDs []string
			for _, ag := range data {
				agentIDs = append(agentIDs, ag.AgentID)
				if ag.ActiveChats == nil {
					t.Errorf("agent %s: active_chats is not a list", ag.AgentID)
				}
				for _, wc := range ag.ActiveChats {
					c, ok := open[wc.ConnID]
					if !ok {
						t.Fatalf("%s listed but not open", wc.ConnID)
					}
					delete(open, wc.ConnID)
					if c.AgentID != ag.AgentID || c.Channel != wc.Channel || c.CustomerPhone != wc.CustomerPhone || wc.ConnectorID == "" {
						t.Fatalf("%s listed as %+v under %s, want %+v", wc.ConnID, wc, ag.AgentID, c)
					}
					var want []wireMsg
					conv := c.Conversation()
					for _, m := range conv {
						if !m.At.After(now) {
							want = append(want, wireMsg{m.From, m.Text, m.At.In(gmt5).Format("2006-01-02 15:04:05")})
						}
					}
					// On the wire: from Opened on, oldest first, nothing after now.
					prev := c.Opened.In(gmt5).Format("2006-01-02 15:04:05")
					if len(wc.Conversation) < 2 || wc.Conversation[0].Date != prev {
						t.Fatalf("%s: conversation %v, opened %s", wc.ConnID, wc.Conversation, prev)
					}
					for _, m := range wc.Conversation {
						if m.Date < prev || m.Date > now.In(gmt5).Format("2006-01-02 15:04:05") {
							t.Fatalf("%s: message of %s after one of %s, answer at %v", wc.ConnID, m.Date, prev, now)
						}
						prev = m.Date
					}
					if !slices.Equal(wc.Conversation, want) {
						t.Fatalf("%s: conversation %v, want %v", wc.ConnID, wc.Conversation, want)
					}
					checkConversation(t, c, conv)
					for _, m := range wc.Conversation {
						if c.CustomerPhone != "" && strings.Contains(m.Msg, c.CustomerPhone) {
							phones++
						}
						if c.CustomerEmail != "" && strings.Contains(m.Msg, c.CustomerEmail) {
							emails++
						}
					}
					listed = append(listed, simulator.OpenChat{ConnID: c.ConnID, AgentID: c.AgentID, Channel: c.Channel, FirstMessage: c.Opened, Messages: len(want)})
				}
			}
			if len(open) != 0 {
				t.Errorf("%d open chats not listed", len(open))
			}
			if !slices.IsSorted(agentIDs) || len(slices.Compact(slices.Clone(agentIDs))) != len(agentIDs) {
				t.Errorf("agents %v: not sorted or repeated", agentIDs)
			}
			// The logged-in agents are listed, with chats or without.
			reads := s.OpenServed()
			last := reads[len(reads)-1]
			if last.API != "chats" || !last.At.Equal(now) || !slices.Equal(last.Chats, listed) {
				t.Errorf("OpenServed: %s at %v with %d chats, want %d", last.API, last.At, len(last.Chats), len(listed))
			}
			var readAgents []string
			for _, a := range last.Agents {
				readAgents = append(readAgents, a.AgentID)
			}
			if !slices.Equal(readAgents, agentIDs) {
				t.Errorf("OpenServed agents %v, answer %v", readAgents, agentIDs)
			}
			ag := do(s, rt("agents"), auth)
			_, states, _ := decodeOpen[map[string]string](t, ag.body)
			for _, st := range states {
				if !slices.Contains(agentIDs, st["agent_id"]) {
					t.Errorf("logged-in agent %s not in api=chats", st["agent_id"])
				}
			}
		})
	}
	// Personal data on the wire, on purpose.
	if phones == 0 || emails == 0 {
		t.Errorf("%d messages carry the customer's phone, %d the e-mail", phones, emails)
	}
}

// checkConversation checks the shape of a whole conversation.
func checkConversation(t *testing.T, c simulator.Chat, conv []simulator.Message) {
	t.Helper()
	if len(conv) < 2 || !conv[0].At.Equal(c.Opened) {
		t.Fatalf("%s: %d messages, the first at %v, opened %v", c.ConnID, len(conv), conv[0].At, c.Opened)
	}
	customer := c.CustomerName
	if c.Channel == "WhatsApp" && c.CustomerPhone != "" {
		customer = c.CustomerPhone
	}
	agentMsgs := 0
	for i, m := range conv {
		if i > 0 && m.At.Before(conv[i-1].At) {
			t.Fatalf("%s: message %d before the one before", c.ConnID, i)
		}
		if n := utf8.RuneCountInString(m.Text); n < 20 || n > 300 {
			t.Fatalf("%s: message of %d characters: %q", c.ConnID, n, m.Text)
		}
		switch m.From {
		case c.AgentName:
			if agentMsgs == 0 && !m.At.Equal(c.Opened.Add(c.AnswerDelay)) {
				t.Fatalf("%s: first answer at %v, want Opened+ASA", c.ConnID, m.At)
			}
			agentMsgs++
		case customer, "chat-bot":
		default:
			t.Fatalf("%s: message from %q", c.ConnID, m.From)
		}
	}
	if conv[0].From != customer || agentMsgs != c.AgentAnswers {
		t.Fatalf("%s: first from %q, %d agent messages for %d answers", c.ConnID, conv[0].From, agentMsgs, c.AgentAnswers)
	}
	if n := len(conv); n < 2*c.AgentAnswers || n > 2*c.AgentAnswers+2 {
		t.Fatalf("%s: %d messages for %d answers", c.ConnID, n, c.AgentAnswers)
	}
	end := conv[len(conv)-1].At
	switch {
	case end.After(c.Closed):
		t.Fatalf("%s: last message after the close", c.ConnID)
	case c.CodAct == "TIMEOUTCHAT" && end.After(c.Opened.Add(6*time.Hour)):
		t.Fatalf("%s: a forgotten chat talked until %v", c.ConnID, end)
	case c.CodAct != "TIMEOUTCHAT" && c.AgentAnswers > 1 && !end.Equal(c.Closed):
		t.Fatalf("%s: last message at %v, closed at %v", c.ConnID, end, c.Closed)
	}
}

// A chat open at t is the one chat_1 returns once it closes.
func TestOpenChatsCloseIntoChat1(t *testing.T) {
	src := simulator.NewTraffic(8, 120)
	now := at(2026, 3, 10, 11, 0, 0)
	s := newClocked(src, simulator.Options{}).at(now)
	_, data, _ := decodeOpen[wireAgent](t, do(s, rt("chats"), auth).body)
	_, recs, _ := decode(t, do(s, target("chat_1", now, now.Add(25*time.Hour)), auth).body)
	closed := map[string]map[string]string{}
	for _, r := range recs {
		closed[r["conn_id"]] = r
	}
	n := 0
	for _, ag := range data {
		for _, c := range ag.ActiveChats {
			n++
			r, ok := closed[c.ConnID]
			if !ok {
				t.Fatalf("%s open at %v never closes", c.ConnID, now)
			}
			if r["agent_id"] != ag.AgentID || r["channel"] != c.Channel || r["date"] != c.Conversation[0].Date || r["customer_phone"] != c.CustomerPhone {
				t.Fatalf("%s open under %s %s %s, closed as %v", c.ConnID, ag.AgentID, c.Channel, c.Conversation[0].Date, r)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d open chats", n)
	}
}

// shift is an agent's nominal hours, written here apart from the simulator's table.
type shift struct{ start, end int } // hours in Bogota; end may pass midnight

var shiftsByAgent = map[string]shift{
	"1001": {6, 14}, "1002": {6, 14}, "1003": {7, 15}, "1004": {8, 17}, "1005": {8, 17}, "1006": {8, 17},
	"1007": {9, 18}, "1008": {12, 21}, "1009": {12, 21}, "1010": {13, 22}, "1011": {20, 29}, "1012": {22, 31},
}

// inShift tells whether t, in minutes after midnight, is within [start+lo, end+hi) of s on some day.
func inShift(s shift, minute, lo, hi int) bool {
	for _, m := range []int{minute, minute + 24*60} {
		if m >= s.start*60+lo && m < s.end*60+hi {
			return true
		}
	}
	return false
}

var (
	hmsRe   = regexp.MustCompile(`^\d{2,}:\d{2}:\d{2}$`)
	occRe   = regexp.MustCompile(`^\d{1,3}\.\d{2} %$`)
	countRe = regexp.MustCompile(`^\d+$`)
)

func TestAgentsFollowShiftsAndConversations(t *testing.T) {
	src := simulator.NewTraffic(9, 40)
	s := newClocked(src, simulator.Options{})
	kinds := map[string]bool{}
	quirky := map[string]bool{}
	ends := map[string][2]time.Time{} // conversation first answer and last message, by conn_id
	fields := []string{"agent_id", "agent_name", "agent_status", "calls", "inbound", "outbound", "internal", "time_state_now",
		"ready_time", "inbound_time", "outbound_time", "acw_time", "ring_time", "login_time", "aht_time", "ocupation", "aux_time"}
	busyChecks := 0
	for now := at(2026, 3, 10, 0, 3, 11); now.Before(at(2026, 3, 12, 0, 0, 0)); now = now.Add(17 * time.Minute) {
		a := do(s.at(now), rt("agents"), auth)
		if a.status != http.StatusOK {
			t.Fatalf("%v: status %d: %s", now, a.status, a.body)
		}
		_, rows, _ := decodeOpen[map[string]string](t, a.body)
		progress := map[string]bool{}
		for _, c := range src.ChatsOpenAt(now) {
			e, ok := ends[c.ConnID]
			if !ok {
				conv := c.Conversation()
				e = [2]time.Time{c.Opened.Add(c.AnswerDelay), conv[len(conv)-1].At}
				ends[c.ConnID] = e
			}
			if !now.Before(e[0]) && !now.After(e[1]) {
				progress[c.AgentID] = true
			}
		}
		local := now.In(gmt5)
		minute := local.Hour()*60 + local.Minute()
		listed := map[string]bool{}
		for _, r := range rows {
			id := r["agent_id"]
			listed[id] = true
			sh, ok := shiftsByAgent[id]
			if !ok || !inShift(sh, minute, 0, 15) {
				t.Errorf("%s: agent %s listed outside its shift %v", local.Format("15:04"), id, sh)
			}
			if len(r) != len(fields) {
				t.Fatalf("fields %v", r)
			}
			for _, f := range fields {
				if _, ok := r[f]; !ok {
					t.Fatalf("field %s missing: %v", f, r)
				}
			}
			for _, f := range []string{"time_state_now", "ready_time", "inbound_time", "outbound_time", "acw_time", "ring_time", "aht_time", "aux_time"} {
				if !hmsRe.MatchString(r[f]) {
					t.Fatalf("%s = %q", f, r[f])
				}
			}
			for _, f := range []string{"calls", "inbound", "outbound", "internal"} {
				if !countRe.MatchString(r[f]) {
					t.Fatalf("%s = %q", f, r[f])
				}
			}
			login, err := time.ParseInLocation("2006-01-02 15:04:05", r["login_time"], gmt5)
			if err != nil || login.After(now) || now.Sub(login) > 10*time.Hour || !occRe.MatchString(r["ocupation"]) {
				t.Fatalf("login_time %q, ocupation %q at %v", r["login_time"], r["ocupation"], now)
			}
			status := r["agent_status"]
			kind := strings.ToLower(strings.TrimSpace(status))
			kinds[kind] = true
			if status != strings.ToUpper(kind[:1])+kind[1:] && status != "ACW" {
				quirky[status] = true
			}
			if (kind == "busy") != progress[id] {
				t.Errorf("%s: agent %s is %q, conversation in progress %v", local.Format("15:04"), id, status, progress[id])
			}
			busyChecks++
		}
		for id, sh := range shiftsByAgent {
			if inShift(sh, minute, 10, 0) && !listed[id] {
				t.Errorf("%s: agent %s not listed in its shift", local.Format("15:04"), id)
			}
		}
		reads := s.OpenServed()
		last := reads[len(reads)-1]
		if last.API != "agents" || !last.At.Equal(now) || len(last.Agents) != len(rows) {
			t.Fatalf("OpenServed %+v", last)
		}
		for i, st := range last.Agents {
			if st.AgentID != rows[i]["agent_id"] || st.AgentName != rows[i]["agent_name"] || st.Status != rows[i]["agent_status"] {
				t.Fatalf("OpenServed %+v, answer %v", st, rows[i])
			}
		}
	}
	for _, k := range []string{"ready", "busy", "acw", "break", "lunch", "training"} {
		if !kinds[k] {
			t.Errorf("state %q never seen; seen %v", k, kinds)
		}
	}
	if len(quirky) < 3 {
		t.Errorf("quirky spellings %v", quirky)
	}
	if busyChecks < 500 {
		t.Errorf("only %d agent states checked", busyChecks)
	}
}

// The code and single-object quirks count requests and one-element answers across the APIs.
func TestRealTimeQuirksAlternate(t *testing.T) {
	dawn := at(2026, 3, 10, 5, 30, 0) // only 1012 is logged in
	c := chat("dawn", dawn.Add(20*time.Minute))
	c.AgentID, c.AgentName, c.Opened = "1012", "Carlos Jiménez", dawn.Add(-10*time.Minute)
	s := newClocked(simulator.Chats{c}, simulator.Options{})
	one := target("chat_1", c.Closed, c.Closed)
	steps := []struct {
		url    string
		now    time.Time
		status int
		code   string // raw JSON
		single bool
	}{
		{rt("chats"), dawn, 200, `200`, true},
		{rt("agents"), dawn, 200, `"200"`, false},
		{one, dawn, 200, `200`, true},
		{rt("calls"), dawn, 400, `400`, false}, // numbered too
		{rt("agents"), dawn, 200, `200`, false},
		{rt("agents"), at(2026, 3, 10, 10, 0, 0), 200, `"200"`, false}, // many agents: not a one-element answer
		{rt("chats"), dawn, 200, `200`, true},
		{rt("chats"), dawn.Add(time.Hour), 404, `"404"`, false}, // closed by then
		{rt("agents"), dawn, 200, `200`, false},
		{one, dawn, 200, `"200"`, true},
	}
	for i, st := range steps {
		a := do(s.at(st.now), st.url, auth)
		if a.status != st.status {
			t.Fatalf("step %d: status %d, want %d: %s", i+1, a.status, st.status, a.body)
		}
		var env envelope
		if err := json.Unmarshal(a.body, &env); err != nil {
			t.Fatalf("step %d: %s", i+1, a.body)
		}
		single := bytes.HasPrefix(bytes.TrimSpace(env.Data), []byte("{"))
		if string(env.Code) != st.code || single != st.single {
			t.Errorf("step %d: code %s single %v, want %s %v", i+1, env.Code, single, st.code, st.single)
		}
	}
}

func TestRealTimeErrors(t *testing.T) {
	now := at(2026, 3, 10, 10, 0, 0)
	open := chat("open", now.Add(time.Minute))
	without := map[string]string{"wolkvox-token": "secret"}
	tests := []struct {
		name   string
		src    simulator.Source
		url    string
		hdr    map[string]string
		fault  *simulator.Fault
		status int
		text   string // "" for a body that is not a Wolkvox error
	}{
		{"open chats", simulator.Chats{open}, rt("chats"), auth, nil, 200, ""},
		{"unknown api", simulator.Chats{open}, rt("skills"), auth, nil, 400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"},
		{"missing api", simulator.Chats{open}, realTimePath, auth, nil, 400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"},
		{"chat_1 on real_time.php", simulator.Chats{open}, strings.Replace(target("chat_1", now, now), apiPath, realTimePath, 1), auth, nil, 400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"},
		{"chats on reports_manager.php", simulator.Chats{open}, apiPath + "?api=chats", auth, nil, 400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"},
		{"no token", simulator.Chats{open}, rt("agents"), map[string]string{}, nil, 401, "PLEASE ENTER THE WOLKVOX-TOKEN"},
		{"wrong server", simulator.Chats{open}, rt("chats"), map[string]string{"wolkvox-token": "secret", "wolkvox_server": "0099"}, nil, 403, "PLEASE VALIDATE TOKEN"},
		{"no server header", simulator.Chats{open}, rt("agents"), without, nil, 403, "PLEASE VALIDATE TOKEN"},
		{"nothing open", simulator.Chats{chat("closed", now)}, rt("chats"), auth, nil, 404, "Validate dates entered"},
		{"a source that knows nothing open", closedOnly{simulator.Chats{open}}, rt("chats"), auth, nil, 404, "Validate dates entered"},
		{"fault", simulator.Chats{open}, rt("chats"), map[string]string{}, &simulator.Fault{Status: 503, Body: "<html>backup</html>"}, 503, ""},
		{"unknown path", simulator.Chats{open}, "/api/v2/real_time2.php?api=chats", auth, nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newClocked(tt.src, simulator.Options{Token: "secret", Server: "0010"}).at(now)
			s.SetFault(tt.fault)
			a := do(s, tt.url, tt.hdr)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, truncate(a.body))
			}
			var env envelope
			err := json.Unmarshal(a.body, &env)
			if tt.status == 200 {
				if err != nil || len(s.OpenServed()) != 1 {
					t.Fatalf("body %s, %d reads served", truncate(a.body), len(s.OpenServed()))
				}
				return
			}
			if len(s.OpenServed()) != 0 {
				t.Errorf("an answer of %d recorded as served", tt.status)
			}
			if tt.text == "" {
				if err == nil {
					t.Errorf("answered a Wolkvox JSON body: %s", a.body)
				}
				return
			}
			if err != nil || env.Error == nil || *env.Error != tt.text || env.Msg != tt.text {
				t.Errorf("body %s, want error and msg %q", a.body, tt.text)
			}
		})
	}
}

// closedOnly is a Source that is not an OpenSource.
type closedOnly struct{ cs simulator.Chats }

func (c closedOnly) ChatsClosedBetween(from, to time.Time) []simulator.Chat {
	return c.cs.ChatsClosedBetween(from, to)
}

// blockingOpen holds requests inside ChatsOpenAt too.
type blockingOpen struct{ blocking }

func (b blockingOpen) ChatsOpenAt(t time.Time) []simulator.Chat {
	b.entered <- t.String()
	<-b.release
	return nil
}

func TestLimitsSharedAcrossAPIs(t *testing.T) {
	chat1 := target("chat_1", at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0))
	urls := []string{chat1, rt("chats"), rt("agents")}

	t.Run("quota", func(t *testing.T) {
		for first := range urls {
			s := newClocked(simulator.Chats{}, simulator.Options{DailyQuota: 3}).at(at(2026, 3, 10, 10, 0, 0))
			for i := range 3 {
				if a := do(s, urls[(first+i)%3], auth); a.status == http.StatusForbidden {
					t.Fatalf("call %d (%s) refused: %s", i+1, urls[(first+i)%3], a.body)
				}
			}
			for _, u := range urls {
				if a := do(s, u, auth); a.status != http.StatusForbidden || !bytes.Contains(a.body, []byte("TOKEN LIMIT EXCEEDED")) {
					t.Errorf("%s after 3 calls: %d %s", u, a.status, a.body)
				}
			}
		}
	})

	t.Run("simultaneous requests", func(t *testing.T) {
		tests := []struct {
			name string
			held [2]string
		}{
			{"two api=chats", [2]string{rt("chats"), rt("chats")}},
			{"chat_1 and api=agents", [2]string{chat1, rt("agents")}},
			{"api=chats and chat_1", [2]string{rt("chats"), chat1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				src := blockingOpen{blocking{entered: make(chan string, 10), release: make(chan struct{})}}
				s := newClocked(src, simulator.Options{}).at(at(2026, 3, 10, 10, 0, 0))
				var wg sync.WaitGroup
				for _, u := range tt.held {
					wg.Go(func() { do(s, u, auth) })
					<-src.entered
				}
				for _, u := range urls {
					a := do(s, u, auth)
					var env envelope
					_ = json.Unmarshal(a.body, &env)
					if a.status != http.StatusForbidden || env.Msg != "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)" {
						t.Errorf("%s with two calls held: %d %s", u, a.status, a.body)
					}
				}
				close(src.release)
				wg.Wait()
				if a := do(s, rt("agents"), auth); a.status != http.StatusOK {
					t.Errorf("after release: %d %s", a.status, a.body)
				}
			})
		}
	})
}

// The demo serves the chats open now, which chat_1 does not list until they close.
func TestDemoRealTime(t *testing.T) {
	base, stop, err := simulator.Demo(1, at(2026, 3, 10, 10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(url string) []byte {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+url, nil)
		req.Header.Set("wolkvox-token", "demo")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", url, resp.StatusCode, truncate(b.Bytes()))
		}
		return b.Bytes()
	}
	before := time.Now().Truncate(time.Second)
	_, data, _ := decodeOpen[wireAgent](t, get(rt("chats")))
	now := time.Now()
	_, recs, _ := decode(t, get(target("chat_1", now.Add(-2*time.Hour), now.Add(time.Hour))))
	closed := map[string]string{}
	for _, r := range recs {
		closed[r["conn_id"]] = r["date_close"]
	}
	n, later := 0, 0
	for _, ag := range data {
		for _, c := range ag.ActiveChats {
			n++
			d, ok := closed[c.ConnID]
			if !ok {
				continue
			}
			// Listed by chat_1 only if it closed after it was seen open.
			later++
			if at, err := time.ParseInLocation("2006-01-02 15:04:05", d, gmt5); err != nil || at.Before(before) {
				t.Errorf("%s is open, yet closed at %s, before %v", c.ConnID, d, before)
			}
		}
	}
	if later > n/10 {
		t.Errorf("%d of %d open chats closed between two calls", later, n)
	}
	if n < 1000 {
		t.Errorf("only %d chats open in the demo", n)
	}
	// The agents of the replayed 10:00, whatever the wall clock says.
	_, agents, _ := decodeOpen[map[string]string](t, get(rt("agents")))
	var ids []string
	for _, a := range agents {
		ids = append(ids, a["agent_id"])
	}
	if want := []string{"1001", "1002", "1003", "1004", "1005", "1006", "1007"}; !slices.Equal(ids, want) {
		t.Errorf("agents %v logged in at a replayed 10:00, want %v", ids, want)
	}
}

func BenchmarkChatsOpenAt(b *testing.B) {
	src := simulator.NewTraffic(1, 600) // the demo's traffic
	for _, h := range []int{3, 10} {
		now := at(2026, 3, 10, h, 0, 0)
		b.Run(fmt.Sprintf("%02d:00", h), func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(src.ChatsOpenAt(now))
			}
			b.ReportMetric(float64(n), "open")
		})
	}
}

func BenchmarkOpenChatsAnswer(b *testing.B) {
	src := simulator.NewTraffic(1, 600)
	s := newClocked(src, simulator.Options{}).at(at(2026, 3, 10, 10, 0, 0))
	var size int64
	for b.Loop() {
		w := &discardWriter{header: http.Header{}}
		r, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, rt("chats"), nil)
		r.Header.Set("wolkvox-token", "t")
		s.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatal(w.status)
		}
		size = w.n
	}
	b.ReportMetric(float64(size), "bytes/answer")
}

// discardWriter is a ResponseWriter that keeps only the status and the size.
type discardWriter struct {
	header http.Header
	status int
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
