package argocd

import (
	"testing"
	"time"
)

func app(name, ns string) *Application {
	a := &Application{Metadata: ObjectMeta{Name: name}}
	a.Spec.Destination = ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: ns}
	return a
}

func TestSyncWindowMatches(t *testing.T) {
	a := app("nexo-be-production", "nexo-production")
	cases := []struct {
		w    SyncWindow
		want bool
	}{
		{SyncWindow{Applications: []string{"*-production"}}, true},
		{SyncWindow{Applications: []string{"nexo-fe-*"}}, false},
		{SyncWindow{Namespaces: []string{"nexo-production"}}, true},
		{SyncWindow{Clusters: []string{"https://kubernetes.default.svc"}}, true},
		{SyncWindow{Applications: []string{"nexo-fe-*"}, Namespaces: []string{"nexo-*"}}, true},                        // OR
		{SyncWindow{Applications: []string{"nexo-fe-*"}, Namespaces: []string{"nexo-*"}, UseAndOperator: true}, false}, // AND
		{SyncWindow{Applications: []string{"nexo-be-*"}, Namespaces: []string{"nexo-*"}, UseAndOperator: true}, true},
		{SyncWindow{}, false},
	}
	for i, c := range cases {
		if got := c.w.Matches(a); got != c.want {
			t.Errorf("case %d %+v: %v, want %v", i, c.w, got, c.want)
		}
	}
}

func TestCanSyncAsArgoCD(t *testing.T) {
	// Wednesday 2026-12-02 14:00 UTC = 11:00 in São Paulo.
	now := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	denyNow := &SyncWindow{Kind: "deny", Schedule: "0 10 * * *", Duration: "2h", TimeZone: "America/Sao_Paulo"}
	denyNowManual := &SyncWindow{Kind: "deny", Schedule: "0 10 * * *", Duration: "2h", TimeZone: "America/Sao_Paulo", ManualSync: true}
	denyUTC := &SyncWindow{Kind: "deny", Schedule: "0 10 * * *", Duration: "2h"} // 10:00–12:00 UTC: over
	allowLater := &SyncWindow{Kind: "allow", Schedule: "0 20 * * *", Duration: "1h"}
	allowLaterManual := &SyncWindow{Kind: "allow", Schedule: "0 20 * * *", Duration: "1h", ManualSync: true}
	allowNow := &SyncWindow{Kind: "allow", Schedule: "0 13 * * *", Duration: "2h"}
	cases := []struct {
		name    string
		windows []*SyncWindow
		manual  bool
		want    bool
	}{
		{"no windows", nil, false, true},
		{"active deny", []*SyncWindow{denyNow}, true, false},
		{"active deny, manualSync, manual", []*SyncWindow{denyNowManual}, true, true},
		{"active deny, manualSync, automated", []*SyncWindow{denyNowManual}, false, false},
		{"two active denies, one without manualSync", []*SyncWindow{denyNowManual, denyNow}, true, false},
		{"deny in UTC is over", []*SyncWindow{denyUTC}, false, true},
		{"allow not active", []*SyncWindow{allowLater}, true, false},
		{"allow not active, manualSync", []*SyncWindow{allowLaterManual}, true, true},
		{"allow active", []*SyncWindow{allowNow, allowLater}, false, true},
		{"deny beats allow", []*SyncWindow{allowNow, denyNow}, true, false},
	}
	for _, c := range cases {
		got, err := CanSync(c.windows, c.manual, now)
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	if _, err := CanSync([]*SyncWindow{{Kind: "deny", Schedule: "0 10 * *", Duration: "1h"}}, true, now); err == nil {
		t.Error("a bad schedule is an error")
	}
	if _, err := CanSync([]*SyncWindow{{Kind: "deny", Schedule: "0 10 * * *", Duration: "1d"}}, true, now); err == nil {
		t.Error("Argo CD durations are Go durations: 1d is an error")
	}
	// An unknown time zone is UTC, as in Argo CD: 13:30 UTC is inside.
	if ok, err := CanSync([]*SyncWindow{{Kind: "deny", Schedule: "30 13 * * *", Duration: "1h", TimeZone: "Mars/Base"}}, true, now); ok || err != nil {
		t.Errorf("unknown zone: %v %v", ok, err)
	}
}
