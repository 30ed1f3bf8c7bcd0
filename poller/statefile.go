package poller

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/durable"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/logtime"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// stateVersion is the format of state files this build writes. Version 1 kept
// each group of chat series at the top level; it is read too.
const stateVersion = 2

// Store keeps one state file per operation in a directory (--storage.path).
type Store struct{ dir string }

// PrepareStorage makes dir ready to hold state files: it creates it if needed,
// checks that it is writable and removes temporary files a crash left behind.
func PrepareStorage(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("storage path: %w", err)
	}
	probe, err := os.CreateTemp(dir, durable.TempPrefix+"probe-*")
	if err != nil {
		return fmt.Errorf("storage path %s is not writable: %w", dir, err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	_ = durable.Clean(dir) // a leftover that stays is only clutter
	return nil
}

// OpenStorage returns the Store of dir, which PrepareStorage made ready to write.
func OpenStorage(dir string) *Store { return &Store{dir: dir} }

func (st *Store) path(name string) string { return filepath.Join(st.dir, name+".json") }

// save writes the state durably: a crash at any moment leaves either the old file
// or the new one.
func (st *Store) save(s *Settings, state *state, now time.Time) error {
	f := encodeState(s, state, now)
	err := durable.WriteFile(st.path(s.Config.Name), 0o600, func(w io.Writer) error { return json.NewEncoder(w).Encode(f) })
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// load reads the saved state of an operation. It returns nil when there is none or
// it cannot be used, and reports whether a file was set aside. A file that is
// unreadable, corrupt, from a newer version or about another upstream is renamed
// out of the way, so the exporter starts fresh instead of failing at every start.
func (st *Store) load(s *Settings, now time.Time, logger log.Logger) (loaded *state, setAside bool) {
	path := st.path(s.Config.Name)
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator's --storage.path and a validated operation name
	if errors.Is(err, fs.ErrNotExist) {
		level.Info(logger).Log("msg", "no saved state: counting starts now", "file", path)
		return nil, false
	}
	var (
		reason  string
		restart []any
	)
	if err == nil {
		loaded, restart, reason, err = decodeState(data, s)
	} else {
		reason = "unreadable"
	}
	if err != nil {
		aside := fmt.Sprintf("%s.%s-%s", path, reason, now.UTC().Format("20060102T150405Z"))
		if rerr := durable.Rename(path, aside); rerr != nil {
			aside = "(could not rename it: " + rerr.Error() + ")"
		}
		level.Error(logger).Log("msg", "saved state not used; counting starts fresh", "file", path, "reason", reason, "err", err, "set_aside_as", aside)
		return nil, true
	}
	msg := "saved state loaded: counters continue"
	if restart != nil {
		msg = "saved state loaded: the cursor and the dedupe memory continue"
	}
	level.Info(logger).Log("msg", msg, "file", path, "cursor", logtime.Format(loaded.cursor), "tracked_chats", len(loaded.seen))
	if restart != nil {
		level.Warn(logger).Log(append(restart, "file", path)...)
	}
	return loaded, false
}

// stateFile is the saved form of a state. Times are Unix seconds, 0 for none.
type stateFile struct {
	Version            int                  `json:"version"`
	Operation          string               `json:"operation"`
	Upstream           string               `json:"upstream"`
	Labeling           string               `json:"labeling"`
	SavedAt            int64                `json:"saved"`
	Cursor             int64                `json:"cursor"`
	MaxSpan            int64                `json:"max_span_seconds"`
	Committed          bool                 `json:"committed"`
	CountingSince      int64                `json:"counting_since"`
	Days               []savedDay           `json:"days"`
	Reconciled         savedReconcile       `json:"reconciled"`
	Requests           map[string]float64   `json:"requests"`
	TruncatedResponses float64              `json:"truncated_responses"`
	TruncatedQueries   float64              `json:"truncated_queries"`
	SkippedSeconds     float64              `json:"skipped_seconds"`
	CallTime           tally.SavedHistogram `json:"call_time"`
	LastSuccess        int64                `json:"last_success"`
	LastRecords        int                  `json:"last_records"`
	Failures           int                  `json:"failures"`
	BackoffUntil       int64                `json:"backoff_until"`
	Seen               []seenGroup          `json:"seen"`
	// Realtime are the real-time APIs' counters, by API.
	Realtime map[string]savedRealtime `json:"realtime,omitempty"`
	tally.Saved
}

// savedRealtime is a RealtimeHealth, but for what describes this process's calls.
type savedRealtime struct {
	Requests     map[string]float64   `json:"requests"`
	CallTime     tally.SavedHistogram `json:"call_time"`
	Skipped      map[string]float64   `json:"skipped,omitempty"`
	Failures     int                  `json:"failures,omitempty"`
	BackoffUntil int64                `json:"backoff_until,omitempty"`
}

// savedDay is a countedDay.
type savedDay struct {
	Start  int64    `json:"start"`
	End    int64    `json:"end"`
	From   int64    `json:"from"`
	IDs    []uint64 `json:"ids"`
	Early  []uint64 `json:"early,omitempty"`
	Missed float64  `json:"missed"`
	Reread bool     `json:"reread"`
}

// savedReconcile is Reconciled.
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

func encodeState(s *Settings, st *state, now time.Time) *stateFile {
	r := st.reconciled
	f := &stateFile{
		Version:       stateVersion,
		Operation:     s.Config.Name,
		Upstream:      Upstream(s.Config),
		Labeling:      s.Tally.Labeling(),
		SavedAt:       now.Unix(),
		Cursor:        unix(st.cursor),
		MaxSpan:       int64(st.maxSpan / time.Second),
		Committed:     st.committed,
		CountingSince: unix(st.countingSince),
		Reconciled: savedReconcile{
			Missed: r.Missed, Extra: r.Extra, LastSuccess: unix(r.LastSuccess), DayStart: unix(r.DayStart),
			DayChats: r.DayChats, DayMissed: r.DayMissed, DelaySeconds: r.Delay.Seconds(),
		},
		Requests:           map[string]float64{},
		TruncatedResponses: st.TruncatedResponses,
		TruncatedQueries:   st.TruncatedQueries,
		SkippedSeconds:     st.SkippedSeconds,
		CallTime:           tally.SavedHistogram{Counts: st.CallTime.Buckets, Sum: st.CallTime.Sum},
		LastSuccess:        unix(st.LastSuccess),
		LastRecords:        st.LastRecords,
		Failures:           st.failures,
		BackoffUntil:       unix(st.BackoffUntil),
		Saved:              st.tally.Save(),
	}
	for r, v := range st.Requests {
		f.Requests[string(r)] = v
	}
	for api, h := range st.realtime {
		saved := savedRealtime{Requests: map[string]float64{}, CallTime: tally.SavedHistogram{Counts: h.CallTime.Buckets, Sum: h.CallTime.Sum},
			Skipped: h.Skipped, Failures: h.failures, BackoffUntil: unix(h.BackoffUntil)}
		for r, v := range h.Requests {
			saved.Requests[string(r)] = v
		}
		if f.Realtime == nil {
			f.Realtime = map[string]savedRealtime{}
		}
		f.Realtime[string(api)] = saved
	}
	sorted := func(ids []uint64) []uint64 {
		ids = slices.Clone(ids)
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	for _, d := range st.days {
		f.Days = append(f.Days, savedDay{Start: unix(d.start), End: unix(d.end), From: unix(d.from), IDs: sorted(d.ids), Early: sorted(d.early),
			Missed: d.missed, Reread: d.reread})
	}
	groups := map[int64][]uint64{}
	for id, until := range st.seen {
		groups[until] = append(groups[until], id)
	}
	for until, ids := range groups {
		slices.Sort(ids)
		f.Seen = append(f.Seen, seenGroup{Until: until, IDs: ids})
	}
	slices.SortFunc(f.Seen, func(a, b seenGroup) int { return cmp.Compare(a.Until, b.Until) })
	return f
}

// stateError describes a state file that does not hold a usable state.
type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }

func badState(format string, args ...any) error { return &stateError{fmt.Sprintf(format, args...)} }

// decodeState turns a saved file back into a state for settings s, and says, as log
// keys and values, which counts restart, if any: those saved under other labels or
// buckets. On error, reason says why, as a short word for the set-aside file name.
func decodeState(data []byte, s *Settings) (_ *state, restart []any, reason string, _ error) {
	f, reason, err := readStateFile(data)
	if err != nil {
		return nil, nil, reason, err
	}
	if f.Operation != s.Config.Name || f.Upstream != Upstream(s.Config) {
		return nil, nil, "other-upstream", fmt.Errorf("the state is of operation %q at %s, the config says %q at %s",
			f.Operation, f.Upstream, s.Config.Name, Upstream(s.Config))
	}
	st := newState(s)
	if err := f.restoreProgress(st); err != nil {
		return nil, nil, "corrupt", err
	}
	// Counts made under other labels or buckets restart; the cursor and the dedupe
	// memory still keep every chat counted once.
	if f.Labeling != s.Tally.Labeling() {
		return st, []any{"msg", "skills, buckets, agent_metrics or max_label_values changed since the state was saved: chat counters restart from zero; each chat is still counted once"}, "", nil
	}
	restored, restarted, err := tally.Restore(s.Tally, f.Saved)
	if err != nil {
		return nil, nil, "corrupt", err
	}
	st.tally = restored
	var families, labels []string
	for _, g := range restarted {
		families = append(families, g.FamilyNames()...)
		labels = append(labels, g.Name+": "+strings.Join(g.LabelNames(), ","))
	}
	if families == nil {
		return st, nil, "", nil
	}
	return st, []any{"msg", "counts saved under other labels restart from zero; each chat is still counted once",
		"families", strings.Join(families, ","), "labels_now", strings.Join(labels, "; ")}, "", nil
}

// readStateFile decodes a state file of this version or the one before.
func readStateFile(data []byte) (*stateFile, string, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, "corrupt", fmt.Errorf("not a state file: %w", err)
	}
	if head.Version > stateVersion {
		return nil, "newer", fmt.Errorf("state version %d is newer than this exporter's %d", head.Version, stateVersion)
	}
	if head.Version == 1 {
		var err error
		if data, err = upgradeStateFile(data); err != nil {
			return nil, "corrupt", err
		}
	} else if head.Version != stateVersion {
		return nil, "corrupt", fmt.Errorf("state version %d is not known", head.Version)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, "corrupt", fmt.Errorf("decode state: %w", err)
	}
	return &f, "", nil
}

// upgradeStateFile turns a version 1 file into version 2: its groups of chat series
// move under "series".
func upgradeStateFile(data []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	series := map[string]json.RawMessage{}
	for _, group := range []string{"chats", "scopes", "dispositions", "agents"} {
		if raw, ok := fields[group]; ok && !bytes.Equal(raw, []byte("null")) {
			series[group] = raw
		}
		delete(fields, group)
	}
	var err error
	if fields["series"], err = json.Marshal(series); err != nil {
		return nil, err
	}
	fields["version"] = json.RawMessage("2")
	return json.Marshal(fields)
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
		if !tally.ValidCount(v) {
			return badState("invalid re-read value %v", v)
		}
	}
	st.reconciled = Reconciled{
		Missed: r.Missed, Extra: r.Extra, LastSuccess: fromUnix(r.LastSuccess), DayStart: fromUnix(r.DayStart),
		DayChats: r.DayChats, DayMissed: r.DayMissed, Delay: time.Duration(r.DelaySeconds * float64(time.Second)),
	}
	for _, d := range f.Days {
		if d.End <= d.Start || d.From < d.Start || d.From > d.End || !tally.ValidCount(d.Missed) {
			return badState("invalid day %d..%d", d.Start, d.End)
		}
		st.days = append(st.days, &countedDay{start: fromUnix(d.Start), end: fromUnix(d.End), from: fromUnix(d.From), ids: d.IDs, early: d.Early,
			missed: d.Missed, reread: d.Reread})
	}
	slices.SortFunc(st.days, func(a, b *countedDay) int { return a.start.Compare(b.start) })
	st.TruncatedResponses, st.TruncatedQueries, st.SkippedSeconds = f.TruncatedResponses, f.TruncatedQueries, f.SkippedSeconds
	st.LastSuccess, st.LastRecords = fromUnix(f.LastSuccess), f.LastRecords
	st.failures, st.BackoffUntil = f.Failures, fromUnix(f.BackoffUntil)
	for _, v := range []float64{f.TruncatedResponses, f.TruncatedQueries, f.SkippedSeconds} {
		if !tally.ValidCount(v) {
			return badState("invalid counter value %v", v)
		}
	}
	if err := restoreRequests(st.Requests, f.Requests); err != nil {
		return err
	}
	restoreCallTime(&st.CallTime, f.CallTime)
	for api, saved := range f.Realtime {
		if !slices.Contains(wolkvox.RealtimeAPIs, wolkvox.API(api)) || saved.Failures < 0 {
			return badState("invalid real-time API %q", api)
		}
		h := st.realtimeHealth(wolkvox.API(api))
		if err := restoreRequests(h.Requests, saved.Requests); err != nil {
			return err
		}
		restoreCallTime(&h.CallTime, saved.CallTime)
		for reason, v := range saved.Skipped {
			if !tally.ValidCount(v) {
				return badState("invalid skipped counter %q = %v", reason, v)
			}
			h.Skipped[reason] = v
		}
		h.failures, h.BackoffUntil = saved.Failures, fromUnix(saved.BackoffUntil)
	}
	for _, g := range f.Seen {
		for _, id := range g.IDs {
			st.seen[id] = g.Until
		}
	}
	return nil
}

