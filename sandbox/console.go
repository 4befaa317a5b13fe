package sandbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

//go:embed static
var staticFS embed.FS

// ackTimeout bounds the wait for nexo's ack of what the console sends.
const ackTimeout = 5 * time.Second

// observeEvery is how often the console looks at the fake Slack for changes.
const observeEvery = 150 * time.Millisecond

// Console is the web console: a Slack-like channel view over the fake
// Slack, served as embedded HTML/CSS/JS with a JSON API and server-sent
// events. Everything it does goes through slackfake as a person would:
// slash commands, messages, button clicks and modal submissions are
// envelopes that nexo receives over socket mode.
type Console struct {
	sb   *Sandbox
	mux  *http.ServeMux
	stop chan struct{}
	once sync.Once

	mu       sync.Mutex
	order    map[string]int64 // item key → position in the timeline
	next     int64
	commands []Item
	closed   map[string]bool // view ids submitted or dismissed
	version  int64
	print    string
	changed  chan struct{} // closed and replaced on every change
}

// Item is one entry of a channel's timeline.
type Item struct {
	// Kind is "message", "ephemeral", "command" (a slash command someone
	// typed, shown to everyone) or "file".
	Kind     string          `json:"kind"`
	Order    int64           `json:"order"`
	Channel  string          `json:"channel"`
	TS       string          `json:"ts,omitempty"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	User     string          `json:"user"`
	UserName string          `json:"user_name"`
	Bot      bool            `json:"bot"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Edits    int             `json:"edits"`
	Replies  int             `json:"replies"`
	Time     time.Time       `json:"time"`
	File     *File           `json:"file,omitempty"`
}

// File is an uploaded file.
type File struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Filename string `json:"filename"`
	URL      string `json:"url"`
	Image    bool   `json:"image"`
	Size     int    `json:"size"`
}

// View is an open modal.
type View struct {
	ID     string          `json:"id"`
	Title  string          `json:"title"`
	Submit string          `json:"submit,omitempty"`
	Close  string          `json:"close,omitempty"`
	Blocks json.RawMessage `json:"blocks"`
}

// State is what GET /api/state returns: the current user's view of a
// channel.
type State struct {
	Version   int64              `json:"version"`
	Me        string             `json:"me"`
	Users     []UserInfo         `json:"users"`
	Channels  []ChannelInfo      `json:"channels"`
	Channel   string             `json:"channel"`
	Items     []Item             `json:"items"`
	Views     []View             `json:"views"`
	Breakages []Breakage         `json:"breakages"`
	Platform  map[string]string  `json:"platform"`
	Apps      map[string]AppInfo `json:"apps"`
	// Locale is the language nexo speaks (the console's switch); Locales
	// are the ones it can.
	Locale  string       `json:"locale"`
	Locales []LocaleInfo `json:"locales"`
	// Home is the App Home tab nexo published to Me (the release board),
	// nil before they first open it.
	Home *HomeTab `json:"home,omitempty"`
}

// HomeTab is a user's App Home tab: the blocks of the last view nexo
// published there, and how many times it did.
type HomeTab struct {
	Blocks    json.RawMessage `json:"blocks"`
	Publishes int             `json:"publishes"`
}

// LocaleInfo is a language of the switch.
type LocaleInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// localeNames are the switch's labels, each in its own language.
var localeNames = map[string]string{i18n.English: "English", i18n.Portuguese: "Português (Brasil)"}

// UserInfo is a person of the switcher.
type UserInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
}

// ChannelInfo names a channel.
type ChannelInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AppInfo is an Argo CD application's state, for the side panel.
type AppInfo struct {
	Health string `json:"health"`
	Sync   string `json:"sync"`
	Image  string `json:"image"`
}

