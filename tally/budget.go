package tally

// The series budget, max_series. It bounds what Prometheus must ingest: the series
// of an operation's chat metrics, and their size, at most BytesPerSeries a series
// on average. A record whose label set would pass either is counted under a set
// with some labels folded into "other", the most detailed that fits: feeling and
// last participant first, then skill, then channel. The last set of each chain is
// always allowed, so no chat goes uncounted and the budget is passed by a few
// series at most. Which set a record gets depends only on the series that exist,
// which the state keeps across restarts; a chat is counted once whatever set it gets.

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

// chatCost is what counting a chat under chat key k adds: its chat series and, if
// new, its channel and skill's.
func (b *Batch) chatCost(k Key) (n, size int) {
	n, size = b.newCost(ByChat, k)
	sn, ssize := b.newCost(ByScope, Key{k[0], k[1]})
	return n + sn, size + ssize
}

// fitChat returns the label set to count a chat under, and whether the budget
// folded any of k's labels.
func (b *Batch) fitChat(k Key) (Key, bool) {
	for _, c := range [...]Key{
		k,
		{k[0], k[1], OtherValue, OtherValue},
		{k[0], OtherValue, OtherValue, OtherValue},
	} {
		if b.fits(b.chatCost(c)) {
			return c, c != k
		}
	}
	c := Key{OtherValue, OtherValue, OtherValue, OtherValue}
	b.take(b.chatCost(c))
	return c, c != k
}

// fitDisposition is fitChat for a disposition, within the chat's channel and skill.
func (b *Batch) fitDisposition(k Key) (Key, bool) {
	return b.fitOne(ByDisposition, k, Key{k[0], k[1], OtherValue, OtherValue})
}

// fitAgent is fitChat for an agent.
func (b *Batch) fitAgent(k Key) (Key, bool) {
	return b.fitOne(ByAgent, k, Key{OtherValue, OtherValue})
}

// fitOne returns k if it fits, else fallback, which always does.
func (b *Batch) fitOne(g *Group, k, fallback Key) (Key, bool) {
	if b.fits(b.newCost(g, k)) {
		return k, false
	}
	b.take(b.newCost(g, fallback))
	return fallback, fallback != k
}
