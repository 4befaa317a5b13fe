package argocd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/workflow"
)

const app = "nexo-be-production"

func setup(t *testing.T, opts argocdfake.Options, spec argocdfake.AppSpec) (*argocdfake.Server, *argocd.HTTPClient) {
	t.Helper()
	fake := argocdfake.New(opts)
	t.Cleanup(fake.Close)
	fake.AddApp(app, spec)
	c, err := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token(), Timeout: 2 * time.Second, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func baseSpec() argocdfake.AppSpec {
	return argocdfake.AppSpec{
		Namespace: "nexo-production", RepoURL: "https://github.com/nexo-org/gitops.git", Path: "helm/nexo-be",
		TargetRevision: "main", AutoSync: true, Prune: true, Revision: "aaa111",
		Images: []string{"ghcr.io/nexo-org/nexo-be:2024.05.01"},
	}
}

func apiErr(t *testing.T, err error) *argocd.APIError {
	t.Helper()
	var e *argocd.APIError
	if !errors.As(err, &e) {
		t.Fatalf("want *argocd.APIError, got %T: %v", err, err)
	}
	return e
}

func TestGetApp(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{}, baseSpec())
	ctx := context.Background()
	a, err := c.GetApp(ctx, app, "hard")
	if err != nil {
		t.Fatal(err)
	}
	if a.Metadata.Name != app || a.Status.Sync.Status != "Synced" || a.Status.Health.Status != "Healthy" {
		t.Fatalf("unexpected app: %+v", a)
	}
	if !a.AutoSyncEnabled() || a.Spec.Source.Path != "helm/nexo-be" || a.Spec.Destination.Namespace != "nexo-production" {
		t.Fatalf("spec not read: %+v", a.Spec)
	}
	if len(a.Status.History) != 1 || a.Status.History[0].Revision != "aaa111" {
		t.Fatalf("history: %+v", a.Status.History)
	}
	calls := fake.Calls()
	if len(calls) != 1 || calls[0].Method != "GET" || calls[0].Path != "/api/v1/applications/"+app || calls[0].RawQuery != "refresh=hard" {
		t.Fatalf("calls: %+v", calls)
	}
	if _, err := c.GetApp(ctx, app, "soft"); err == nil {
		t.Fatal("bad refresh accepted")
	}
	if _, err := c.GetApp(ctx, "../etc", ""); err == nil {
		t.Fatal("bad name accepted")
	}
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("invalid input reached the server: %d calls", n)
	}
}