// NewConsole serves sb's console; Close stops its observer.
func NewConsole(sb *Sandbox) *Console {
	c := &Console{sb: sb, mux: http.NewServeMux(), stop: make(chan struct{}), order: map[string]int64{},
		closed: map[string]bool{}, changed: make(chan struct{})}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /", http.FileServerFS(static))
	c.mux.HandleFunc("GET /api/state", c.handleState)
	c.mux.HandleFunc("GET /api/events", c.handleEvents)
	c.mux.HandleFunc("GET /api/files/{id}", c.handleFile)
	c.mux.HandleFunc("POST /api/command", c.handleCommand)
	c.mux.HandleFunc("POST /api/click", c.handleClick)
	c.mux.HandleFunc("POST /api/home", c.handleHome)
	c.mux.HandleFunc("POST /api/submit", c.handleSubmit)
	c.mux.HandleFunc("POST /api/dismiss", c.handleDismiss)
	c.mux.HandleFunc("POST /api/break", c.handleBreak)
	c.mux.HandleFunc("POST /api/heal", c.handleHeal)
	c.mux.HandleFunc("POST /api/locale", c.handleLocale)
	c.observe()
	go c.loop()
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	c.mux.ServeHTTP(w, r)
}

// Close stops the observer and ends the event streams.
func (c *Console) Close() { c.once.Do(func() { close(c.stop) }) }

func (c *Console) loop() {
	t := time.NewTicker(observeEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.observe()
		}
	}
}

// notify bumps the version (something the fingerprint does not see changed).
func (c *Console) notify() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bumpLocked()
}

func (c *Console) bumpLocked() {
	c.version++
	close(c.changed)
	c.changed = make(chan struct{})
}

// observe gives new messages, ephemerals and files their timeline position
// and bumps the version when anything changed.
func (c *Console) observe() {
	sl := c.sb.Slack
	type key struct {
		k  string
		ts string
	}
	var fresh []key
	var fp strings.Builder
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range sl.Channels() {
		for _, m := range sl.Messages(ch.ID) {
			k := "m:" + ch.ID + ":" + m.TS
			if _, ok := c.order[k]; !ok {
				fresh = append(fresh, key{k, m.TS})
			}
			fmt.Fprintf(&fp, "%s/%d;", k, len(m.Updates))
		}
	}
	for _, u := range Users {
		for _, e := range sl.Ephemerals(u.ID) {
			k := "e:" + u.ID + ":" + e.TS
			if _, ok := c.order[k]; !ok {
				fresh = append(fresh, key{k, e.TS})
			}
		}
	}
	for _, f := range sl.Uploads() {
		if !f.Completed {
			continue
		}
		k := "f:" + f.FileID
		if _, ok := c.order[k]; !ok {
			fresh = append(fresh, key{k, "~" + f.FileID})
		}
	}
	for _, v := range sl.Views() {
		fmt.Fprintf(&fp, "v:%s;", v.ID)
	}
	for _, u := range Users {
		if h, ok := sl.Home(u.ID); ok {
			fmt.Fprintf(&fp, "h:%s/%d;", u.ID, h.Publishes)
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].ts < fresh[j].ts })
	for _, f := range fresh {
		c.next++
		c.order[f.k] = c.next
	}
	fmt.Fprintf(&fp, "n:%d", c.next)
	if s := fp.String(); s != c.print {
		c.print = s
		c.bumpLocked()
	}
}

func (c *Console) userName(id string) string {
	for _, u := range Users {
		if u.ID == id {
			return u.Name
		}
	}
	if id == c.sb.Slack.BotUserID() {
		return "nexo"
	}
	return id
}

func knownUser(id string) bool {
	for _, u := range Users {
		if u.ID == id {
			return true
		}
	}
	return false
}

