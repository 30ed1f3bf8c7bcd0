package tally

import "sort"

// Cell is the value of one series: a counter's, or a histogram's count, sum and
// buckets.
type Cell struct {
	Bounds  []float64 // a histogram's upper bounds, shared and never modified; nil for a counter
	Buckets []uint64  // per bound, not cumulative, and one past every bound
	Count   uint64    // a histogram's
	Sum     float64   // a counter's value, or a histogram's sum
}

// NewHistogram returns an empty histogram with bounds.
func NewHistogram(bounds []float64) Cell {
	return Cell{Bounds: bounds, Buckets: make([]uint64, len(bounds)+1)}
}

// Observe adds v: to a counter's value, or as a histogram's observation.
func (c *Cell) Observe(v float64) {
	if c.Buckets != nil {
		c.Buckets[sort.SearchFloat64s(c.Bounds, v)]++
		c.Count++
	}
	c.Sum += v
}

// Add adds o, a cell of the same family.
func (c *Cell) Add(o *Cell) {
	for i, n := range o.Buckets {
		c.Buckets[i] += n
	}
	c.Count += o.Count
	c.Sum += o.Sum
}

// Clone returns a copy that does not share buckets with c.
func (c Cell) Clone() Cell {
	if c.Buckets != nil {
		c.Buckets = append([]uint64(nil), c.Buckets...)
	}
	return c
}

// Cumulative returns the buckets as client_golang's const histograms take them.
func (c *Cell) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(c.Bounds))
	var running uint64
	for i, b := range c.Bounds {
		running += c.Buckets[i]
		out[b] = running
	}
	return out
}
