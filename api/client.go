package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls a running bot's API.
type Client struct {
	// BaseURL is the bot's server.listen as a URL (http://127.0.0.1:8080).
	BaseURL string
	// Token is NEXO_API_TOKEN.
	Token string
	// HTTP is the client (default: a 2-minute timeout).
	HTTP *http.Client
}

// Error is a non-200 answer of the API.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// ErrUnreachable wraps a failure to reach the bot at all.
var ErrUnreachable = errors.New("the bot's API does not answer")

// BaseURLFor turns server.listen into the URL a process on the same host
// uses: ":8080" and "0.0.0.0:8080" become http://127.0.0.1:8080, "[::]:8080"
// http://[::1]:8080.
func BaseURLFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Dora asks for a DORA report (the same words and flags as the CLI).
func (c *Client) Dora(ctx context.Context, service, env, since, until, tz string) (DoraResponse, error) {
	q := url.Values{}
	for k, v := range map[string]string{"service": service, "env": env, "since": since, "until": until, "tz": tz} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out DoraResponse
	err := c.get(ctx, "/api/v1/dora", q, &out)
	return out, err
}

// Audit asks for a service's audit log (limit 0: the default).
func (c *Client) Audit(ctx context.Context, service string, limit int) (AuditResponse, error) {
	q := url.Values{"service": {service}}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out AuditResponse
	err := c.get(ctx, "/api/v1/audit", q, &out)
	return out, err
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("%w: %s is not a URL: %v", ErrUnreachable, c.BaseURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: reading the answer: %v", ErrUnreachable, c.BaseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("%s is not nexo's API (HTTP %d)", c.BaseURL, resp.StatusCode)}
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("%s answered something that is not nexo's API: %v", c.BaseURL, err)}
	}
	return nil
}
