package collector

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultScrapeTimeout is assumed when a scraper does not send
// X-Prometheus-Scrape-Timeout-Seconds; it is Prometheus' own default.
const DefaultScrapeTimeout = 10 * time.Second

// Handler serves the metrics of g, which holds c, with promhttp after refreshing c.
// A scrape waits for the API no longer than the scraper's timeout less offset, then
// serves what c has: a slow API never fails the scrape, and its answer lands in a
// later one. opts.MaxRequestsInFlight bounds the scrapes served at once, the wait
// for the API included; more are answered 503 at once, as promhttp answers them.
func Handler(c *Collector, g prometheus.Gatherer, offset time.Duration, opts promhttp.HandlerOpts) http.Handler {
	var inFlight chan struct{}
	if n := opts.MaxRequestsInFlight; n > 0 {
		inFlight = make(chan struct{}, n)
	}
	opts.MaxRequestsInFlight = 0 // bounded here, around the refresh too
	metrics := promhttp.HandlerFor(g, opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight != nil {
			select {
			case inFlight <- struct{}{}:
				defer func() { <-inFlight }()
			default:
				http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", cap(inFlight)), http.StatusServiceUnavailable)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), scrapeBudget(r, offset))
		c.Refresh(ctx)
		cancel()
		metrics.ServeHTTP(w, r)
	})
}

// scrapeBudget is how long a scrape may wait for API answers.
func scrapeBudget(r *http.Request, offset time.Duration) time.Duration {
	timeout := DefaultScrapeTimeout
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 && secs < 3600 {
			timeout = time.Duration(secs * float64(time.Second))
		}
	}
	return max(timeout-offset, 0)
}
