package prom

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var t0 = time.Date(2026, 2, 1, 10, 20, 0, 0, time.UTC)

// series makes one point a minute from 10:20 UTC.
func series(vals ...float64) []Point {
	out := make([]Point, len(vals))
	for i, v := range vals {
		out[i] = Point{Time: t0.Add(time.Duration(i) * time.Minute), Value: v}
	}
	return out
}

func TestDetectOnsetFlat(t *testing.T) {
	_, ok := DetectOnset(series(0.002, 0.002, 0.002, 0.002, 0.002, 0.002, 0.002, 0.002), 0.01, 3)
	assert.False(t, ok)
}

func TestDetectOnsetSpikeAt1031(t *testing.T) {
	// 10:20 … 10:30 healthy, 10:31 onwards 5 % (the playbook's incident).
	vals := []float64{0.001, 0.002, 0.001, 0.001, 0.002, 0.001, 0.001, 0.002, 0.001, 0.001, 0.002, 0.05, 0.051, 0.049, 0.05}
	onset, ok := DetectOnset(series(vals...), 0.01, 5)
	assert.True(t, ok)
	assert.Equal(t, time.Date(2026, 2, 1, 10, 31, 0, 0, time.UTC), onset)
}

func TestDetectOnsetNoisyIgnoresSinglePointBlips(t *testing.T) {
	// Baseline median 0.004 → level max(0.01, 0.012) = 0.012. 10:25 and
	// 10:28 are one-point blips; 10:30 is the first sustained rise.
	vals := []float64{0.004, 0.003, 0.005, 0.004, 0.006, 0.03, 0.004, 0.005, 0.02, 0.004, 0.02, 0.025, 0.03}
	onset, ok := DetectOnset(series(vals...), 0.01, 4)
	assert.True(t, ok)
	assert.Equal(t, t0.Add(10*time.Minute), onset)
}

func TestDetectOnsetBaselineRaisesLevel(t *testing.T) {
	// Always at 2 %: above the 1 % threshold, but not above 3 × median.
	vals := []float64{0.02, 0.021, 0.019, 0.02, 0.022, 0.021, 0.02, 0.05, 0.05}
	_, ok := DetectOnset(series(vals...), 0.01, 4)
	assert.False(t, ok, "2%% steady is the baseline, not an incident")
	onset, ok := DetectOnset(series(append(vals, 0.07, 0.08)...), 0.01, 4)
	assert.True(t, ok)
	assert.Equal(t, t0.Add(9*time.Minute), onset)
}

func TestDetectOnsetNever(t *testing.T) {
	_, ok := DetectOnset(series(0.001, 0.009, 0.0099, 0.01, 0.005, 0.01), 0.01, 2)
	assert.False(t, ok, "exactly at the threshold is not above it")
	_, ok = DetectOnset(nil, 0.01, 0)
	assert.False(t, ok)
	_, ok = DetectOnset(series(0.5, 0.5), 0.01, 2)
	assert.False(t, ok, "nothing left after the baseline")
}

func TestDetectOnsetNaNBreaksRunAndZeroBaseline(t *testing.T) {
	vals := []float64{0.05, math.NaN(), 0.05, 0.06}
	onset, ok := DetectOnset(series(vals...), 0.01, 0)
	assert.True(t, ok)
	assert.Equal(t, t0.Add(2*time.Minute), onset)
	onset, ok = DetectOnset(series(vals...), 0.01, -3)
	assert.True(t, ok)
	assert.Equal(t, t0.Add(2*time.Minute), onset)
}
