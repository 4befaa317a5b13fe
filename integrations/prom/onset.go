package prom

import (
	"math"
	"sort"
	"time"
)

// OnsetBaselineFactor is k in DetectOnset: a rise counts only above k times
// the baseline's median, so a service that always runs at 0.5% errors does
// not "start" an incident at 1%.
const OnsetBaselineFactor = 3

// OnsetMinPoints is how many consecutive points must stay above the level.
const OnsetMinPoints = 2

// DetectOnset finds when a series started to misbehave. The first
// baselineWindow points are the baseline; the level is
// max(threshold, OnsetBaselineFactor × Median(baseline)). The onset is the
// time of the first point after the baseline that is above the level and
// starts a run of at least OnsetMinPoints points above it. Points must be
// in time order; NaN values end a run. ok is false when no such run exists.
// A baselineWindow below 0 is taken as 0 (threshold only), and one that
// leaves fewer than OnsetMinPoints points to search finds nothing.
func DetectOnset(points []Point, threshold float64, baselineWindow int) (onset time.Time, ok bool) {
	if baselineWindow < 0 {
		baselineWindow = 0
	}
	if len(points)-baselineWindow < OnsetMinPoints {
		return time.Time{}, false
	}
	level := threshold
	if m := Median(points[:baselineWindow]); OnsetBaselineFactor*m > level {
		level = OnsetBaselineFactor * m
	}
	run := 0
	for i := baselineWindow; i < len(points); i++ {
		v := points[i].Value
		if math.IsNaN(v) || v <= level {
			run = 0
			continue
		}
		run++
		if run == OnsetMinPoints {
			return points[i-OnsetMinPoints+1].Time, true
		}
	}
	return time.Time{}, false
}

// Median of the non-NaN values; 0 when there are none.
func Median(points []Point) float64 {
	vs := make([]float64, 0, len(points))
	for _, p := range points {
		if !math.IsNaN(p.Value) {
			vs = append(vs, p.Value)
		}
	}
	if len(vs) == 0 {
		return 0
	}
	sort.Float64s(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
