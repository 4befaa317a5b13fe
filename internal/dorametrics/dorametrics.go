// Package dorametrics exports the DORA figures a gauges.Tracker keeps as
// Prometheus gauges, one series per configured service and environment
// over the tracker's period (the last 30 days, today included). A scrape
// reads the tracker's last snapshot and computes nothing. Names, labels and
// the band mapping are in docs/dora.md; deploy/grafana/nexo-dora.json
// charts them.
package dorametrics

import (
	"sync"

	"github.com/nexo-org/nexo-bot/commands/dora/gauges"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	// Deployments counts the period's deployments (as /nexo dora counts them).
	Deployments = "nexo_dora_deployments"
	// DeploymentFrequency is deployments per day over the period.
	DeploymentFrequency = "nexo_dora_deployment_frequency_per_day"
	// DeployDaysPerWeek is the median number of deployment days over the
	// period's whole ISO weeks: what the frequency band is decided on.
	DeployDaysPerWeek = "nexo_dora_deploy_days_per_week"
	// LeadTime is the median lead time for changes (absent without
	// commit data).
	LeadTime = "nexo_dora_lead_time_p50_seconds"
	// ChangeFailureRate is failed ÷ deployments, 0 to 1 (absent without
	// deployments).
	ChangeFailureRate = "nexo_dora_change_failure_rate"
	// TimeToRestore is the median time to restore service (absent
	// without resolved incidents).
	TimeToRestore = "nexo_dora_time_to_restore_p50_seconds"
	// Band is each metric's band and the overall one: 0 N/A, 1 Low,
	// 2 Medium, 3 High, 4 Elite.
	Band = "nexo_dora_band"
	// Refreshed is when the figures were computed (Unix seconds).
	Refreshed = "nexo_dora_refresh_timestamp_seconds"
	// RefreshDuration is how long the last refresh took.
	RefreshDuration = "nexo_dora_refresh_duration_seconds"
	// RefreshErrors counts refreshes that could not read a source.
	RefreshErrors = "nexo_dora_refresh_errors_total"
)

// Band label values (the metric label of Band).
const (
	BandDeploymentFrequency = "deployment_frequency"
	BandLeadTime            = "lead_time"
	BandChangeFailureRate   = "change_failure_rate"
	BandTimeToRestore       = "time_to_restore"
	BandOverall             = "overall"
)

// Names are every metric the collector exports.
func Names() []string {
	return []string{Deployments, DeploymentFrequency, DeployDaysPerWeek, LeadTime, ChangeFailureRate,
		TimeToRestore, Band, Refreshed, RefreshDuration, RefreshErrors}
}

var (
	labels       = []string{"service", "env"}
	descDeploys  = prometheus.NewDesc(Deployments, "Deployments in the last 30 days, today included (the period /nexo dora measures by default).", labels, nil)
	descFreq     = prometheus.NewDesc(DeploymentFrequency, "Deployments per day over the last 30 days.", labels, nil)
	descDays     = prometheus.NewDesc(DeployDaysPerWeek, "Median deployment days per whole ISO week of the last 30 days (the frequency band's input).", labels, nil)
	descLead     = prometheus.NewDesc(LeadTime, "Median lead time for changes (first commit to deployed) over the last 30 days; absent without commit data.", labels, nil)
	descCFR      = prometheus.NewDesc(ChangeFailureRate, "Share of the last 30 days' deployments that failed (0 to 1); absent without deployments.", labels, nil)
	descRestore  = prometheus.NewDesc(TimeToRestore, "Median time to restore service (incident declared to resolved) over the last 30 days; absent without resolved incidents.", labels, nil)
	descBand     = prometheus.NewDesc(Band, "DORA band of each metric and overall: 0 N/A, 1 Low, 2 Medium, 3 High, 4 Elite (dora.bands table).", append(labels, "metric"), nil)
	descRefresh  = prometheus.NewDesc(Refreshed, "When the DORA gauges were last computed (Unix seconds).", nil, nil)
	descDuration = prometheus.NewDesc(RefreshDuration, "How long the last refresh of the DORA gauges took.", nil, nil)
	descErrors   = prometheus.NewDesc(RefreshErrors, "Refreshes of the DORA gauges that could not read a source (store: figures kept; gitops: history kept).", []string{"source"}, nil)
)

// Collector is the prometheus.Collector of a Tracker's figures. The
// series of a snapshot are built once, at the first scrape after its
// refresh; later scrapes send them again.
type Collector struct {
	t *gauges.Tracker

	mu     sync.Mutex
	snap   *gauges.Snapshot
	series []prometheus.Metric
}

// New is the collector of t.
func New(t *gauges.Tracker) *Collector { return &Collector{t: t} }

// Register adds t's collector to reg.
func Register(reg prometheus.Registerer, t *gauges.Tracker) error { return reg.Register(New(t)) }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeploys, descFreq, descDays, descLead, descCFR, descRestore, descBand, descRefresh, descDuration, descErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the last snapshot, as it is.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	storeErrs, gitopsErrs := c.t.Errors()
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(storeErrs), "store")
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(gitopsErrs), "gitops")
	for _, m := range c.seriesOf(c.t.Snapshot()) {
		ch <- m
	}
}

// seriesOf is the snapshot's series, built on its first scrape. Before
// the first refresh there is none: no figure rather than a false zero.
func (c *Collector) seriesOf(snap *gauges.Snapshot) []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap == c.snap {
		return c.series
	}
	out := make([]prometheus.Metric, 0, 2+10*len(snap.Rows))
	out = append(out,
		prometheus.MustNewConstMetric(descRefresh, prometheus.GaugeValue, float64(snap.At.UnixNano())/1e9),
		prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, snap.Took.Seconds()))
	for i := range snap.Rows {
		row := &snap.Rows[i]
		r := &row.Report
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{row.Service, row.Env}, extra...)...))
		}
		gauge(descDeploys, float64(r.DeploymentFrequency.Deployments))
		gauge(descFreq, r.DeploymentFrequency.PerDay)
		gauge(descDays, float64(r.DeploymentFrequency.MedianDaysPerWeek))
		if r.LeadTime.Samples > 0 {
			gauge(descLead, r.LeadTime.Median.Seconds())
		}
		if r.ChangeFailureRate.Deployments > 0 {
			gauge(descCFR, r.ChangeFailureRate.Rate)
		}
		if r.TimeToRestore.Resolved > 0 {
			gauge(descRestore, r.TimeToRestore.Median.Seconds())
		}
		gauge(descBand, float64(r.DeploymentFrequency.Band), BandDeploymentFrequency)
		gauge(descBand, float64(r.LeadTime.Band), BandLeadTime)
		gauge(descBand, float64(r.ChangeFailureRate.Band), BandChangeFailureRate)
		gauge(descBand, float64(r.TimeToRestore.Band), BandTimeToRestore)
		gauge(descBand, float64(r.Overall), BandOverall)
	}
	c.snap, c.series = snap, out
	return out
}
