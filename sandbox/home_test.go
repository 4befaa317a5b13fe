package sandbox

import (
	"strings"
	"testing"
	"time"
)

// waitHome polls the console until user's Home tab satisfies cond.
func waitHome(t *testing.T, sb *Sandbox, user string, timeout time.Duration, cond func(h *HomeTab) bool) *HomeTab {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last State
	for time.Now().Before(deadline) {
		last = state(t, sb, user)
		if last.Home != nil && cond(last.Home) {
			return last.Home
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s's Home tab never got there: %+v", user, last.Home)
	return nil
}

// The console shows the chosen user's App Home tab (the release board)
// and its buttons work: Paula approves a promotion from it.
func TestHomeTabShowsTheBoardWithWorkingButtons(t *testing.T) {
	sb := start(t)
	if st := state(t, sb, Paula); st.Home != nil {
		t.Fatalf("a Home tab before opening it: %+v", st.Home)
	}
	if code, out := postJSON(t, sb.URL()+"/api/home", HomeRequest{User: Paula}); code != 200 {
		t.Fatalf("home: %d %v", code, out)
	}
	waitHome(t, sb, Paula, 15*time.Second, func(h *HomeTab) bool { return strings.Contains(string(h.Blocks), "Release board") })
	for _, ch := range state(t, sb, Paula).Channels {
		if strings.HasPrefix(ch.ID, "D") {
			t.Errorf("the app's DM is listed as a channel: %+v", ch)
		}
	}

	want := sb.Tag("nexo-be", "qa")
	if code, out := postJSON(t, sb.URL()+"/api/command", CommandRequest{User: Carol, Text: "/nexo promote nexo-be staging"}); code != 200 {
		t.Fatalf("command: %d %v", code, out)
	}
	waitHome(t, sb, Paula, 30*time.Second, func(h *HomeTab) bool {
		return strings.Contains(string(h.Blocks), `"change.approve"`) && strings.Contains(string(h.Blocks), want)
	})
	// Carol never opened her Home tab: nothing was published to her.
	if st := state(t, sb, Carol); st.Home != nil {
		t.Errorf("Carol got a Home view she never opened")
	}
	// A button that is not on the Home tab is refused, changing nothing.
	if code, _ := postJSON(t, sb.URL()+"/api/click", ClickRequest{User: Paula, ActionID: "no.such", Home: true}); code != 404 {
		t.Errorf("a missing Home button: HTTP %d", code)
	}
	if code, out := postJSON(t, sb.URL()+"/api/click", ClickRequest{User: Paula, ActionID: "change.approve", Home: true}); code != 200 {
		t.Fatalf("click: %d %v", code, out)
	}
	waitItem(t, sb, Paula, 60*time.Second, "Promote nexo-be", want, "Done")
	waitHome(t, sb, Paula, 15*time.Second, func(h *HomeTab) bool { return !strings.Contains(string(h.Blocks), `"change.approve"`) })
}
