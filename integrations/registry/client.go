package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Options configures NewClient.
type Options struct {
	// BaseURL is the registry's API root (default https://ghcr.io).
	BaseURL string
	// Username goes with Token in the token request's basic auth (default
	// "nexo"; GHCR accepts any user name with a GitHub token).
	Username string
	// Token is optional: without it tokens are requested anonymously
	// (public images). For GHCR it is a GitHub token with read:packages.
	Token string
	// Timeout bounds each HTTP request (default 15s).
	Timeout time.Duration
	// HTTPClient replaces the transport (tests); Timeout is then ignored.
	HTTPClient *http.Client
}

// HTTPClient is an OCI distribution API client. It implements Client.
type HTTPClient struct {
	base     *url.URL
	username string
	secret   string
	hc       *http.Client

	mu     sync.Mutex
	tokens map[string]cachedToken // by scope
	now    func() time.Time
}

type cachedToken struct {
	token   string
	expires time.Time
}

var _ Client = (*HTTPClient)(nil)

// Error is a registry error: the HTTP status and, when the body had one,
// the first OCI error code (MANIFEST_UNKNOWN, NAME_UNKNOWN, UNAUTHORIZED, …).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("registry: %s: %s (HTTP %d)", e.Code, e.Message, e.Status)
	}
	return fmt.Sprintf("registry: HTTP %d %s", e.Status, e.Message)
}

// IsNotFound reports whether err is a registry 404 (unknown repository or tag).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

const (
	maxBody       = 8 << 20
	maxPages      = 100
	pageSize      = 1000
	defaultExpiry = 60 * time.Second // distribution's token spec default
)

// ManifestAccept is the Accept header of manifest requests: OCI index and
// manifest, Docker v2 list and manifest.
const ManifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// NewClient checks opts and returns a client.
func NewClient(opts Options) (*HTTPClient, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = "https://ghcr.io"
	}
	u, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("registry: base URL %q must be a plain http(s) URL", opts.BaseURL)
	}
	if strings.ContainsAny(opts.Token, "\r\n") || strings.ContainsAny(opts.Username, ":\r\n") {
		return nil, errors.New("registry: token or username contains forbidden characters")
	}
	c := &HTTPClient{base: u, username: opts.Username, secret: opts.Token, hc: opts.HTTPClient, tokens: map[string]cachedToken{}, now: time.Now}
	if c.username == "" {
		c.username = "nexo"
	}
	if c.hc == nil {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 15 * time.Second
		}
		c.hc = &http.Client{Timeout: timeout}
	}
	// Never follow a redirect with our Authorization header to another host.
	inner := c.hc
	c.hc = &http.Client{Transport: inner.Transport, Timeout: inner.Timeout, Jar: inner.Jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				req.Header.Del("Authorization")
			}
			return nil
		}}
	return c, nil
}

// OCI distribution grammar.
var (
	repoRe = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRe  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidRepo reports whether name is a valid repository name (no registry host).
func ValidRepo(name string) bool { return len(name) <= 255 && repoRe.MatchString(name) }

// ValidTag reports whether tag is a valid OCI tag.
func ValidTag(tag string) bool { return tagRe.MatchString(tag) }

func checkRepo(repo string) error {
	if !ValidRepo(repo) {
		return fmt.Errorf("registry: invalid repository name %q", repo)
	}
	return nil
}

// SplitImage splits an image reference "ghcr.io/org/app:tag" into registry
// host ("" when the reference has none), repository and tag ("" when the
// reference has none). Digest references (@sha256:…) are rejected.
func SplitImage(image string) (host, repo, tag string, err error) {
	if strings.Contains(image, "@") {
		return "", "", "", fmt.Errorf("registry: digest references are not supported: %q", image)
	}
	rest := image
	if first, after, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, rest = first, after
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest, tag = rest[:i], rest[i+1:]
		if !ValidTag(tag) {
			return "", "", "", fmt.Errorf("registry: invalid tag %q in %q", tag, image)
		}
	}
	if err := checkRepo(rest); err != nil {
		return "", "", "", err
	}
	return host, rest, tag, nil
}

// TagExists implements Client with HEAD /v2/<repo>/manifests/<tag>.
func (c *HTTPClient) TagExists(ctx context.Context, repo, tag string) (bool, error) {
	if err := checkRepo(repo); err != nil {
		return false, err
	}
	if !ValidTag(tag) {
		return false, fmt.Errorf("registry: invalid tag %q", tag)
	}
	resp, err := c.get(ctx, http.MethodHead, c.endpoint("/v2/"+repo+"/manifests/"+tag, nil), repo, ManifestAccept)
	if err != nil {
		return false, err
	}
	defer drain(resp)
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	default:
		return false, readError(resp)
	}
}

