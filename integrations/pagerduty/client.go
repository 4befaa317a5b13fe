package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client sends events to PagerDuty's Events API v2 (POST {url}/v2/enqueue).
type Client struct {
	url        string
	routingKey string
	http       *http.Client
}

// NewClient builds a client. The routing key comes from the environment
// (PAGERDUTY_ROUTING_KEY) and is never logged.
func NewClient(baseURL, routingKey string, timeout time.Duration) (*Client, error) {
	if routingKey == "" {
		return nil, errors.New("pagerduty: no routing key (set PAGERDUTY_ROUTING_KEY)")
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Client{url: strings.TrimRight(baseURL, "/"), routingKey: routingKey, http: &http.Client{Timeout: timeout}}, nil
}

// enqueueRequest is the Events API v2 body.
type enqueueRequest struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key,omitempty"`
	Payload     *payload `json:"payload,omitempty"`
	Links       []Link   `json:"links,omitempty"`
	Client      string   `json:"client,omitempty"`
}

type payload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

// enqueueResponse is the Events API v2 answer.
type enqueueResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

// Send implements Pager. Retries 429 and 5xx a few times (PagerDuty asks
// clients to), with the same dedup key so a retry never pages twice.
func (c *Client) Send(ctx context.Context, e Event) (string, error) {
	req := enqueueRequest{RoutingKey: c.routingKey, EventAction: e.Action, DedupKey: e.DedupKey, Links: e.Links, Client: "nexo"}
	if req.EventAction == "" {
		req.EventAction = "trigger"
	}
	if req.EventAction == "trigger" {
		sev := e.Severity
		if sev == "" {
			sev = "critical"
		}
		src := e.Source
		if src == "" {
			src = "nexo"
		}
		req.Payload = &payload{Summary: truncate(e.Summary, 1024), Source: src, Severity: sev, CustomDetails: e.Details}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var last error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(1<<attempt) * 250 * time.Millisecond):
			}
		}
		key, retry, err := c.post(ctx, body)
		if err == nil {
			return key, nil
		}
		last = err
		if !retry {
			break
		}
	}
	return "", last
}

func (c *Client) post(ctx context.Context, body []byte) (string, bool, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v2/enqueue", bytes.NewReader(body))
	if err != nil {
		return "", false, err
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(r)
	if err != nil {
		return "", true, fmt.Errorf("pagerduty: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out enqueueResponse
	_ = json.Unmarshal(raw, &out)
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		return out.DedupKey, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", true, fmt.Errorf("pagerduty: HTTP %d", resp.StatusCode)
	}
	msg := out.Message
	if len(out.Errors) > 0 {
		msg += ": " + strings.Join(out.Errors, "; ")
	}
	return "", false, fmt.Errorf("pagerduty: HTTP %d: %s", resp.StatusCode, msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
