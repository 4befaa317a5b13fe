package slackfake

import (
	"encoding/json"
	"fmt"
	"time"
)

// maxViewBytes is the size Slack accepts for a view (250 kB).
const maxViewBytes = 250 << 10

// HomeView is the App Home a user sees: the last view published to them
// with views.publish, and how many times one was published.
type HomeView struct {
	ID              string
	User            string
	CallbackID      string
	PrivateMetadata string
	// Blocks is the view's blocks, normalised as Slack does (block ids).
	Blocks json.RawMessage
	// Publishes counts successful views.publish calls for this user.
	Publishes int
	Time      time.Time
}

// HomeDisabled makes views.publish answer not_enabled, as Slack does for
// an app whose Home tab is not enabled in its manifest.
func (s *Server) HomeDisabled(disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.homeOff = disabled
}

// publishView is views.publish: user_id and a view of type "home" with at
// most 100 valid blocks; the view replaces the user's Home tab. An
// optional hash must match the current view's (hash_conflict otherwise).
// Callers hold s.mu.
func (s *Server) publishView(p map[string]string) result {
	user := p["user_id"]
	if user == "" || p["view"] == "" {
		return failResult("invalid_arguments")
	}
	if s.homeOff {
		return failResult("not_enabled")
	}
	if len(p["view"]) > maxViewBytes {
		return failResult("view_too_large")
	}
	var v viewBody
	if err := json.Unmarshal([]byte(p["view"]), &v); err != nil {
		return failResult("invalid_arguments")
	}
	blocks, refused := v.check("home", nil)
	if refused != nil {
		return refused
	}
	if u, ok := s.users[user]; !ok || u.IsBot {
		return failResult("user_not_found")
	}
	h := s.homes[user]
	if hash, ok := p["hash"]; ok && hash != "" && (h == nil || h.hash != hash) {
		return failResult("hash_conflict")
	}
	if h == nil {
		h = &homeView{HomeView: HomeView{ID: s.nextID("V"), User: user}}
		s.homes[user] = h
	}
	h.CallbackID, h.PrivateMetadata, h.Blocks = v.CallbackID, v.PrivateMetadata, blocks
	h.Publishes++
	h.Time = time.Now()
	h.hash = fmt.Sprintf("%d.%s", h.Time.Unix(), randomHex(4))
	return okResult(result{"view": s.homeJSON(h)})
}

type homeView struct {
	HomeView
	hash string
}

func (s *Server) homeJSON(h *homeView) map[string]any {
	return map[string]any{
		"id": h.ID, "team_id": s.opts.TeamID, "type": "home", "blocks": h.Blocks,
		"private_metadata": h.PrivateMetadata, "callback_id": h.CallbackID,
		"state": map[string]any{"values": map[string]any{}}, "hash": h.hash,
		"app_id": s.opts.AppID, "bot_id": s.opts.BotID, "root_view_id": h.ID,
		"previous_view_id": nil, "external_id": "", "close": nil, "submit": nil,
		"clear_on_close": false, "notify_on_close": false, "app_installed_team_id": s.opts.TeamID,
	}
}

// Home returns the Home view last published to user.
func (s *Server) Home(user string) (HomeView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.homes[user]
	if !ok {
		return HomeView{}, false
	}
	cp := h.HomeView
	cp.Blocks = append(json.RawMessage(nil), h.Blocks...)
	return cp, true
}

// dmChannel is the app's direct-message channel with user (the Messages
// tab), created on first use; callers hold s.mu.
func (s *Server) dmChannel(user string) *Channel {
	if id, ok := s.dms[user]; ok {
		return s.channels[id]
	}
	c := s.ensureChannel(s.nextID("D"), user)
	c.addMember(user)
	s.dms[user] = c.ID
	return c
}

// OpenHome delivers app_home_opened as Slack does when user opens the
// app's Home tab: an events_api envelope with event {type:
// "app_home_opened", user, channel (the app's DM with the user), tab:
// "home", view (when one was published)}. It returns the envelope id.
func (s *Server) OpenHome(user string) string {
	s.mu.Lock()
	ch := s.dmChannel(user)
	ev := map[string]any{"type": "app_home_opened", "user": user, "channel": ch.ID, "tab": "home"}
	if h, ok := s.homes[user]; ok {
		ev["view"] = s.homeJSON(h)
	}
	s.mu.Unlock()
	return s.SendEvent(ev)
}

// ClickHome presses the button with actionID on user's Home view, as
// Slack sends it: block_actions with container {type: "view", view_id},
// the view, and no channel nor message. value overrides the button's
// value when non-empty (to forge payloads in tests). It fails when the
// user's Home has no such button.
func (s *Server) ClickHome(user, actionID, value string) (string, error) {
	s.mu.Lock()
	h, ok := s.homes[user]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("slackfake: no Home view published to %s", user)
	}
	blockID, btn := findButton(h.Blocks, actionID)
	if btn == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("slackfake: %s's Home has no button %q", user, actionID)
	}
	if value == "" {
		value, _ = btn["value"].(string)
	}
	now := time.Now()
	action := map[string]any{
		"action_id": actionID, "block_id": blockID, "text": btn["text"], "value": value,
		"type": "button", "action_ts": fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000),
	}
	if st, ok := btn["style"]; ok {
		action["style"] = st
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  s.userRef(user),
		"api_app_id":            s.opts.AppID,
		"token":                 verificationToken,
		"container":             map[string]any{"type": "view", "view_id": h.ID},
		"trigger_id":            s.newTrigger(user),
		"team":                  map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"view":                  s.homeJSON(h),
		"state":                 map[string]any{"values": map[string]any{}},
		"actions":               []any{action},
	}
	s.mu.Unlock()
	e := &envelope{ID: newEnvelopeID(), Type: "interactive", Payload: payload}
	s.deliver(e)
	return e.ID, nil
}
