package connectors

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the framework's Prometheus collectors. A nil *Metrics records
// nothing, so tests and tools can leave it out.
type Metrics struct {
	requests *prometheus.CounterVec
	circuits *prometheus.CounterVec
	runs     *prometheus.CounterVec
	records  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	pushes   *prometheus.CounterVec
}

// NewMetrics registers the connector collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_connector_http_requests_total",
			Help: "Upstream HTTP attempts by connector and outcome (ok, transient, permanent, data, blocked, circuit_open, error).",
		}, []string{"connector", "outcome"}),
		circuits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_connector_circuit_opened_total",
			Help: "Times a connector's circuit breaker opened.",
		}, []string{"connector"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_connector_sync_runs_total",
			Help: "Finished sync runs by connector, sync type and status.",
		}, []string{"connector", "sync_type", "status"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_connector_sync_records_total",
			Help: "Records handled by syncs, by connector, sync type and result (synced, skipped, failed).",
		}, []string{"connector", "sync_type", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sentryhub_connector_sync_duration_seconds",
			Help:    "Sync run duration by connector and sync type.",
			Buckets: prometheus.ExponentialBuckets(0.05, 3, 10),
		}, []string{"connector", "sync_type"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_connector_fulfillment_pushes_total",
			Help: "Fulfillment push attempts by connector and resulting status.",
		}, []string{"connector", "status"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.circuits, m.runs, m.records, m.duration, m.pushes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register connector metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) request(connector, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(connector, outcome).Inc()
	}
}

func (m *Metrics) circuitOpened(connector string) {
	if m != nil {
		m.circuits.WithLabelValues(connector).Inc()
	}
}

func (m *Metrics) run(connector, syncType, status string, d time.Duration, res SyncResult) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(connector, syncType, status).Inc()
	m.duration.WithLabelValues(connector, syncType).Observe(d.Seconds())
	m.records.WithLabelValues(connector, syncType, "synced").Add(float64(res.RecordsSynced))
	m.records.WithLabelValues(connector, syncType, "skipped").Add(float64(res.RecordsSkipped))
	m.records.WithLabelValues(connector, syncType, "failed").Add(float64(res.RecordsFailed))
}

func (m *Metrics) push(connector, status string) {
	if m != nil {
		m.pushes.WithLabelValues(connector, status).Inc()
	}
}
