package promfake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/prom"
)

// The real client reads the fake: per-service rates, the default, and a
// bad query refused.
func TestRealClientReadsPerServiceRates(t *testing.T) {
	p := New()
	defer p.Close()
	p.Set(0.002)
	p.SetErrorRate("nexo-be", 0.05)
	c, err := prom.NewClient(p.URL(), prom.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for q, want := range map[string]float64{
		`sum(rate(x{service="nexo-be"}[5m]))`: 0.05,
		`sum(rate(x{service="nexo-fe"}[5m]))`: 0.002,
		`up`:                                  0.002,
	} {
		v, ok, err := c.Scalar(ctx, q, time.Now())
		if err != nil || !ok || v != want {
			t.Errorf("%s = %v %v %v, want %v", q, v, ok, err, want)
		}
	}
	p.Reset(0)
	if v, _, _ := c.Scalar(ctx, `x{service="nexo-be"}`, time.Now()); v != 0 {
		t.Fatalf("after Reset: %v", v)
	}
	resp, err := http.Get(p.URL() + "/api/v1/query?query=")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty query: HTTP %d", resp.StatusCode)
	}
	if n := len(p.Queries()); n != 5 {
		t.Fatalf("%d queries recorded", n)
	}
}
