package simulator

import (
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// OpenChatsOptions shape an answer made by NewOpenChatsReader.
type OpenChatsOptions struct {
	Chats    int   // open chats in the answer
	Messages int   // messages in each chat's conversation
	Agents   int   // agents the chats are spread over, one element of data each; 0 means 12
	Seed     int64 // the same options give the same bytes
	// BigMessage, when over 0, makes one message exactly this many bytes of text
	// (as sent: nothing in it needs escaping): the middle message of the middle
	// chat. It is made as it is read, like the rest of the answer.
	BigMessage int
	// At is the moment the answer describes: every message was sent by then.
	// Zero means 2026-11-23 15:00 in Bogota.
	At time.Time
}

// NewOpenChatsReader returns a complete 200 api=chats answer of o.Chats open
// chats of o.Messages messages each, spread evenly over o.Agents agents, for
// benchmarks and memory tests of the real-time path. Chats carry customer data
// and conversations as the Server's do (Spanish text of 20 to 300 characters,
// at times with the customer's phone or e-mail). code is the number 200 for odd
// seeds and the string "200" for even ones.
//
// The answer is generated as it is read, so its memory does not grow with
// o.Chats, o.Messages or o.BigMessage.
func NewOpenChatsReader(o OpenChatsOptions) io.Reader {
	if o.Agents <= 0 {
		o.Agents = len(agents)
	}
	if o.At.IsZero() {
		o.At = answerBase.Add(15 * time.Hour)
	}
	s := splitmix64(uint64(o.Seed)) //nolint:gosec // G115: any seed bits will do
	return &openReader{
		o:      o,
		r:      rand.New(rand.NewPCG(s, splitmix64(s))), //nolint:gosec // G404: reproducible fake data, not secrets
		prefix: 10000000 + int64(s%90000000),
		loc:    bogota(),
		big:    -1,
	}
}

// WriteOpenChats writes the answer of NewOpenChatsReader(o) to w.
func WriteOpenChats(w io.Writer, o OpenChatsOptions) (int64, error) {
	return io.Copy(w, NewOpenChatsReader(o))
}

type openReader struct {
	o      OpenChatsOptions
	r      *rand.Rand
	prefix int64 // conn_ids are prefix followed by the chat number
	loc    *time.Location

	started, done bool
	agent         int  // the agent being written, or the next one
	inAgent       bool // its element is open
	chat, end     int  // the next chat and the end of the agent's chats
	c             Chat
	v             *convo // the chat being written; nil between chats
	msg           int    // its next message
	big           int    // bytes of the big message left to write; -1 outside it
	bigAt         time.Time

	pieces
	text []byte
}

func (a *openReader) Read(p []byte) (int, error) { return a.read(p, a.fill) }

// fill makes the next piece of the answer: the header, the start or end of an
// agent or a chat, a message, a piece of the big message, or the end.
func (a *openReader) fill() bool {
	a.buf, a.pos = a.buf[:0], 0
	o := &a.o
	switch {
	case a.done:
		return false
	case !a.started:
		a.started = true
		code := `"200"`
		if o.Seed%2 != 0 {
			code = "200"
		}
		a.buf = append(a.buf, `{"code":`...)
		a.buf = append(a.buf, code...)
		a.buf = append(a.buf, `,"error":null,"msg":"`...)
		a.buf = strconv.AppendInt(a.buf, int64(o.Agents), 10)
		a.buf = append(a.buf, ` records were found","data":[`...)
	case a.big > 0:
		a.bigPiece()
	case a.v != nil && a.msg < o.Messages:
		a.message()
	case a.v != nil:
		a.buf = append(a.buf, "]}"...)
		a.v = nil
		a.chat++
	case !a.inAgent && a.agent == o.Agents:
		a.done = true
		a.buf = append(a.buf, "]}"...)
	case !a.inAgent:
		if a.agent > 0 {
			a.buf = append(a.buf, ',')
		}
		a.inAgent = true
		a.end = (a.agent + 1) * o.Chats / o.Agents
		a.buf = append(a.buf, `{"agent_id":`...)
		a.buf = appendString(a.buf, openAgentID(a.agent))
		a.buf = append(a.buf, `,"active_chats":[`...)
	case a.chat < a.end:
		a.startChat()
	default:
		a.buf = append(a.buf, "]}"...)
		a.inAgent = false
		a.agent++
	}
	return true
}

func openAgentID(i int) string { return strconv.Itoa(1001 + i) }

func openAgentName(i int) string {
	name := agents[i%len(agents)].name
	if i >= len(agents) {
		name += " " + strconv.Itoa(i/len(agents)+1)
	}
	return name
}

func (a *openReader) startChat() {
	o := &a.o
	if a.chat > a.agent*o.Chats/o.Agents {
		a.buf = append(a.buf, ',')
	}
	start := o.At.Add(-time.Duration(1+a.r.IntN(600)) * time.Minute).Truncate(time.Minute)
	a.c = newChat(a.r, strconv.FormatInt(a.prefix*1000000+int64(a.chat), 10), start)
	c := &a.c
	c.AgentID, c.AgentName = openAgentID(a.agent), openAgentName(a.agent)
	// Opened is at least a minute before At: the agent answered within it.
	first := c.Opened.Add(min(c.AnswerDelay, o.At.Sub(c.Opened)/2).Truncate(time.Second))
	a.v = newConvo(c, a.r.Uint64(), o.Messages, false, 0, first, o.At)
	a.msg = 0
	a.buf = appendString(append(a.buf, `{"conn_id":`...), c.ConnID)
	a.buf = appendString(append(a.buf, `,"channel":`...), c.Channel)
	a.buf = appendString(append(a.buf, `,"connector_id":`...), connectorID(c))
	a.buf = appendString(append(a.buf, `,"customer_phone":`...), c.CustomerPhone)
	a.buf = append(a.buf, `,"conversation":[`...)
}

func (a *openReader) message() {
	o := &a.o
	if a.msg > 0 {
		a.buf = append(a.buf, ',')
	}
	role, at, _ := a.v.next(farFuture)
	bigOne := o.BigMessage > 0 && a.chat == o.Chats/2 && a.msg == o.Messages/2
	a.msg++
	a.buf = appendString(append(a.buf, `{"from":`...), a.v.from(role))
	if bigOne {
		a.buf = append(a.buf, `,"msg":"`...)
		a.big = o.BigMessage
		a.bigAt = at // its date follows its text
		return
	}
	a.text = a.v.text(a.text[:0], role)
	a.buf = appendString(append(a.buf, `,"msg":`...), a.text)
	a.buf = at.In(a.loc).AppendFormat(append(a.buf, `,"date":"`...), dateLayout)
	a.buf = append(a.buf, '"', '}')
}

// bigWords need no escaping, so the big message's length on the wire is its length.
var bigWords = []string{
	"el", "cliente", "envía", "el", "contrato", "completo", "con", "todas", "sus", "cláusulas",
	"anexos", "y", "el", "historial", "de", "pagos", "copiado", "en", "el", "chat", "página", "por", "página",
}

// bigPiece writes up to 16 KB of the big message, and closes it at its end.
func (a *openReader) bigPiece() {
	piece := min(a.big, 16<<10)
	a.big -= piece
	for piece > 0 {
		w := bigWords[a.r.IntN(len(bigWords))]
		if len(w)+1 > piece {
			for ; piece > 0; piece-- {
				a.buf = append(a.buf, '.')
			}
			break
		}
		a.buf = append(append(a.buf, w...), ' ')
		piece -= len(w) + 1
	}
	if a.big == 0 {
		a.big = -1
		a.buf = a.bigAt.In(a.loc).AppendFormat(append(a.buf, `","date":"`...), dateLayout)
		a.buf = append(a.buf, '"', '}')
	}
}
