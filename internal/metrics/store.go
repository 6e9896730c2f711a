package metrics

import (
	"sync"
	"time"
)

// The metrics of the store and its streams, for the models package to
// report through callbacks (it does not import this one): a commit's
// latency and size, and each stream's history.

// ObserveCommit records one store commit: how long it took and how many
// writes it held (the group committed with one fsync). It fits
// models.StoreConfig.ObserveCommit as a method value.
func (m *Metrics) ObserveCommit(d time.Duration, writes int) {
	if m == nil {
		return
	}
	m.commitDuration.Observe(seconds(d))
	m.commitWrites.Observe(float64(writes))
}

// SetHistorySize records that the history of model's stream holds n
// events now. Types that share the label "other" are summed: each one's
// latest n is kept here (at most one int per type the store holds, which
// the store bounds), and a type whose history is gone is forgotten by
// n = 0.
func (m *Metrics) SetHistorySize(model string, n int) {
	if m == nil {
		return
	}
	label := m.ModelLabel(model)
	if label != OtherModel {
		m.historyEvents.WithLabelValues(label).Set(float64(n))
		return
	}
	h := &m.otherHistory
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.by == nil {
		h.by = make(map[string]int)
	}
	h.sum += n - h.by[model]
	if n == 0 {
		delete(h.by, model)
	} else {
		h.by[model] = n
	}
	m.historyEvents.WithLabelValues(OtherModel).Set(float64(h.sum))
}

// historySum is the history of the types counted as "other".
type historySum struct {
	mu  sync.Mutex
	by  map[string]int
	sum int
}
