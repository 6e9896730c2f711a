package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every bertsync metric.
const namespace = "bertsync"

// OtherModel is the model label of every model type not named in
// [Options.Models].
const OtherModel = "other"

// NoMethod is the method label of a request answered before its method was
// known: a frame that was not a request, or one rejected unread.
const NoMethod = "none"

// Options configures [New].
type Options struct {
	// Models are the model types that get a label of their own in the
	// metrics by type (subscriptions, history); every other type is
	// counted as [OtherModel], so that clients naming ever new types
	// cannot grow the number of time series.
	Models []string
	// Build describes the running binary for bertsync_build_info; the
	// zero value means [ReadBuild].
	Build Build
}

// Metrics is the set of collectors of one server, on a registry of its
// own. A nil *Metrics is valid and counts nothing.
type Metrics struct {
	reg    *prometheus.Registry
	models map[string]bool

	connsOpen     *prometheus.GaugeVec
	connsAccepted *prometheus.CounterVec
	connsClosed   *prometheus.CounterVec
	connsRefused  *prometheus.CounterVec
	authFailures  *prometheus.CounterVec

	sessionsOpen   prometheus.Gauge
	sessionsOpened prometheus.Counter
	sessionsClosed *prometheus.CounterVec
	subscriptions  *prometheus.GaugeVec

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec

	pushesSent    prometheus.Counter
	pushesDropped prometheus.Counter
	slowConsumers prometheus.Counter
	queues        *queueCollector

	commitDuration prometheus.Histogram
	commitWrites   prometheus.Histogram
	historyEvents  *prometheus.GaugeVec
	otherHistory   historySum

	nodesAlive   prometheus.Gauge
	crossNodeLag prometheus.Histogram
	streamGaps   prometheus.Counter
}

// Histogram buckets. Requests run from tens of microseconds (a read
// served from memory) to the request timeout (30 s by default); a commit
// is one fsync, a millisecond or so on an SSD.
var (
	requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	commitBuckets  = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	groupBuckets   = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
)

// New returns the collectors of one server, registered with the Go
// runtime's and the process's collectors on a registry of their own.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), models: make(map[string]bool, len(opts.Models))}
	for _, name := range opts.Models {
		m.models[name] = true
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	m.connsOpen = gauge("connections_open", "Client connections open now: WebSockets, EventSource streams and held long-polls.", "transport")
	m.connsAccepted = counter("connections_accepted_total", "Client connections accepted.", "transport")
	m.connsClosed = counter("connections_closed_total", "Client connections ended, by why they ended.", "transport", "reason")
	m.connsRefused = counter("connections_refused_total", "Requests refused before any work: a Host not served, or past a connection or polling-session limit.", "reason")
	m.authFailures = counter("auth_failures_total", "Requests answered 401: credentials present but refused, by reason.", "reason")
	m.sessionsOpen = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "sessions_open", Help: "Client sessions alive now, on every transport."})
	m.sessionsOpened = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "sessions_opened_total", Help: "Client sessions started."})
	m.sessionsClosed = counter("sessions_closed_total", "Client sessions ended, by reason.", "reason")
	m.subscriptions = gauge("subscriptions", "Subscriptions held now, by model type (\"other\" for types not named by --models or --rules).", "model")
	m.requests = counter("requests_total", "Requests answered on the Bullet endpoint, by method and reply code (ok, or the error's code).", "method", "code")
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "request_duration_seconds", Buckets: requestBuckets,
		Help: "Time from a request's arrival in its session to its reply being ready, by method.",
	}, []string{"method"})
	m.pushesSent = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "pushes_sent_total", Help: "Pushes (events of subscribed types) queued for a client."})
	m.pushesDropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "pushes_dropped_total", Help: "Pushes that could not be queued for a client: its queue was full or its connection gone."})
	m.slowConsumers = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "slow_consumers_total", Help: "Sessions cut off because their client did not read fast enough (outbound queue full)."})
	m.queues = newQueueCollector()
	m.commitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_commit_duration_seconds", Buckets: commitBuckets,
		Help: "Latency of one store commit (one group of writes, one fsync).",
	})
	m.commitWrites = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_commit_writes", Buckets: groupBuckets,
		Help: "Writes per store commit (the group committed together).",
	})
	m.nodesAlive = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "cluster_nodes_alive", Help: "Nodes on the same PostgreSQL store that this node sees alive, itself included (0 with bbolt)."})
	m.crossNodeLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "cluster_event_lag_seconds", Buckets: requestBuckets,
		Help: "Time from another node's commit of an event (the database's clock) to its arrival at this node (this node's clock).",
	})
	m.streamGaps = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "cluster_stream_gaps_total", Help: "Holes in a stream that this node could not fill from history: its subscribers' sessions were ended to recover."})
	m.historyEvents = gauge("stream_history_events", "Events kept in the history of a model type's stream (\"other\": the sum over types not named by --models or --rules).", "model")

	build := opts.Build
	if build == (Build{}) {
		build = ReadBuild()
	}
	info := gauge("build_info", "Always 1; the labels describe the running binary.", "version", "revision", "vcs_time", "modified", "goversion")
	info.WithLabelValues(build.Version, build.Revision, build.Time, boolLabel(build.Modified), build.GoVersion).Set(1)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info,
		m.connsOpen, m.connsAccepted, m.connsClosed, m.connsRefused, m.authFailures,
		m.sessionsOpen, m.sessionsOpened, m.sessionsClosed, m.subscriptions,
		m.requests, m.requestDuration,
		m.pushesSent, m.pushesDropped, m.slowConsumers, m.queues,
		m.commitDuration, m.commitWrites, m.historyEvents,
		m.nodesAlive, m.crossNodeLag, m.streamGaps,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it). On a nil *Metrics it
// answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// ModelLabel is the label a model type's metrics carry: its name when it
// was named in [Options.Models], else [OtherModel].
func (m *Metrics) ModelLabel(model string) string {
	if m != nil && m.models[model] {
		return model
	}
	return OtherModel
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// seconds is d as Prometheus measures time.
func seconds(d time.Duration) float64 { return d.Seconds() }
