// Package simulator serves a fake Wolkvox chat_1 report API, and the real-time
// chats and agents APIs consistent with it, with realistic traffic and the real
// API's quirks.
package simulator

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Chat is one human-attended chat as the simulator knows it.
type Chat struct {
	ConnID                                                 string
	Channel                                                string // as the API spells it: "WhatsApp", "Facebook", "Instagram", "Web"
	SkillID                                                string // e.g. "12"
	AgentID, AgentName                                     string
	CustomerName, CustomerEmail, CustomerPhone, CustomerID string        // personal data: served on the wire, so tests can prove the exporter never turns it into labels
	Opened                                                 time.Time     // the record's `date` field
	Closed                                                 time.Time     // decides which windows return the chat (chat_1 filters on close time)
	AnswerDelay                                            time.Duration // the ASA field
	Duration                                               time.Duration // chat_duration
	HandleTime                                             time.Duration // time_on_agent
	CustomerChars, AgentChars, AgentAnswers                int
	CodAct, CodActDescription                              string // disposition, e.g. "TIMEOUTCHAT", "Closed by timeout"
	Feeling                                                string // "very negative", "negative", "neutral", "positive", "very positive"
	LastParticipant                                        string // "agent", "chat-bot", "customer"
	Comments                                               string
}

// Source yields the chats whose Closed time is within [from, to] (both inclusive).
type Source interface {
	ChatsClosedBetween(from, to time.Time) []Chat
}

// Chats is a fixed Source, for tests.
type Chats []Chat

// ChatsClosedBetween returns, in slice order, the chats closed within [from, to].
func (cs Chats) ChatsClosedBetween(from, to time.Time) []Chat {
	var out []Chat
	for _, c := range cs {
		if !c.Closed.Before(from) && !c.Closed.After(to) {
			out = append(out, c)
		}
	}
	return out
}

// Options configure the HTTP behaviour of a Server.
type Options struct {
	Location   *time.Location   // zone of date_ini/date_end and of record dates; nil means America/Bogota (fixed GMT-5 fallback if tzdata is missing)
	Token      string           // the expected wolkvox-token header; "" accepts any non-empty token
	Server     string           // the expected wolkvox_server header value; "" accepts any
	DailyQuota int              // calls allowed per day before 403 TOKEN LIMIT EXCEEDED; 0 means unlimited
	RecordCap  int              // records per answer before the answer is cut; 0 means 60000
	Latency    time.Duration    // delay before answering each request (honours request cancellation)
	AnswersKey string           // JSON key for AgentAnswers; "" means the documented misspelling "agent_anwers " WITH the trailing space
	Now        func() time.Time // clock for quota days, VisibilityDelay and the moment real-time answers describe; nil means time.Now
	// VisibilityDelay hides a chat until this long after it closed, as an API that
	// lists chats late would; 0 shows every chat at once.
	VisibilityDelay time.Duration
}

// Fault is a raw answer served instead of the normal one while set.
type Fault struct {
	Status int
	Body   string
}

// Server is an http.Handler serving GET /api/v2/reports_manager.php?api=chat_1&date_ini=...&date_end=...
// and the real-time GET /api/v2/real_time.php?api=chats and ?api=agents, which
// describe the moment of the request (Options.Now) from the same chats: api=chats
// lists the chats open then (see OpenSource) by agent, with their conversations
// so far (see Chat.Conversation), and the logged-in agents with none; api=agents
// lists the simulator's 12 agents while on their shifts (Bogota hours, by the
// source's clock under Replay), "Busy" while a conversation of theirs is in
// progress. With no chat open, or no agent logged in, the answer is the "empty" 404.
//
// Checks run in this order: fault, path, token, server, quota, simultaneous
// requests, api, dates. Every request of any API is counted first, so every one
// costs quota, and all share the simultaneous-requests limit. A wrong or
// missing wolkvox_server (when Options.Server is set) gets 403 PLEASE VALIDATE
// TOKEN, on every API; a path other than the APIs' gets the web server's HTML
// 404, unlike the JSON "empty" 404. agent_dni filters on AgentID.
// Wire quirks, chosen deterministically so tests can predict them:
//   - code is the number 200 on odd request numbers (1st, 3rd, ...) and the string "200" on even ones;
//   - the 1st, 3rd, ... one-record answers, of any API, send data as an object, the others as a list;
//   - chat_duration is "HH:MM:SS" when the FNV-1a hash of conn_id is even, plain seconds otherwise;
//   - ASA is whole seconds; time_on_agent is whole seconds, or seconds with up to three
//     decimals (HandleTime rounded to the millisecond) when HandleTime is not whole;
//   - date_ini/date_end have one-second resolution, so date_end covers its whole second.
type Server struct {
	src  Source
	opts Options

	mu       sync.Mutex
	requests int
	day      string // quota day in Location, "2006-01-02"
	dayUsed  int
	inflight map[string]int
	singles  int
	served   []Chat
	fault    *Fault

	openServed []OpenRead
}

