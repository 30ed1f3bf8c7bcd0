package collector

import (
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// chatExposition renders the chat metrics once per change of state and serves the
// bytes to every scrape in between. They are most of the exposition (thousands of
// series) and change only when an API call commits, or a new series' hold ends.
type chatExposition struct {
	mu         sync.Mutex
	states     []*state  // the states rendered, one per operation
	validUntil time.Time // a hold ends then; zero if none is waiting
	families   []*dto.MetricFamily
	names      map[string]bool
	rendered   map[expfmt.Format]*rendering
}

// rendering is the chat metrics in one format: as text, and deflated for gzip.
type rendering struct {
	plain    []byte
	deflated []byte // deflate blocks ending in a sync flush, so more blocks may follow
	crc      uint32 // CRC-32 of plain, which a gzip trailer covering more data starts from
}

// deflate compresses the rendering once, on the first scrape that asks for gzip.
func (r *rendering) deflate() error {
	if r.deflated != nil {
		return nil
	}
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		return err
	}
	if _, err := fw.Write(r.plain); err != nil {
		return err
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	r.deflated = buf.Bytes()
	r.crc = crc32.ChecksumIEEE(r.plain)
	return nil
}

// current returns the chat metric families for now, gathering them again only if a
// state changed or a hold ended.
func (x *chatExposition) current(c *Collector) ([]*dto.MetricFamily, map[string]bool, error) {
	c.mu.RLock()
	ops := c.ops
	c.mu.RUnlock()
	now := c.now()
	states := make([]*state, len(ops))
	for i, op := range ops {
		op.mu.RLock()
		states[i] = op.state
		op.mu.RUnlock()
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	if x.families != nil && slices.Equal(states, x.states) && (x.validUntil.IsZero() || now.Before(x.validUntil)) {
		return x.families, x.names, nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(chatMetrics{c}); err != nil {
		return nil, nil, err
	}
	// Collect reads each operation's state again; the cache is keyed by the states
	// read above, so a state published meanwhile only makes the next scrape rebuild.
	mfs, err := reg.Gather()
	if err != nil {
		return nil, nil, fmt.Errorf("gather chat metrics: %w", err)
	}
	var validUntil time.Time
	for _, st := range states {
		if at := st.tally.nextShown(now, c.hold); !at.IsZero() && (validUntil.IsZero() || at.Before(validUntil)) {
			validUntil = at
		}
	}
	x.states, x.validUntil, x.families = states, validUntil, mfs
	x.names = map[string]bool{}
	for _, mf := range mfs {
		x.names[mf.GetName()] = true
	}
	x.rendered = map[expfmt.Format]*rendering{}
	return x.families, x.names, nil
}

// render returns the chat metrics encoded in format, without any end-of-stream
// marker, deflated too if compressed is set, and the names of their families.
func (x *chatExposition) render(c *Collector, format expfmt.Format, compressed bool) (*rendering, map[string]bool, error) {
	mfs, names, err := x.current(c)
	if err != nil {
		return nil, nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.rendered[format]
	if !ok || !slices.Equal(mfs, x.families) {
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return nil, nil, fmt.Errorf("encode %s: %w", mf.GetName(), err)
			}
		}
		r = &rendering{plain: buf.Bytes()}
		if slices.Equal(mfs, x.families) {
			x.rendered[format] = r
		}
	}
	if compressed {
		if err := r.deflate(); err != nil {
			return nil, nil, fmt.Errorf("compress chat metrics: %w", err)
		}
	}
	return r, names, nil
}
