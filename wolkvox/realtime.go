package wolkvox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// OpenChat is a chat open now, as api=chats lists it under an agent. It has no
// field for the customer's phone, nor for a message's sender or text: those are
// skipped in the decoder's buffer and never decoded.
type OpenChat struct {
	AgentID string // the agent it is listed under, surrounding whitespace removed
	Channel string // as Record.Channel: "whatsapp", "web", "facebook", "instagram"
	// FirstMessage is the earliest date among its messages, read as ParseDate reads
	// chat_1's date, in the client's zone; zero when none is dated.
	FirstMessage time.Time
}

// AgentState is an agent as api=agents lists it.
type AgentState struct {
	ID, Name string // surrounding whitespace removed
	// Status is agent_status in lower case, words one space apart: "Ready " ->
	// "ready", "Break  - Lunch" -> "break - lunch"; "" when missing.
	Status string
}

// RealtimeAnswer describes a successful real-time call.
type RealtimeAnswer struct {
	// Result is ResultSuccess, or ResultEmpty: nothing open (an empty data, data
	// null or missing, or the API's 404 "empty" answer).
	Result Result
	Status int
	// Skipped counts what was left out, by reason (SkipNotAnObject, ...); nil when
	// nothing was.
	Skipped map[string]int
}

// The reasons of RealtimeAnswer.Skipped.
const (
	// SkipNotAnObject: an element of data, of active_chats or of conversation that
	// is not an object (a string, a number, a list, a boolean). Its neighbours count.
	SkipNotAnObject = "not_an_object"
	// SkipNoConversation: a chat whose conversation is missing, null, an empty list
	// (or one of nulls), or a string, number or boolean. It still counts as open,
	// with no first message.
	SkipNoConversation = "no_conversation"
	// SkipDateInvalid: a message whose date does not parse; it gives no first
	// message. A missing or empty date is not counted.
	SkipDateInvalid = "date_invalid"
)

// SkipReasons lists every reason an answer of the real-time API a may skip something
// for, so counters can start at zero: only api=chats has conversations.
func (a API) SkipReasons() []string {
	if a == APIChats {
		return []string{SkipNotAnObject, SkipNoConversation, SkipDateInvalid}
	}
	return []string{SkipNotAnObject}
}

func (a *RealtimeAnswer) skip(reason string, n int) {
	if n == 0 {
		return
	}
	if a.Skipped == nil {
		a.Skipped = map[string]int{}
	}
	a.Skipped[reason] += n
}

// OpenChats is an api=chats answer.
type OpenChats struct {
	RealtimeAnswer
	// Agents is every agent_id listed, in order, agents with no open chat included;
	// an element of data without one lists none, though its chats count.
	Agents []string
	Chats  []OpenChat
}

// Agents is an api=agents answer.
type Agents struct {
	RealtimeAnswer
	Agents []AgentState
}

// OpenChats asks for the chats open now (api=chats). The answer carries every
// message of every open chat; it is read as a stream, keeping only each chat's
// agent, channel and earliest message date.
func (c *Client) OpenChats(ctx context.Context) (OpenChats, error) {
	var out OpenChats
	result, status, err := c.call(ctx, c.realtimeURL(APIChats), func(body io.Reader) (envelope, error) {
		var env envelope
		var err error
		out, env, err = decodeOpenChats(body, c.loc)
		return env, err
	})
	if err != nil {
		return OpenChats{}, err
	}
	if result == ResultEmpty {
		return OpenChats{RealtimeAnswer: RealtimeAnswer{Result: ResultEmpty, Status: status}}, nil
	}
	out.Result, out.Status = ResultSuccess, status
	if len(out.Agents) == 0 && len(out.Chats) == 0 {
		out.Result = ResultEmpty
	}
	return out, nil
}

// Agents asks for each agent's state now (api=agents).
func (c *Client) Agents(ctx context.Context) (Agents, error) {
	var out Agents
	result, status, err := c.call(ctx, c.realtimeURL(APIAgents), func(body io.Reader) (envelope, error) {
		var env envelope
		var err error
		out, env, err = decodeAgents(body)
		return env, err
	})
	if err != nil {
		return Agents{}, err
	}
	if result == ResultEmpty {
		return Agents{RealtimeAnswer: RealtimeAnswer{Result: ResultEmpty, Status: status}}, nil
	}
	out.Result, out.Status = ResultSuccess, status
	if len(out.Agents) == 0 {
		out.Result = ResultEmpty
	}
	return out, nil
}

func (c *Client) realtimeURL(api API) *url.URL {
	u := *c.realtime
	u.RawQuery = url.Values{"api": {string(api)}}.Encode()
	return &u
}

// message is a conversation's message as the exporter reads it: its date only, so
// that from and msg are skipped in the decoder's buffer, never made into strings.
type message struct {
	Date text `json:"date"`
}

// chatsDecoder reads an api=chats answer.
type chatsDecoder struct {
	loc   *time.Location
	out   OpenChats
	forms forms
	// msg and msgp are reused for every message: decoding into them allocates
	// nothing, and msgp turns nil for a null message.
	msg  message
	msgp *message
}

