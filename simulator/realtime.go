package simulator

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpenSource is a Source that knows which chats are open at a time, for the
// real-time APIs. A Source that is not one has no chat open.
type OpenSource interface {
	Source
	// ChatsOpenAt returns the chats with an agent that the agent has answered by
	// t (Opened + AnswerDelay <= t) and that have not closed (t < Closed).
	ChatsOpenAt(t time.Time) []Chat
}

// ChatsOpenAt returns, in slice order, the chats open at t.
func (cs Chats) ChatsOpenAt(t time.Time) []Chat {
	var out []Chat
	for i := range cs {
		if openAt(&cs[i], t) {
			out = append(out, cs[i])
		}
	}
	return out
}

func openAt(c *Chat, t time.Time) bool {
	return c.AgentID != "" && !c.Opened.Add(c.AnswerDelay).After(t) && t.Before(c.Closed)
}

// ChatsOpenAt serves open chats as they are: open now means not closed yet, which
// untilNow hides only from chat_1.
func (u untilNow) ChatsOpenAt(t time.Time) []Chat {
	if o, ok := u.src.(OpenSource); ok {
		return o.ChatsOpenAt(t)
	}
	return nil
}

// replayed is a Source whose clock runs behind the server's, by replayShift (see Replay).
type replayed interface{ replayShift() time.Duration }

func replayShift(src Source) time.Duration {
	if r, ok := src.(replayed); ok {
		return r.replayShift()
	}
	return 0
}

func (u untilNow) replayShift() time.Duration { return replayShift(u.src) }

// OpenRead is what one 200 answer of a real-time API described.
type OpenRead struct {
	API string    // "chats" or "agents"
	At  time.Time // the moment described: Options.Now at the request
	// Chats are the open chats of an api=chats answer, in answer order.
	Chats []OpenChat
	// Agents are the agents of an api=agents answer; for api=chats, the agent of
	// each element of data, with only AgentID set.
	Agents []AgentState
}

// OpenChat is one chat of an api=chats answer.
type OpenChat struct {
	ConnID, AgentID, Channel string
	FirstMessage             time.Time // the date of its first message: the chat's Opened
	Messages                 int       // messages listed: those sent by the answer's time
}

// AgentState is one agent of an api=agents answer.
type AgentState struct {
	AgentID, AgentName string
	Status             string // as sent, with the API's spellings (" BUSY", "Ready ", ...)
}

// OpenServed returns what every 200 answer of the real-time APIs described, in
// the order the answers ended; like Served, recorded just before an answer's
// last byte is written.
func (s *Server) OpenServed() []OpenRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.openServed)
	for i := range out {
		out[i].Chats = slices.Clone(out[i].Chats)
		out[i].Agents = slices.Clone(out[i].Agents)
	}
	return out
}

const realTimePath = "/api/v2/real_time.php"

// serveRealTime answers an admitted request to real_time.php.
func (s *Server) serveRealTime(w http.ResponseWriter, n int, api string) {
	switch api {
	case "chats":
		s.serveOpenChats(w, n)
	case "agents":
		s.serveAgents(w, n)
	default:
		writeError(w, http.StatusBadRequest, errNoAPI)
	}
}

func (s *Server) openAt(t time.Time) []Chat {
	if o, ok := s.src.(OpenSource); ok {
		return o.ChatsOpenAt(t)
	}
	return nil
}

// single tells whether a one-element answer sends data as an object: every other such answer, of any API.
func (s *Server) single() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.singles++
	return s.singles%2 == 1
}

func wireCode(n int) string {
	if n%2 == 0 {
		return `"200"`
	}
	return `200`
}

