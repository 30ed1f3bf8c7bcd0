package collector

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// stateVersion is the format of state files this build writes and reads.
const stateVersion = 1

const tempPrefix = ".tmp-"

// store keeps one state file per operation in a directory (--storage.path).
type store struct{ dir string }

// PrepareStorage makes dir ready to hold state files: it creates it if needed,
// checks that it is writable and removes temporary files a crash left behind.
func PrepareStorage(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("storage path: %w", err)
	}
	probe, err := os.CreateTemp(dir, tempPrefix+"probe-*")
	if err != nil {
		return fmt.Errorf("storage path %s is not writable: %w", dir, err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	leftovers, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*"))
	for _, f := range leftovers {
		_ = os.Remove(f) // a leftover that stays is only clutter
	}
	return nil
}

func (st *store) path(name string) string { return filepath.Join(st.dir, name+".json") }

// save writes the state atomically: a crash at any moment leaves either the old
// file or the new one, never a mix.
func (st *store) save(s *settings, state *state) error {
	data, err := json.Marshal(encodeState(s, state))
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	f, err := os.CreateTemp(st.dir, tempPrefix+s.cfg.Name+"-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp := f.Name()
	w := bufio.NewWriterSize(f, 1<<16)
	_, err = w.Write(data)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, st.path(s.cfg.Name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save state: %w", err)
	}
	// The rename is durable only once the directory is synced.
	if d, err := os.Open(st.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// load reads the saved state of an operation. It returns nil when there is none or
// it cannot be used, and reports whether a file was set aside. A file that is
// unreadable, corrupt, from a newer version or about another upstream is renamed
// out of the way, so the exporter starts fresh instead of failing at every start.
func (st *store) load(s *settings, logger log.Logger) (loaded *state, setAside bool) {
	path := st.path(s.cfg.Name)
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator's --storage.path and a validated operation name
	if errors.Is(err, fs.ErrNotExist) {
		level.Info(logger).Log("msg", "no saved state: counting starts now", "file", path)
		return nil, false
	}
	var reason string
	if err == nil {
		loaded, reason, err = decodeState(data, s)
	} else {
		reason = "unreadable"
	}
	if err != nil {
		aside := fmt.Sprintf("%s.%s-%s", path, reason, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			aside = "(could not rename it: " + rerr.Error() + ")"
		}
		level.Error(logger).Log("msg", "saved state not used; counting starts fresh", "file", path, "reason", reason, "err", err, "set_aside_as", aside)
		return nil, true
	}
	level.Info(logger).Log("msg", "saved state loaded: counters continue", "file", path,
		"cursor", loaded.cursor.In(s.cfg.Location()).Format(time.RFC3339), "tracked_chats", len(loaded.seen))
	return loaded, false
}

// labeling fingerprints what turns records into series; saved counts are kept
// only under the same labeling.
func labeling(s *settings) string {
	skills := make([]string, 0, len(s.cfg.Skills))
	for id, name := range s.cfg.Skills {
		skills = append(skills, id+"\x00"+name)
	}
	slices.Sort(skills)
	b, _ := json.Marshal([]any{s.cfg.AgentMetrics, s.cfg.MaxLabelValues, skills,
		s.buckets.answerDelay, s.buckets.duration, s.buckets.handleTime})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// stateFile is the saved form of a state. Times are Unix seconds, 0 for none.
type stateFile struct {
	Version            int                 `json:"version"`
	Operation          string              `json:"operation"`
	Upstream           string              `json:"upstream"`
	Labeling           string              `json:"labeling"`
	Saved              int64               `json:"saved"`
	Cursor             int64               `json:"cursor"`
	MaxSpan            int64               `json:"max_span_seconds"`
	Committed          bool                `json:"committed"`
	CountingSince      int64               `json:"counting_since"`
	Days               []savedDay          `json:"days"`
	Reconciled         savedReconcile      `json:"reconciled"`
	Requests           map[string]float64  `json:"requests"`
	TruncatedResponses float64             `json:"truncated_responses"`
	TruncatedQueries   float64             `json:"truncated_queries"`
	SkippedSeconds     float64             `json:"skipped_seconds"`
	CallTime           savedHistogram      `json:"call_time"`
	LastSuccess        int64               `json:"last_success"`
	LastRecords        int                 `json:"last_records"`
	Failures           int                 `json:"failures"`
	BackoffUntil       int64               `json:"backoff_until"`
	Seen               []seenGroup         `json:"seen"`
	Labels             map[string][]string `json:"labels"`
	Skipped            map[string]float64  `json:"skipped"`
	Folded             float64             `json:"folded"`
	Chats              []savedChat         `json:"chats"`
	Scopes             []savedScope        `json:"scopes"`
	Dispositions       []savedDisposition  `json:"dispositions"`
	Agents             []savedAgent        `json:"agents"`
}

// savedDay is a countedDay.
type savedDay struct {
	Start  int64    `json:"start"`
	End    int64    `json:"end"`
	From   int64    `json:"from"`
	IDs    []uint64 `json:"ids"`
	Missed float64  `json:"missed"`
	Reread bool     `json:"reread"`
}

// savedReconcile is reconcileTotals.
type savedReconcile struct {
	Missed       float64 `json:"missed"`
	Extra        float64 `json:"extra"`
	LastSuccess  int64   `json:"last_success"`
	DayStart     int64   `json:"day_start"`
	DayChats     float64 `json:"day_chats"`
	DayMissed    float64 `json:"day_missed"`
	DelaySeconds float64 `json:"delay_seconds"`
}

// seenGroup lists the conn_id hashes first returned by the window ending at Until.
type seenGroup struct {
	Until int64    `json:"until"`
	IDs   []uint64 `json:"ids"`
}

type savedHistogram struct {
	Counts []uint64 `json:"counts"` // per bucket, not cumulative, +Inf last
	Sum    float64  `json:"sum"`
}

type savedChat struct {
	Channel         string  `json:"channel"`
	Skill           string  `json:"skill"`
	Feeling         string  `json:"feeling"`
	LastParticipant string  `json:"last_participant"`
	Born            int64   `json:"born"`
	Value           float64 `json:"value"`
}

type savedScope struct {
	Channel     string         `json:"channel"`
	Skill       string         `json:"skill"`
	Born        int64          `json:"born"`
	AnswerDelay savedHistogram `json:"answer_delay"`
	Duration    savedHistogram `json:"duration"`
	HandleTime  savedHistogram `json:"handle_time"`
	// The duration of chats closed by timeout; states written before it was kept
	// apart have none, and count those chats in Duration.
	TimedOutDuration *savedHistogram `json:"timed_out_duration,omitempty"`
	CustomerChars    float64         `json:"customer_characters"`
	AgentChars       float64         `json:"agent_characters"`
	AgentMessages    float64         `json:"agent_messages"`
}

type savedDisposition struct {
	Channel     string  `json:"channel"`
	Skill       string  `json:"skill"`
	Code        string  `json:"code"`
	Description string  `json:"description"`
	Born        int64   `json:"born"`
	Value       float64 `json:"value"`
}

type savedAgent struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Born          int64   `json:"born"`
	Chats         float64 `json:"chats"`
	HandleSeconds float64 `json:"handle_seconds"`
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

func saveHistogram(h *histogram) savedHistogram {
	return savedHistogram{Counts: h.counts, Sum: h.sum}
}

func encodeState(s *settings, st *state) *stateFile {
	f := &stateFile{
		Version:       stateVersion,
		Operation:     s.cfg.Name,
		Upstream:      s.upstream(),
		Labeling:      labeling(s),
		Saved:         time.Now().Unix(),
		Cursor:        unix(st.cursor),
		MaxSpan:       int64(st.maxSpan / time.Second),
		Committed:     st.committed,
		CountingSince: unix(st.countingSince),
		Reconciled: savedReconcile{
			Missed: st.reconciled.missed, Extra: st.reconciled.extra, LastSuccess: unix(st.reconciled.lastSuccess),
			DayStart: unix(st.reconciled.dayStart), DayChats: st.reconciled.dayChats, DayMissed: st.reconciled.dayMissed,
			DelaySeconds: st.reconciled.delay.Seconds(),
		},
		Requests:           map[string]float64{},
		TruncatedResponses: st.truncatedResponses,
		TruncatedQueries:   st.truncatedQueries,
		SkippedSeconds:     st.skippedSeconds,
		CallTime:           saveHistogram(st.callTime),
		LastSuccess:        unix(st.lastSuccess),
		LastRecords:        st.lastRecords,
		Failures:           st.failures,
		BackoffUntil:       unix(st.backoffUntil),
		Labels:             map[string][]string{},
		Skipped:            st.tally.skipped,
		Folded:             st.tally.folded,
	}
	for r, v := range st.requests {
		f.Requests[string(r)] = v
	}
	groups := map[int64][]uint64{}
	for id, until := range st.seen {
		groups[until] = append(groups[until], id)
	}
	for _, d := range st.days {
		ids := slices.Clone(d.ids)
		slices.Sort(ids)
		f.Days = append(f.Days, savedDay{Start: unix(d.start), End: unix(d.end), From: unix(d.from), IDs: slices.Compact(ids), Missed: d.missed, Reread: d.reread})
	}
	for until, ids := range groups {
		slices.Sort(ids)
		f.Seen = append(f.Seen, seenGroup{Until: until, IDs: ids})
	}
	slices.SortFunc(f.Seen, func(a, b seenGroup) int { return cmp.Compare(a.Until, b.Until) })
	for label, values := range st.limiter.known {
		for v := range values {
			f.Labels[label] = append(f.Labels[label], v)
		}
		slices.Sort(f.Labels[label])
	}
	t := st.tally
	for k, c := range t.chats {
		f.Chats = append(f.Chats, savedChat{k.channel, k.skill, k.feeling, k.lastParticipant, unix(c.born), c.v})
	}
	for k, c := range t.scopes {
		timedOut := saveHistogram(c.timedOutDuration)
		f.Scopes = append(f.Scopes, savedScope{k.channel, k.skill, unix(c.born), saveHistogram(c.answerDelay),
			saveHistogram(c.duration), saveHistogram(c.handleTime), &timedOut, c.customerChars, c.agentChars, c.agentMessages})
	}
	for k, c := range t.dispositions {
		f.Dispositions = append(f.Dispositions, savedDisposition{k.channel, k.skill, k.code, k.description, unix(c.born), c.v})
	}
	for k, c := range t.agents {
		f.Agents = append(f.Agents, savedAgent{k.id, k.name, unix(c.born), c.chats, c.handleSeconds})
	}
	return f
}

// stateError describes a state file that does not hold a usable state.
type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }

func badState(format string, args ...any) error { return &stateError{fmt.Sprintf(format, args...)} }

// decodeState turns a saved file back into a state for settings s. On error, reason
// says why, as a short word for the set-aside file name.
func decodeState(data []byte, s *settings) (*state, string, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, "corrupt", fmt.Errorf("not a state file: %w", err)
	}
	if head.Version > stateVersion {
		return nil, "newer", fmt.Errorf("state version %d is newer than this exporter's %d", head.Version, stateVersion)
	}
	if head.Version != stateVersion {
		return nil, "corrupt", fmt.Errorf("state version %d is not known", head.Version)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, "corrupt", fmt.Errorf("decode state: %w", err)
	}
	if f.Operation != s.cfg.Name || f.Upstream != s.upstream() {
		return nil, "other-upstream", fmt.Errorf("the state is of operation %q at %s, the config says %q at %s",
			f.Operation, f.Upstream, s.cfg.Name, s.upstream())
	}
	st := newState(s)
	if err := f.restoreProgress(st); err != nil {
		return nil, "corrupt", err
	}
	if f.Labeling != labeling(s) {
		// Counts were made under other labels or buckets: they restart, and the
		// cursor and dedupe memory still keep every chat counted once.
		return st, "", nil
	}
	if err := f.restoreCounts(st, s); err != nil {
		return nil, "corrupt", err
	}
	return st, "", nil
}

// restoreProgress restores what does not depend on labels: where to read next,
// what was counted, and the API counters.
func (f *stateFile) restoreProgress(st *state) error {
	if f.Cursor < 0 || f.MaxSpan < 0 || f.Failures < 0 || f.LastRecords < 0 {
		return badState("negative cursor, window or count")
	}
	st.cursor = fromUnix(f.Cursor)
	st.maxSpan = time.Duration(f.MaxSpan) * time.Second
	st.committed = f.Committed
	st.countingSince = fromUnix(f.CountingSince)
	r := f.Reconciled
	for _, v := range []float64{r.Missed, r.Extra, r.DayChats, r.DayMissed, r.DelaySeconds} {
		if !validCount(v) {
			return badState("invalid re-read value %v", v)
		}
	}
	st.reconciled = reconcileTotals{
		missed: r.Missed, extra: r.Extra, lastSuccess: fromUnix(r.LastSuccess), dayStart: fromUnix(r.DayStart),
		dayChats: r.DayChats, dayMissed: r.DayMissed, delay: time.Duration(r.DelaySeconds * float64(time.Second)),
	}
	for _, d := range f.Days {
		if d.End <= d.Start || d.From < d.Start || d.From > d.End || !validCount(d.Missed) {
			return badState("invalid day %d..%d", d.Start, d.End)
		}
		st.days = append(st.days, &countedDay{start: fromUnix(d.Start), end: fromUnix(d.End), from: fromUnix(d.From), ids: d.IDs, missed: d.Missed, reread: d.Reread})
	}
	slices.SortFunc(st.days, func(a, b *countedDay) int { return a.start.Compare(b.start) })
	st.truncatedResponses, st.truncatedQueries, st.skippedSeconds = f.TruncatedResponses, f.TruncatedQueries, f.SkippedSeconds
	st.lastSuccess, st.lastRecords = fromUnix(f.LastSuccess), f.LastRecords
	st.failures, st.backoffUntil = f.Failures, fromUnix(f.BackoffUntil)
	for _, v := range []float64{f.TruncatedResponses, f.TruncatedQueries, f.SkippedSeconds} {
		if !validCount(v) {
			return badState("invalid counter value %v", v)
		}
	}
	for r, v := range f.Requests {
		if !slices.Contains(wolkvox.Results, wolkvox.Result(r)) || !validCount(v) {
			return badState("invalid request counter %q = %v", r, v)
		}
		st.requests[wolkvox.Result(r)] = v
	}
	if h, err := restoreHistogram(f.CallTime, callTimeBuckets); err == nil {
		st.callTime = h
	} // else: the buckets changed between versions; call times start again.
	for _, g := range f.Seen {
		for _, id := range g.IDs {
			st.seen[id] = g.Until
		}
	}
	return nil
}

func (f *stateFile) restoreCounts(st *state, s *settings) error {
	for label, values := range f.Labels {
		known := map[string]struct{}{}
		for _, v := range values {
			known[v] = struct{}{}
		}
		st.limiter.known[label] = known
	}
	for reason, v := range f.Skipped {
		if !validCount(v) {
			return badState("invalid skipped counter %q = %v", reason, v)
		}
		st.tally.skipped[reason] = v
	}
	t := st.tally
	if !validCount(f.Folded) {
		return badState("invalid folded counter %v", f.Folded)
	}
	t.folded = f.Folded
	for _, c := range f.Chats {
		if !validCount(c.Value) {
			return badState("invalid chat counter %v", c.Value)
		}
		t.chat(chatKey{scope{c.Channel, c.Skill}, c.Feeling, c.LastParticipant}, fromUnix(c.Born)).v = c.Value
	}
	for _, c := range f.Dispositions {
		if !validCount(c.Value) {
			return badState("invalid disposition counter %v", c.Value)
		}
		t.disposition(dispositionKey{scope{c.Channel, c.Skill}, c.Code, c.Description}, fromUnix(c.Born)).v = c.Value
	}
	for _, a := range f.Agents {
		if !validCount(a.Chats) || !validCount(a.HandleSeconds) {
			return badState("invalid agent counters")
		}
		st := t.agent(agentKey{a.ID, a.Name}, fromUnix(a.Born))
		st.chats, st.handleSeconds = a.Chats, a.HandleSeconds
	}
	for _, c := range f.Scopes {
		ss := t.scope(scope{c.Channel, c.Skill}, fromUnix(c.Born))
		var err error
		if ss.answerDelay, err = restoreHistogram(c.AnswerDelay, s.buckets.answerDelay); err != nil {
			return err
		}
		if ss.duration, err = restoreHistogram(c.Duration, s.buckets.duration); err != nil {
			return err
		}
		if ss.handleTime, err = restoreHistogram(c.HandleTime, s.buckets.handleTime); err != nil {
			return err
		}
		if c.TimedOutDuration != nil {
			if ss.timedOutDuration, err = restoreHistogram(*c.TimedOutDuration, s.buckets.duration); err != nil {
				return err
			}
		}
		for _, v := range []float64{c.CustomerChars, c.AgentChars, c.AgentMessages} {
			if !validCount(v) {
				return badState("invalid scope counter %v", v)
			}
		}
		ss.customerChars, ss.agentChars, ss.agentMessages = c.CustomerChars, c.AgentChars, c.AgentMessages
	}
	return nil
}

func restoreHistogram(sh savedHistogram, bounds []float64) (*histogram, error) {
	if len(sh.Counts) != len(bounds)+1 {
		return nil, badState("histogram has %d buckets, want %d", len(sh.Counts), len(bounds)+1)
	}
	if !validCount(sh.Sum) {
		return nil, badState("invalid histogram sum %v", sh.Sum)
	}
	h := newHistogram(bounds)
	copy(h.counts, sh.Counts)
	for _, c := range sh.Counts {
		h.count += c
	}
	h.sum = sh.Sum
	return h, nil
}

func validCount(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// CountingSince reads, from the state saved in dir, when live counting of operation
// op began: the start of its first window. A history that ends there joins live
// counting without counting a chat twice.
func CountingSince(dir string, op config.Operation) (time.Time, error) {
	path := (&store{dir: dir}).path(op.Name)
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator's --storage.path and a validated operation name
	if err != nil {
		return time.Time{}, fmt.Errorf("read the live state: %w", err)
	}
	var f struct {
		Operation     string `json:"operation"`
		Upstream      string `json:"upstream"`
		CountingSince int64  `json:"counting_since"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return time.Time{}, fmt.Errorf("read the live state %s: %w", path, err)
	}
	if s := (&settings{cfg: op}); f.Operation != op.Name || f.Upstream != s.upstream() {
		return time.Time{}, fmt.Errorf("the live state %s is of operation %q at %s, not %q at %s", path, f.Operation, f.Upstream, op.Name, s.upstream())
	}
	if f.CountingSince <= 0 {
		return time.Time{}, fmt.Errorf("the live state %s does not say when counting began (it was written by an older version)", path)
	}
	return time.Unix(f.CountingSince, 0), nil
}
