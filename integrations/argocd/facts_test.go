package argocd

import "testing"

func TestLastHistoryIsTheHighestID(t *testing.T) {
	app := &Application{}
	if LastHistory(app) != nil {
		t.Fatal("an app without history has a last entry")
	}
	app.Status.History = []RevisionHistory{{ID: 3, Revision: "c"}, {ID: 7, Revision: "g"}, {ID: 5, Revision: "e"}}
	if h := LastHistory(app); h == nil || h.ID != 7 || h.Revision != "g" {
		t.Fatalf("last %+v", h)
	}
}

func TestRunsTagMatchesTheWholeTag(t *testing.T) {
	app := &Application{}
	app.Status.Summary.Images = []string{"ghcr.io/nexo-org/nexo-be:2026.02.17-hotfix", "redis:7"}
	for tag, want := range map[string]bool{"2026.02.17-hotfix": true, "7": true, "hotfix": false, "2026.02.17": false} {
		if got := RunsTag(app, tag); got != want {
			t.Errorf("RunsTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestRunningTagOfTheServicesRepository(t *testing.T) {
	if RunningTag(nil, "nexo-org/nexo-be") != "" {
		t.Fatal("no app runs a tag")
	}
	app := &Application{}
	app.Status.Summary.Images = []string{"redis:7", "ghcr.io/nexo-org/nexo-be:2026.02.17", "ghcr.io/nexo-org/nexo-fe:2026.02.10"}
	for repo, want := range map[string]string{"nexo-org/nexo-be": "2026.02.17", "nexo-org/nexo-fe": "2026.02.10", "nexo-org/other": ""} {
		if got := RunningTag(app, repo); got != want {
			t.Errorf("RunningTag(%q) = %q, want %q", repo, got, want)
		}
	}
}
