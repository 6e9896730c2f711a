package metrics

import "time"

// The metrics of many nodes (DESIGN §7): how many nodes this one sees
// alive, how long another node's events take to reach this one's
// subscribers, and the holes in a stream this node had to end sessions
// for.

// SetNodesAlive records the number of live nodes this node sees,
// itself included.
func (m *Metrics) SetNodesAlive(n int) {
	if m == nil {
		return
	}
	m.nodesAlive.Set(float64(n))
}

// ObserveCrossNodeLag records the time from another node's commit of an
// event to its arrival here, by the database's clock at the commit and
// this node's at the arrival (so it includes the two clocks' skew).
func (m *Metrics) ObserveCrossNodeLag(d time.Duration) {
	if m == nil {
		return
	}
	m.crossNodeLag.Observe(seconds(max(d, 0)))
}

// StreamGap counts a hole in a stream that this node could not fill
// from the history, for which its subscribers' sessions were ended.
func (m *Metrics) StreamGap() {
	if m == nil {
		return
	}
	m.streamGaps.Inc()
}
