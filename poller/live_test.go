package poller_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// badGateway is an answer that is not the API's: a proxy's error page.
var badGateway = &simulator.Fault{Status: http.StatusBadGateway, Body: "<html>Bad Gateway</html>"}

// The first window starts overlap before the first call, and counting starts there
// for good: a first call that fails does not move it. Each answer moves the cursor
// on, to overlap before its call, where chats may still be listed late; a failed
// call leaves it.
func TestLiveWindows(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	at := func(minutes int) string { return wire(startTime.Add(time.Duration(minutes)*time.Minute), loc) }
	for _, tc := range []struct {
		name   string
		failed map[int]bool // the calls that fail, by number
		want   []string     // each call's window
	}{
		{"each answer moves the cursor", nil,
			[]string{at(-10) + ".." + at(0), at(-10) + ".." + at(5), at(-5) + ".." + at(10), at(0) + ".." + at(15)}},
		{"a first call that fails holds the first window's start", map[int]bool{0: true},
			[]string{at(-10) + ".." + at(0), at(-10) + ".." + at(5), at(-5) + ".." + at(10), at(0) + ".." + at(15)}},
		{"a failed call leaves the cursor", map[int]bool{2: true},
			[]string{at(-10) + ".." + at(0), at(-10) + ".." + at(5), at(-5) + ".." + at(10), at(-5) + ".." + at(15)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, simulator.NewTraffic(7, 300), simulator.Options{Location: loc}, baseConfig, nil)
			for i := range len(tc.want) {
				r.up.sim.SetFault(map[bool]*simulator.Fault{true: badGateway}[tc.failed[i]])
				r.refresh()
				r.clock.Advance(5 * time.Minute)
			}
			var got []string
			for _, c := range r.up.of("chat_1") {
				got = append(got, c.from+".."+c.to)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("windows\n%v\nwant\n%v", got, tc.want)
			}
			st := r.op.Status()
			if got, served := chats(st), r.up.distinctServed(); got != served || got == 0 {
				t.Errorf("%v chats counted, %v distinct served", got, served)
			}
			if got := float64(len(tc.failed)); st.Requests[wolkvox.ResultHTTPError] != got {
				t.Errorf("%v failures counted, want %v", st.Requests[wolkvox.ResultHTTPError], got)
			}
		})
	}
}

// After failures chat_1 is called again min_interval later, then twice as late
// after each failure in a row, at most max_backoff; whatever failed, the API or
// what answered for it. The first answer ends the backoff.
func TestFailureBackoffDoubles(t *testing.T) {
	for _, tc := range []struct {
		result wolkvox.Result
		fault  simulator.Fault
	}{
		{wolkvox.ResultHTTPError, *badGateway},
		{wolkvox.ResultConcurrencyLimited, simulator.Fault{Status: http.StatusForbidden,
			Body: `{"code":403,"error":"EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)","data":null}`}},
		{wolkvox.ResultUnauthorized, simulator.Fault{Status: http.StatusForbidden,
			Body: `{"code":403,"error":"PLEASE VALIDATE TOKEN","msg":"PLEASE VALIDATE TOKEN","data":null}`}},
		{wolkvox.ResultAPIError, simulator.Fault{Status: http.StatusOK, Body: `{"code":"500","msg":"report failed","data":[]}`}},
		{wolkvox.ResultDecodeError, simulator.Fault{Status: http.StatusOK, Body: `{"code":200,"data":[{"conn_id":"f1"`}},
	} {
		t.Run(string(tc.result), func(t *testing.T) {
			r := newRig(t, simulator.NewTraffic(7, 300), simulator.Options{}, baseConfig+"    max_backoff: 30m\n", nil)
			r.up.sim.SetFault(&tc.fault)
			// Failures at 0, 5, 15, 35, 65 and 95 minutes: 5, 10, 20, then 30 apart, not 40.
			failures := []int{0, 5, 15, 35, 65, 95}
			r.pollUntil(startTime.Add(100*time.Minute), time.Minute, func(now time.Time) {
				st := r.op.Status()
				n := len(r.up.of("chat_1"))
				want := startTime.Add(time.Duration(failures[n-1])*time.Minute + min(5*time.Minute<<(n-1), 30*time.Minute))
				if !st.BackoffUntil.Equal(want) || st.Up {
					t.Fatalf("at %v, after %d failures: up %v, no call before %v, want %v", now.Sub(startTime), n, st.Up, st.BackoffUntil, want)
				}
			})
			var got []int
			for _, c := range r.up.of("chat_1") {
				got = append(got, int(c.at.Sub(startTime)/time.Minute))
			}
			if fmt.Sprint(got) != fmt.Sprint(failures) {
				t.Fatalf("calls at minutes %v, want %v", got, failures)
			}
			if st := r.op.Status(); st.Requests[tc.result] != float64(len(failures)) {
				t.Errorf("requests %v, want %d of result %s", st.Requests, len(failures), tc.result)
			}
			// The backoff ends at 125 minutes; the answer then ends it for good.
			r.up.sim.SetFault(nil)
			r.clock.Set(startTime.Add(125 * time.Minute))
			r.refresh()
			r.clock.Advance(5 * time.Minute)
			r.refresh()
			if st := r.op.Status(); !st.Up || !st.BackoffUntil.IsZero() || len(r.up.of("chat_1")) != len(failures)+2 {
				t.Errorf("after an answer: up %v, no call before %v, %d calls", st.Up, st.BackoffUntil, len(r.up.of("chat_1")))
			}
		})
	}
}