// serveOpenChats lists the open chats by agent, and the logged-in agents with
// none; with no chat open the answer is the "empty" 404.
func (s *Server) serveOpenChats(w http.ResponseWriter, n int) {
	now := s.opts.Now()
	found := s.openAt(now)
	if len(found) == 0 {
		writeEmpty(w)
		return
	}
	chats := make([]*Chat, len(found))
	for i := range found {
		chats[i] = &found[i]
	}
	slices.SortFunc(chats, func(a, b *Chat) int {
		if c := strings.Compare(a.AgentID, b.AgentID); c != 0 {
			return c
		}
		if c := a.Opened.Compare(b.Opened); c != 0 {
			return c
		}
		return strings.Compare(a.ConnID, b.ConnID)
	})
	var ids []string
	for _, c := range chats {
		if len(ids) == 0 || ids[len(ids)-1] != c.AgentID {
			ids = append(ids, c.AgentID)
		}
	}
	for _, r := range agentRows(now, replayShift(s.src), nil, nil) {
		ids = append(ids, agents[r.idx].id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	single := len(ids) == 1 && s.single()
	read := OpenRead{API: "chats", At: now, Chats: make([]OpenChat, 0, len(chats)), Agents: make([]AgentState, 0, len(ids))}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, `{"code":%s,"error":null,"msg":"%d records were found","data":`, wireCode(n), len(ids))
	if !single {
		bw.WriteByte('[')
	}
	buf := make([]byte, 0, 2048)
	var text []byte
	for k, id := range ids {
		if k > 0 {
			bw.WriteByte(',')
		}
		read.Agents = append(read.Agents, AgentState{AgentID: id})
		buf = append(appendString(append(buf[:0], `{"agent_id":`...), id), `,"active_chats":[`...)
		first := true
		for len(chats) > 0 && chats[0].AgentID == id {
			c := chats[0]
			chats = chats[1:]
			if !first {
				buf = append(buf, ',')
			}
			first = false
			var listed int
			buf, text, listed = s.appendOpenChat(bw, buf, text, c, now)
			read.Chats = append(read.Chats, OpenChat{ConnID: c.ConnID, AgentID: c.AgentID, Channel: c.Channel, FirstMessage: c.Opened, Messages: listed})
		}
		bw.Write(append(buf, "]}"...))
		buf = buf[:0]
	}
	if !single {
		bw.WriteByte(']')
	}
	s.finishOpen(w, bw, read)
}

// appendOpenChat writes the chat to bw message by message, through buf, and
// returns buf with what is left to write, text to reuse, and the number of
// messages listed.
func (s *Server) appendOpenChat(bw *bufio.Writer, buf, text []byte, c *Chat, t time.Time) ([]byte, []byte, int) {
	buf = appendString(append(buf, `{"conn_id":`...), c.ConnID)
	buf = appendString(append(buf, `,"channel":`...), c.Channel)
	buf = appendString(append(buf, `,"connector_id":`...), connectorID(c))
	buf = appendString(append(buf, `,"customer_phone":`...), c.CustomerPhone)
	buf = append(buf, `,"conversation":[`...)
	v := newChatConvo(c)
	listed := 0
	for {
		role, at, ok := v.next(t)
		if !ok {
			break
		}
		if listed > 0 {
			buf = append(buf, ',')
		}
		listed++
		text = v.text(text[:0], role)
		buf = appendString(append(buf, `{"from":`...), v.from(role))
		buf = appendString(append(buf, `,"msg":`...), text)
		buf = at.In(s.opts.Location).AppendFormat(append(buf, `,"date":"`...), dateLayout)
		buf = append(buf, '"', '}')
		if len(buf) > 32<<10 {
			bw.Write(buf)
			buf = buf[:0]
		}
	}
	return append(buf, "]}"...), text, listed
}

// connectorID is the id of the connector that brought the chat in: one per
// channel and skill. The vendor does not show its form; digits are a guess.
func connectorID(c *Chat) string {
	return strconv.FormatUint(uint64(10000+connHash(c.Channel+"/"+c.SkillID)%90000), 10)
}

// serveAgents lists the logged-in agents and their state now.
func (s *Server) serveAgents(w http.ResponseWriter, n int) {
	now := s.opts.Now()
	// Chats closed in the last hours tell when a conversation ended, so when the next state began.
	rows := agentRows(now, replayShift(s.src), s.openAt(now), s.src.ChatsClosedBetween(now.Add(-2*time.Hour), now))
	if len(rows) == 0 {
		writeEmpty(w)
		return
	}
	single := len(rows) == 1 && s.single()
	read := OpenRead{API: "agents", At: now, Agents: make([]AgentState, 0, len(rows))}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 16<<10)
	fmt.Fprintf(bw, `{"code":%s,"error":null,"msg":"%d records were found","data":`, wireCode(n), len(rows))
	if !single {
		bw.WriteByte('[')
	}
	var buf []byte
	for i := range rows {
		if i > 0 {
			bw.WriteByte(',')
		}
		buf = appendAgent(buf[:0], &rows[i], now, s.opts.Location)
		bw.Write(buf)
		a := agents[rows[i].idx]
		read.Agents = append(read.Agents, AgentState{AgentID: a.id, AgentName: a.name, Status: rows[i].status})
	}
	if !single {
		bw.WriteByte(']')
	}
	s.finishOpen(w, bw, read)
}

// finishOpen records read and writes the answer's last byte, as stream does for chat_1.
func (s *Server) finishOpen(w http.ResponseWriter, bw *bufio.Writer, read OpenRead) {
	if bw.Flush() != nil {
		return
	}
	s.mu.Lock()
	s.openServed = append(s.openServed, read)
	s.mu.Unlock()
	_, _ = w.Write([]byte{'}'})
}