// Snapshot is the state user sees in channel.
func (c *Console) Snapshot(user, channel string) State {
	c.observe()
	sl := c.sb.Slack
	if channel == "" {
		channel = Deploys
	}
	st := State{Me: user, Channel: channel, Breakages: c.sb.Breakages(), Items: []Item{}, Views: []View{},
		Platform: c.sb.platformInfo(), Apps: c.sb.apps(), Locale: c.sb.Runtime.Deps.Speaks()}
	for _, l := range i18n.Locales {
		st.Locales = append(st.Locales, LocaleInfo{ID: l, Name: localeNames[l]})
	}
	for _, u := range Users {
		st.Users = append(st.Users, UserInfo{ID: u.ID, Name: u.Name, RealName: u.RealName})
	}
	for _, ch := range sl.Channels() {
		if strings.HasPrefix(ch.ID, "D") {
			continue // the app's DMs (opened with the Home tab) are not channels of the list
		}
		st.Channels = append(st.Channels, ChannelInfo{ID: ch.ID, Name: ch.Name})
	}
	if h, ok := sl.Home(user); ok {
		st.Home = &HomeTab{Blocks: h.Blocks, Publishes: h.Publishes}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st.Version = c.version
	msgs := sl.Messages(channel)
	uploads := sl.Uploads()
	// Replies are messages and files in a thread (a chart uploaded into a
	// thread is one of its replies, as in Slack).
	replies := map[string]int{}
	for _, m := range msgs {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			replies[m.ThreadTS]++
		}
	}
	for _, f := range uploads {
		if f.Completed && f.Channel == channel && f.ThreadTS != "" {
			replies[f.ThreadTS]++
		}
	}
	for _, m := range msgs {
		it := Item{Kind: "message", Order: c.order["m:"+channel+":"+m.TS], Channel: channel, TS: m.TS, ThreadTS: m.ThreadTS,
			User: m.User, UserName: c.userName(m.User), Bot: m.BotID != "" || m.User == sl.BotUserID(), Text: m.Text, Blocks: m.Blocks,
			Edits: len(m.Updates) - 1, Replies: replies[m.TS]}
		if len(m.Updates) > 0 {
			it.Time = m.Updates[0].Time
		}
		st.Items = append(st.Items, it)
	}
	for _, e := range sl.Ephemerals(user) {
		if e.Channel != channel {
			continue
		}
		st.Items = append(st.Items, Item{Kind: "ephemeral", Order: c.order["e:"+user+":"+e.TS], Channel: channel, TS: e.TS, ThreadTS: e.ThreadTS,
			User: sl.BotUserID(), UserName: "nexo", Bot: true, Text: e.Text, Blocks: e.Blocks})
	}
	for _, f := range uploads {
		if !f.Completed || f.Channel != channel {
			continue
		}
		ct := http.DetectContentType(f.Content)
		st.Items = append(st.Items, Item{Kind: "file", Order: c.order["f:"+f.FileID], Channel: channel, ThreadTS: f.ThreadTS,
			User: sl.BotUserID(), UserName: "nexo", Bot: true, Text: f.Title,
			File: &File{ID: f.FileID, Title: f.Title, Filename: f.Filename, URL: "/api/files/" + f.FileID, Image: strings.HasPrefix(ct, "image/"), Size: len(f.Content)}})
	}
	for _, cmd := range c.commands {
		if cmd.Channel == channel {
			st.Items = append(st.Items, cmd)
		}
	}
	sort.SliceStable(st.Items, func(i, j int) bool { return st.Items[i].Order < st.Items[j].Order })
	for _, v := range sl.Views() {
		if v.User == user && !c.closed[v.ID] {
			st.Views = append(st.Views, View{ID: v.ID, Title: v.Title, Submit: v.Submit, Close: v.Close, Blocks: v.Blocks})
		}
	}
	return st
}

func (s *Sandbox) platformInfo() map[string]string {
	return map[string]string{
		"Slack (fake)": s.Slack.URL(), "GitHub (fake)": s.GitHub.URL(), "Argo CD (fake)": s.Argo.URL(),
		"Registry (fake)": s.Registry.URL(), "Prometheus (fake)": s.Prom.URL(), "Loki (in memory)": s.LokiURL,
		"GitOps repo": s.Remote, "Data": s.DataDir,
	}
}

func (s *Sandbox) apps() map[string]AppInfo {
	out := map[string]AppInfo{}
	for name := range s.valuesApps() {
		a, err := s.App(context.Background(), name)
		if err != nil {
			continue
		}
		img := ""
		if len(a.Status.Summary.Images) > 0 {
			img = a.Status.Summary.Images[0]
			if i := strings.LastIndex(img, ":"); i >= 0 {
				img = img[i+1:]
			}
		}
		out[name] = AppInfo{Health: a.Status.Health.Status, Sync: a.Status.Sync.Status, Image: img}
	}
	return out
}

func (s *Sandbox) valuesApps() map[string]bool {
	out := map[string]bool{}
	for _, svc := range []string{"nexo-be", "nexo-fe"} {
		for _, env := range []string{"develop", "qa", "staging", "production"} {
			out[svc+"-"+env] = true
		}
	}
	return out
}

// ---- HTTP ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{"ok": false, "error": fmt.Sprintf(format, args...)})
}

