package secretstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
)

func newClient(t *testing.T, fake *secretstorefake.Server) *secretstore.AWS {
	t.Helper()
	c, err := secretstore.NewAWS(context.Background(), secretstore.AWSOptions{
		Region: "us-east-1", Endpoint: fake.URL,
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Timeout: 5 * time.Second, MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRealSDKAgainstFake(t *testing.T) {
	fake := secretstorefake.New()
	defer fake.Close()
	first := fake.Seed("nexo/production/database", `{"username":"nexo_user","password":"old"}`)
	c := newClient(t, fake)
	ctx := context.Background()

	v, id, err := c.Get(ctx, "nexo/production/database")
	if err != nil || id != first || !strings.Contains(v, `"old"`) {
		t.Fatalf("Get = %q %q %v", v, id, err)
	}
	tok := "0f0e0d0c-0b0a-4909-8807-060504030201"
	for i := 0; i < 2; i++ { // a retried step
		got, err := c.PutStaged(ctx, "nexo/production/database", "new-value", tok, secretstore.StagePending)
		if err != nil || got != tok {
			t.Fatalf("PutStaged #%d = %q %v", i, got, err)
		}
	}
	if n := len(fake.Versions("nexo/production/database")); n != 2 {
		t.Fatalf("%d versions, want 2", n)
	}
	if cur, _ := fake.Current("nexo/production/database"); !strings.Contains(cur, "old") {
		t.Fatal("AWSPENDING write changed AWSCURRENT")
	}
	if pv, err := c.GetVersion(ctx, "nexo/production/database", tok); err != nil || pv != "new-value" {
		t.Fatalf("GetVersion = %q %v", pv, err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Promote(ctx, "nexo/production/database", tok); err != nil {
			t.Fatalf("Promote #%d: %v", i, err)
		}
	}
	if fake.CallCount(secretstorefake.TargetUpdateSecretVersionStage) != 1 {
		t.Fatal("second Promote was not a no-op")
	}
	stages, err := c.Stages(ctx, "nexo/production/database")
	if err != nil || stages[first][0] != secretstore.StagePrevious {
		t.Fatalf("Stages = %v %v", stages, err)
	}
	if v, id, _ := c.Get(ctx, "nexo/production/database"); v != "new-value" || id != tok {
		t.Fatalf("after promote Get = %q %q", v, id)
	}

	// Same token, different value: AWS refuses, and the error hides the value.
	_, err = c.PutStaged(ctx, "nexo/production/database", "different-value", tok)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ResourceExistsException" {
		t.Fatalf("want ResourceExistsException, got %v", err)
	}
	if strings.Contains(err.Error(), "different-value") {
		t.Fatalf("value in error: %v", err)
	}
	// Put (AWSCURRENT by default).
	if _, err := c.Put(ctx, "nexo/production/database", "third", "aaaaaaaa-0b0a-4909-8807-060504030201"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := fake.Current("nexo/production/database"); cur != "third" {
		t.Fatalf("Put did not become current: %q", cur)
	}
}

func TestErrorsAndBadInput(t *testing.T) {
	fake := secretstorefake.New()
	defer fake.Close()
	c := newClient(t, fake)
	ctx := context.Background()
	_, _, err := c.Get(ctx, "missing")
	var nf interface{ ErrorCode() string }
	if !errors.As(err, &nf) || nf.ErrorCode() != "ResourceNotFoundException" {
		t.Fatalf("want ResourceNotFoundException, got %v", err)
	}
	if _, err := c.Put(ctx, "x", "v", "short"); err == nil {
		t.Fatal("short token accepted")
	}
	if len(fake.Calls()) != 1 {
		t.Fatal("bad input reached the service")
	}
	fake.Seed("db", "v")
	fake.FailNext(secretstorefake.TargetPutSecretValue, 5)
	_, err = c.Put(ctx, "db", "s3cr3t-value", "bbbbbbbb-0b0a-4909-8807-060504030201")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Fatalf("injected failure: %v", err)
	}
	if _, err := secretstore.NewAWS(ctx, secretstore.AWSOptions{Region: "us-east-1", AccessKeyID: "only-id"}); err == nil {
		t.Fatal("half static credentials accepted")
	}
}
