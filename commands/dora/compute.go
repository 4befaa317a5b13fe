// Package dora computes the four DORA metrics (deployment frequency, lead
// time for changes, time to restore service, change failure rate) from the
// deployments and incidents nexo recorded, or imported from the GitOps
// history, rates them against the 2021, 2023 or 2024 benchmark tables, and
// renders the result for the terminal, Slack, JSON, CSV and as a PNG chart.
// Definitions and the reasons behind them are in docs/dora.md.
package dora

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
)

// DefaultEnv is the environment measured when Input.Env is empty.
const DefaultEnv = "production"

// maxPeriod bounds a report's period (bad input otherwise).
const maxPeriod = 100 * 366 * day

// Input is what Compute measures.
type Input struct {
	// Service is one service, or "" / "all" for every service together.
	Service string
	// Env is the environment measured (default "production").
	Env string
	// Since (inclusive) and Until (exclusive) bound the period.
	Since, Until time.Time
	// Location decides local days, ISO weeks and months (default UTC).
	Location *time.Location
	// Deployments and Incidents are every record known; those outside the
	// period still matter for attaching failures (see docs/dora.md).
	Deployments []records.Deployment
	Incidents   []records.Incident
	// Bands is the benchmark table: "2021", "2023" (default) or "2024".
	Bands string
}

