package collector

// The series budget, max_series. A record whose label set would add series past it
// is counted under a set with some labels folded into "other", the most detailed
// that fits: feeling and last participant first, then skill, then channel. The
// last set of each chain is always allowed, so no chat goes uncounted and the
// budget is passed by a few series at most. Which set a record gets depends only
// on the series that exist, which the state keeps across restarts; a chat is
// counted once whatever set it gets.

// fits takes cost series from the budget if they fit; a cost of 0 always fits.
func (b *batch) fits(cost int) bool {
	if cost > 0 && b.series+cost > b.maxSeries {
		return false
	}
	b.series += cost
	return true
}

// has tells whether k already has a series: in the base state, or new in this batch.
func has[K comparable, V any](k K, batch, base map[K]*V) bool {
	if _, ok := batch[k]; ok {
		return true
	}
	_, ok := base[k]
	return ok
}

// chatCost is the series that counting a chat under k adds.
func (b *batch) chatCost(k chatKey) int {
	cost := 0
	if !has(k, b.tally.chats, b.base.tally.chats) {
		cost++
	}
	if !has(k.scope, b.tally.scopes, b.base.tally.scopes) {
		cost += b.s.buckets.scopeSeries()
	}
	return cost
}

// fitChat returns the label set to count a chat under, and whether the budget
// folded any of k's labels.
func (b *batch) fitChat(k chatKey) (chatKey, bool) {
	for _, c := range [...]chatKey{
		k,
		{scope: k.scope, feeling: otherValue, lastParticipant: otherValue},
		{scope: scope{k.channel, otherValue}, feeling: otherValue, lastParticipant: otherValue},
	} {
		if b.fits(b.chatCost(c)) {
			return c, c != k
		}
	}
	c := chatKey{scope: scope{otherValue, otherValue}, feeling: otherValue, lastParticipant: otherValue}
	b.series += b.chatCost(c)
	return c, c != k
}

// fitDisposition is fitChat for a disposition, within the chat's scope.
func (b *batch) fitDisposition(k dispositionKey) (dispositionKey, bool) {
	if has(k, b.tally.dispositions, b.base.tally.dispositions) || b.fits(1) {
		return k, false
	}
	c := dispositionKey{scope: k.scope, code: otherValue, description: otherValue}
	if !has(c, b.tally.dispositions, b.base.tally.dispositions) {
		b.series++
	}
	return c, c != k
}

// fitAgent is fitChat for an agent.
func (b *batch) fitAgent(k agentKey) (agentKey, bool) {
	if has(k, b.tally.agents, b.base.tally.agents) || b.fits(agentSeries) {
		return k, false
	}
	c := agentKey{id: otherValue, name: otherValue}
	if !has(c, b.tally.agents, b.base.tally.agents) {
		b.series += agentSeries
	}
	return c, c != k
}
