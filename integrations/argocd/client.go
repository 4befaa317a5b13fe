package argocd

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Options configures NewClient.
type Options struct {
	// Server is argocd-server's base URL, e.g. https://argocd.example.com.
	Server string
	// Token is an Argo CD account token, sent as "Authorization: Bearer".
	Token string
	// Insecure skips TLS certificate verification (self-signed installs).
	Insecure bool
	// Timeout bounds each HTTP attempt (default 30s).
	Timeout time.Duration
	// UserAgent is sent on every request (default "nexo-bot").
	UserAgent string
	// GetRetries is how many times a GET (or the idempotent PATCH) is
	// retried on 5xx, 429 and network errors (default 2; negative: none).
	GetRetries int
	// RetryBackoff is the first retry's wait, doubled each time (default 250ms, capped at 5s).
	RetryBackoff time.Duration
	// HTTPClient replaces the transport (tests); Timeout and Insecure are then ignored.
	HTTPClient *http.Client
}

// HTTPClient talks to argocd-server's REST API. It implements Client.
type HTTPClient struct {
	base      *url.URL
	token     string
	userAgent string
	hc        *http.Client
	retries   int
	backoff   time.Duration
}

var _ Client = (*HTTPClient)(nil)

// maxBody bounds how much of a response is read (an Application with many
// resources is large; a runtimeError is small).
const (
	maxBody      = 32 << 20
	maxErrorBody = 64 << 10
)

// NewClient checks opts and returns a client.
func NewClient(opts Options) (*HTTPClient, error) {
	u, err := url.Parse(strings.TrimRight(opts.Server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("argocd: server %q must be an http(s) URL", opts.Server)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("argocd: server URL must not carry a query, fragment or credentials")
	}
	if opts.Token == "" {
		return nil, errors.New("argocd: a token is required")
	}
	if strings.ContainsAny(opts.Token, "\r\n ") {
		return nil, errors.New("argocd: the token contains whitespace")
	}
	c := &HTTPClient{base: u, token: opts.Token, userAgent: opts.UserAgent, retries: opts.GetRetries, backoff: opts.RetryBackoff}
	if c.userAgent == "" {
		c.userAgent = "nexo-bot"
	}
	if c.retries == 0 {
		c.retries = 2
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = 250 * time.Millisecond
	}
	c.hc = opts.HTTPClient
	if c.hc == nil {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in for self-signed argocd-server
		}
		c.hc = &http.Client{Timeout: timeout, Transport: tr}
	}
	return c, nil
}

// appName is a Kubernetes object name (DNS-1123 subdomain).
var appName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// ValidAppName reports whether name is a valid Argo CD application name.
func ValidAppName(name string) bool { return len(name) <= 253 && appName.MatchString(name) }

func checkName(name string) error {
	if !ValidAppName(name) {
		return fmt.Errorf("argocd: invalid application name %q", name)
	}
	return nil
}

// GetApp implements Client.
func (c *HTTPClient) GetApp(ctx context.Context, name, refresh string) (*Application, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	switch refresh {
	case "", "normal", "hard":
	default:
		return nil, fmt.Errorf("argocd: refresh must be \"\", \"normal\" or \"hard\", not %q", refresh)
	}
	q := url.Values{}
	if refresh != "" {
		q.Set("refresh", refresh)
	}
	var app Application
	err := c.do(ctx, http.MethodGet, "/api/v1/applications/"+url.PathEscape(name), q, nil, &app)
	if err != nil {
		return nil, err
	}
	return &app, nil
}

