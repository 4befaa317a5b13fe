package bot

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Slack transport's Prometheus collectors. One Metrics is
// shared by a Bot and its SlackChat.
type Metrics struct {
	// Envelopes counts Socket Mode envelopes received, by type
	// (slash_commands, interactive, events_api).
	Envelopes *prometheus.CounterVec
	// Duplicates counts envelopes and events skipped as redeliveries.
	Duplicates prometheus.Counter
	// AckLatency is the time from reading an envelope to queueing its ack.
	AckLatency prometheus.Histogram
	// CommandDuration is how long the handler took, by subcommand.
	CommandDuration *prometheus.HistogramVec
	// Errors counts failures by kind (ack, dedupe, handler, queue_full,
	// queue_drop, reply, connection, bad_message, slack_api).
	Errors *prometheus.CounterVec
	// APICalls counts Web API calls by method and outcome (ok, error,
	// ratelimited, retry).
	APICalls *prometheus.CounterVec
}

// NewMetrics builds the collectors and registers them on reg (nil: not
// registered). Collectors already registered on reg are reused, so several
// bots can share a registry.
//
//i18n:verbatim metric help texts are for operators, in English
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexo_slack_envelopes_total", Help: "Socket Mode envelopes received, by type.",
		}, []string{"type"}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexo_slack_duplicates_total", Help: "Envelopes and events skipped as redeliveries.",
		}),
		AckLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "nexo_slack_ack_latency_seconds",
			Help:    "Time from reading a Socket Mode envelope to queueing its ack.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 2.5},
		}),
		CommandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nexo_slack_command_duration_seconds",
			Help:    "Slash command handling time, by subcommand.",
			Buckets: prometheus.DefBuckets,
		}, []string{"command"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexo_slack_errors_total", Help: "Slack transport failures, by kind.",
		}, []string{"kind"}),
		APICalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexo_slack_api_calls_total", Help: "Slack Web API calls, by method and outcome.",
		}, []string{"method", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.Envelopes, err = register(reg, m.Envelopes)
	if err != nil {
		return nil, err
	}
	if m.Duplicates, err = register(reg, m.Duplicates); err != nil {
		return nil, err
	}
	if m.AckLatency, err = register(reg, m.AckLatency); err != nil {
		return nil, err
	}
	if m.CommandDuration, err = register(reg, m.CommandDuration); err != nil {
		return nil, err
	}
	if m.Errors, err = register(reg, m.Errors); err != nil {
		return nil, err
	}
	if m.APICalls, err = register(reg, m.APICalls); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func orNewMetrics(m *Metrics) *Metrics {
	if m != nil {
		return m
	}
	m, _ = NewMetrics(nil)
	return m
}
