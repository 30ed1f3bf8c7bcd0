package tally

import (
	"math"
	"slices"
)

// The series budget, max_series. It bounds what Prometheus must ingest: the series
// of an operation's chat metrics, and their size, at most BytesPerSeries a series
// on average. A record whose label set would pass either is counted under a set
// with some labels folded into "other", the most detailed that fits: the labels
// fold by their Label.fold, feeling and last participant first, then skill, then
// channel. The last set of each chain is always allowed, so no chat goes uncounted
// and the budget is passed by a few series at most. Which set a record gets depends
// only on the series that exist, which the state keeps across restarts; a chat is
// counted once whatever set it gets.

// BytesPerSeries is the average size of a series that max_series allows: 10,000
// series, the default, take at most 1.9 MB of /metrics, and the exporter's other
// metrics fit beside them under 2 MB. Label values of the usual length stay well
// below it (about 120 bytes a series); long ones fold sooner.
const BytesPerSeries = 190

// fits takes a label set's series and size from the budget if they fit; a label set
// that adds nothing always fits.
func (b *Batch) fits(n, size int) bool {
	limit := b.base.settings.MaxSeries
	if n > 0 && (b.series+n > limit || b.size+size > limit*BytesPerSeries) {
		return false
	}
	b.take(n, size)
	return true
}

func (b *Batch) take(n, size int) {
	b.series += n
	b.size += size
}

// newCost is what counting under k in group g adds: nothing if k has a series
// already, in the base or in this batch.
func (b *Batch) newCost(g *Group, k Key) (n, size int) {
	if b.base.series[g.index][k] != nil || b.Delta.series[g.index][k] != nil {
		return 0, 0
	}
	return b.base.cost(g, k)
}

// fit decides the label set a chat with these label values counts under in each
// group it counts in, and reports whether the budget folded any label, as the
// fitting of its settings plans it (fitting).
func (b *Batch) fit(c *Chat, values [maxLabels]string) (folded bool) {
	for _, u := range fittings[b.base.settings.AgentMetrics] {
		candidate := values
		for _, step := range u.steps {
			for _, l := range u.free {
				if l.fold <= step && step > 0 {
					candidate[l.index] = OtherValue
				}
			}
			n, size := b.unitCost(u.groups, &candidate)
			if step == lastStep {
				b.take(n, size)
				break
			}
			if b.fits(n, size) {
				break
			}
		}
		for _, g := range u.groups {
			c.keys[g.index], c.in[g.index] = keyOf(g, &candidate), true
		}
		for _, l := range u.free {
			folded = folded || candidate[l.index] != values[l.index]
			values[l.index] = candidate[l.index]
		}
	}
	return folded
}

// fitting is how the budget fits a chat's labels to a group: groups are fitted in
// order, each with the later groups whose labels are among its own (a chat's scope
// with its chat labels), whose cost it shares. A label fitted with one group keeps
// its value in the later ones; the labels not yet fitted, free, fold step by step,
// by their fold, until the label sets fit, and with every one of them folded the
// sets are taken whatever they cost.
type fitting struct {
	groups []*Group
	free   []*Label
	steps  []int // 0, none folded; then each fold of free in turn; the last folds all
}

// lastStep folds every label not yet fitted.
const lastStep = math.MaxInt

// fittings are the fittings of the groups, without agent metrics and with them;
// init plans them once the labels and groups know their indexes.
var fittings map[bool][]fitting

func planFittings(agentMetrics bool) []fitting {
	s := Settings{AgentMetrics: agentMetrics}
	var out []fitting
	var fixed [maxLabels]bool
	var fitted [maxGroups]bool
	for _, g := range Groups {
		if fitted[g.index] || !g.counts(s) {
			continue
		}
		u := fitting{groups: []*Group{g}, steps: []int{0}}
		for _, later := range Groups[g.index+1:] {
			if !fitted[later.index] && later.counts(s) && labelsWithin(later, g) {
				u.groups = append(u.groups, later)
			}
		}
		for _, l := range g.Labels {
			if fixed[l.index] {
				continue
			}
			u.free = append(u.free, l)
			if !slices.Contains(u.steps, l.fold) {
				u.steps = append(u.steps, l.fold)
			}
			fixed[l.index] = true
		}
		slices.Sort(u.steps)
		u.steps[len(u.steps)-1] = lastStep // with none to fold, the label set is taken as it is
		for _, ug := range u.groups {
			fitted[ug.index] = true
		}
		out = append(out, u)
	}
	return out
}

// labelsWithin tells whether every label of g is one of in's.
func labelsWithin(g, in *Group) bool {
	for _, l := range g.Labels {
		if !slices.Contains(in.Labels, l) {
			return false
		}
	}
	return true
}

// keyOf is the label set of group g under these label values.
func keyOf(g *Group, values *[maxLabels]string) Key {
	var k Key
	for i, l := range g.Labels {
		k[i] = values[l.index]
	}
	return k
}

// unitCost is what counting under these label values adds in the groups of unit.
func (b *Batch) unitCost(unit []*Group, values *[maxLabels]string) (n, size int) {
	for _, g := range unit {
		gn, gsize := b.newCost(g, keyOf(g, values))
		n, size = n+gn, size+gsize
	}
	return n, size
}
