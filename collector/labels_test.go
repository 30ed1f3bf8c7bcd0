package collector

import (
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Label values are made safe whatever a record holds; the API's spellings are
// normalized by the wolkvox package (TestForms).
func TestCleanValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Sale\tclosed \n ok", "Sale closed ok"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{strings.Repeat("é", 150), strings.Repeat("é", maxValueLen)},
		{"", "unknown"},
		{"  ", "unknown"},
		{"google business", "google business"},
	} {
		if got := cleanValue(tc.in); got != tc.want {
			t.Errorf("cleanValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLabelLimiter(t *testing.T) {
	l := newLabelLimiter(2)
	staged := map[string]map[string]struct{}{}
	got := []string{
		l.admit("channel", "a", staged), l.admit("channel", "b", staged), l.admit("channel", "c", staged),
		l.admit("channel", "a", staged), l.admit("skill", "c", staged),
	}
	if strings.Join(got, ",") != "a,b,other,a,c" {
		t.Fatalf("admitted %v", got)
	}
	// Staged values count only once committed: a discarded batch frees its slots.
	if next := l.admit("channel", "c", map[string]map[string]struct{}{}); next != "c" {
		t.Fatalf("an uncommitted batch kept its values: got %q", next)
	}
	l.commit(staged)
	if next := l.admit("channel", "c", map[string]map[string]struct{}{}); next != "other" {
		t.Fatalf("after commit the limit is not enforced: got %q", next)
	}
}

func TestScrapeBudget(t *testing.T) {
	for _, tc := range []struct {
		header string
		offset time.Duration
		want   time.Duration
	}{
		{"", 500 * time.Millisecond, DefaultScrapeTimeout - 500*time.Millisecond},
		{"10", 500 * time.Millisecond, 9500 * time.Millisecond},
		{"2.5", 0, 2500 * time.Millisecond},
		{"0.3", 500 * time.Millisecond, 0},
		{"junk", 0, DefaultScrapeTimeout},
		{"-4", 0, DefaultScrapeTimeout},
	} {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
		if tc.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
		}
		if got := scrapeBudget(r, tc.offset); got != tc.want {
			t.Errorf("header %q offset %v: budget %v, want %v", tc.header, tc.offset, got, tc.want)
		}
	}
}

// connKey is saved in state files, so it must stay FNV-1a 64 forever.
func TestConnKeyIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "a", "WV-000000000001", "conn_ñ_\x00_id", strings.Repeat("x", 1000)} {
		h := fnv.New64a()
		h.Write([]byte(id))
		if got, want := connKey(id), h.Sum64(); got != want {
			t.Errorf("connKey(%q) = %x, want %x", id, got, want)
		}
	}
	if got := connKey("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("connKey(\"a\") = %x, the published FNV-1a 64 value is af63dc4c8601ec8c", got)
	}
}