// Report is the result of Compute.
type Report struct {
	Service  string    `json:"service"` // "all" for every service
	Env      string    `json:"env"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Location string    `json:"location"`
	Bands    string    `json:"bands"`
	// NoDeployments is true when no successful deployment happened in
	// the period: the deployment metrics are then N/A, not zero.
	NoDeployments bool `json:"no_deployments"`

	DeploymentFrequency DeploymentFrequency `json:"deployment_frequency"`
	LeadTime            LeadTime            `json:"lead_time"`
	TimeToRestore       TimeToRestore       `json:"time_to_restore"`
	ChangeFailureRate   ChangeFailureRate   `json:"change_failure_rate"`
	// Overall is the median of the four bands, ties to the lower.
	Overall Band `json:"overall"`
	// Fastest are the five deployments with the shortest lead time.
	Fastest []FastDeploy `json:"fastest"`
	// Weeks are the ISO weeks the period touches, in order (chart data).
	Weeks []Week `json:"weeks"`

	loc *time.Location
}

// DeploymentFrequency is how often production changes.
type DeploymentFrequency struct {
	Deployments int     `json:"deployments"`
	PeriodDays  float64 `json:"period_days"`
	PerDay      float64 `json:"per_day"`
	// DeployDays counts local days with at least one deployment.
	DeployDays int `json:"deploy_days"`
	// MedianDaysPerWeek and MedianDaysPerMonth are the (lower) medians of
	// deployment days over the ISO weeks / calendar months wholly inside
	// the period (all touched ones when none is whole).
	MedianDaysPerWeek  int `json:"median_days_per_week"`
	MedianDaysPerMonth int `json:"median_days_per_month"`
	// DaysPerSixMonths is DeployDays scaled to 182.5 days (periods shorter
	// than that are not scaled up).
	DaysPerSixMonths float64 `json:"days_per_six_months"`
	Band             Band    `json:"band"`
}

// LeadTime is commit → production.
type LeadTime struct {
	Median  time.Duration `json:"median_ns"`
	Samples int           `json:"samples"`
	Band    Band          `json:"band"`
}

// TimeToRestore is incident declared → resolved.
type TimeToRestore struct {
	Median time.Duration `json:"median_ns"`
	// Resolved incidents make the median; Unresolved ones are excluded.
	Resolved   int  `json:"resolved"`
	Unresolved int  `json:"unresolved"`
	Band       Band `json:"band"`
}

// ChangeFailureRate is the share of deployments that failed.
type ChangeFailureRate struct {
	Failed      int     `json:"failed"`
	Deployments int     `json:"deployments"`
	Rate        float64 `json:"rate"` // 0..1
	// Why deployments failed (a deployment counts once, first cause wins in
	// this order: superseded, rolled back, hotfixed, incident).
	Superseded int  `json:"superseded"`
	RolledBack int  `json:"rolled_back"`
	Hotfixed   int  `json:"hotfixed"`
	Incidents  int  `json:"incidents"`
	Band       Band `json:"band"`
}

// FastDeploy is one of the fastest deployments.
type FastDeploy struct {
	ID         string        `json:"id"`
	Service    string        `json:"service"`
	Tag        string        `json:"tag"`
	DeployedAt time.Time     `json:"deployed_at"`
	LeadTime   time.Duration `json:"lead_time_ns"`
}

// Week is one ISO week of the period.
type Week struct {
	Start       time.Time `json:"start"` // Monday 00:00 in Location
	Deployments int       `json:"deployments"`
	DeployDays  int       `json:"deploy_days"`
	// MedianLeadTime is the median lead time of the week's deployments
	// (zero when LeadSamples is 0).
	MedianLeadTime time.Duration `json:"median_lead_time_ns"`
	LeadSamples    int           `json:"lead_samples"`
	// Whole tells whether all seven days are inside the period.
	Whole bool `json:"whole"`
}

// Failure causes.
const (
	causeNone = iota
	causeSuperseded
	causeRollback
	causeHotfix
	causeIncident
)

// dep is a deployment being measured; at is DeployedAt in Unix nanoseconds
// and svc a dense service number, so sorting compares integers only.
type dep struct {
	d     *records.Deployment
	at    int64
	svc   int32
	cause int32
}

// Normalize fills defaults and checks the input: the period must be set,
// Until after Since and no longer than a century, Bands a known table.
func (in Input) Normalize() (Input, error) {
	if in.Env == "" {
		in.Env = DefaultEnv
	}
	if in.Location == nil {
		in.Location = time.UTC
	}
	if in.Bands == "" {
		in.Bands = DefaultBands
	}
	if strings.EqualFold(in.Service, "all") {
		in.Service = ""
	}
	if _, ok := Tables[in.Bands]; !ok {
		return in, fmt.Errorf("dora: unknown bands %q (want 2021, 2023 or 2024)", in.Bands)
	}
	if in.Since.IsZero() || in.Until.IsZero() {
		return in, errors.New("dora: the period needs both a start and an end")
	}
	if !in.Until.After(in.Since) {
		return in, fmt.Errorf("dora: the period ends (%s) before it starts (%s)",
			in.Until.Format(time.RFC3339), in.Since.Format(time.RFC3339))
	}
	if in.Until.Sub(in.Since) > maxPeriod {
		return in, errors.New("dora: the period is longer than a century")
	}
	return in, nil
}

// Compute measures the period. It never changes its input.
func Compute(in Input) (Report, error) {
	in, err := in.Normalize()
	if err != nil {
		return Report{}, err
	}
	r := Report{Service: in.Service, Env: in.Env, Since: in.Since, Until: in.Until,
		Location: in.Location.String(), Bands: in.Bands, loc: in.Location}
	if r.Service == "" {
		r.Service = "all"
	}
	m := &measurement{in: in, table: Tables[in.Bands], r: &r}
	m.collectDeploys()
	m.blameRollbacksAndHotfixes()
	m.attachIncidents()
	m.countPeriod()
	m.frequency()
	m.leadTimes()
	m.rate()
	return r, nil
}

// measurement is one Compute, phase by phase.
type measurement struct {
	in    Input
	table Table
	r     *Report
	// deps are the env's successful deployments (of the service), every
	// time, sorted by service then time: failures are attached across the
	// period's edges. bySvc[svc] is the slice of one service.
	deps   []dep
	svcIDs map[string]int32
	bySvc  []span
	// perDay counts the period's deployments by local day from firstDay.
	firstDay, lastDay int64
	perDay            []int32
	leads             []leadSample
	weeks             []bucket
}

type span struct{ lo, hi int }

type leadSample struct {
	week int64
	lt   time.Duration
}

// bucket is a week or a month of the period.
type bucket struct {
	key        int64
	days, deps int
	whole      bool
}

func (m *measurement) collectDeploys() {
	in := m.in
	m.deps = make([]dep, 0, len(in.Deployments))
	m.svcIDs = map[string]int32{}
	for i := range in.Deployments {
		d := &in.Deployments[i]
		if !deployed(d) || d.Env != in.Env || (in.Service != "" && d.Service != in.Service) {
			continue
		}
		id, ok := m.svcIDs[d.Service]
		if !ok {
			id = int32(len(m.svcIDs))
			m.svcIDs[d.Service] = id
		}
		m.deps = append(m.deps, dep{d: d, at: d.DeployedAt().UnixNano(), svc: id})
	}
	slices.SortFunc(m.deps, func(a, b dep) int {
		if a.svc != b.svc {
			return int(a.svc - b.svc)
		}
		if a.at != b.at {
			return cmpInt64(a.at, b.at)
		}
		return strings.Compare(a.d.ID, b.d.ID)
	})
	m.bySvc = make([]span, len(m.svcIDs))
	for lo := 0; lo < len(m.deps); {
		hi := lo + 1
		for hi < len(m.deps) && m.deps[hi].svc == m.deps[lo].svc {
			hi++
		}
		m.bySvc[m.deps[lo].svc] = span{lo, hi}
		lo = hi
	}
}

// deployed reports whether a deployment reached the environment: it
// succeeded, was superseded by a hotfix or a rollback after its merge (a
// failed change), or was cancelled after it was Healthy.
func deployed(d *records.Deployment) bool {
	switch d.Result {
	case records.ResultSuccess:
		return true
	case records.ResultSuperseded:
		return d.MergedAt != nil
	case records.ResultCancelled:
		return d.HealthyAt != nil
	}
	return false
}

// blameRollbacksAndHotfixes marks a superseded change, and the last change
// before a rollback or a hotfix of the same service, as failed.
func (m *measurement) blameRollbacksAndHotfixes() {
	deps := m.deps
	for _, s := range m.bySvc {
		last := -1
		for i := s.lo; i < s.hi; i++ {
			d := deps[i].d
			if d.Result == records.ResultSuperseded && deps[i].cause == causeNone {
				deps[i].cause = causeSuperseded
			}
			if d.RolledBackBy != "" && deps[i].cause == causeNone {
				deps[i].cause = causeRollback
			}
			switch d.Kind {
			case records.KindRollback:
				if last >= 0 && deps[last].cause == causeNone {
					deps[last].cause = causeRollback
				}
				continue // a rollback is not a change to blame later
			case records.KindHotfix:
				if last >= 0 && deps[last].cause == causeNone {
					deps[last].cause = causeHotfix
				}
			}
			last = i
		}
	}
}

// attachIncidents blames each incident's deployment and measures the time
// to restore. Explicit references (an id, or "git:<sha>") are resolved in
// one pass over the deployments; otherwise the last deployment of the
// service that finished strictly before the declaration is blamed.
func (m *measurement) attachIncidents() {
	in, deps := m.in, m.deps
	byID := m.referencedDeploys()
	var restore []time.Duration
	for i := range in.Incidents {
		inc := &in.Incidents[i]
		if (inc.Env != "" && inc.Env != in.Env) || (in.Service != "" && inc.Service != in.Service) {
			continue
		}
		if !inc.DeclaredAt.Before(in.Since) && inc.DeclaredAt.Before(in.Until) {
			switch {
			case inc.ResolvedAt == nil:
				m.r.TimeToRestore.Unresolved++
			case !inc.ResolvedAt.Before(inc.DeclaredAt):
				restore = append(restore, inc.ResolvedAt.Sub(inc.DeclaredAt))
			}
		}
		target := -1
		if inc.Deployment != "" {
			target = byID[inc.Deployment] // -1 when unknown
		}
		if target < 0 {
			id, ok := m.svcIDs[inc.Service]
			if !ok {
				continue
			}
			s := m.bySvc[id]
			declared := inc.DeclaredAt.UnixNano()
			k := sort.Search(s.hi-s.lo, func(k int) bool { return deps[s.lo+k].at >= declared })
			if k == 0 {
				continue
			}
			target = s.lo + k - 1
		}
		if deps[target].cause == causeNone {
			deps[target].cause = causeIncident
		}
	}
	m.r.TimeToRestore.Resolved = len(restore)
	if len(restore) > 0 {
		m.r.TimeToRestore.Median = lowerMedian(restore)
		m.r.TimeToRestore.Band = m.table.RestoreBand(m.r.TimeToRestore.Median)
	}
}

// referencedDeploys maps the deployment references incidents carry to the
// index of that deployment (-1 when unknown).
func (m *measurement) referencedDeploys() map[string]int {
	var byID map[string]int
	for i := range m.in.Incidents {
		if ref := m.in.Incidents[i].Deployment; ref != "" {
			if byID == nil {
				byID = map[string]int{}
			}
			byID[ref] = -1
		}
	}
	if byID == nil {
		return nil
	}
	for j := range m.deps {
		d := m.deps[j].d
		if k, ok := byID[d.ID]; ok && k < 0 {
			byID[d.ID] = j
		}
		if d.GitOpsSHA != "" {
			if k, ok := byID["git:"+d.GitOpsSHA]; ok && k < 0 {
				byID["git:"+d.GitOpsSHA] = j
			}
		}
	}
	return byID
}

// countPeriod counts the period's deployments per local day, their
// failures, and collects their lead times and the fastest ones.
func (m *measurement) countPeriod() {
	in, loc := m.in, m.in.Location
	m.firstDay = localDay(in.Since, loc)
	m.lastDay = localDay(in.Until.Add(-time.Nanosecond), loc)
	m.perDay = make([]int32, m.lastDay-m.firstDay+1)
	var fastest []FastDeploy
	cfr := &m.r.ChangeFailureRate
	since, until := in.Since.UnixNano(), in.Until.UnixNano()
	for i := range m.deps {
		x := &m.deps[i]
		if x.at < since || x.at >= until {
			continue
		}
		when := time.Unix(0, x.at).In(loc)
		y, mo, dd := when.Date()
		dayN := civilDays(y, mo, dd)
		m.perDay[dayN-m.firstDay]++
		cfr.Deployments++
		switch x.cause {
		case causeSuperseded:
			cfr.Superseded++
		case causeRollback:
			cfr.RolledBack++
		case causeHotfix:
			cfr.Hotfixed++
		case causeIncident:
			cfr.Incidents++
		}
		d := x.d
		if d.Kind == records.KindRollback || d.FirstCommitAt == nil || when.Before(*d.FirstCommitAt) {
			continue
		}
		lt := when.Sub(*d.FirstCommitAt)
		m.leads = append(m.leads, leadSample{week: weekOf(dayN), lt: lt})
		fastest = insertFastest(fastest, FastDeploy{ID: d.ID, Service: d.Service, Tag: d.Tag, DeployedAt: when, LeadTime: lt})
	}
	cfr.Failed = cfr.Superseded + cfr.RolledBack + cfr.Hotfixed + cfr.Incidents
	m.r.Fastest = fastest
	if m.r.Fastest == nil {
		m.r.Fastest = []FastDeploy{}
	}
}

// frequency is deployment frequency from the days, weeks and months.
func (m *measurement) frequency() {
	in := m.in
	df := &m.r.DeploymentFrequency
	df.Deployments = m.r.ChangeFailureRate.Deployments
	df.PeriodDays = in.Until.Sub(in.Since).Hours() / 24
	df.PerDay = float64(df.Deployments) / df.PeriodDays
	var months []bucket
	for i, n := range m.perDay {
		dn := m.firstDay + int64(i)
		if n > 0 {
			df.DeployDays++
		}
		wk, mk := weekOf(dn), monthOf(dn)
		if len(m.weeks) == 0 || m.weeks[len(m.weeks)-1].key != wk {
			m.weeks = append(m.weeks, bucket{key: wk, whole: wk*7-3 >= m.firstDay && wk*7+3 <= m.lastDay})
		}
		if len(months) == 0 || months[len(months)-1].key != mk {
			months = append(months, bucket{key: mk, whole: monthStart(mk) >= m.firstDay && monthStart(mk+1)-1 <= m.lastDay})
		}
		if n > 0 {
			m.weeks[len(m.weeks)-1].days++
			months[len(months)-1].days++
		}
		m.weeks[len(m.weeks)-1].deps += int(n)
	}
	df.MedianDaysPerWeek = medianDays(m.weeks)
	df.MedianDaysPerMonth = medianDays(months)
	df.DaysPerSixMonths = float64(df.DeployDays)
	if df.PeriodDays > 182.5 {
		df.DaysPerSixMonths = float64(df.DeployDays) * 182.5 / df.PeriodDays
	}
}

// medianDays is the median of deploy days over the whole buckets, or over
// all when none is whole.
func medianDays(bs []bucket) int {
	var whole, all []int
	for _, b := range bs {
		all = append(all, b.days)
		if b.whole {
			whole = append(whole, b.days)
		}
	}
	if len(whole) > 0 {
		return lowerMedian(whole)
	}
	return lowerMedian(all)
}

// leadTimes is the lead time overall and per week (one sort by week then
// duration).
func (m *measurement) leadTimes() {
	leads := m.leads
	slices.SortFunc(leads, func(a, b leadSample) int {
		if a.week != b.week {
			return cmpInt64(a.week, b.week)
		}
		return cmpInt64(int64(a.lt), int64(b.lt))
	})
	all := make([]time.Duration, len(leads))
	for i, s := range leads {
		all[i] = s.lt
	}
	r := m.r
	r.LeadTime.Samples = len(all)
	if len(all) > 0 {
		r.LeadTime.Median = lowerMedian(all)
		r.LeadTime.Band = m.table.LeadTimeBand(r.LeadTime.Median)
	}
	r.Weeks = make([]Week, len(m.weeks))
	j := 0
	for i, b := range m.weeks {
		w := Week{Start: dayStart(b.key*7-3, m.in.Location), Deployments: b.deps, DeployDays: b.days, Whole: b.whole}
		k := j
		for k < len(leads) && leads[k].week == b.key {
			k++
		}
		if k > j {
			w.LeadSamples = k - j
			w.MedianLeadTime = leads[j+(k-j-1)/2].lt // already sorted
		}
		j = k
		r.Weeks[i] = w
	}
}

// rate is the change failure rate and the bands.
func (m *measurement) rate() {
	r, cfr, df := m.r, &m.r.ChangeFailureRate, &m.r.DeploymentFrequency
	if cfr.Deployments == 0 {
		r.NoDeployments = true
	} else {
		df.Band = m.table.DeployFrequencyBand(df.MedianDaysPerWeek, df.MedianDaysPerMonth, df.DaysPerSixMonths)
		cfr.Rate = float64(cfr.Failed) / float64(cfr.Deployments)
		cfr.Band = m.table.FailureBand(cfr.Failed, cfr.Deployments)
	}
	r.Overall = overallBand(df.Band, r.LeadTime.Band, r.TimeToRestore.Band, cfr.Band)
}

// insertFastest keeps the five shortest lead times, ties by time then id.
func insertFastest(top []FastDeploy, f FastDeploy) []FastDeploy {
	less := func(a, b FastDeploy) bool {
		if a.LeadTime != b.LeadTime {
			return a.LeadTime < b.LeadTime
		}
		if !a.DeployedAt.Equal(b.DeployedAt) {
			return a.DeployedAt.Before(b.DeployedAt)
		}
		return a.ID < b.ID
	}
	if len(top) == 5 && !less(f, top[4]) {
		return top
	}
	i := len(top)
	for i > 0 && less(f, top[i-1]) {
		i--
	}
	top = slices.Insert(top, i, f)
	if len(top) > 5 {
		top = top[:5]
	}
	return top
}

// lowerMedian is the ⌈n/2⌉-th smallest value (DevLake's percent_rank ≤ 0.5
// maximum): always an observed value. It sorts s.
func lowerMedian[T int | time.Duration](s []T) T {
	if len(s) == 0 {
		var zero T
		return zero
	}
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// localDay is the civil date of t in loc as days since 1970-01-01.
func localDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return civilDays(y, m, d)
}

func civilDays(y int, m time.Month, d int) int64 {
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// weekOf is the ISO (Monday-based) week number since the epoch's week;
// its Monday is day weekOf*7-3 (1970-01-01 was a Thursday).
func weekOf(dayN int64) int64 { return floorDiv(dayN+3, 7) }

func monthOf(dayN int64) int64 {
	y, m, _ := time.Unix(dayN*86400, 0).UTC().Date()
	return int64(y)*12 + int64(m) - 1
}

func monthStart(mk int64) int64 {
	return civilDays(int(floorDiv(mk, 12)), time.Month(mk-floorDiv(mk, 12)*12+1), 1)
}

func dayStart(dayN int64, loc *time.Location) time.Time {
	y, m, d := time.Unix(dayN*86400, 0).UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
