package redisstore

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseURLSimple(t *testing.T) {
	cfg, err := parseURL("redis://:s3cret@10.0.0.1:6380/2")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.simple
	if cfg.kind != kindSimple || o.Addr != "10.0.0.1:6380" || o.DB != 2 || o.Password != "s3cret" || o.TLSConfig != nil || o.Network != "tcp" {
		t.Fatalf("parsed %+v", o)
	}

	cfg, err = parseURL("rediss://user:pw@redis.example.com/0?dial_timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	o = cfg.simple
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example.com" || o.Addr != "redis.example.com:6379" ||
		o.Username != "user" || o.DialTimeout != 2*time.Second {
		t.Fatalf("rediss parsed %+v", o)
	}

	cfg, err = parseURL("unix:///var/run/redis/redis.sock?db=3")
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.simple; o.Network != "unix" || o.Addr != "/var/run/redis/redis.sock" || o.DB != 3 {
		t.Fatalf("unix parsed %+v", o)
	}
}

func TestParseURLSentinel(t *testing.T) {
	cfg, err := parseURL("redis+sentinel://:pw@s1:26380,s2,[::1]:26381/mymaster/3?dial_timeout=1s&sentinel_password=sp")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.failover
	if cfg.kind != kindFailover {
		t.Fatalf("kind = %v", cfg.kind)
	}
	if want := []string{"s1:26380", "s2:26379", "[::1]:26381"}; !slices.Equal(o.SentinelAddrs, want) {
		t.Fatalf("SentinelAddrs = %v, want %v", o.SentinelAddrs, want)
	}
	if o.MasterName != "mymaster" || o.DB != 3 || o.Password != "pw" || o.SentinelPassword != "sp" ||
		o.DialTimeout != time.Second || o.TLSConfig != nil {
		t.Fatalf("failover options %+v", o)
	}

	cfg, err = parseURL("rediss+sentinel://sentinel.example.com/primary")
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.failover; o.MasterName != "primary" || o.DB != 0 || o.TLSConfig == nil || o.Password != "" ||
		!slices.Equal(o.SentinelAddrs, []string{"sentinel.example.com:26379"}) {
		t.Fatalf("rediss+sentinel options %+v", o)
	}
}

func TestParseURLCluster(t *testing.T) {
	cfg, err := parseURL("redis+cluster://:pw@c1:7000,c2:7001,c3?read_timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.cluster
	if cfg.kind != kindCluster || !slices.Equal(o.Addrs, []string{"c1:7000", "c2:7001", "c3:6379"}) ||
		o.Password != "pw" || o.ReadTimeout != 2*time.Second || o.TLSConfig != nil {
		t.Fatalf("cluster options %+v", o)
	}
	cfg, err = parseURL("rediss+cluster://c1:7000")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.cluster.TLSConfig == nil {
		t.Fatal("rediss+cluster without TLS")
	}
}

func TestOpenURLClientTypes(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"redis://127.0.0.1:6379/0", "*redis.Client"},
		{"redis+sentinel://127.0.0.1:26379/mymaster", "*redis.Client"},
		{"redis+cluster://127.0.0.1:7000,127.0.0.1:7001", "*redis.ClusterClient"},
	} {
		s, err := OpenURL(tc.url, "nexo")
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		var got string
		switch c := s.Client().(type) {
		case *redis.Client:
			got = "*redis.Client"
			if strings.Contains(tc.url, "sentinel") && !strings.Contains(c.String(), "FailoverClient") {
				t.Errorf("%s: not a failover client: %s", tc.url, c.String())
			}
		case *redis.ClusterClient:
			got = "*redis.ClusterClient"
		default:
			got = "other"
		}
		if got != tc.want {
			t.Errorf("%s: client %s, want %s", tc.url, got, tc.want)
		}
		_ = s.Close()
	}
}

func TestParseURLErrorsHidePassword(t *testing.T) {
	for _, raw := range []string{
		"http://:hunter2@host",
		"redis://:hunter2@host:notaport/0",
		"redis://:hunter2@host/notadb",
		"redis+sentinel://:hunter2@s1:26379",
		"redis+sentinel://:hunter2@s1:26379/m/1/extra",
		"redis+cluster://:hunter2@c1:7000/2",
		"redis+cluster://:hunter2@",
		"redis+cluster://:hunter2@c1?nonsense_option=1",
		"no-scheme-hunter2",
	} {
		_, err := parseURL(raw)
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:pw@h:6379/0":                 "redis://:xxxxx@h:6379/0",
		"redis://user:pw@h":                    "redis://user:xxxxx@h",
		"redis+sentinel://:p@w@s1,s2/m":        "redis+sentinel://:xxxxx@s1,s2/m",
		"redis://h:6379/0":                     "redis://h:6379/0",
		"unix:///run/redis.sock":               "unix:///run/redis.sock",
		"redis://user@h/0?dial_timeout=1s&x=@": "redis://user@h/0?dial_timeout=1s&x=@",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewSanitizesPrefix(t *testing.T) {
	s := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "a{b}c")
	defer s.Close()
	if got := s.key("x"); got != "{a_b_c}:x" {
		t.Fatalf("key = %q", got)
	}
	if got := New(s.Client(), "").key("x"); got != "{nexo}:x" {
		t.Fatalf("empty prefix key = %q", got)
	}
}
