package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of the service, served at /metrics.
type Metrics struct {
	gatherer prometheus.Gatherer
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	stages   *prometheus.HistogramVec
	credits  *prometheus.CounterVec
	webhooks *prometheus.HistogramVec
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// NewMetrics registers the service's metrics, with the Go and process collectors, in reg; nil
// means a registry of its own.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facematch_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "facematch_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "facematch_matcher_stage_seconds", Help: "Time of each stage of the matcher's pipeline, per image.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"stage"}),
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facematch_credits_consumed_total", Help: "Credits consumed by live face-match calls, by decision.",
		}, []string{"status"}),
		webhooks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "facematch_webhook_attempt_seconds", Help: "Webhook delivery attempts by outcome (delivered, retry, failed), with their latency.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.stages, m.credits, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveStage records one stage of the matcher's pipeline; it is the matcher's Observe hook.
func (m *Metrics) ObserveStage(stage string, d time.Duration) {
	m.stages.WithLabelValues(stage).Observe(d.Seconds())
}

func (m *Metrics) creditConsumed(status string) {
	m.credits.WithLabelValues(status).Inc()
}

// ObserveWebhook records one delivery attempt; it is the dispatcher's Observe hook.
func (m *Metrics) ObserveWebhook(outcome string, d time.Duration) {
	m.webhooks.WithLabelValues(outcome).Observe(d.Seconds())
}