func TestSyncLifecycle(t *testing.T) {
	resolved := ""
	fake, c := setup(t, argocdfake.Options{
		ResolveRevision: func(name, rev string) (string, []string, error) {
			resolved = name + "@" + rev
			return "bbb222", []string{"ghcr.io/nexo-org/nexo-be:2024.05.02"}, nil
		},
	}, baseSpec())
	ctx := context.Background()
	a, err := c.Sync(ctx, app, argocd.SyncRequest{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if resolved != app+"@main" {
		t.Fatalf("resolver got %q", resolved)
	}
	if a.Operation == nil || a.Status.OperationState == nil || a.Status.OperationState.Phase != "Running" || a.Status.Health.Status != "Progressing" {
		t.Fatalf("sync did not start an operation: %+v", a.Status)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(fake.Calls()[0].Body), &body)
	if body["name"] != app || body["prune"] != true {
		t.Fatalf("sync body: %v", body)
	}

	_, err = c.Sync(ctx, app, argocd.SyncRequest{})
	e := apiErr(t, err)
	if e.Code != argocd.CodeFailedPrecondition || e.HTTPStatus != 400 || e.Message != "another operation is already in progress" || !argocd.IsOperationInProgress(err) {
		t.Fatalf("second sync: %+v", e)
	}

	a, err = c.GetApp(ctx, app, "")
	if err != nil || a.Status.OperationState.Phase != "Running" {
		t.Fatalf("first GET should still be running: %v %+v", err, a.Status.OperationState)
	}
	a, err = c.GetApp(ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	st := a.Status
	if st.OperationState.Phase != "Succeeded" || st.Health.Status != "Healthy" || st.Sync.Status != "Synced" || st.Sync.Revision != "bbb222" {
		t.Fatalf("not finished: %+v", st)
	}
	if len(st.History) != 2 || st.History[1].ID != 1 || st.History[1].Revision != "bbb222" || st.History[1].InitiatedBy.Username != "nexo" ||
		st.History[1].DeployStartedAt == nil || st.History[1].Source.TargetRevision != "main" {
		t.Fatalf("history: %+v", st.History)
	}
	if a.Operation != nil || len(st.Summary.Images) != 1 || st.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2024.05.02" {
		t.Fatalf("after sync: op=%+v images=%v", a.Operation, st.Summary.Images)
	}

	// Sync to another revision is refused while auto-sync follows "main".
	_, err = c.Sync(ctx, app, argocd.SyncRequest{Revision: "v2"})
	if e := apiErr(t, err); e.Code != 9 || e.Message != "Cannot sync to v2: auto-sync currently set to main" {
		t.Fatalf("pinned sync: %+v", e)
	}
}

func TestSyncDegradedOutcome(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{}, baseSpec())
	fake.SetNextOutcome(app, argocdfake.Outcome{Health: "Degraded", Message: "Deployment exceeded its progress deadline"})
	ctx := context.Background()
	if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	if !fake.Advance(app) {
		t.Fatal("no operation to advance")
	}
	a, err := c.GetApp(ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	// As argocd-server v3: the app names the cause, the resource says why.
	if a.Status.Health.Status != "Degraded" || a.Status.Health.Message != "Caused by apps/Deployment:nexo-production/nexo-be-production" ||
		a.HealthMessage() != "Deployment nexo-be-production: Deployment exceeded its progress deadline" || a.Status.OperationState.Phase != "Succeeded" {
		t.Fatalf("outcome: %+v", a.Status)
	}
	tree, err := c.ResourceTree(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	pods := 0
	for _, n := range tree.Nodes {
		if n.Kind == "Pod" {
			pods++
			if n.Health == nil || n.Health.Status != "Degraded" || len(n.ParentRefs) != 1 || n.ParentRefs[0].Kind != "ReplicaSet" {
				t.Fatalf("pod node: %+v", n)
			}
		}
	}
	if pods != 2 {
		t.Fatalf("want 2 pods, got %d in %+v", pods, tree.Nodes)
	}
}

func TestRollbackRefusedThenDone(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{
		ResolveRevision: func(_, rev string) (string, []string, error) { return "sha-" + rev, nil, nil },
	}, baseSpec())
	ctx := context.Background()
	if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	fake.AdvanceAll()

	_, err := c.Rollback(ctx, app, 0)
	e := apiErr(t, err)
	if e.HTTPStatus != 400 || e.Code != argocd.CodeFailedPrecondition || e.Message != "rollback cannot be initiated when auto-sync is enabled" || !argocd.IsAutoSyncRollbackRefusal(err) {
		t.Fatalf("refusal: %+v", e)
	}

	a, err := c.SetAutoSync(ctx, app, false)
	if err != nil {
		t.Fatal(err)
	}
	if a.AutoSyncEnabled() || a.Spec.SyncPolicy == nil {
		t.Fatalf("auto-sync still on or syncPolicy dropped: %+v", a.Spec.SyncPolicy)
	}
	var patch argocd.PatchRequest
	calls := fake.Calls()
	_ = json.Unmarshal([]byte(calls[len(calls)-1].Body), &patch)
	if patch.PatchType != "merge" || patch.Patch != `{"spec":{"syncPolicy":{"automated":{"enabled":false}}}}` || patch.Name != app {
		t.Fatalf("patch body: %+v", patch)
	}

	_, err = c.Rollback(ctx, app, 42)
	if e := apiErr(t, err); e.Code != argocd.CodeInvalidArgument || e.Message != "application argocd/"+app+" does not have deployment with id 42" ||
		err.Error() != "Argo CD has no deployment with history id 42 for this application" {
		t.Fatalf("unknown id: %+v", e)
	}

	a, err = c.Rollback(ctx, app, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Operation == nil || a.Operation.Sync.Revision != "aaa111" {
		t.Fatalf("rollback operation: %+v", a.Operation)
	}
	fake.Advance(app)
	snap, _ := fake.App(app)
	h := snap.Status.History
	if len(h) != 3 || h[2].ID != 2 || h[2].Revision != "sha-aaa111" {
		t.Fatalf("history after rollback: %+v", h)
	}
	// As argocd-server: compared with the target (main), not what runs.
	if snap.Status.Sync.Status != "OutOfSync" || snap.Status.Sync.Revision != "sha-main" {
		t.Fatalf("sync after rollback: %+v", snap.Status.Sync)
	}

	// Turning auto-sync back on is a merge patch too, idempotent, and
	// keeps prune (as the real server does).
	for i := 0; i < 2; i++ {
		if a, err = c.SetAutoSync(ctx, app, true); err != nil || !a.AutoSyncEnabled() || !a.Spec.SyncPolicy.Automated.Prune {
			t.Fatalf("enable: %v %+v", err, a.Spec.SyncPolicy)
		}
	}
}

func TestHistoryIDAsStringOrNumber(t *testing.T) {
	for _, asString := range []bool{false, true} {
		t.Run(fmt.Sprint("string=", asString), func(t *testing.T) {
			fake, c := setup(t, argocdfake.Options{HistoryIDAsString: asString}, baseSpec())
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
					t.Fatal(err)
				}
				fake.Advance(app)
			}
			// The wire really carries the chosen encoding.
			req, _ := http.NewRequest("GET", fake.URL()+"/api/v1/applications/"+app, nil)
			req.Header.Set("Authorization", "Bearer "+fake.Token())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := strings.Contains(string(raw), `"id":"3"`); got != asString {
				t.Fatalf("wire id encoding string=%v not found in %s", asString, raw)
			}
			a, err := c.GetApp(ctx, app, "")
			if err != nil {
				t.Fatal(err)
			}
			if n := len(a.Status.History); n != 4 || a.Status.History[3].ID != 3 {
				t.Fatalf("history: %+v", a.Status.History)
			}
		})
	}
}

func TestRevisionHistoryUnmarshal(t *testing.T) {
	cases := map[string]int64{`{"id":7}`: 7, `{"id":"7"}`: 7, `{}`: 0, `{"id":"9007199254740993"}`: 9007199254740993}
	for in, want := range cases {
		var h argocd.RevisionHistory
		if err := json.Unmarshal([]byte(in), &h); err != nil || h.ID != want {
			t.Errorf("%s: got %d, %v", in, h.ID, err)
		}
	}
	var h argocd.RevisionHistory
	if err := json.Unmarshal([]byte(`{"id":"seven","revision":"x"}`), &h); err == nil {
		t.Error("non-numeric id accepted")
	}
	if err := json.Unmarshal([]byte(`{"id":1,"revision":"abc","deployedAt":"2024-05-01T10:00:00Z"}`), &h); err != nil || h.Revision != "abc" || h.DeployedAt.Year() != 2024 {
		t.Errorf("other fields lost: %+v %v", h, err)
	}
}

func TestHistoryLimit(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{}, baseSpec())
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
			t.Fatal(err)
		}
		fake.Advance(app)
	}
	a, _ := fake.App(app)
	h := a.Status.History
	if len(h) != 10 || h[0].ID != 3 || h[9].ID != 12 {
		t.Fatalf("history ids %d..%d (len %d)", h[0].ID, h[len(h)-1].ID, len(h))
	}
}

