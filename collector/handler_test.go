package collector_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// get scrapes h with the given Accept and Accept-Encoding headers and returns the
// decompressed body and its content type.
func get(t *testing.T, h http.Handler, accept, encoding string) (string, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		br := bytes.NewReader(body)
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false) // one gzip member, as every client reads
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
		if br.Len() != 0 {
			t.Fatalf("%d bytes after the first gzip member", br.Len())
		}
	}
	return string(body), rec.Header().Get("Content-Type")
}

// families splits an exposition into its families, each in its own text form, in
// name order: the order of families in an exposition carries no meaning.
func families(t *testing.T, body, contentType string) []string {
	t.Helper()
	dec := expfmt.NewDecoder(strings.NewReader(body), expfmt.Format(contentType))
	if strings.Contains(contentType, "openmetrics") {
		// expfmt decodes no OpenMetrics: split the text at each family's HELP line.
		if !strings.HasSuffix(body, "# EOF\n") || strings.Count(body, "# EOF") != 1 {
			t.Fatalf("OpenMetrics exposition does not end with a single # EOF")
		}
		parts := strings.SplitAfter(strings.TrimSuffix(body, "# EOF\n"), "\n")
		var out []string
		for _, line := range parts {
			if strings.HasPrefix(line, "# HELP ") || len(out) == 0 {
				out = append(out, "")
			}
			out[len(out)-1] += line
		}
		slices.Sort(out)
		return out
	}
	var out []string
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode %s: %v", contentType, err)
		}
		var b strings.Builder
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

// The cached chat metrics serve the same exposition as client_golang's own handler
// over a registry holding every metric, in each format Prometheus may ask for, with
// and without gzip.
func TestHandlerMatchesPromhttp(t *testing.T) {
	h := newHarness(t, fileHandler(t, 200, "chats.json"), goldenConfig)
	h.refresh()
	ours := collector.Handler(h.coll, h.reg, 0, nil)
	reference := promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	for _, tc := range []struct{ name, accept string }{
		{"text", "text/plain;version=0.0.4"},
		{"OpenMetrics, as Prometheus asks", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
		{"no Accept", ""},
	} {
		for _, encoding := range []string{"", "gzip"} {
			t.Run(tc.name+" "+encoding, func(t *testing.T) {
				want, wantType := get(t, reference, tc.accept, encoding)
				got, gotType := get(t, ours, tc.accept, encoding)
				if gotType != wantType {
					t.Fatalf("content type %q, want %q", gotType, wantType)
				}
				gotFams, wantFams := families(t, got, gotType), families(t, want, wantType)
				if strings.Join(gotFams, "") != strings.Join(wantFams, "") {
					t.Fatalf("exposition differs from promhttp's:\n--- ours\n%s\n--- promhttp\n%s", strings.Join(gotFams, ""), strings.Join(wantFams, ""))
				}
				if !strings.Contains(got, "wolkvox_chats_total") {
					t.Fatal("no chat metrics")
				}
			})
		}
	}
}

// The cache is renewed when an answer commits and when a new series' hold ends.
func TestHandlerCacheFollowsState(t *testing.T) {
	t0 := startTime
	first := chat("h1", t0.Add(-time.Minute))
	fresh := chat("h3", t0.Add(4*time.Minute))
	fresh.Channel = "Instagram"
	h := newHarness(t, simulator.NewServer(simulator.Chats{first, fresh}, simulator.Options{}), baseConfig)
	// The handler alone, as the exporter serves it: the registry has no chat metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.coll)
	handler := collector.Handler(h.coll, reg, 0, nil)
	scrape := func() string {
		body, _ := get(t, handler, "text/plain;version=0.0.4", "")
		return body
	}
	const instagram = `wolkvox_chats_total{channel="instagram",feeling="neutral",last_participant="agent",operation="main",skill="12"}`
	const whatsapp = `wolkvox_chats_total{channel="whatsapp",feeling="neutral",last_participant="agent",operation="main",skill="12"}`
	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{0, []string{whatsapp + " 1"}},                                 // first call
		{5 * time.Minute, []string{whatsapp + " 1", instagram + " 0"}}, // second call: held
		{collector.DefaultNewSeriesHold - time.Second, []string{instagram + " 0"}},
		{time.Second, []string{whatsapp + " 1", instagram + " 1"}}, // the hold ends
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		body := scrape()
		for _, line := range s.want {
			if !strings.Contains(body, line+"\n") {
				t.Fatalf("step %d: no line %q in\n%s", i, line, body)
			}
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"identity", false},
		{"x-gzip", false},
	} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", tc.header)
		rec := httptest.NewRecorder()
		collector.Handler(collector.New(log.NewNopLogger()), prometheus.NewRegistry(), 0, nil).ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", tc.header, got, tc.want)
		}
	}
}
