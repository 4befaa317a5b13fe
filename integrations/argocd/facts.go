package argocd

import (
	"strings"

	"github.com/nexo-org/nexo-bot/integrations/registry"
)

// What an Application's status says, as the scenarios read it.

// LastHistory is the newest entry of an app's deployment history.
func LastHistory(app *Application) *RevisionHistory {
	var last *RevisionHistory
	for i := range app.Status.History {
		h := &app.Status.History[i]
		if last == nil || h.ID > last.ID {
			last = h
		}
	}
	return last
}

// RunsTag reports whether an app's images carry tag (any image ending in :tag).
func RunsTag(app *Application, tag string) bool {
	for _, img := range app.Status.Summary.Images {
		if strings.HasSuffix(img, ":"+tag) {
			return true
		}
	}
	return false
}

// RunningTag is the tag of repo's image among the images Argo CD reports.
func RunningTag(app *Application, repo string) string {
	if app == nil {
		return ""
	}
	for _, img := range app.Status.Summary.Images {
		if _, r, tag, err := registry.SplitImage(img); err == nil && r == repo {
			return tag
		}
	}
	return ""
}
