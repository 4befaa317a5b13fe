package promtest

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// exporterTick is how often the exporter advances its counters.
const exporterTick = 50 * time.Millisecond

// ErrorExporter is an HTTP service's /metrics, whose request rate, error
// rate and latency a test sets. It exposes http_requests_total,
// http_requests_errors_total and the histogram
// http_request_duration_seconds, labelled namespace and service, the
// metrics config.DefaultErrorRateQuery and DefaultLatencyQuery read.
type ErrorExporter struct {
	srv      *httptest.Server
	requests prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Observer

	mu               sync.Mutex
	reqRate, errRate float64 // per second
	latency          float64 // seconds
	pending          float64 // fractional observations not yet made
	reqTotal, errTot float64
	stop             chan struct{}
	stopped          chan struct{}
}

// NewErrorExporter starts an exporter for one service at 0 req/s; it
// stops when the test ends.
func NewErrorExporter(t testing.TB, namespace, service string) *ErrorExporter {
	t.Helper()
	reg := prometheus.NewRegistry()
	labels := []string{"namespace", "service"}
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "HTTP requests served."}, labels)
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_errors_total", Help: "HTTP requests that failed (5xx)."}, labels)
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "HTTP request latency.", Buckets: prometheus.DefBuckets}, labels)
	reg.MustRegister(req, errs, dur)
	e := &ErrorExporter{
		requests: req.WithLabelValues(namespace, service),
		errors:   errs.WithLabelValues(namespace, service),
		duration: dur.WithLabelValues(namespace, service),
		latency:  0.05,
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	e.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go e.run()
	t.Cleanup(func() {
		close(e.stop)
		<-e.stopped
		e.srv.Close()
	})
	return e
}

// SetRates sets requests and errors per second (errors ≤ requests).
func (e *ErrorExporter) SetRates(requestsPerSec, errorsPerSec float64) {
	if requestsPerSec < 0 || errorsPerSec < 0 || errorsPerSec > requestsPerSec {
		panic("promtest: SetRates needs 0 ≤ errors ≤ requests")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reqRate, e.errRate = requestsPerSec, errorsPerSec
}

// SetLatency sets the latency every request is observed with.
func (e *ErrorExporter) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = d.Seconds()
}

// Totals are the counters' current values.
func (e *ErrorExporter) Totals() (requests, errors float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reqTotal, e.errTot
}

// Target is the host:port Prometheus scrapes (path /metrics).
func (e *ErrorExporter) Target() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// URL is the exporter's base URL.
func (e *ErrorExporter) URL() string { return e.srv.URL }

func (e *ErrorExporter) run() {
	defer close(e.stopped)
	tick := time.NewTicker(exporterTick)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-tick.C:
			e.advance(now.Sub(last).Seconds())
			last = now
		}
	}
}

func (e *ErrorExporter) advance(dt float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, x := e.reqRate*dt, e.errRate*dt
	e.requests.Add(r)
	e.errors.Add(x)
	e.reqTotal += r
	e.errTot += x
	e.pending += r
	for ; e.pending >= 1; e.pending-- {
		e.duration.Observe(e.latency)
	}
}