// Tags implements Client with GET /v2/<repo>/tags/list, following Link
// pagination on the same host (at most 100 pages).
func (c *HTTPClient) Tags(ctx context.Context, repo string) ([]string, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	next := c.endpoint("/v2/"+repo+"/tags/list", url.Values{"n": {fmt.Sprint(pageSize)}})
	var all []string
	for page := 0; next != nil; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("registry: more than %d pages of tags for %s", maxPages, repo)
		}
		resp, err := c.get(ctx, http.MethodGet, next, repo, "application/json")
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			err := readError(resp)
			drain(resp)
			return nil, err
		}
		var body struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body)
		link := resp.Header.Get("Link")
		drain(resp)
		if err != nil {
			return nil, fmt.Errorf("registry: decode tags of %s: %w", repo, err)
		}
		all = append(all, body.Tags...)
		if next, err = c.nextPage(next, link); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// nextPage resolves a `Link: <…>; rel="next"` header against cur.
func (c *HTTPClient) nextPage(cur *url.URL, link string) (*url.URL, error) {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			return nil, fmt.Errorf("registry: malformed Link header %q", link)
		}
		u, err := cur.Parse(target[1 : len(target)-1])
		if err != nil {
			return nil, fmt.Errorf("registry: malformed Link header %q: %w", link, err)
		}
		if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
			return nil, fmt.Errorf("registry: Link points to another host %q", u.Host)
		}
		return u, nil
	}
	return nil, nil
}

func (c *HTTPClient) endpoint(path string, q url.Values) *url.URL {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = q.Encode()
	return &u
}

// get sends a request with the cached token for repo's pull scope, answers
// a 401 challenge once (fetching a token or using basic auth) and retries.
func (c *HTTPClient) get(ctx context.Context, method string, u *url.URL, repo, accept string) (*http.Response, error) {
	scope := "repository:" + repo + ":pull"
	auth := ""
	if tok, ok := c.cached(scope); ok {
		auth = "Bearer " + tok
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("registry: build request: %w", err)
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", "nexo-bot")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("registry: %s %s: %w", method, u.Path, err)
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt == 1 {
			return resp, nil
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		drain(resp)
		c.forget(scope)
		if auth, err = c.answer(ctx, challenge, scope); err != nil {
			return nil, err
		}
	}
}

// answer turns a WWW-Authenticate challenge into an Authorization value.
// The token is cached under cacheKey (the repository's pull scope).
func (c *HTTPClient) answer(ctx context.Context, challenge, cacheKey string) (string, error) {
	scheme, params := parseChallenge(challenge)
	switch strings.ToLower(scheme) {
	case "basic":
		if c.secret == "" {
			return "", &Error{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED", Message: "registry wants basic auth and no token is configured"}
		}
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(c.username, c.secret)
		return req.Header.Get("Authorization"), nil
	case "bearer":
	default:
		return "", &Error{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED", Message: fmt.Sprintf("unsupported auth challenge %q", scheme)}
	}
	realm, err := url.Parse(params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return "", fmt.Errorf("registry: bad token realm %q", params["realm"])
	}
	// Credentials go only over TLS, or to the registry's own host.
	sendCreds := c.secret != "" && (realm.Scheme == "https" || realm.Host == c.base.Host)
	scope := cacheKey
	if s := params["scope"]; s != "" {
		scope = s
	}
	q := realm.Query()
	if params["service"] != "" {
		q.Set("service", params["service"])
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", fmt.Errorf("registry: build token request: %w", err)
	}
	req.Header.Set("User-Agent", "nexo-bot")
	if sendCreds {
		req.SetBasicAuth(c.username, c.secret)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("registry: token request to %s: %w", realm.Host, err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return "", readError(resp)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("registry: decode token response: %w", err)
	}
	tok := body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	if tok == "" {
		return "", errors.New("registry: token response has no token")
	}
	ttl := time.Duration(body.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = defaultExpiry
	}
	// Renew a little early so a token never expires in flight.
	c.mu.Lock()
	c.tokens[cacheKey] = cachedToken{token: tok, expires: c.now().Add(ttl - min(ttl/10, 10*time.Second))}
	c.mu.Unlock()
	return "Bearer " + tok, nil
}

func (c *HTTPClient) cached(scope string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[scope]
	if !ok || c.now().After(t.expires) {
		delete(c.tokens, scope)
		return "", false
	}
	return t.token, true
}

func (c *HTTPClient) forget(scope string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tokens, scope)
}

// parseChallenge parses `Bearer realm="…",service="…",scope="…"`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				break
			}
			val, rest = after[1:1+end], after[2+end:]
		} else {
			val, rest, _ = strings.Cut(after, ",")
		}
		params[key] = val
		rest = strings.TrimLeft(strings.TrimSpace(rest), ",")
		rest = strings.TrimSpace(rest)
	}
	return scheme, params
}

// readError reads an OCI error body {"errors":[{"code","message","detail"}]}.
func readError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if resp.Body != nil && json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) == nil && len(body.Errors) > 0 {
		e.Code, e.Message = body.Errors[0].Code, body.Errors[0].Message
	}
	return e
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}
