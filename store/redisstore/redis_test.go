package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/redisstore"
	"github.com/nexo-org/nexo-bot/store/storetest"
)

// redisURL is the real server the tests use.
func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// realRedisUp reports whether the real server answers a PING within 1s.
func realRedisUp(tb testing.TB) bool {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL())
	if err != nil {
		tb.Fatalf("REDIS_URL: %v", err)
	}
	opts.DialTimeout = time.Second
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

// backend decides which server the tests run against: the real one, or,
// only outside CI, an in-process miniredis.
func backend(tb testing.TB) (url string, real bool) {
	tb.Helper()
	if realRedisUp(tb) {
		return redisURL(), true
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("Redis at %s is unreachable and CI=true: refusing to fall back to miniredis", redisstore.Redact(redisURL()))
	}
	return "", false
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "nexotest-" + hex.EncodeToString(b[:])
}

// open returns a store under a fresh prefix; its keys are deleted on cleanup.
func open(tb testing.TB, url string) *redisstore.Store {
	tb.Helper()
	if url == "" {
		mr := miniredis.RunT(tb)
		mr.ClockTTL(true) // expire keys by the wall clock, like a real server
		url = "redis://" + mr.Addr() + "/0"
	}
	s, err := redisstore.OpenURL(url, randomPrefix())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		defer s.Close()
		opts, _ := redis.ParseURL(url)
		c := redis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, s.KeyPattern(), 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup scan: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				tb.Errorf("cleanup: %v", err)
			}
		}
	})
	return s
}

func TestContract(t *testing.T) {
	url, real := backend(t)
	if real {
		t.Logf("running the store contract against real Redis at %s", redisstore.Redact(url))
	} else {
		t.Logf("real Redis at %s unreachable: running the store contract against in-process miniredis", redisstore.Redact(redisURL()))
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, url) })
}

func TestKeysShareOneHashTag(t *testing.T) {
	url, _ := backend(t)
	s := open(t, url)
	ctx := context.Background()
	if _, err := s.Dedupe(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AcquireLease(ctx, "l", "o", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDoc(ctx, "c", "d", 1); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Client().Keys(ctx, s.KeyPattern()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 { // dedupe, lease, fence, doc hash
		t.Fatalf("keys = %v, want 4", keys)
	}
	slot := -1
	for _, k := range keys {
		if !strings.HasPrefix(k, "{nexotest-") {
			t.Fatalf("key %q does not start with the hash tag", k)
		}
		got := int(keySlot(k))
		if slot >= 0 && got != slot {
			t.Fatalf("keys in different cluster slots: %v", keys)
		}
		slot = got
	}
}

// keySlot is Redis Cluster's HASH_SLOT (CRC16 of the hash tag, mod 16384).
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for _, b := range []byte(key) {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

func TestClosedPortIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := redisstore.OpenURL("redis://"+addr+"/0?dial_timeout=500ms", "nexo")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := s.Dedupe(ctx, "k", time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Dedupe against a closed port = %v, want ErrUnavailable", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if err := s.Ping(ctx2); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping against a closed port = %v, want ErrUnavailable", err)
	}
}

func TestStoppedServerIsUnavailable(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := redisstore.OpenURL("redis://"+mr.Addr()+"/0?dial_timeout=500ms", "nexo")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if ok, err := s.Dedupe(ctx, "k", time.Minute); err != nil || !ok {
		t.Fatalf("Dedupe before stop: %v %v", ok, err)
	}
	mr.Close()
	_, _, err = s.AcquireLease(ctx, "l", "o", time.Minute)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("AcquireLease after the server stopped = %v, want ErrUnavailable", err)
	}
}

func BenchmarkDedupe(b *testing.B) {
	url, _ := backend(b)
	storetest.BenchDedupe(b, open(b, url))
}

func BenchmarkClaimTimers(b *testing.B) {
	url, _ := backend(b)
	storetest.BenchClaimTimers(b, open(b, url))
}
