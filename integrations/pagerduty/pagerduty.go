// Package pagerduty pages on-call through PagerDuty's Events API v2
// (POST /v2/enqueue).
package pagerduty

import "context"

// Event is an Events API v2 trigger / acknowledge / resolve.
type Event struct {
	Action   string // "trigger", "acknowledge", "resolve"
	DedupKey string // the incident id: re-sends are de-duplicated by PagerDuty
	Summary  string
	Source   string
	Severity string // "critical", "error", "warning", "info"
	Links    []Link
	Details  map[string]string
}

// Link is a link shown on the page.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Pager sends pages.
type Pager interface {
	Send(ctx context.Context, e Event) (dedupKey string, err error)
}