func TestProgressByClock(t *testing.T) {
	clock := workflow.NewManualClock(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	fake, c := setup(t, argocdfake.Options{ProgressAfterGets: -1, ProgressAfter: 30 * time.Second, Now: clock.Now}, baseSpec())
	ctx := context.Background()
	if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if a, _ := c.GetApp(ctx, app, ""); a.Status.OperationState.Phase != "Running" {
			t.Fatal("finished before its time")
		}
	}
	clock.Advance(31 * time.Second)
	a, _ := c.GetApp(ctx, app, "")
	if a.Status.OperationState.Phase != "Succeeded" || !a.Status.History[1].DeployedAt.Equal(clock.Now()) {
		t.Fatalf("after 31s: %+v", a.Status.OperationState)
	}
	_ = fake
}

func TestAuthAndMissingApp(t *testing.T) {
	fake, _ := setup(t, argocdfake.Options{}, baseSpec())
	bad, err := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: "wrong-secret-token", GetRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.GetApp(context.Background(), app, "")
	if e := apiErr(t, err); e.HTTPStatus != 401 || e.Code != argocd.CodeUnauthenticated {
		t.Fatalf("bad token: %+v", e)
	}
	if strings.Contains(err.Error(), "wrong-secret-token") {
		t.Fatal("token leaked into the error")
	}
	req, _ := http.NewRequest("GET", fake.URL()+"/api/v1/applications/"+app, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 401 || body["error"] != "no session information" || body["code"] != float64(16) {
		t.Fatalf("no token: %d %v", resp.StatusCode, body)
	}

	_, c := setup(t, argocdfake.Options{}, baseSpec())
	_, err = c.GetApp(context.Background(), "nope", "")
	if e := apiErr(t, err); e.HTTPStatus != 403 || e.Code != argocd.CodePermissionDenied {
		t.Fatalf("missing app: %+v", e)
	}
}

func TestRetries(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{}, baseSpec())
	ctx := context.Background()
	path := "/api/v1/applications/" + app
	fake.AddFault(argocdfake.Fault{Method: "GET", Path: path, Status: 503, Code: 14, Message: "unavailable", Times: 2})
	if _, err := c.GetApp(ctx, app, ""); err != nil {
		t.Fatalf("GET not retried: %v", err)
	}
	if n := fake.CallCount("GET", path); n != 3 {
		t.Fatalf("want 3 GETs, got %d", n)
	}
	fake.AddFault(argocdfake.Fault{Method: "GET", Path: path, Status: 503, Code: 14, Message: "unavailable", Times: 5})
	_, err := c.GetApp(ctx, app, "")
	if e := apiErr(t, err); e.HTTPStatus != 503 {
		t.Fatalf("bounded retries: %v", err)
	}
	if n := fake.CallCount("GET", path); n != 6 {
		t.Fatalf("want 3 more GETs, got %d total", n)
	}

	fake.AddFault(argocdfake.Fault{Method: "POST", Path: path + "/sync", Status: 503, Code: 14, Message: "unavailable"})
	if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err == nil {
		t.Fatal("sync fault not surfaced")
	}
	if n := fake.CallCount("POST", path+"/sync"); n != 1 {
		t.Fatalf("POST retried: %d calls", n)
	}
}

