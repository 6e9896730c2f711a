package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The outbound queues are measured when scraped, not as they change: a
// gauge kept up to date would cost every message an update of a shared
// counter, from thousands of connections at once, while a scrape every
// few seconds sums the queues once.

// queueCollector sums the outbound queues of the sources that
// [Metrics.AddQueues] registered.
type queueCollector struct {
	messages, bytes *prometheus.Desc

	mu      sync.Mutex
	next    int
	sources map[int]func() (messages, bytes int)
}

func newQueueCollector() *queueCollector {
	return &queueCollector{
		messages: prometheus.NewDesc(namespace+"_outbound_queued_messages",
			"Messages waiting in the clients' outbound queues, summed over every connection and polling session.", nil, nil),
		bytes: prometheus.NewDesc(namespace+"_outbound_queued_bytes",
			"Bytes of the messages waiting in the clients' outbound queues.", nil, nil),
		sources: make(map[int]func() (int, int)),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.bytes
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := make([]func() (int, int), 0, len(c.sources))
	for _, f := range c.sources {
		sources = append(sources, f)
	}
	c.mu.Unlock()
	var msgs, bytes int
	for _, f := range sources {
		m, b := f()
		msgs += m
		bytes += b
	}
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(msgs))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(bytes))
}

// AddQueues registers f, which sums the outbound queues of one server's
// clients, for bertsync_outbound_queued_messages and _bytes. f is called
// at each scrape, on the scraper's goroutine. remove unregisters it.
func (m *Metrics) AddQueues(f func() (messages, bytes int)) (remove func()) {
	if m == nil {
		return func() {}
	}
	c := m.queues
	c.mu.Lock()
	id := c.next
	c.next++
	c.sources[id] = f
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.sources, id)
		c.mu.Unlock()
	}
}
