package pagerduty_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/pagerduty"
	"github.com/nexo-org/nexo-bot/integrations/pagerdutyfake"
)

func TestTriggerAndResolveAgainstFake(t *testing.T) {
	fake := pagerdutyfake.New()
	defer fake.Close()
	key := strings.Repeat("a", 32)
	c, err := pagerduty.NewClient(fake.URL(), key, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dk, err := c.Send(ctx, pagerduty.Event{Action: "trigger", DedupKey: "inc-1", Summary: "nexo-be error rate 5%", Severity: "critical"})
	if err != nil || dk != "inc-1" {
		t.Fatalf("trigger: %q %v", dk, err)
	}
	if _, err := c.Send(ctx, pagerduty.Event{Action: "resolve", DedupKey: "inc-1"}); err != nil {
		t.Fatal(err)
	}
	ev := fake.Events()
	if len(ev) != 2 || ev[0].Payload.Summary != "nexo-be error rate 5%" || ev[0].RoutingKey != key || ev[1].EventAction != "resolve" {
		t.Fatalf("events: %+v", ev)
	}
	// A bad key is refused with PagerDuty's message, and not retried.
	bad, _ := pagerduty.NewClient(fake.URL(), "short", 5*time.Second)
	if _, err := bad.Send(ctx, pagerduty.Event{Summary: "x"}); err == nil || !strings.Contains(err.Error(), "routing_key") {
		t.Fatalf("want routing_key refusal, got %v", err)
	}
	if len(fake.Events()) != 2 {
		t.Fatal("a refused event was recorded")
	}
}