const (
	apiPath     = "/api/v2/reports_manager.php"
	wireLayout  = "20060102150405"
	dateLayout  = "2006-01-02 15:04:05"
	maxWindow   = 31 * 24 * time.Hour
	maxInFlight = 2
	defaultCap  = 60000

	errNoToken    = "PLEASE ENTER THE WOLKVOX-TOKEN"
	errBadToken   = "PLEASE VALIDATE TOKEN"
	errQuota      = "TOKEN LIMIT EXCEEDED"
	errSimultan   = "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"
	errNoAPI      = "THE API YOU WANT TO CONSULT DOES NOT EXIST"
	errParams     = "SOME PARAMETERS ARE REQUIRED"
	errLongWindow = "THE MAXIMUM RANGE OF DATES TO CONSULT IS 31 DAYS"
	msgEmpty      = "Validate dates entered"
)

var (
	bogotaOnce sync.Once
	bogotaLoc  *time.Location
)

// bogota is the zone the real API reports in; Bogota has had no DST since 1993, so GMT-5 is exact.
func bogota() *time.Location {
	bogotaOnce.Do(func() {
		loc, err := time.LoadLocation("America/Bogota")
		if err != nil {
			loc = time.FixedZone("GMT-5", -5*3600)
		}
		bogotaLoc = loc
	})
	return bogotaLoc
}

// NewServer returns a Server answering from src.
func NewServer(src Source, opts Options) *Server {
	if opts.Location == nil {
		opts.Location = bogota()
	}
	if opts.RecordCap <= 0 {
		opts.RecordCap = defaultCap
	}
	if opts.AnswersKey == "" {
		opts.AnswersKey = "agent_anwers "
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{src: src, opts: opts, inflight: map[string]int{}}
}

// Requests returns the number of requests received so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Served returns the chats of every 200 answer, in the order the answers ended.
// An answer is recorded just before its last byte is written, so a client that
// has read a whole answer finds its chats here; an answer cut short earlier
// (the client went away) is not recorded.
func (s *Server) Served() []Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.served)
}

// SetFault makes every request get f instead of its normal answer; nil clears.
func (s *Server) SetFault(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil {
		c := *f
		f = &c
	}
	s.fault = f
}

// admit counts the request and returns its number, whether the day's quota is used up, and the fault.
func (s *Server) admit() (n int, overQuota bool, fault *Fault) {
	day := s.opts.Now().In(s.opts.Location).Format("2006-01-02")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if day != s.day {
		s.day, s.dayUsed = day, 0
	}
	s.dayUsed++
	return s.requests, s.opts.DailyQuota > 0 && s.dayUsed > s.opts.DailyQuota, s.fault
}

func (s *Server) acquire(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[token] >= maxInFlight {
		return false
	}
	s.inflight[token]++
	return true
}

func (s *Server) release(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[token]--; s.inflight[token] <= 0 {
		delete(s.inflight, token)
	}
}