// decode reads a small JSON body and checks its user.
func decode(w http.ResponseWriter, r *http.Request, v any, user func() string) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		fail(w, http.StatusBadRequest, "reading the request: %v", err)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		fail(w, http.StatusBadRequest, "the body is not the JSON expected: %v", err)
		return false
	}
	if user != nil && !knownUser(user()) {
		fail(w, http.StatusBadRequest, "unknown user %q: one of %s", clip(user(), 20), userIDs())
		return false
	}
	return true
}

func userIDs() string {
	var ids []string
	for _, u := range Users {
		ids = append(ids, u.ID+" ("+u.Name+")")
	}
	return strings.Join(ids, ", ")
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (c *Console) knownChannel(id string) bool {
	for _, ch := range c.sb.Slack.Channels() {
		if ch.ID == id {
			return true
		}
	}
	return false
}

func (c *Console) handleState(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		user = Carol
	}
	if !knownUser(user) {
		fail(w, http.StatusBadRequest, "unknown user %q: one of %s", clip(user, 20), userIDs())
		return
	}
	ch := r.URL.Query().Get("channel")
	if ch != "" && !c.knownChannel(ch) {
		fail(w, http.StatusNotFound, "no channel %q", clip(ch, 20))
		return
	}
	writeJSON(w, http.StatusOK, c.Snapshot(user, ch))
}

// handleEvents streams "change" events (with the new version) as
// server-sent events until the client leaves or the console closes.
func (c *Console) handleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		fail(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		c.mu.Lock()
		ch, v := c.changed, c.version
		c.mu.Unlock()
		fmt.Fprintf(w, "event: change\ndata: {\"version\":%d}\n\n", v)
		fl.Flush()
		select {
		case <-ch:
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-c.stop:
			return
		}
	}
}

func (c *Console) handleFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, f := range c.sb.Slack.Uploads() {
		if f.FileID == id && f.Completed {
			w.Header().Set("Content-Type", http.DetectContentType(f.Content))
			w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", f.Filename))
			_, _ = w.Write(f.Content)
			return
		}
	}
	fail(w, http.StatusNotFound, "no file %q", clip(id, 20))
}

// CommandRequest is POST /api/command: a slash command, or a plain message
// (in a thread when ThreadTS is set).
type CommandRequest struct {
	User     string `json:"user"`
	Channel  string `json:"channel"`
	ThreadTS string `json:"thread_ts"`
	Text     string `json:"text"`
}

func (c *Console) handleCommand(w http.ResponseWriter, r *http.Request) {
	var req CommandRequest
	if !decode(w, r, &req, func() string { return req.User }) {
		return
	}
	if req.Channel == "" {
		req.Channel = Deploys
	}
	if !c.knownChannel(req.Channel) {
		fail(w, http.StatusNotFound, "no channel %q", clip(req.Channel, 20))
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" || len(text) > 4000 {
		fail(w, http.StatusBadRequest, "type `/nexo help`, or a message of at most 4000 characters")
		return
	}
	cmd := c.sb.Config.Slack.Command
	if cmd == "" {
		cmd = "/nexo"
	}
	if strings.HasPrefix(text, "/") {
		word, rest, _ := strings.Cut(text, " ")
		if word != cmd {
			fail(w, http.StatusBadRequest, "%s is not a command here: try `%s help`", clip(word, 30), cmd)
			return
		}
		c.mu.Lock()
		c.next++
		c.commands = append(c.commands, Item{Kind: "command", Order: c.next, Channel: req.Channel, User: req.User,
			UserName: c.userName(req.User), Text: text, Time: time.Now()})
		c.bumpLocked()
		c.mu.Unlock()
		id := c.sb.Slack.SendCommand(req.User, req.Channel, cmd, strings.TrimSpace(rest))
		if !c.acked(w, id, "command") {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "envelope_id": id})
		return
	}
	ts, id := c.sb.Slack.UserMessage(req.User, req.Channel, req.ThreadTS, text)
	if !c.acked(w, id, "message") {
		return
	}
	c.observe()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "ts": ts})
}

// acked waits for nexo to acknowledge an envelope, answering 504 when it
// does not.
func (c *Console) acked(w http.ResponseWriter, envelopeID, what string) bool {
	if _, err := c.sb.Slack.WaitAck(envelopeID, ackTimeout); err != nil {
		fail(w, http.StatusGatewayTimeout, "nexo did not acknowledge the %s: %v", what, err)
		return false
	}
	return true
}

