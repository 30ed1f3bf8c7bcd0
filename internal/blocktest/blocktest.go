// Package blocktest reads Prometheus TSDB blocks back for tests, as Prometheus would
// read them: every sample of every series, with a check that no two blocks overlap,
// and the metric families the series make.
package blocktest

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Point is one sample: a value at a time in milliseconds.
type Point struct {
	T int64
	V float64
}

// Series is a series and its samples, in time order.
type Series struct {
	Labels labels.Labels
	Points []Point
}

// Read returns every series of the blocks in dir, by labels.Labels.String(). Blocks
// that overlap in time fail the test: a day written twice would.
func Read(tb testing.TB, dir string) map[string]*Series {
	tb.Helper()
	out := map[string]*Series{}
	withBlocks(tb, dir, func(blocks []tsdb.BlockReader) {
		slices.SortFunc(blocks, func(a, b tsdb.BlockReader) int { return cmp.Compare(a.Meta().MinTime, b.Meta().MinTime) })
		for i, b := range blocks {
			if prev := blocks[max(i-1, 0)].Meta(); i > 0 && b.Meta().MinTime < prev.MaxTime {
				tb.Fatalf("blocks overlap: %d..%d and %d..%d", prev.MinTime, prev.MaxTime, b.Meta().MinTime, b.Meta().MaxTime)
			}
			readBlock(tb, b, out)
		}
	})
	return out
}

func readBlock(tb testing.TB, b tsdb.BlockReader, out map[string]*Series) {
	tb.Helper()
	q, err := tsdb.NewBlockQuerier(b, math.MinInt64, math.MaxInt64)
	if err != nil {
		tb.Fatal(err)
	}
	defer closeOrFail(tb, q)
	set := q.Select(tb.Context(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	for set.Next() {
		s := set.At()
		key := s.Labels().String()
		if out[key] == nil {
			out[key] = &Series{Labels: s.Labels()}
		}
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			out[key].Points = append(out[key].Points, Point{t, v})
		}
		if it.Err() != nil {
			tb.Fatal(it.Err())
		}
	}
	if set.Err() != nil {
		tb.Fatal(set.Err())
	}
}

// withBlocks calls fn with the blocks of the data directory dir, open until it returns.
func withBlocks(tb testing.TB, dir string, fn func([]tsdb.BlockReader)) {
	tb.Helper()
	db, err := tsdb.OpenDBReadOnly(dir, "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer closeOrFail(tb, db)
	blocks, err := db.Blocks()
	if err != nil {
		tb.Fatal(err)
	}
	fn(blocks)
}

// Blocks counts the blocks in dir.
func Blocks(tb testing.TB, dir string) int {
	tb.Helper()
	n := 0
	withBlocks(tb, dir, func(blocks []tsdb.BlockReader) { n = len(blocks) })
	return n
}

func closeOrFail(tb testing.TB, c interface{ Close() error }) {
	tb.Helper()
	if err := c.Close(); err != nil {
		tb.Error(err)
	}
}
