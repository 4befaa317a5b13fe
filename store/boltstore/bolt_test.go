package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/store/storetest"
)

func openTemp(t testing.TB) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "state", "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestFencingTokensSurviveRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nexo.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for range 3 {
		l, ok, err := s.AcquireLease(ctx, "promote/nexo-be", "a", time.Minute)
		if err != nil || !ok {
			t.Fatalf("acquire: ok=%v err=%v", ok, err)
		}
		last = l.Token
		if err := s.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	held, ok, err := s.AcquireLease(ctx, "held-over-restart", "a", time.Hour)
	if err != nil || !ok {
		t.Fatalf("acquire: ok=%v err=%v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	l, ok, err := s2.AcquireLease(ctx, "promote/nexo-be", "b", time.Minute)
	if err != nil || !ok {
		t.Fatalf("acquire after restart: ok=%v err=%v", ok, err)
	}
	if l.Token <= last {
		t.Fatalf("token after restart %d, want > %d", l.Token, last)
	}
	// A lease held before the restart is still held, and still renewable.
	if _, ok, _ := s2.AcquireLease(ctx, "held-over-restart", "b", time.Minute); ok {
		t.Fatal("lease held before restart was free after it")
	}
	if err := s2.RenewLease(ctx, held, time.Hour); err != nil {
		t.Fatalf("renew after restart: %v", err)
	}
}

func TestSweepPurgesExpired(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for _, k := range []string{"a", "b"} {
		if _, err := s.Dedupe(ctx, k, 30*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Dedupe(ctx, "kept", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AcquireLease(ctx, "l", "o", 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("Sweep removed %d records, want 3 (2 dedupe keys, 1 lease)", n)
	}
	dup, err := s.Dedupe(ctx, "kept", time.Hour)
	if err != nil || dup {
		t.Fatalf("unexpired key swept: first=%v err=%v", dup, err)
	}
}

func TestSecondOpenOfLockedFileIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexo.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = boltstore.Open(path)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("second Open = %v, want ErrUnavailable", err)
	}
}

func TestOpenRequiresPath(t *testing.T) {
	if _, err := boltstore.Open(""); err == nil {
		t.Fatal("empty path accepted")
	}
}

func BenchmarkDedupe(b *testing.B) { storetest.BenchDedupe(b, openTemp(b)) }

func BenchmarkClaimTimers(b *testing.B) { storetest.BenchClaimTimers(b, openTemp(b)) }

func TestPutDocsIsOneTransactionOfValidDocs(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if err := s.PutDoc(ctx, "things", "a", map[string]int{"v": 0}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDocs(ctx, "things", map[string]any{"a": map[string]int{"v": 1}, "b": map[string]int{"v": 2}}); err != nil {
		t.Fatal(err)
	}
	docs, err := s.ListDocs(ctx, "things")
	if err != nil || len(docs) != 2 || string(docs[0].Data) != `{"v":1}` || string(docs[1].Data) != `{"v":2}` {
		t.Fatalf("docs %+v, %v", docs, err)
	}
	// One bad id: nothing is written.
	if err := s.PutDocs(ctx, "things", map[string]any{"c": 3, "": 4}); err == nil {
		t.Fatal("an empty id was accepted")
	}
	if err := s.GetDoc(ctx, "things", "c", new(int)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("c after a refused batch: %v", err)
	}
}
