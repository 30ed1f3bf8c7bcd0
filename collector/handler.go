package collector

import (
	"compress/flate"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// DefaultScrapeTimeout is assumed when a scraper does not send
// X-Prometheus-Scrape-Timeout-Seconds; it is Prometheus' own default.
const DefaultScrapeTimeout = 10 * time.Second

// Handler serves the metrics of g plus the chat metrics of c, after refreshing c.
// It waits for API answers no longer than the scraper's timeout less offset, then
// serves what it has: a slow API never fails the scrape, and its answer lands in a
// later one. The chat metrics are rendered once per change and served from memory;
// families of g with the same names are left out.
func Handler(c *Collector, g prometheus.Gatherer, offset time.Duration, errorLog promhttp.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeBudget(r, offset))
		c.Refresh(ctx)
		cancel()

		format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
		compressed := acceptsGzip(r)
		chats, chatNames, err := c.exposition.render(c, format, compressed)
		if err != nil {
			logError(errorLog, "chat metrics: ", err)
			chats = &rendering{}
		}
		mfs, err := g.Gather()
		if err != nil {
			// As promhttp's ContinueOnError: serve what was gathered.
			logError(errorLog, "gather: ", err)
		}

		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		var gz *gzipTail
		if compressed {
			w.Header().Set("Content-Encoding", "gzip")
			if gz, err = startGzip(w, chats); err != nil {
				return // the scraper went away
			}
			out = gz
		} else if _, err := w.Write(chats.plain); err != nil {
			return
		}
		// The chat metrics come first, so OpenMetrics' "# EOF" can close the body.
		enc := expfmt.NewEncoder(out, format)
		for _, mf := range mfs {
			if chatNames[mf.GetName()] {
				continue
			}
			if err := enc.Encode(mf); err != nil {
				logError(errorLog, "encode: ", err)
				return
			}
		}
		if closer, ok := enc.(expfmt.Closer); ok {
			_ = closer.Close()
		}
		if gz != nil {
			_ = gz.finish()
		}
	})
}

// gzipTail writes one gzip member whose first part is the cached, already deflated
// chat metrics, and compresses what follows as it is written. A single member,
// rather than two concatenated, is what every gzip client reads.
type gzipTail struct {
	w    io.Writer
	fw   *flate.Writer
	crc  uint32
	size uint32
}

var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255} // deflate, no name or time, unknown OS

var flateWriters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.DefaultCompression)
	return fw
}}

func startGzip(w io.Writer, head *rendering) (*gzipTail, error) {
	if _, err := w.Write(gzipHeader); err != nil {
		return nil, err
	}
	if _, err := w.Write(head.deflated); err != nil {
		return nil, err
	}
	fw := flateWriters.Get().(*flate.Writer)
	fw.Reset(w)
	return &gzipTail{w: w, fw: fw, crc: head.crc, size: uint32(len(head.plain))}, nil //nolint:gosec // G115: ISIZE is the length modulo 2^32
}

func (g *gzipTail) Write(p []byte) (int, error) {
	g.crc = crc32.Update(g.crc, crc32.IEEETable, p)
	g.size += uint32(len(p)) //nolint:gosec // G115: ISIZE is the length modulo 2^32
	return g.fw.Write(p)
}

func (g *gzipTail) finish() error {
	defer flateWriters.Put(g.fw)
	if err := g.fw.Close(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], g.crc)
	binary.LittleEndian.PutUint32(trailer[4:], g.size)
	_, err := g.w.Write(trailer[:])
	return err
}

func logError(l promhttp.Logger, prefix string, err error) {
	if l != nil {
		l.Println(prefix + err.Error())
	}
}

// acceptsGzip reads Accept-Encoding, honouring q=0.
func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
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
