// Package storeopen opens the store.Store backend chosen by configuration.
// It lives apart from package store because store cannot import its own
// backends.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/store/redisstore"
)

// RedisPrefix is the default key prefix (and cluster hash tag) of nexo's
// Redis keys (store.redis_prefix).
const RedisPrefix = "nexo"

// Open opens the configured backend ("bolt", the default, or "redis") and
// pings it; on failure nothing is left open and the error says which
// backend and where, without credentials. ctx bounds the ping.
func Open(ctx context.Context, c config.Store) (store.Store, error) {
	var (
		s     store.Store
		where string
	)
	switch backend := strings.ToLower(strings.TrimSpace(c.Backend)); backend {
	case "", "bolt":
		path := c.Path
		if path == "" {
			path = "nexo.db"
		}
		where = "bolt file " + path
		bs, err := boltstore.Open(path)
		if err != nil {
			return nil, fmt.Errorf("state store (%s): %w", where, err)
		}
		s = bs
	case "redis":
		if c.RedisURL == "" {
			return nil, errors.New("state store: store.backend is redis but store.redis_url is empty")
		}
		where = "redis " + redisstore.Redact(c.RedisURL)
		prefix := c.RedisPrefix
		if prefix == "" {
			prefix = RedisPrefix
		}
		rs, err := redisstore.OpenURL(c.RedisURL, prefix)
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		s = rs
	default:
		return nil, fmt.Errorf("state store: unknown store.backend %q (want bolt or redis)", c.Backend)
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("state store (%s) unreachable: %w", where, err)
	}
	return s, nil
}
