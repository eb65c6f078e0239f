// Package telemetry holds Kubently's Prometheus metrics and logger setup. The
// metrics live on a registry of their own (not the global one) so that tests
// can run several servers in one process.
package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the API's Prometheus series.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	commands *prometheus.CounterVec
	cmdTime  *prometheus.HistogramVec
	denied   *prometheus.CounterVec
	streams  *prometheus.GaugeVec
	handler  http.Handler
}

// NewMetrics creates and registers the series.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubently_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubently_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubently_commands_total", Help: "Commands finished, by cluster and final status.",
		}, []string{"cluster", "status"}),
		cmdTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubently_command_duration_seconds", Help: "Command execution time reported by executors.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"cluster"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubently_commands_denied_total", Help: "Commands refused by a security mode, by cluster and where (api pre-check or executor).",
		}, []string{"cluster", "where"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kubently_executor_streams", Help: "Executor streams open on this replica, by cluster.",
		}, []string{"cluster"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.commands, m.cmdTime, m.denied, m.streams,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// ObserveRequest counts one HTTP request.
func (m *Metrics) ObserveRequest(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// CommandFinished implements dispatch.Observer.
func (m *Metrics) CommandFinished(cluster, status string, d time.Duration) {
	m.commands.WithLabelValues(cluster, status).Inc()
	m.cmdTime.WithLabelValues(cluster).Observe(d.Seconds())
}

// CommandDenied implements dispatch.Observer.
func (m *Metrics) CommandDenied(cluster, where string) {
	m.denied.WithLabelValues(cluster, where).Inc()
}

// StreamOpened implements dispatch.Observer.
func (m *Metrics) StreamOpened(cluster string) { m.streams.WithLabelValues(cluster).Inc() }

// StreamClosed implements dispatch.Observer.
func (m *Metrics) StreamClosed(cluster string) { m.streams.WithLabelValues(cluster).Dec() }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }
