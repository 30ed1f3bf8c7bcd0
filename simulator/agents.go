package simulator

import (
	"fmt"
	"strconv"
	"time"
)

// shiftHours is an agent's working hours in Bogota, every day.
type shiftHours struct{ start, length time.Duration }

// shifts are by index into agents: mornings, office hours, evenings, and two
// agents through the night so that it is not empty. From 05:00 to 06:00 only
// 1012 works, so an answer of one agent occurs every day.
var shifts = [...]shiftHours{
	{6 * time.Hour, 8 * time.Hour},  // 1001
	{6 * time.Hour, 8 * time.Hour},  // 1002
	{7 * time.Hour, 8 * time.Hour},  // 1003
	{8 * time.Hour, 9 * time.Hour},  // 1004
	{8 * time.Hour, 9 * time.Hour},  // 1005
	{8 * time.Hour, 9 * time.Hour},  // 1006
	{9 * time.Hour, 9 * time.Hour},  // 1007
	{12 * time.Hour, 9 * time.Hour}, // 1008
	{12 * time.Hour, 9 * time.Hour}, // 1009
	{13 * time.Hour, 9 * time.Hour}, // 1010
	{20 * time.Hour, 9 * time.Hour}, // 1011
	{22 * time.Hour, 9 * time.Hour}, // 1012
}

// Agents log in up to this late and log out up to this late, by day.
const (
	loginSlack  = 10 * time.Minute
	logoutSlack = 15 * time.Minute
	stateSlot   = 15 * time.Minute
)

// session returns when agent i logged in and will log out, if it is logged in at t.
func session(i int, t time.Time) (in, out time.Time, ok bool) {
	loc := bogota()
	lt := t.In(loc)
	for back := range 2 { // a night shift started yesterday
		day := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
		h := splitmix64(uint64(day.Unix())*31 + uint64(i)) //nolint:gosec // G115: the bits are hashed
		in = day.Add(shifts[i].start + time.Duration(h%uint64(loginSlack/time.Second))*time.Second)
		out = day.Add(shifts[i].start + shifts[i].length + time.Duration(h>>20%uint64(logoutSlack/time.Second))*time.Second)
		if !t.Before(in) && t.Before(out) {
			return in, out, true
		}
	}
	return time.Time{}, time.Time{}, false
}

type stateKind int

const (
	stateReady stateKind = iota
	stateACW
	stateBreak
	stateLunch
	stateTraining
	stateBusy
)

// spellings are the ways the API writes each state; the first is the usual one.
var spellings = [...][]weighted[string]{
	stateReady:    {{"Ready", 70}, {"Ready ", 10}, {"ready", 10}, {"READY", 10}},
	stateACW:      {{"ACW", 70}, {"acw", 15}, {"ACW ", 15}},
	stateBreak:    {{"Break", 70}, {"break", 15}, {" Break", 15}},
	stateLunch:    {{"Lunch", 80}, {"lunch", 20}},
	stateTraining: {{"Training", 70}, {"training ", 15}, {"TRAINING", 15}},
	stateBusy:     {{"Busy", 60}, {" BUSY", 15}, {"busy", 15}, {"BUSY ", 10}},
}

func slotHash(agent int, slot int64) uint64 {
	return splitmix64(uint64(slot)*0x9e3779b97f4a7c15 ^ uint64(agent+1)) //nolint:gosec // G115: the bits are hashed
}

// idleState is what a logged-in agent with no conversation in progress does in a 15-minute slot: mostly Ready.
func idleState(agent int, slot int64) stateKind {
	x := slotHash(agent, slot) % 100
	hour := time.Unix(slot*int64(stateSlot/time.Second), 0).In(bogota()).Hour()
	switch {
	case x < 12:
		return stateACW
	case x < 20:
		return stateBreak
	case x < 26:
		return stateTraining
	case x < 36 && hour >= 11 && hour < 15:
		return stateLunch
	}
	return stateReady
}

// spell picks how the API writes a state, by agent and slot.
func spell(k stateKind, agent int, slot int64) string {
	ws := spellings[k]
	var total float64
	for _, w := range ws {
		total += w.w
	}
	x := float64(splitmix64(slotHash(agent, slot))%1000) / 1000 * total
	for _, w := range ws {
		if x -= w.w; x < 0 {
			return w.v
		}
	}
	return ws[0].v
}

// agentRow is one agent of an api=agents answer.
type agentRow struct {
	idx    int
	status string
	login  time.Time
	since  time.Time // when the current state began
	day    uint64    // the login's day by the source's clock: seeds the day's totals
}

