// Package poller reads each operation's chats from the chat_1 API when scrapes ask
// for them, and keeps what it learned: the counts, the cursor, the dedupe memory and
// the API's health, saved to disk after every call. It decides when to call and
// which window to read, live and in the daily re-read; the tally package counts.
package poller

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/times"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Operation polls one Wolkvox operation and holds everything learned from it.
type Operation struct {
	name   string
	now    func() time.Time
	logger log.Logger
	store  *Store // nil without --storage.path

	// writeMu serializes the writers of state: a call's commit and a reload.
	writeMu sync.Mutex

	// rereading is the daily re-read in progress, and windows the live windows of
	// the days it may re-read: what a call's goroutine keeps between calls, under
	// writeMu. Neither is saved: after a restart a re-read starts its day again.
	rereading *rereadProgress
	windows   []liveWindow

	mu         sync.RWMutex
	settings   *Settings
	state      *state
	nextCall   time.Time
	nextReread time.Time
	inflight   chan struct{} // closed when the running calls end
	// nextRealtime is when each real-time API may be called again, and
	// realtimeInflight is closed when the running real-time calls end.
	nextRealtime     map[wolkvox.API]time.Time
	realtimeInflight chan struct{}
	// realtimeSince is when the real-time calls in force began: the start, or the
	// reload that changed them.
	realtimeSince time.Time
	writeFails    float64
	loadFails     float64
	lastSaveErr   string
}

// New returns the Operation of settings s, from its saved state if store holds one.
func New(s *Settings, now func() time.Time, logger log.Logger, store *Store) *Operation {
	o := &Operation{
		name:     s.Config.Name,
		now:      now,
		logger:   log.With(logger, "operation", s.Config.Name),
		store:    store,
		settings: s,
		state:    newState(s),
	}
	o.realtimeSince = now()
	if store != nil {
		loaded, setAside := store.load(s, now(), o.logger)
		if loaded != nil {
			o.state = loaded
		}
		if setAside {
			o.loadFails++
		}
	}
	return o
}

// Name is the operation's name.
func (o *Operation) Name() string { return o.name }

// Settings are the settings in force.
func (o *Operation) Settings() *Settings {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.settings
}

// Update swaps in new settings from a reload. Counts restart only if records would
// now map to other series; the cursor and the dedupe memory always survive, so no
// chat is lost or counted twice across a reload. A new token clears the backoff:
// it may have a quota of its own.
func (o *Operation) Update(s *Settings) {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.Lock()
	old, cur := o.settings, o.state
	o.settings = s
	newToken := old.Config.APIToken() != s.Config.APIToken()
	if newToken {
		o.nextCall = time.Time{}
	}
	if !slices.Equal(old.Config.Realtime.APIs, s.Config.Realtime.APIs) {
		o.realtimeSince, o.nextRealtime = o.now(), nil
	}
	o.mu.Unlock()

	relabel := old.Tally.Labeling() != s.Tally.Labeling()
	if !relabel && !newToken {
		return
	}
	next := cur.clone()
	if relabel {
		next.restartCounts(s)
		level.Info(o.logger).Log("msg", "labels or buckets changed on reload: chat counters restart from zero")
	}
	if newToken {
		next.failures, next.BackoffUntil, next.failing = 0, time.Time{}, ""
		level.Info(o.logger).Log("msg", "token changed on reload: any backoff is cleared")
	}
	// The restart of counts must be shown even if it cannot be saved: the old
	// series no longer match the configuration.
	_ = o.save(s, next)
	o.show(next)
}