// restoreRequests reads saved call counters by result into dst.
func restoreRequests(dst map[wolkvox.Result]float64, saved map[string]float64) error {
	for r, v := range saved {
		if !slices.Contains(wolkvox.Results, wolkvox.Result(r)) || !tally.ValidCount(v) {
			return badState("invalid request counter %q = %v", r, v)
		}
		dst[wolkvox.Result(r)] = v
	}
	return nil
}

// restoreCallTime reads a saved call-time histogram into dst, unless its buckets
// changed between versions: then call times start again.
func restoreCallTime(dst *tally.Cell, saved tally.SavedHistogram) {
	if len(saved.Counts) != len(CallTimeBuckets)+1 || !tally.ValidCount(saved.Sum) {
		return
	}
	copy(dst.Buckets, saved.Counts)
	for _, n := range saved.Counts {
		dst.Count += n
	}
	dst.Sum = saved.Sum
}

// Seed writes the state that live counting of operation op starts from when a
// history of it was written up to at, before the exporter's first start: the
// history's counts, so that the counters go on from the values history ends with
// (Prometheus sees no restart where the two join), and the cursor at at, so that each
// chat is counted once. A state that exists is kept: live counting has begun.
func (st *Store) Seed(op config.Operation, h config.Histograms, counts *tally.Tally, at, now time.Time) error {
	if err := PrepareStorage(st.dir); err != nil {
		return err
	}
	path := st.path(op.Name)
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s exists: live counting has begun, and goes on from its own counts", path)
	}
	s := &Settings{Config: op, Tally: tally.SettingsOf(op, h)}
	seeded := newState(s)
	seeded.tally = counts.Clone()
	seeded.cursor, seeded.countingSince = at, at
	seeded.committed = true // the history's series exist: a label set new to live counting is held
	return st.save(s, seeded, now)
}

// CountingSince reads, from the state saved in the store, when live counting of
// operation op began: the start of its first window. A history that ends there joins
// live counting without counting a chat twice.
func (st *Store) CountingSince(op config.Operation) (time.Time, error) {
	path := st.path(op.Name)
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
	if f.Operation != op.Name || f.Upstream != Upstream(op) {
		return time.Time{}, fmt.Errorf("the live state %s is of operation %q at %s, not %q at %s", path, f.Operation, f.Upstream, op.Name, Upstream(op))
	}
	if f.CountingSince <= 0 {
		return time.Time{}, fmt.Errorf("the live state %s does not say when counting began (it was written by an older version)", path)
	}
	return time.Unix(f.CountingSince, 0), nil
}
