package secretstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
)

func TestCurrentCreated(t *testing.T) {
	fake := secretstorefake.New()
	defer fake.Close()
	before := time.Now().Add(-time.Second)
	fake.Seed("nexo/qa/database", `{"password":"x"}`)
	c := newClient(t, fake)
	ctx := context.Background()
	got, err := c.CurrentCreated(ctx, "nexo/qa/database")
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before) || got.After(time.Now().Add(time.Second)) {
		t.Fatalf("CurrentCreated = %s, want about now", got)
	}
	_, err = c.CurrentCreated(ctx, "nexo/none/database")
	if !errors.Is(err, secretstore.ErrNotFound) {
		t.Fatalf("missing secret: err = %v, want ErrNotFound", err)
	}
}