// Refresh starts the calls that are due, unless calls are running: a live query
// once min_interval and any backoff have passed, and the daily re-read (see
// reread.go); and, apart, the real-time calls due (see realtime.go). It then waits
// for the running calls or for ctx, whichever ends first. Concurrent scrapes share
// the calls.
func (o *Operation) Refresh(ctx context.Context) {
	o.mu.Lock()
	now := o.now()
	done := o.inflight
	if done == nil {
		settled := !now.Before(o.backoffUntil())
		live := settled && !now.Before(o.nextCall)
		reread := settled && !now.Before(o.nextReread) && rereadDay(o.state, o.settings, now) != nil
		if live || reread {
			done = make(chan struct{})
			o.inflight = done
			if live {
				o.nextCall = now.Add(time.Duration(o.settings.Config.MinInterval))
			}
			if reread {
				o.nextReread = now.Add(time.Duration(o.settings.Config.MinInterval))
			}
			go o.calls(now, live, reread, done) // outlives the scrape that starts it, bounded by request_timeout
		}
	}
	realtime := o.realtimeInflight
	if realtime == nil {
		if due := o.dueRealtime(now); len(due) > 0 {
			realtime = make(chan struct{})
			o.realtimeInflight = realtime
			go o.realtimeCalls(now, due, realtime) // as calls
		}
	}
	o.mu.Unlock()
	for _, running := range []chan struct{}{done, realtime} {
		if running == nil {
			continue
		}
		select {
		case <-running:
		case <-ctx.Done():
			return
		}
	}
}

// backoffUntil is when chat_1 may be called again: after the operation's own
// failures, or once the token's quota, which any API may have spent, resets.
// Called with o.mu held.
func (o *Operation) backoffUntil() time.Time {
	return times.Later(o.state.BackoffUntil, o.settings.Client.Token().QuotaSpentUntil())
}

// calls makes the due calls in the background: they outlive the scrape that started
// them and are bounded by request_timeout only. The re-read waits for the live
// query, and does not follow one that failed.
func (o *Operation) calls(started time.Time, live, reread bool, done chan struct{}) {
	defer func() {
		o.mu.Lock()
		o.inflight = nil
		o.mu.Unlock()
		close(done)
	}()
	if live {
		o.call(started)
	}
	if reread {
		o.mu.RLock()
		failing := started.Before(o.state.BackoffUntil)
		o.mu.RUnlock()
		if !failing {
			o.reread(started)
		}
	}
}

// save writes st to storage, if it is on. A failure is counted and logged once
// until saving works again.
func (o *Operation) save(s *Settings, st *state) error {
	if o.store == nil {
		return nil
	}
	err := o.store.save(s, st, o.now())
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil {
		o.lastSaveErr = ""
		return nil
	}
	o.writeFails++
	if o.lastSaveErr != err.Error() {
		level.Error(o.logger).Log("msg", "could not save the state; new chats are not shown until it is saved, and their window is read again", "err", err)
	}
	o.lastSaveErr = err.Error()
	return err
}

// show makes st the state scrapes see.
func (o *Operation) show(st *state) {
	o.mu.Lock()
	o.state = st
	o.mu.Unlock()
}

// Status is what an operation shows: all of it from one state, as a call left it.
type Status struct {
	Config config.Operation
	Health
	Tracked       int // chat ids in the dedupe memory
	WriteFailures float64
	LoadFailures  float64
	// Reconciled is what the daily re-reads found; nil when the re-read is off.
	Reconciled *Reconciled
	// Tally is the chat counts. Like the rest, no one modifies it.
	Tally *tally.Tally
	// Realtime is the health of each real-time API called, and Open and AgentsNow
	// the last reads of api=chats and api=agents; nil before the first.
	Realtime  map[wolkvox.API]*RealtimeHealth
	Open      *tally.OpenNow
	AgentsNow *tally.AgentsNow
	// RealtimeSince is when the real-time calls in force began.
	RealtimeSince time.Time
}

// Status returns what the operation shows now.
func (o *Operation) Status() Status {
	o.mu.RLock()
	st, cfg, client, writeFails, loadFails, since := o.state, o.settings.Config, o.settings.Client, o.writeFails, o.loadFails, o.realtimeSince
	o.mu.RUnlock()
	s := Status{Config: cfg, Health: st.Health, Tracked: len(st.seen), WriteFailures: writeFails, LoadFailures: loadFails, Tally: st.tally,
		Realtime: st.realtime, Open: st.open, AgentsNow: st.agentsNow, RealtimeSince: since}
	if spent := client.Token().QuotaSpentUntil(); spent.After(o.now()) {
		s.BackoffUntil = times.Later(s.BackoffUntil, spent)
	}
	if cfg.Reconcile.Enabled {
		r := st.reconciled
		r.LastSuccess = times.Later(r.LastSuccess, st.countingSince)
		s.Reconciled = &r
	}
	return s
}
