package collector

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

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