// wait applies Latency; false means the client went away meanwhile.
func (s *Server) wait(ctx context.Context) bool {
	if s.opts.Latency <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// header reads h canonicalised (Go turns wolkvox_server into Wolkvox_server) or raw, for handlers called directly.
func header(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	if vs := r.Header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// ServeHTTP answers one request as the real API would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n, overQuota, fault := s.admit()
	fail := func(status int, text string) {
		if s.wait(ctx) {
			writeError(w, status, text)
		}
	}
	if fault != nil {
		if s.wait(ctx) {
			ct := "text/html; charset=UTF-8"
			if strings.HasPrefix(strings.TrimSpace(fault.Body), "{") {
				ct = "application/json; charset=utf-8"
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(fault.Status)
			_, _ = w.Write([]byte(fault.Body))
		}
		return
	}
	if r.URL.Path != apiPath && r.URL.Path != realTimePath {
		// The web server's page, not a Wolkvox answer: not the "empty" 404.
		if s.wait(ctx) {
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"))
		}
		return
	}
	token := header(r, "wolkvox-token")
	switch {
	case token == "":
		fail(http.StatusUnauthorized, errNoToken)
		return
	case s.opts.Token != "" && token != s.opts.Token,
		s.opts.Server != "" && header(r, "wolkvox_server") != s.opts.Server:
		fail(http.StatusForbidden, errBadToken)
		return
	case overQuota:
		fail(http.StatusForbidden, errQuota)
		return
	}
	if !s.acquire(token) {
		fail(http.StatusForbidden, errSimultan)
		return
	}
	defer s.release(token)
	// Latency is spent holding the slot, as a slow real call would.
	if !s.wait(ctx) {
		return
	}
	q := r.URL.Query()
	if r.URL.Path == realTimePath {
		s.serveRealTime(w, n, q.Get("api"))
		return
	}
	if q.Get("api") != "chat_1" {
		writeError(w, http.StatusBadRequest, errNoAPI)
		return
	}
	from, okFrom := parseWireTime(q.Get("date_ini"), s.opts.Location)
	to, okTo := parseWireTime(q.Get("date_end"), s.opts.Location)
	if !okFrom || !okTo || to.Before(from) {
		writeError(w, http.StatusBadRequest, errParams)
		return
	}
	if to.Sub(from) > maxWindow {
		writeError(w, http.StatusBadRequest, errLongWindow)
		return
	}
	// Pointers: the source's slice stays untouched and sorting moves no large structs.
	var chats []*Chat
	agent := q.Get("agent_dni")
	found := s.closedBetween(q.Get("date_ini"), q.Get("date_end"), from, to)
	now := s.opts.Now()
	for i := range found {
		if s.opts.VisibilityDelay > 0 && found[i].Closed.Add(s.opts.VisibilityDelay).After(now) {
			continue // not listed yet
		}
		if agent == "" || found[i].AgentID == agent {
			chats = append(chats, &found[i])
		}
	}
	slices.SortStableFunc(chats, func(a, b *Chat) int {
		if c := a.Closed.Compare(b.Closed); c != 0 {
			return c
		}
		return strings.Compare(a.ConnID, b.ConnID)
	})
	if len(chats) > s.opts.RecordCap {
		chats = chats[:s.opts.RecordCap]
	}
	if len(chats) == 0 {
		writeEmpty(w)
		return
	}
	s.stream(w, n, chats)
}

// writeEmpty answers a query that found nothing: the API's 404, not a failure.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"code":"404","error":"` + msgEmpty + `","msg":"` + msgEmpty + `","data":[]}`))
}

// closedBetween returns the chats whose close time, as wall-clock time in the
// server's zone, is within [ini, end]: the API takes and compares local times
// without an offset. Where clocks go back, an hour of wall time happens twice, and
// both are in the window; where they jump, the skipped hour is in none.
func (s *Server) closedBetween(ini, end string, from, to time.Time) []Chat {
	loc := s.opts.Location
	lo, hi := from.Add(-2*time.Hour), to.Add(2*time.Hour) // past any change of offset
	if _, change := lo.In(loc).ZoneBounds(); change.IsZero() || change.After(hi) {
		// One offset throughout: wall order is time order.
		return s.src.ChatsClosedBetween(from, to.Add(time.Second-time.Nanosecond))
	}
	var out []Chat
	for _, c := range s.src.ChatsClosedBetween(lo, hi) {
		if wall := c.Closed.In(loc).Format(wireLayout); wall >= ini && wall <= end {
			out = append(out, c)
		}
	}
	return out
}

func parseWireTime(v string, loc *time.Location) (time.Time, bool) {
	if len(v) != len(wireLayout) {
		return time.Time{}, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(wireLayout, v, loc)
	return t, err == nil
}

func writeError(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b := []byte(`{"code":` + strconv.Itoa(status) + `,"error":`)
	b = appendString(b, text)
	b = append(b, `,"msg":`...)
	b = appendString(b, text)
	b = append(b, `,"data":null}`...)
	_, _ = w.Write(b)
}

// stream writes a 200 answer record by record, so large answers cost little memory.
func (s *Server) stream(w http.ResponseWriter, n int, chats []*Chat) {
	single := len(chats) == 1 && s.single()
	code := wireCode(n)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, `{"code":%s,"error":null,"msg":"%d records were found","data":`, code, len(chats))
	if !single {
		bw.WriteByte('[')
	}
	buf := make([]byte, 0, 2048)
	for i := range chats {
		if i > 0 {
			bw.WriteByte(',')
		}
		buf = appendRecord(buf[:0], chats[i], s.opts.Location, s.opts.AnswersKey)
		bw.Write(buf)
	}
	if !single {
		bw.WriteByte(']')
	}
	if bw.Flush() != nil { // bufio errors are sticky: any failed write shows here
		return
	}
	// Recorded before the last byte is written: a client that has read the whole
	// answer, and a test synchronized with it, finds these chats in Served.
	s.mu.Lock()
	for _, c := range chats {
		s.served = append(s.served, *c)
	}
	s.mu.Unlock()
	_, _ = w.Write([]byte{'}'})
}

func appendRecord(b []byte, c *Chat, loc *time.Location, answersKey string) []byte {
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
	userID := c.CustomerID
	if c.Channel == "WhatsApp" && c.CustomerPhone != "" {
		userID = c.CustomerPhone // WhatsApp identifies users by phone
	}
	h := connHash(c.ConnID)
	transfer := "0"
	if h%17 == 0 {
		transfer = "1"
	}
	avg := "0"
	if c.AgentAnswers > 0 {
		avg = strconv.FormatInt(int64(c.HandleTime.Seconds())/int64(c.AgentAnswers), 10)
	}
	field("conn_id", c.ConnID)
	field("channel", c.Channel)
	field("date", c.Opened.In(loc).Format(dateLayout))
	field("customer_name", c.CustomerName)
	field("customer_email", c.CustomerEmail)
	field("customer_phone", c.CustomerPhone)
	field("customer_chars", strconv.Itoa(c.CustomerChars))
	field("agent_id", c.AgentID)
	field("agent_name", c.AgentName)
	field("agent_chars", strconv.Itoa(c.AgentChars))
	field("time_on_agent", formatHandle(c.HandleTime))
	field("chat_duration", formatChatDuration(c.ConnID, c.Duration))
	field("cod_act", c.CodAct)
	field("description_cod_act", c.CodActDescription)
	field("comments", c.Comments)
	field("customer_id", c.CustomerID)
	field("skill_id", c.SkillID)
	field("ASA", strconv.FormatInt(wholeSeconds(c.AnswerDelay), 10))
	field("last_participant_who_spoke", c.LastParticipant)
	field("extra_field", "")
	field("comment", "")
	field("user_id", userID)
	field("feeling", c.Feeling)
	field(answersKey, strconv.Itoa(c.AgentAnswers))
	field("date_close", c.Closed.In(loc).Format(dateLayout))
	field("transfer", transfer)
	field("agent_average_response_time", avg)
	return append(b, '}')
}

func connHash(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()
}

func wholeSeconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d.Round(time.Second) / time.Second)
}

