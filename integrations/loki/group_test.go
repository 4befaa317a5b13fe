package loki

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func at(sec int) time.Time { return time.Date(2026, 2, 1, 10, 31, sec, 0, time.UTC) }

func TestGroupErrorsPlaybookIncident(t *testing.T) {
	entries := []Entry{
		{Time: at(25), Line: `{"level":"error","error":"Database connection timeout","trace_id":"trace-ghi789"}`},
		{Time: at(20), Line: `{"level":"error","error":"Database connection timeout","trace_id":"trace-def456"}`},
		{Time: at(18), Line: `{"level":"error","msg":"payment gateway returned 502","trace_id":"trace-p1"}`},
		{Time: at(15), Line: `{"level":"error","error":"Database connection timeout","trace_id":"trace-abc123"}`},
		{Time: at(12), Line: `{"level":"error","error":"Database connection timeout","trace_id":"trace-abc123"}`},
		{Time: at(11), Line: `{"level":"error","error":"Database connection timeout","trace_id":"trace-jkl000"}`},
	}
	g := GroupErrors(entries, "")
	require.Len(t, g, 2)
	assert.Equal(t, "Database connection timeout", g[0].Message)
	assert.Equal(t, 5, g[0].Count)
	assert.Equal(t, []string{"trace-ghi789", "trace-def456", "trace-abc123"}, g[0].TraceIDs)
	assert.Equal(t, at(11), g[0].First)
	assert.Equal(t, at(25), g[0].Last)
	assert.Equal(t, "payment gateway returned 502", g[1].Message)
	assert.Equal(t, 1, g[1].Count)
}

func TestGroupErrorsFieldOrderLabelsAndPlainLines(t *testing.T) {
	entries := []Entry{
		{Time: at(1), Line: `{"message":"disk full"}`},
		{Time: at(2), Line: `{"msg":"m wins over message","message":"ignored"}`},
		{Time: at(3), Line: `{"error":{"code":57,"text":"nested"}}`},
		{Time: at(4), Line: `{"level":"error"}`, Labels: map[string]string{"error": "from label", "trace_id": "t-9"}},
		{Time: at(5), Line: `  panic: runtime error: index out of range  `},
		{Time: at(6), Line: `{"level":"info"}`}, // JSON without a message: skipped
		{Time: at(7), Line: `   `},
	}
	g := GroupErrors(entries, "")
	msgs := map[string]ErrorGroup{}
	for _, x := range g {
		msgs[x.Message] = x
	}
	assert.Len(t, g, 5)
	assert.Contains(t, msgs, "disk full")
	assert.Contains(t, msgs, "m wins over message")
	assert.Contains(t, msgs, `{"code":57,"text":"nested"}`)
	assert.Equal(t, []string{"t-9"}, msgs["from label"].TraceIDs)
	assert.Contains(t, msgs, "panic: runtime error: index out of range")
}

func TestGroupErrorsExplicitFieldAndTies(t *testing.T) {
	entries := []Entry{
		{Time: at(9), Line: `{"err":"b","error":"ignored"}`},
		{Time: at(1), Line: `{"err":"a"}`},
		{Time: at(5), Line: `{"err":"c"}`},
		{Time: at(6), Line: `{"err":"c"}`},
	}
	g := GroupErrors(entries, "err")
	require.Len(t, g, 3)
	assert.Equal(t, []string{"c", "a", "b"}, []string{g[0].Message, g[1].Message, g[2].Message})
	assert.Empty(t, GroupErrors(nil, ""))
}