// ClickRequest is POST /api/click: press a button as User, on a message
// (Channel, TS) or, with Home, on User's App Home tab.
type ClickRequest struct {
	User     string `json:"user"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ActionID string `json:"action_id"`
	Home     bool   `json:"home"`
}

// HomeRequest is POST /api/home: User opens nexo's App Home tab (Slack
// sends app_home_opened; nexo publishes the release board).
type HomeRequest struct {
	User string `json:"user"`
}

func (c *Console) handleHome(w http.ResponseWriter, r *http.Request) {
	var req HomeRequest
	if !decode(w, r, &req, func() string { return req.User }) {
		return
	}
	id := c.sb.Slack.OpenHome(req.User)
	if !c.acked(w, id, "Home tab opening") {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "envelope_id": id})
}

func (c *Console) handleClick(w http.ResponseWriter, r *http.Request) {
	var req ClickRequest
	if !decode(w, r, &req, func() string { return req.User }) {
		return
	}
	var id string
	var err error
	if req.Home {
		id, err = c.sb.Slack.ClickHome(req.User, req.ActionID, "")
	} else {
		id, err = c.sb.Slack.ClickButton(req.User, req.Channel, req.TS, req.ActionID, "")
	}
	if err != nil {
		fail(w, http.StatusNotFound, "%v", err)
		return
	}
	if !c.acked(w, id, "click") {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "envelope_id": id})
}

// SubmitRequest is POST /api/submit: a modal's inputs (block_id → text).
type SubmitRequest struct {
	User   string            `json:"user"`
	ViewID string            `json:"view_id"`
	Values map[string]string `json:"values"`
}

func (c *Console) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	if !decode(w, r, &req, func() string { return req.User }) {
		return
	}
	if !c.ownsView(req.User, req.ViewID) {
		fail(w, http.StatusNotFound, "no open view %q for %s", clip(req.ViewID, 20), req.User)
		return
	}
	id, err := c.sb.Slack.SubmitView(req.User, req.ViewID, req.Values)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	ack, err := c.sb.Slack.WaitAck(id, ackTimeout)
	if err != nil {
		fail(w, http.StatusGatewayTimeout, "nexo did not acknowledge the form: %v", err)
		return
	}
	var resp struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if len(ack.Payload) > 0 {
		_ = json.Unmarshal(ack.Payload, &resp)
	}
	if resp.ResponseAction == "errors" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"ok": false, "errors": resp.Errors})
		return
	}
	c.mu.Lock()
	c.closed[req.ViewID] = true
	c.bumpLocked()
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (c *Console) ownsView(user, id string) bool {
	c.mu.Lock()
	closed := c.closed[id]
	c.mu.Unlock()
	if closed {
		return false
	}
	for _, v := range c.sb.Slack.Views() {
		if v.ID == id && v.User == user {
			return true
		}
	}
	return false
}

func (c *Console) handleDismiss(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	if !decode(w, r, &req, func() string { return req.User }) {
		return
	}
	if !c.ownsView(req.User, req.ViewID) {
		fail(w, http.StatusNotFound, "no open view %q for %s", clip(req.ViewID, 20), req.User)
		return
	}
	c.mu.Lock()
	c.closed[req.ViewID] = true
	c.bumpLocked()
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (c *Console) handleBreak(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Kind string `json:"kind"`
	}
	if !decode(w, r, &req, nil) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	if err := c.sb.Break(ctx, req.Kind); err != nil {
		status := http.StatusInternalServerError
		if strings.HasPrefix(err.Error(), "unknown failure") {
			status = http.StatusBadRequest
		}
		fail(w, status, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "breakages": c.sb.Breakages()})
}

func (c *Console) handleHeal(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	if err := c.sb.Heal(ctx); err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "breakages": c.sb.Breakages()})
}

// handleLocale switches the language nexo speaks in the sandbox (as
// slack.locale would), from the next message on.
func (c *Console) handleLocale(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Locale string `json:"locale"`
	}
	if !decode(w, r, &req, nil) {
		return
	}
	if req.Locale == "" {
		fail(w, http.StatusBadRequest, "locale is required (one of %s)", strings.Join(i18n.Locales, ", "))
		return
	}
	if err := c.sb.Runtime.Deps.Speak(req.Locale); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	c.notify()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "locale": c.sb.Runtime.Deps.Speaks()})
}
