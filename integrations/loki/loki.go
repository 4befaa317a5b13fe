// Package loki is a small client of Loki's HTTP API (/loki/api/v1/query_range).
// Loki's own logcli is AGPL-3.0 and is not imported.
package loki

import (
	"context"
	"time"
)

// Entry is one log line.
type Entry struct {
	Time   time.Time         `json:"time"`
	Line   string            `json:"line"`
	Labels map[string]string `json:"labels"`
}

// Query is a query_range request.
type Query struct {
	LogQL     string
	Start     time.Time
	End       time.Time
	Limit     int    // default 100
	Direction string // "backward" (default) or "forward"
}

// Client is what nexo asks Loki.
type Client interface {
	// QueryRange returns the entries of a log query, newest first for
	// backward.
	QueryRange(ctx context.Context, q Query) ([]Entry, error)
}
