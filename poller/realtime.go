package poller

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/logtime"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// The real-time calls: what is open now. Each enabled API is called at most once a
// realtime.interval, when a scrape asks, through the operation's client, so that
// its calls share the token's lock and quota with chat_1's. A read replaces the
// last; the reads themselves are not saved (a restarted exporter has no "now" until
// it reads again), the calls' counters are.

// RealtimeHealth is what the calls of one real-time API tell.
type RealtimeHealth struct {
	Requests map[wolkvox.Result]float64
	CallTime tally.Cell
	// Skipped counts what answers held that was left out, by reason.
	Skipped map[string]float64
	// LastSuccess is when the values shown were read; zero before the first.
	LastSuccess time.Time
	// BackoffUntil is when the API may be called again after failures; zero when none.
	BackoffUntil time.Time
	failures     int
	failing      wolkvox.Result // the failure in progress, "" when calls succeed; not saved
}

// NewRealtimeHealth is the health of an API not called yet.
func NewRealtimeHealth() *RealtimeHealth {
	return &RealtimeHealth{Requests: map[wolkvox.Result]float64{}, CallTime: tally.NewHistogram(CallTimeBuckets), Skipped: map[string]float64{}}
}

func (h *RealtimeHealth) clone() *RealtimeHealth {
	c := *h
	c.Requests, c.Skipped, c.CallTime = maps.Clone(h.Requests), maps.Clone(h.Skipped), h.CallTime.Clone()
	return &c
}

// realtimeHealth is the health of api in st, created if missing; st is a copy the
// caller may change.
func (st *state) realtimeHealth(api wolkvox.API) *RealtimeHealth {
	h := st.realtime[api]
	if h == nil {
		h = NewRealtimeHealth()
	} else {
		h = h.clone()
	}
	if st.realtime == nil {
		st.realtime = map[wolkvox.API]*RealtimeHealth{}
	}
	st.realtime[api] = h
	return h
}

// dueRealtime are the real-time APIs to call at now, and marks them called.
// Called with o.mu held.
func (o *Operation) dueRealtime(now time.Time) []wolkvox.API {
	rt := o.settings.Config.Realtime
	if !rt.Enabled() || now.Before(o.settings.Client.Token().QuotaSpentUntil()) {
		return nil
	}
	var due []wolkvox.API
	// api=agents first: its names name the agents of api=chats, which lists ids only.
	for _, name := range []string{config.RealtimeAgents, config.RealtimeChats} {
		if !slices.Contains(rt.APIs, name) {
			continue
		}
		api := wolkvox.API(name)
		if now.Before(o.nextRealtime[api]) {
			continue
		}
		if h := o.state.realtime[api]; h != nil && now.Before(h.BackoffUntil) {
			continue
		}
		if o.nextRealtime == nil {
			o.nextRealtime = map[wolkvox.API]time.Time{}
		}
		o.nextRealtime[api] = now.Add(time.Duration(rt.Interval))
		due = append(due, api)
	}
	return due
}

// realtimeCalls calls each due API in turn, in the background, as calls does.
func (o *Operation) realtimeCalls(started time.Time, due []wolkvox.API, done chan struct{}) {
	defer func() {
		o.mu.Lock()
		o.realtimeInflight = nil
		o.mu.Unlock()
		close(done)
	}()
	for _, api := range due {
		o.realtimeCall(started, api)
	}
}

// realtimeCall reads one real-time API and shows what it read.
func (o *Operation) realtimeCall(started time.Time, api wolkvox.API) {
	o.mu.RLock()
	s := o.settings
	o.mu.RUnlock()
	ctx := context.Background() // the client bounds each call by the request timeout
	clock := time.Now()
	var (
		answer wolkvox.RealtimeAnswer
		chats  wolkvox.OpenChats
		agents wolkvox.Agents
		err    error
	)
	switch api {
	case wolkvox.APIChats:
		chats, err = s.Client.OpenChats(ctx)
		answer = chats.RealtimeAnswer
	case wolkvox.APIAgents:
		agents, err = s.Client.Agents(ctx)
		answer = agents.RealtimeAnswer
	}
	elapsed := time.Since(clock)
	if errors.Is(err, wolkvox.ErrNotSent) {
		level.Warn(o.logger).Log("msg", "real-time call skipped", "api", api, "err", err)
		return
	}

	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.RLock()
	cur := o.state
	o.mu.RUnlock()
	next := cur.clone()
	h := next.realtimeHealth(api)
	h.CallTime.Observe(elapsed.Seconds())
	if err != nil {
		result := wolkvox.ResultHTTPError
		if we, ok := errors.AsType[*wolkvox.Error](err); ok {
			result = we.Result
		}
		h.Requests[result]++
		o.realtimeFailed(s, h, api, result, started, err, elapsed)
		_ = o.save(s, next) // keeps the counters across a restart
		o.show(next)
		return
	}
	h.Requests[answer.Result]++
	if h.failing != "" {
		level.Info(o.logger).Log("msg", "real-time calls succeed again", "api", api, "after", h.failing)
	}
	h.failing, h.failures, h.BackoffUntil = "", 0, time.Time{}
	for reason, n := range answer.Skipped {
		h.Skipped[reason] += float64(n)
	}
	read := o.now()
	h.LastSuccess = read
	budget := s.Tally.MaxSeries - next.tally.SeriesCount()
	switch api {
	case wolkvox.APIChats:
		next.open = tally.NewOpenNow(s.Tally, read, chats, cur.open, next.agentName, budget-next.agentsNow.Series())
	case wolkvox.APIAgents:
		next.agentsNow = tally.NewAgentsNow(s.Tally, read, agents, cur.agentsNow, budget-next.open.Series())
		next.agentNames = map[string]string{}
		for _, a := range agents.Agents {
			if a.Name != "" {
				next.agentNames[a.ID] = a.Name
			}
		}
	}
	_ = o.save(s, next) // a failure is counted and logged; what was read shows all the same
	o.show(next)
	level.Debug(o.logger).Log("msg", "real-time call done", "api", api, "result", answer.Result, "duration", elapsed)
}

// realtimeFailed backs off after a failed real-time call, as failed does for chat_1.
// A spent quota is the token's: every call with it, chat_1's included, waits until
// the quota resets at midnight.
func (o *Operation) realtimeFailed(s *Settings, h *RealtimeHealth, api wolkvox.API, result wolkvox.Result, started time.Time, err error, elapsed time.Duration) {
	interval := time.Duration(s.Config.Realtime.Interval)
	h.BackoffUntil, h.failures = pause(s, result, started, h.failures, interval, max(time.Duration(s.Config.MaxBackoff), interval))
	logger := failureLogger(o.logger, h.failing, result)
	h.failing = result
	keyvals := []any{"msg", "real-time call failed; what is open now is not shown until a call succeeds", "api", api, "result", result, "err", err, "duration", elapsed}
	if !h.BackoffUntil.IsZero() {
		keyvals = append(keyvals, "no_call_before", logtime.Format(h.BackoffUntil))
	}
	if result == wolkvox.ResultQuotaExceeded {
		keyvals = append(keyvals, "note", "the daily quota is the token's: no call of any API is made with it until it resets")
	}
	logger.Log(keyvals...)
}

// agentName is the name an agent's families give agent_id: the chat_1 agent
// families', or the last api=agents read's; "" if neither knows it.
func (st *state) agentName(id string) string {
	for _, k := range st.tally.Keys(tally.ByAgent) {
		if tally.ByAgent.Value(k, tally.AgentID) == id {
			return tally.ByAgent.Value(k, tally.AgentName)
		}
	}
	return st.agentNames[id]
}
