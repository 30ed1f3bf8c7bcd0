package blocktest

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Family is a metric family as blocks hold it. A block keeps no types: a name with
// le buckets is a histogram's.
type Family struct {
	Histogram bool
	// Labels are its label names, sorted, without le.
	Labels []string
	// Bounds are a histogram's bucket bounds, in order, without +Inf.
	Bounds []float64
}

// Families reads the families of the blocks in dir, by the name PromQL gives them
// (a histogram's without _bucket, _count or _sum), leaving out the labels named in
// without.
func Families(tb testing.TB, dir string, without ...string) map[string]Family {
	tb.Helper()
	names := map[string]map[string]bool{}
	bounds := map[string][]float64{}
	for _, s := range Read(tb, dir) {
		lbls := s.Labels
		name := lbls.Get(model.MetricNameLabel)
		if base, ok := strings.CutSuffix(name, "_bucket"); ok && lbls.Has("le") {
			name = base
			if le := lbls.Get("le"); le != "+Inf" {
				v, err := strconv.ParseFloat(le, 64)
				if err != nil {
					tb.Fatalf("%s: le=%q: %v", lbls, le, err)
				}
				if !slices.Contains(bounds[name], v) {
					bounds[name] = append(bounds[name], v)
				}
			}
		}
		if names[name] == nil {
			names[name] = map[string]bool{}
		}
		lbls.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel && l.Name != "le" && !slices.Contains(without, l.Name) {
				names[name][l.Name] = true
			}
		})
	}
	out := map[string]Family{}
	for name, labelNames := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(name, "_count"), "_sum")
		if _, histogram := bounds[base]; histogram && base != name {
			continue // a histogram's count or sum
		}
		f := Family{Labels: slices.Sorted(maps.Keys(labelNames))}
		if b, ok := bounds[name]; ok {
			slices.Sort(b)
			f.Histogram, f.Bounds = true, b
		}
		out[name] = f
	}
	return out
}