func TestTimeout(t *testing.T) {
	fake := argocdfake.New(argocdfake.Options{})
	t.Cleanup(fake.Close)
	fake.AddApp(app, baseSpec())
	c, err := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token(), Timeout: 100 * time.Millisecond, GetRetries: 1, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fake.AddFault(argocdfake.Fault{Method: "GET", Delay: time.Second, Times: 2})
	if _, err := c.GetApp(context.Background(), app, ""); err == nil {
		t.Fatal("timeout not reported")
	}
	if n := fake.CallCount("GET", "/api/v1/applications/"+app); n != 2 {
		t.Fatalf("timeout not retried once: %d", n)
	}
}

func TestPatchKeepsUnknownSpecFields(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{}, baseSpec())
	ctx := context.Background()
	if _, err := c.Patch(ctx, app, `{"spec":{"source":{"helm":{"valueFiles":["values-production.yaml"]}}}}`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetAutoSync(ctx, app, false); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", fake.URL()+"/api/v1/applications/"+app, nil)
	req.Header.Set("Authorization", "Bearer "+fake.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw struct {
		Spec struct {
			Source struct {
				RepoURL string `json:"repoURL"`
				Helm    struct {
					ValueFiles []string `json:"valueFiles"`
				} `json:"helm"`
			} `json:"source"`
			SyncPolicy map[string]any `json:"syncPolicy"`
		} `json:"spec"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	if len(raw.Spec.Source.Helm.ValueFiles) != 1 || raw.Spec.Source.RepoURL == "" {
		t.Fatalf("merge patch lost fields: %+v", raw.Spec)
	}
	if au, _ := raw.Spec.SyncPolicy["automated"].(map[string]any); au["enabled"] != false || au["prune"] != true {
		t.Fatalf("automated not disabled in place: %v", raw.Spec.SyncPolicy)
	}
	if _, err := c.Patch(ctx, app, `{"spec":`); err == nil {
		t.Fatal("invalid patch accepted")
	}
	if _, err := c.Patch(ctx, app, `{"spec":{"project":42}}`); err == nil {
		t.Fatal("ill-typed patch accepted")
	}
}

func TestNewClientValidation(t *testing.T) {
	for _, o := range []argocd.Options{
		{Server: "", Token: "t"},
		{Server: "ftp://argocd", Token: "t"},
		{Server: "https://argocd.example.com", Token: ""},
		{Server: "https://user:pw@argocd.example.com", Token: "t"},
		{Server: "https://argocd.example.com", Token: "a b"},
	} {
		if _, err := argocd.NewClient(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
	if _, err := argocd.NewClient(argocd.Options{Server: "https://argocd.example.com/", Token: "t", Insecure: true}); err != nil {
		t.Fatal(err)
	}
}

func TestEventsAndContentType(t *testing.T) {
	fake, c := setup(t, argocdfake.Options{}, baseSpec())
	ctx := context.Background()
	ev, err := c.Events(ctx, app)
	if err != nil || len(ev.Items) != 0 {
		t.Fatalf("events before any operation: %v %+v", err, ev)
	}
	if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	fake.Advance(app)
	if ev, err = c.Events(ctx, app); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range ev.Items {
		if e.InvolvedObject.Kind != "Application" || e.InvolvedObject.Name != app {
			t.Fatalf("event of another object: %+v", e)
		}
		reasons = append(reasons, e.Reason)
	}
	if strings.Join(reasons, ",") != "OperationStarted,OperationCompleted" {
		t.Fatalf("reasons %v", reasons)
	}
	// argocd-server refuses a body that is not declared JSON.
	req, _ := http.NewRequest(http.MethodPost, fake.URL()+"/api/v1/applications/"+app+"/sync", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+fake.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("POST without Content-Type: %d, want 415", resp.StatusCode)
	}
}

// GetProject reads the project's sync windows; a sync they block is
// refused as argocd-server refuses it, and a manualSync window lets nexo's
// (manual) sync through.
func TestGetProjectAndSyncWindows(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	fake, c := setup(t, argocdfake.Options{Now: func() time.Time { return now }}, baseSpec())
	ctx := context.Background()
	p, err := c.GetProject(ctx, "default")
	if err != nil || p.Metadata.Name != "default" || len(p.Spec.SyncWindows) != 0 {
		t.Fatalf("default project: %+v %v", p, err)
	}
	if _, err := c.GetProject(ctx, "nope"); argocd.ErrorCode(err) != argocd.CodeNotFound || apiErr(t, err).Message != `appprojects.argoproj.io "nope" not found` {
		t.Fatalf("missing project: %v", err)
	}
	if _, err := c.GetProject(ctx, "../x"); err == nil {
		t.Fatal("bad name accepted")
	}
	fake.SetSyncWindows("default", argocd.SyncWindow{Kind: "deny", Schedule: "0 10 * * *", Duration: "2h", TimeZone: "America/Sao_Paulo", Applications: []string{"*-production"}, Description: "change freeze"})
	p, err = c.GetProject(ctx, "default")
	if err != nil || len(p.Spec.SyncWindows) != 1 {
		t.Fatalf("project: %+v %v", p, err)
	}
	w := p.Spec.SyncWindows[0]
	if w.Kind != "deny" || w.Schedule != "0 10 * * *" || w.Duration != "2h" || w.TimeZone != "America/Sao_Paulo" || w.Applications[0] != "*-production" || w.ManualSync {
		t.Fatalf("window: %+v", w)
	}
	_, err = c.Sync(ctx, app, argocd.SyncRequest{})
	if !argocd.IsBlockedBySyncWindow(err) || fake.OperationsStarted(app) != 0 {
		t.Fatalf("sync in a deny window: %v (%d operations)", err, fake.OperationsStarted(app))
	}
	if e := apiErr(t, err); e.HTTPStatus != http.StatusForbidden || e.Message != "cannot sync: blocked by sync window" || strings.Contains(e.Error(), "cannot sync") {
		t.Fatalf("refusal: %+v / %q", e, e.Error())
	}
	fake.SetSyncWindows("default", argocd.SyncWindow{Kind: "deny", Schedule: "0 10 * * *", Duration: "2h", TimeZone: "America/Sao_Paulo", Applications: []string{"*-production"}, ManualSync: true})
	if _, err := c.Sync(ctx, app, argocd.SyncRequest{}); err != nil {
		t.Fatalf("manualSync window: %v", err)
	}
}