// agentRows returns the logged-in agents at t in roster order. open are the
// chats open at t and recent those closed shortly before: a conversation in
// progress makes its agent busy, and one that ended starts its next state.
// by is how far the source's clock runs behind t (see Replay): shifts and
// states follow the source's clock, as its traffic does.
func agentRows(t time.Time, by time.Duration, open, recent []Chat) []agentRow {
	byAgent := map[string]int{}
	for i, a := range agents {
		byAgent[a.id] = i
	}
	busySince := make([]time.Time, len(agents))
	lastEnd := make([]time.Time, len(agents))
	note := func(c *Chat, isOpen bool) {
		i, ok := byAgent[c.AgentID]
		if !ok {
			return
		}
		_, _, _, _, first, end := chatPlan(c)
		switch {
		case t.Before(first):
		case !t.After(end) && isOpen: // a chat closed at t is over
			if busySince[i].IsZero() || first.Before(busySince[i]) {
				busySince[i] = first
			}
		case !end.After(t) && end.After(lastEnd[i]):
			lastEnd[i] = end
		}
	}
	for i := range open {
		note(&open[i], true)
	}
	for i := range recent {
		note(&recent[i], false)
	}
	slotLen := int64(stateSlot / time.Second)
	st := t.Add(-by)
	slot := floorDiv(st.Unix(), slotLen)
	var rows []agentRow
	for i := range agents {
		in, _, ok := session(i, st)
		if !ok {
			continue
		}
		d := in.In(bogota())
		row := agentRow{idx: i, login: in.Add(by), day: uint64(d.Year()*1000 + d.YearDay())} //nolint:gosec // G115: the bits are hashed
		in = row.login
		if !busySince[i].IsZero() {
			row.status = spell(stateBusy, i, slot)
			row.since = later(in, busySince[i])
		} else {
			k := idleState(i, slot)
			row.status = spell(k, i, slot)
			first := slot // the first slot of this run of k
			for first*slotLen > in.Add(-by).Unix() && idleState(i, first-1) == k {
				first--
			}
			row.since = later(later(in, time.Unix(first*slotLen, 0).Add(by)), lastEnd[i])
		}
		rows = append(rows, row)
	}
	return rows
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// appendAgent appends r as an api=agents record: every value a string, totals
// made up from the time logged in so that they grow through the day.
func appendAgent(b []byte, r *agentRow, t time.Time, loc *time.Location) []byte {
	a := agents[r.idx]
	logged := t.Sub(r.login)
	h := splitmix64(r.day ^ uint64(r.idx)<<40) //nolint:gosec // G115: an index is positive
	frac := func(lo, hi float64) float64 {
		h = splitmix64(h)
		return lo + (hi-lo)*float64(h%1000)/1000
	}
	part := func(f float64) time.Duration { return time.Duration(float64(logged) * f).Truncate(time.Second) }
	ready, inbound, outbound, acw, ring := part(frac(0.30, 0.50)), part(frac(0.20, 0.35)), part(frac(0, 0.04)), part(frac(0.04, 0.10)), part(frac(0.005, 0.02))
	aux := max(0, logged.Truncate(time.Second)-ready-inbound-outbound-acw-ring)
	hours := logged.Hours()
	nIn, nOut, nInt := int(hours*frac(2, 6)), int(hours*frac(0, 0.8)), int(hours*frac(0, 0.3))
	calls := nIn + nOut + nInt
	handle := inbound + outbound + acw
	aht := time.Duration(0)
	if calls > 0 {
		aht = (handle / time.Duration(calls)).Truncate(time.Second)
	}
	occ := 0.0
	if handle+ready+ring > 0 {
		occ = 100 * float64(handle+ring) / float64(handle+ready+ring)
	}
	field := func(k, v string) {
		if len(b) > 0 {
			b = append(b, ',')
		} else {
			b = append(b, '{')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
	}
	field("agent_id", a.id)
	field("agent_name", a.name)
	field("agent_status", r.status)
	field("calls", strconv.Itoa(calls))
	field("inbound", strconv.Itoa(nIn))
	field("outbound", strconv.Itoa(nOut))
	field("internal", strconv.Itoa(nInt))
	field("time_state_now", hms(t.Sub(r.since)))
	field("ready_time", hms(ready))
	field("inbound_time", hms(inbound))
	field("outbound_time", hms(outbound))
	field("acw_time", hms(acw))
	field("ring_time", hms(ring))
	field("login_time", r.login.In(loc).Format(dateLayout))
	field("aht_time", hms(aht))
	field("ocupation", fmt.Sprintf("%.2f %%", occ))
	field("aux_time", hms(aux))
	return append(b, '}')
}

func hms(d time.Duration) string {
	sec := wholeSeconds(d)
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}
