package poller_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// newStore is a Store in a new temporary directory, and its directory.
func newStore(t *testing.T) (*poller.Store, string) {
	t.Helper()
	dir := t.TempDir()
	if err := poller.PrepareStorage(dir); err != nil {
		t.Fatal(err)
	}
	return poller.OpenStorage(dir), dir
}

// editState rewrites the saved state of operation main in dir with edit, as a user
// with an editor would. Numbers stay as written: the dedupe memory's hashes do not
// fit a float64.
func editState(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "main.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var state map[string]any
	if err := dec.Decode(&state); err != nil {
		t.Fatal(err)
	}
	edit(state)
	if data, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rereads are the calls of chat_1 made after the live call of a refresh: the
// re-read's, which follows it at the same instant.
func rereads(up *upstream) []call {
	var out []call
	live := up.of("chat_1")
	for i, c := range live {
		if i > 0 && c.at.Equal(live[i-1].at) {
			out = append(out, c)
		}
	}
	return out
}

// cursorMovedBack runs an operation with a store for three calls from 10:00 in
// Bogota, so that the dedupe memory, which spans overlap, still holds every chat
// counted; moves the cursor back in the saved state by back, leaving the memory as
// it was, as a user editing the file would; and restarts. The last window returns
// a chat first, so the memory reaches its end, and the chat "edge" closes in the
// second after it.
func cursorMovedBack(t *testing.T, back time.Duration) *rig {
	t.Helper()
	store, dir := newStore(t)
	lastCall := startTime.Add(10 * time.Minute)
	fixed := simulator.Chats{chat("last", lastCall.Add(-time.Minute)), chat("edge", lastCall.Add(time.Second))}
	r := newRig(t, sources{simulator.NewTraffic(7, 120), fixed}, simulator.Options{Location: testkit.Zone(t, "America/Bogota")}, baseConfig, store)
	r.pollUntil(lastCall, 5*time.Minute, nil)
	if st := r.op.Status(); chats(st) < 5 || float64(st.Tracked) != chats(st) {
		t.Fatalf("%v chats counted, %d tracked: the test needs a dedupe memory of every chat counted", chats(st), st.Tracked)
	}
	editState(t, dir, func(state map[string]any) {
		cursor, err := state["cursor"].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		state["cursor"] = cursor - int64(back/time.Second)
	})
	r.restart()
	return r
}

// The cursor moved back 60 days: after the restart the catch-up reads yesterday,
// whose record is not whole (the memory holds chats first seen after its end), so
// its re-read must read nothing and count nothing. Before the fix it read a window
// starting after the day's end, counted the chat closed there a second time, and
// reported every chat of yesterday as extra.
func TestRereadOfADayWithoutAWholeRecord(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	r := cursorMovedBack(t, 60*24*time.Hour)
	today, midnight := wolkvox.Day(startTime, loc)
	yesterday, _ := wolkvox.Day(today.Add(-time.Second), loc)
	rereadAt := midnight.Add(2 * time.Hour) // today's re-read, reconcile.after past midnight
	// What the re-reads showed wrong, the first time each is seen.
	var wrong []string
	check := func(now time.Time) {
		rec := r.op.Status().Reconciled
		if rec.DayStart.Equal(yesterday) && len(wrong) == 0 {
			wrong = append(wrong, fmt.Sprintf("at %v yesterday was re-read: %+v", now.In(loc), *rec))
		}
		if now.Before(rereadAt) && (rec.Extra != 0 || rec.Missed != 0) && len(wrong) < 2 {
			wrong = append(wrong, fmt.Sprintf("at %v, before today was over: extra %v, missed %v", now.In(loc), rec.Extra, rec.Missed))
		}
	}
	// Every 5 minutes while yesterday's re-read would be due, then less often (each
	// call saves the state, synced to disk) through midnight and today's re-read.
	r.pollUntil(r.clock.Now().Add(30*time.Minute), 5*time.Minute, check)
	r.pollUntil(rereadAt.Add(30*time.Minute), 20*time.Minute, check)

	for _, w := range wrong {
		t.Error(w)
	}
	// The only re-read is today's, from where counting began to midnight.
	want := fmt.Sprint([]string{wire(startTime.Add(-10*time.Minute), loc) + ".." + wire(midnight.Add(-time.Second), loc)})
	var got []string
	for _, c := range rereads(r.up) {
		got = append(got, c.from+".."+c.to)
		// Before midnight only yesterday may be re-read, and only before its end.
		if c.at.Before(midnight) && c.from >= wire(today, loc) {
			t.Errorf("at %v, a re-read of yesterday from %s, at or after its end %s", c.at.In(loc), c.from, wire(today, loc))
		}
	}
	if fmt.Sprint(got) != want {
		t.Errorf("re-reads %v, want %v", got, want)
	}
	if rec := r.op.Status().Reconciled; !rec.DayStart.Equal(today) || rec.Missed != 0 {
		t.Errorf("re-read %v with %v missed, want today's with none", rec.DayStart, rec.Missed)
	}
	if got, served := chats(r.op.Status()), r.up.distinctServed(); got != served {
		t.Errorf("%v chats counted, %v distinct chats served: a chat was counted twice", got, served)
	}
	if strings.Contains(r.logs.String(), "re-read did not succeed") {
		t.Error("a day whose record was not whole is reported as a re-read that failed")
	}
}

// With the cursor moved back within today, the catch-up counts today's chats that
// closed before today's record is whole (from the first window's start). Today's
// re-read reads from there only: the chats counted early are not extra, though it
// does not return those that closed before.
func TestRereadExtraAfterTheCursorMovedBack(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	r := cursorMovedBack(t, 3*time.Hour)
	_, midnight := wolkvox.Day(startTime, loc)
	r.pollUntil(midnight.Add(2*time.Hour+30*time.Minute), 20*time.Minute, nil)
	rec := r.op.Status().Reconciled
	if got, served := chats(r.op.Status()), r.up.distinctServed(); got != served {
		t.Fatalf("%v chats counted, %v distinct served", got, served)
	}
	if rec.DayStart.IsZero() || rec.Extra != 0 {
		t.Errorf("today re-read with %v extra: want none, every chat counted was served (%+v)", rec.Extra, rec)
	}
}

// servedIn is the distinct chats the simulator served that closed in [from, to).
func (u *upstream) servedIn(from, to time.Time) map[string]bool {
	out := map[string]bool{}
	for _, c := range u.sim.Served() {
		if !c.Closed.Before(from) && c.Closed.Before(to) {
			out[c.ConnID] = true
		}
	}
	return out
}

// An API that lists chats 12 minutes after they close, polled with 10 minutes of
// overlap: live polling misses some. Once the day is over and reconcile.after has
// passed, the re-read counts them, once, and says how many it found and how late.
func TestRereadCountsLateChats(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	start := time.Date(2026, 11, 23, 22, 0, 0, 0, loc)
	midnight := start.Add(2 * time.Hour)
	rereadAt := midnight.Add(2 * time.Hour)
	traffic := simulator.NewTraffic(7, 600)
	r := newRig(t, traffic, simulator.Options{Location: loc, VisibilityDelay: 12 * time.Minute}, baseConfig, nil)
	r.clock.Set(start)
	var servedBefore map[string]bool
	r.pollUntil(rereadAt.Add(time.Hour), 5*time.Minute, func(now time.Time) {
		if now.Before(rereadAt) {
			servedBefore = r.up.servedIn(start.Add(-10*time.Minute), midnight)
			if rec := r.op.Status().Reconciled; rec.Missed != 0 || !rec.DayStart.IsZero() {
				t.Fatalf("at %v, before the re-read: %+v", now.In(loc), rec)
			}
		}
	})
	truth := map[string]bool{}
	for _, c := range traffic.ChatsClosedBetween(start.Add(-10*time.Minute), midnight.Add(-time.Nanosecond)) {
		truth[c.ConnID] = true
	}
	lost := float64(len(truth) - len(servedBefore))
	if lost <= 0 || len(truth) < 50 {
		t.Fatalf("%d chats closed, live polling counted %d: the test needs chats it missed", len(truth), len(servedBefore))
	}
	rec := r.op.Status().Reconciled
	if rec.Missed != lost || rec.DayMissed != lost || rec.Extra != 0 {
		t.Errorf("missed %v (day %v), extra %v: want %v missed and none extra", rec.Missed, rec.DayMissed, rec.Extra, lost)
	}
	if day, _ := wolkvox.Day(start, loc); !rec.DayStart.Equal(day) || rec.DayChats != float64(len(truth)) {
		t.Errorf("day %v with %v chats, want %v with the %d closed from the first window to midnight", rec.DayStart, rec.DayChats, day, len(truth))
	}
	if rec.Delay < 10*time.Minute {
		t.Errorf("listing delay %v: the chats found late were not listed 10 minutes after closing, at least", rec.Delay)
	}
	if got, served := chats(r.op.Status()), r.up.distinctServed(); got != served {
		t.Errorf("%v chats counted, %v distinct served: each must count once", got, served)
	}
	if n := len(rereads(r.up)); n != 1 {
		t.Errorf("%d re-reads of the day, want 1", n)
	}
}