// openChat is an OpenChat being read.
type openChat struct {
	OpenChat
	dated  bool // FirstMessage is set
	listed bool // the conversation listed a message
}

func decodeOpenChats(r io.Reader, loc *time.Location) (OpenChats, envelope, error) {
	d := chatsDecoder{loc: loc}
	dec := json.NewDecoder(r)
	env, notObjects, err := walkAnswer(dec, objects{what: "data element", object: func() error { return d.agent(dec) }})
	d.out.skip(SkipNotAnObject, notObjects)
	return d.out, env, err
}

// agent reads an element of data: an agent and its open chats.
func (d *chatsDecoder) agent(dec *json.Decoder) error {
	first := len(d.out.Chats)
	var id text
	err := walkObject(dec, func(key string) error {
		switch {
		case strings.EqualFold(key, "agent_id"):
			return decode(dec, &id)
		case strings.EqualFold(key, "active_chats"):
			s, err := walkElements(dec, objects{what: "active_chats element", object: func() error { return d.chat(dec) }})
			if s.scalar != "" {
				s.notObjects++ // one element, not a list of them
			}
			d.out.skip(SkipNotAnObject, s.notObjects)
			return err
		}
		return skipValue(dec)
	})
	if err != nil {
		return err
	}
	// agent_id may come after the chats.
	agentID := strings.TrimSpace(string(id))
	for i := first; i < len(d.out.Chats); i++ {
		d.out.Chats[i].AgentID = agentID
	}
	if agentID != "" {
		d.out.Agents = append(d.out.Agents, agentID)
	}
	return nil
}

// chat reads an element of active_chats.
func (d *chatsDecoder) chat(dec *json.Decoder) error {
	var c openChat
	err := walkObject(dec, func(key string) error {
		switch {
		case strings.EqualFold(key, "channel"):
			var t text
			if err := decode(dec, &t); err != nil {
				return err
			}
			c.Channel = d.forms.form(&d.forms.channels, string(t), channelForm)
			return nil
		case strings.EqualFold(key, "conversation"):
			return d.conversation(dec, &c)
		}
		return skipValue(dec)
	})
	if err != nil {
		return err
	}
	if !c.listed {
		d.out.skip(SkipNoConversation, 1)
	}
	d.out.Chats = append(d.out.Chats, c.OpenChat)
	return nil
}

// conversation reads a chat's messages one at a time, keeping the earliest date.
func (d *chatsDecoder) conversation(dec *json.Decoder, c *openChat) error {
	tok, err := token(dec)
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		// A single message sent as an object instead of a list.
		c.listed = true
		var date text
		err := walkObject(dec, func(key string) error {
			if strings.EqualFold(key, "date") {
				return decode(dec, &date)
			}
			return skipValue(dec)
		})
		d.dated(c, date)
		return err
	default:
		// null, or a value that is no list of messages.
		return nil
	}
	for i := 1; dec.More(); i++ {
		d.msg, d.msgp = message{}, &d.msg
		err := decode(dec, &d.msgp)
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			// Valid JSON that is not a message; the other messages still count.
			c.listed = true
			d.out.skip(SkipNotAnObject, 1)
			continue
		}
		if err != nil {
			return fmt.Errorf("conversation element %d: %w", i, err)
		}
		if d.msgp == nil {
			continue // a null message carries nothing
		}
		c.listed = true
		d.dated(c, d.msg.Date)
	}
	return closing(dec, ']')
}

// dated takes a message's date into its chat's first message.
func (d *chatsDecoder) dated(c *openChat, date text) {
	t, err := ParseDate(string(date), d.loc)
	switch {
	case errors.Is(err, ErrEmpty):
		// No date: no age, and nothing wrong.
	case err != nil:
		d.out.skip(SkipDateInvalid, 1)
	case !c.dated || t.Before(c.FirstMessage):
		c.FirstMessage, c.dated = t, true
	}
}

func decodeAgents(r io.Reader) (Agents, envelope, error) {
	var out Agents
	var fm forms
	dec := json.NewDecoder(r)
	env, notObjects, err := walkAnswer(dec, objects{what: "data element", object: func() error {
		var id, name, status text
		err := walkObject(dec, func(key string) error {
			switch {
			case strings.EqualFold(key, "agent_id"):
				return decode(dec, &id)
			case strings.EqualFold(key, "agent_name"):
				return decode(dec, &name)
			case strings.EqualFold(key, "agent_status"):
				return decode(dec, &status)
			}
			return skipValue(dec)
		})
		if err != nil {
			return err
		}
		out.Agents = append(out.Agents, AgentState{
			ID: strings.TrimSpace(string(id)), Name: strings.TrimSpace(string(name)),
			Status: fm.form(&fm.statuses, string(status), statusForm),
		})
		return nil
	}})
	out.skip(SkipNotAnObject, notObjects)
	return out, env, err
}
