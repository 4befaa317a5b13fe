package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// clientKind is the go-redis client an URL selects.
type clientKind int

const (
	kindSimple   clientKind = iota // redis://, rediss://, unix://
	kindFailover                   // redis+sentinel://, rediss+sentinel://
	kindCluster                    // redis+cluster://, rediss+cluster://
)

// clientConfig is a parsed Redis URL.
type clientConfig struct {
	kind     clientKind
	simple   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

func (c clientConfig) newClient() redis.UniversalClient {
	switch c.kind {
	case kindFailover:
		return redis.NewFailoverClient(c.failover)
	case kindCluster:
		return redis.NewClusterClient(c.cluster)
	default:
		return redis.NewClient(c.simple)
	}
}

// OpenURL builds a client from a URL and wraps it with New. Accepted forms
// (query parameters are go-redis options, e.g. ?dial_timeout=2s):
//
//	redis://[[user]:pass@]host[:6379][/db]
//	rediss://[[user]:pass@]host[:6379][/db]                      TLS
//	unix:///path/to/redis.sock[?db=N]
//	redis+sentinel://[[user]:pass@]h1[:26379],h2[:26379]/master[/db]
//	redis+cluster://[[user]:pass@]h1[:6379],h2[:6379]
//
// rediss+sentinel:// and rediss+cluster:// use TLS. In the sentinel form
// the user info authenticates to the Redis nodes; sentinels that need their
// own password take ?sentinel_password=...&sentinel_username=....
// Nothing is dialled here: use Ping to check the server. Errors never
// include the password.
func OpenURL(rawURL, prefix string) (*Store, error) {
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return New(cfg.newClient(), prefix), nil
}

// Redact returns rawURL with its password replaced by "xxxxx", for logs.
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	authEnd := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authEnd = i
	}
	at := strings.LastIndex(rest[:authEnd], "@")
	if at < 0 {
		return rawURL
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return rawURL
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

func parseURL(rawURL string) (clientConfig, error) {
	bad := func(reason string) (clientConfig, error) {
		return clientConfig{}, fmt.Errorf("redisstore: invalid redis URL %q: %s", Redact(rawURL), reason)
	}
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok { // not echoed: without a scheme the password cannot be located
		return clientConfig{}, errors.New("redisstore: invalid redis URL: missing scheme (want redis://, rediss://, redis+sentinel://, redis+cluster:// or unix://)")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return bad(safeReason(err))
		}
		return clientConfig{kind: kindSimple, simple: o}, nil
	case "redis+sentinel", "rediss+sentinel":
		return parseMulti(rawURL, kindFailover, bad)
	case "redis+cluster", "rediss+cluster":
		return parseMulti(rawURL, kindCluster, bad)
	default:
		return bad("unknown scheme " + scheme)
	}
}

// safeReason is the part of a parse error that cannot contain the URL.
func safeReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// multiURL is a URL with a comma-separated host list, which net/url does
// not parse.
type multiURL struct {
	tls       bool
	user      string
	pass      string
	hasPass   bool
	hosts     []string
	pathParts []string
	query     url.Values
}

func splitMulti(rawURL, defaultPort string) (multiURL, error) {
	var m multiURL
	scheme, rest, _ := strings.Cut(rawURL, "://")
	m.tls = strings.HasPrefix(strings.ToLower(scheme), "rediss")
	if strings.Contains(rest, "#") {
		return m, errors.New("fragments are not allowed")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return m, errors.New("invalid query string")
	}
	m.query = q
	authority, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		if m.user, err = url.PathUnescape(user); err != nil {
			return m, errors.New("invalid user name escaping")
		}
		if m.pass, err = url.PathUnescape(pass); err != nil {
			return m, errors.New("invalid password escaping")
		}
		m.hasPass = hasPass
	}
	for h := range strings.SplitSeq(authority, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defaultPort)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return m, fmt.Errorf("invalid host %q", h)
		}
		m.hosts = append(m.hosts, h)
	}
	if len(m.hosts) == 0 {
		return m, errors.New("at least one host is required")
	}
	for p := range strings.SplitSeq(path, "/") {
		if p != "" {
			m.pathParts = append(m.pathParts, p)
		}
	}
	return m, nil
}

// synthetic rebuilds a plain URL go-redis can parse for its query options:
// first host plus the others as addr= parameters, credentials left out.
func (m multiURL) synthetic(path string) string {
	q := url.Values{}
	for k, v := range m.query {
		q[k] = v
	}
	q["addr"] = append(q["addr"], m.hosts[1:]...)
	scheme := "redis"
	if m.tls {
		scheme = "rediss"
	}
	u := url.URL{Scheme: scheme, Host: m.hosts[0], Path: path, RawQuery: q.Encode()}
	return u.String()
}

func parseMulti(rawURL string, kind clientKind, bad func(string) (clientConfig, error)) (clientConfig, error) {
	defaultPort := "6379"
	if kind == kindFailover {
		defaultPort = "26379"
	}
	m, err := splitMulti(rawURL, defaultPort)
	if err != nil {
		return bad(err.Error())
	}
	if kind == kindCluster {
		if len(m.pathParts) > 0 {
			return bad("a cluster URL has no database path (Redis Cluster only has db 0)")
		}
		o, err := redis.ParseClusterURL(m.synthetic(""))
		if err != nil {
			return bad(safeReason(err))
		}
		o.Username, o.Password = m.user, m.pass
		return clientConfig{kind: kindCluster, cluster: o}, nil
	}

	if len(m.pathParts) == 0 || len(m.pathParts) > 2 {
		return bad("a sentinel URL needs the path /mastername[/db]")
	}
	sentinelUser, sentinelPass := m.query.Get("sentinel_username"), m.query.Get("sentinel_password")
	m.query.Del("sentinel_username")
	m.query.Del("sentinel_password")
	m.query.Set("master_name", m.pathParts[0])
	path := ""
	if len(m.pathParts) == 2 {
		path = "/" + m.pathParts[1]
	}
	o, err := redis.ParseFailoverURL(m.synthetic(path))
	if err != nil {
		return bad(safeReason(err))
	}
	o.Username, o.Password = m.user, m.pass
	o.SentinelUsername, o.SentinelPassword = sentinelUser, sentinelPass
	return clientConfig{kind: kindFailover, failover: o}, nil
}