// GetProject implements Client.
func (c *HTTPClient) GetProject(ctx context.Context, name string) (*AppProject, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var p AppProject
	if err := c.do(ctx, http.MethodGet, "/api/v1/projects/"+url.PathEscape(name), nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Sync implements Client. It is not retried: a repeated sync could start a
// second operation.
func (c *HTTPClient) Sync(ctx context.Context, name string, req SyncRequest) (*Application, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	req.Name = name
	var app Application
	if err := c.do(ctx, http.MethodPost, "/api/v1/applications/"+url.PathEscape(name)+"/sync", nil, req, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// Rollback implements Client (not retried, like Sync).
func (c *HTTPClient) Rollback(ctx context.Context, name string, id int64) (*Application, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if id < 0 {
		return nil, fmt.Errorf("argocd: history id %d is negative", id)
	}
	body := RollbackRequest{Name: name, ID: id}
	var app Application
	if err := c.do(ctx, http.MethodPost, "/api/v1/applications/"+url.PathEscape(name)+"/rollback", nil, body, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// Merge patches SetAutoSync sends. Both keep spec.syncPolicy.automated and
// only flip its "enabled" (Argo CD v3), so prune and selfHeal survive a
// rollback's off-and-on. A server that ignores "enabled" (before v3) still
// has auto-sync on after the first patch; then automated is removed, as
// Argo CD's UI does (prune/selfHeal are forgotten there).
const (
	autoSyncOnPatch     = `{"spec":{"syncPolicy":{"automated":{"enabled":true}}}}`
	autoSyncOffPatch    = `{"spec":{"syncPolicy":{"automated":{"enabled":false}}}}`
	autoSyncRemovePatch = `{"spec":{"syncPolicy":{"automated":null}}}`
)

// SetAutoSync implements Client with PATCH /api/v1/applications/{name} and a
// JSON merge patch. It is idempotent.
func (c *HTTPClient) SetAutoSync(ctx context.Context, name string, enabled bool) (*Application, error) {
	if enabled {
		return c.Patch(ctx, name, autoSyncOnPatch)
	}
	app, err := c.Patch(ctx, name, autoSyncOffPatch)
	if err != nil || !app.AutoSyncEnabled() {
		return app, err
	}
	return c.Patch(ctx, name, autoSyncRemovePatch)
}

// Patch applies a JSON merge patch (RFC 7396) to the application.
func (c *HTTPClient) Patch(ctx context.Context, name, mergePatch string) (*Application, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if !json.Valid([]byte(mergePatch)) {
		return nil, errors.New("argocd: the merge patch is not valid JSON")
	}
	body := PatchRequest{Name: name, Patch: mergePatch, PatchType: "merge"}
	var app Application
	if err := c.do(ctx, http.MethodPatch, "/api/v1/applications/"+url.PathEscape(name), nil, body, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// ResourceTree implements Client.
func (c *HTTPClient) ResourceTree(ctx context.Context, name string) (*ResourceTree, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var tree ResourceTree
	if err := c.do(ctx, http.MethodGet, "/api/v1/applications/"+url.PathEscape(name)+"/resource-tree", nil, nil, &tree); err != nil {
		return nil, err
	}
	return &tree, nil
}

// Events reads GET …/events: the Kubernetes events of the Application
// object (sync operations started and completed, resources created and
// updated), oldest first as the API server lists them.
func (c *HTTPClient) Events(ctx context.Context, name string) (*EventList, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var list EventList
	if err := c.do(ctx, http.MethodGet, "/api/v1/applications/"+url.PathEscape(name)+"/events", nil, nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// do sends one request, retrying idempotent methods, and decodes into out.
func (c *HTTPClient) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("argocd: encode request: %w", err)
		}
	}
	u := *c.base
	u.Path = c.base.Path + path // names are validated: nothing to escape
	u.RawPath = ""
	u.RawQuery = q.Encode()

	attempts := 1
	if method == http.MethodGet || method == http.MethodPatch {
		attempts += c.retries
	}
	wait := c.backoff
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("argocd: %s %s: %w (last error: %v)", method, path, ctx.Err(), lastErr)
			case <-t.C:
			}
			wait = min(wait*2, 5*time.Second)
		}
		retry, err := c.once(ctx, method, u.String(), path, payload, out)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			return err
		}
	}
	return lastErr
}

// once performs a single attempt; retry tells whether the failure is transient.
func (c *HTTPClient) once(ctx context.Context, method, rawURL, path string, payload []byte, out any) (retry bool, err error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return false, fmt.Errorf("argocd: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if method != http.MethodGet {
		// argocd-server answers 415 to any non-GET request whose
		// Content-Type is not exactly application/json.
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error carries the URL only (never headers), so the token stays out.
		var ne net.Error
		transient := errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
		return transient, fmt.Errorf("argocd: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		apiErr := &APIError{HTTPStatus: resp.StatusCode}
		if json.Unmarshal(raw, apiErr) != nil || (apiErr.Message == "" && apiErr.Err == "") {
			apiErr.Message = strings.TrimSpace(http.StatusText(resp.StatusCode) + ": " + truncate(string(raw), 200))
		} else if apiErr.Message == "" {
			apiErr.Message = apiErr.Err
		}
		apiErr.HTTPStatus = resp.StatusCode
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, apiErr
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return false, nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxBody))
	if err := dec.Decode(out); err != nil {
		return true, fmt.Errorf("argocd: %s %s: decode response: %w", method, path, err)
	}
	return false, nil
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