// formatChatDuration picks HH:MM:SS or plain seconds by conn_id, as sources disagree on the format.
func formatChatDuration(connID string, d time.Duration) string {
	sec := wholeSeconds(d)
	if connHash(connID)%2 == 0 {
		return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return strconv.FormatInt(sec, 10)
}

// formatHandle writes exact decimal seconds so the value parses back to HandleTime (at ms precision).
func formatHandle(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	ms := int64(d.Round(time.Millisecond) / time.Millisecond)
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%03d", ms/1000, ms%1000), "0")
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD. Text made
// in a buffer is appended as it is: a string of it would cost one per message.
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		var head [utf8.UTFMax]byte
		r, size := utf8.DecodeRune(head[:copy(head[:], s[i:])])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// demoChatsPerHour keeps a 15 s poller seeing new chats on most polls in office hours.
const demoChatsPerHour = 600

// untilNow hides chats that have not closed yet by the wall clock from chat_1, as the real API would.
type untilNow struct{ src Source }

func (u untilNow) ChatsClosedBetween(from, to time.Time) []Chat {
	if now := time.Now(); to.After(now) {
		to = now
	}
	if to.Before(from) {
		return nil
	}
	return u.src.ChatsClosedBetween(from, to)
}

// Demo starts a Server on a loopback port with Traffic at a rate that makes
// metrics move within minutes, and returns its base URL and a stop function.
// It accepts any non-empty token and any server header, with no daily quota.
// A clock that is not zero replays the traffic from that time on (see Replay).
// The real-time APIs serve the chats open now and the agents of the traffic's hour.
func Demo(seed int64, clock time.Time) (baseURL string, stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var src Source = NewTraffic(seed, demoChatsPerHour)
	if !clock.IsZero() {
		src = Replay(src, clock)
	}
	srv := NewServer(untilNow{src}, Options{Latency: 300 * time.Millisecond})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln) // returns ErrServerClosed on stop; clients see any other failure
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if hs.Shutdown(ctx) != nil {
				_ = hs.Close() // stopping anyway: what is left open is cut
			}
			<-done
		})
	}
	return "http://" + ln.Addr().String(), stop, nil
}
