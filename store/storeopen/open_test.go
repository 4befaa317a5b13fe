package storeopen_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/store/redisstore"
	"github.com/nexo-org/nexo-bot/store/storeopen"
)

func ctx3s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOpenBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexo.db")
	s, err := storeopen.Open(ctx3s(t), config.Store{Backend: "bolt", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*boltstore.Store); !ok {
		t.Fatalf("bolt backend opened %T", s)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("bolt file not created: %v", err)
	}
}

func TestOpenRedis(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	s, err := storeopen.Open(ctx3s(t), config.Store{Backend: "redis", RedisURL: url})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Open with Redis down = %v, want ErrUnavailable", err)
		}
		t.Logf("Redis at %s is down; checked the unavailable error instead", redisstore.Redact(url))
		return
	}
	defer s.Close()
	rs, ok := s.(*redisstore.Store)
	if !ok {
		t.Fatalf("redis backend opened %T", s)
	}
	if rs.KeyPattern() != "{nexo}:*" {
		t.Fatalf("key pattern %q, want {nexo}:*", rs.KeyPattern())
	}
}

func TestOpenRedisDownIsUnavailableAndHidesPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = storeopen.Open(ctx3s(t), config.Store{Backend: "redis", RedisURL: "redis://:hunter2@" + addr + "/0?dial_timeout=300ms"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("error should name the server but not the password: %v", err)
	}
}

func TestOpenBadConfig(t *testing.T) {
	for _, c := range []config.Store{
		{Backend: "postgres"},
		{Backend: "redis"},
		{Backend: "redis", RedisURL: "memcached://x"},
	} {
		if s, err := storeopen.Open(ctx3s(t), c); err == nil {
			s.Close()
			t.Errorf("Open(%+v) accepted", c)
		}
	}
}
