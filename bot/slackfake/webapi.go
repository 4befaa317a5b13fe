package slackfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// result is a Web API answer body; "ok" is set by the helpers.
type result map[string]any

func okResult(m result) result {
	if m == nil {
		m = result{}
	}
	m["ok"] = true
	return m
}

func failResult(code string) result { return result{"ok": false, "error": code} }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readParams gathers a request's parameters from the query, a form body or
// a JSON body. Non-string JSON values are kept as their JSON text, as Slack
// accepts e.g. "blocks" either as a JSON array or as a string holding one.
func readParams(r *http.Request) (map[string]string, string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	token := ""
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		token = strings.TrimPrefix(auth, "Bearer ")
	}
	if r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/json":
			body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
			if err != nil {
				return nil, "", err
			}
			if len(strings.TrimSpace(string(body))) > 0 && string(body) != "null" {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(body, &m); err != nil {
					return nil, "", fmt.Errorf("invalid_json")
				}
				for k, raw := range m {
					var s string
					if json.Unmarshal(raw, &s) == nil {
						params[k] = s
					} else {
						params[k] = string(raw)
					}
				}
			}
		default:
			if err := r.ParseForm(); err != nil {
				return nil, "", err
			}
			for k, v := range r.PostForm {
				if len(v) > 0 {
					params[k] = v[0]
				}
			}
		}
	}
	if t, ok := params["token"]; ok {
		if token == "" {
			token = t
		}
		delete(params, "token")
	}
	return params, token, nil
}

func redactToken(tok string) string {
	if tok == "" {
		return ""
	}
	if i := strings.Index(tok, "-"); i > 0 {
		return tok[:i] + "-REDACTED"
	}
	return "REDACTED"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	params, token, err := readParams(r)
	call := Call{Method: method, Params: params, Time: time.Now(), Status: http.StatusOK}
	if token != "" {
		call.Params["token"] = redactToken(token)
	}
	if err != nil {
		call.Error = "invalid_form_data"
		s.record(call)
		writeJSON(w, http.StatusOK, failResult("invalid_form_data"))
		return
	}

	// A held call waits for its caller to hang up (or a release) and,
	// if the caller hung up, has no effect.
	s.mu.Lock()
	var h *hold
	if hs := s.holds[method]; len(hs) > 0 {
		h, s.holds[method] = hs[0], hs[1:]
	}
	s.mu.Unlock()
	if h != nil {
		close(h.arrived)
		select {
		case <-r.Context().Done():
			call.Error = "caller_gone"
			s.record(call)
			return
		case <-h.release:
		}
	}

	// Injected faults come first, as Slack's edge answers them.
	s.mu.Lock()
	var f *fault
	if fs := s.faults[method]; len(fs) > 0 {
		f = fs[0]
		f.n--
		if f.n <= 0 {
			s.faults[method] = fs[1:]
		}
	}
	s.mu.Unlock()
	if f != nil {
		call.Status = f.status
		if f.status == http.StatusTooManyRequests {
			call.Error = "ratelimited"
			s.record(call)
			secs := int(math.Ceil(f.retryAfter.Seconds()))
			if secs < 1 {
				secs = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, failResult("ratelimited"))
			return
		}
		call.Error = "server_error"
		s.record(call)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
		return
	}

	var res result
	if method == "apps.connections.open" {
		res = s.checkToken(token, "xapp-", s.opts.AppToken)
		if res == nil {
			res = s.connectionsOpen()
		}
	} else {
		res = s.checkToken(token, "xoxb-", s.opts.BotToken)
		if res == nil {
			res = s.dispatch(method, params)
		}
	}
	if ok, _ := res["ok"].(bool); !ok {
		call.Error, _ = res["error"].(string)
	}
	s.record(call)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) record(c Call) { s.calls.Add(c) }

func (s *Server) checkToken(token, prefix, want string) result {
	switch {
	case token == "":
		return failResult("not_authed")
	case !strings.HasPrefix(token, prefix):
		if prefix == "xapp-" || strings.HasPrefix(token, "xapp-") {
			return failResult("not_allowed_token_type")
		}
		return failResult("invalid_auth")
	case want != "" && token != want:
		return failResult("invalid_auth")
	}
	return nil
}

func (s *Server) dispatch(method string, p map[string]string) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "auth.test":
		return okResult(result{
			"url": "https://" + s.opts.TeamDomain + ".slack.com/", "team": s.opts.TeamDomain,
			"user": "nexo", "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID,
			"bot_id": s.opts.BotID, "is_enterprise_install": false,
		})
	case "chat.postMessage":
		return s.postMessage(p)
	case "chat.update":
		return s.updateMessage(p)
	case "chat.postEphemeral":
		return s.postEphemeral(p)
	case "chat.getPermalink":
		return s.permalink(p)
	case "users.info":
		u, ok := s.users[p["user"]]
		if !ok {
			return failResult("user_not_found")
		}
		return okResult(result{"user": s.userJSON(u)})
	case "conversations.create":
		return s.createChannel(p)
	case "conversations.invite":
		return s.invite(p)
	case "conversations.info":
		c, errCode := s.channelFor(p["channel"])
		if errCode != "" {
			return failResult(errCode)
		}
		return okResult(result{"channel": s.channelJSON(c)})
	case "usergroups.users.list":
		m, ok := s.groups[p["usergroup"]]
		if !ok {
			return failResult("no_such_subteam")
		}
		return okResult(result{"users": append([]string{}, m...)})
	case "views.open":
		return s.openView(p)
	case "views.publish":
		return s.publishView(p)
	case "files.getUploadURLExternal":
		return s.getUploadURL(p)
	case "files.completeUploadExternal":
		return s.completeUpload(p)
	case "pins.add":
		c, errCode := s.channelFor(p["channel"])
		if errCode != "" {
			return failResult(errCode)
		}
		if s.findMessage(c.ID, p["timestamp"]) == nil {
			return failResult("message_not_found")
		}
		return okResult(nil)
	}
	return failResult("unknown_method")
}

var idShaped = regexp.MustCompile(`^[CGD][A-Z0-9]+$`)

// channelFor resolves a channel parameter; callers hold s.mu.
func (s *Server) channelFor(ch string) (*Channel, string) {
	if ch == "" {
		return nil, "channel_not_found"
	}
	id := s.resolveChannel(ch)
	if c, ok := s.channels[id]; ok {
		return c, ""
	}
	if !s.opts.StrictChannels && idShaped.MatchString(id) {
		return s.ensureChannel(id, ""), ""
	}
	return nil, "channel_not_found"
}

func (s *Server) findMessage(channel, ts string) *Message {
	for _, m := range s.messages[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// content validates text and blocks parameters and returns the blocks.
func contentOf(p map[string]string, requireSome bool) (json.RawMessage, result) {
	text := p["text"]
	if len(text) > 40000 {
		return nil, failResult("msg_too_long")
	}
	var blocks json.RawMessage
	if b, ok := p["blocks"]; ok && b != "" {
		norm, problems := validateBlocks([]byte(b), 50)
		if len(problems) > 0 {
			r := failResult("invalid_blocks")
			r["response_metadata"] = map[string]any{"messages": problems}
			return nil, r
		}
		blocks = norm
	}
	if requireSome && text == "" && (len(blocks) == 0 || string(blocks) == "[]") && p["attachments"] == "" {
		return nil, failResult("no_text")
	}
	return blocks, nil
}

func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type": "message", "user": m.User, "bot_id": m.BotID, "app_id": s.opts.AppID,
		"text": m.Text, "ts": m.TS, "team": s.opts.TeamID,
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Updates) > 1 {
		out["edited"] = map[string]any{"user": m.User, "ts": fmt.Sprintf("%d.000000", m.Updates[len(m.Updates)-1].Time.Unix())}
	}
	return out
}

func (s *Server) postMessage(p map[string]string) result {
	c, errCode := s.channelFor(p["channel"])
	if errCode != "" {
		return failResult(errCode)
	}
	if !c.hasMember(s.opts.BotUserID) {
		return failResult("not_in_channel")
	}
	blocks, fail := contentOf(p, true)
	if fail != nil {
		return fail
	}
	threadTS := p["thread_ts"]
	if threadTS != "" && s.findMessage(c.ID, threadTS) == nil {
		// Slack posts a reply to an unknown thread as a plain message.
		threadTS = ""
	}
	now := time.Now()
	m := &Message{
		Channel: c.ID, TS: s.nextTS(), ThreadTS: threadTS, User: s.opts.BotUserID, BotID: s.opts.BotID,
		Text: p["text"], Blocks: blocks,
	}
	m.Updates = []Revision{{Text: m.Text, Blocks: blocks, Time: now}}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return okResult(result{"channel": c.ID, "ts": m.TS, "message": s.messageJSON(m)})
}

func (s *Server) updateMessage(p map[string]string) result {
	c, errCode := s.channelFor(p["channel"])
	if errCode != "" {
		return failResult(errCode)
	}
	m := s.findMessage(c.ID, p["ts"])
	if m == nil {
		return failResult("message_not_found")
	}
	if m.User != s.opts.BotUserID {
		return failResult("cant_update_message")
	}
	blocks, fail := contentOf(p, false)
	if fail != nil {
		return fail
	}
	if _, ok := p["text"]; ok {
		m.Text = p["text"]
	}
	if _, ok := p["blocks"]; ok {
		m.Blocks = blocks
	}
	if m.Text == "" && (len(m.Blocks) == 0 || string(m.Blocks) == "[]") {
		return failResult("no_text")
	}
	m.Updates = append(m.Updates, Revision{Text: m.Text, Blocks: m.Blocks, Time: time.Now()})
	return okResult(result{"channel": c.ID, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)})
}

func (s *Server) postEphemeral(p map[string]string) result {
	c, errCode := s.channelFor(p["channel"])
	if errCode != "" {
		return failResult(errCode)
	}
	if p["user"] == "" {
		return failResult("user_not_found")
	}
	if u, known := s.users[p["user"]]; known && u.IsBot {
		return failResult("user_not_in_channel")
	}
	blocks, fail := contentOf(p, true)
	if fail != nil {
		return fail
	}
	e := &Ephemeral{Channel: c.ID, User: p["user"], TS: s.nextTS(), ThreadTS: p["thread_ts"], Text: p["text"], Blocks: blocks}
	s.ephemerals = append(s.ephemerals, e)
	return okResult(result{"message_ts": e.TS})
}

func (s *Server) permalink(p map[string]string) result {
	c, errCode := s.channelFor(p["channel"])
	if errCode != "" {
		return failResult(errCode)
	}
	m := s.findMessage(c.ID, p["message_ts"])
	if m == nil {
		return failResult("message_not_found")
	}
	link := fmt.Sprintf("https://%s.slack.com/archives/%s/p%s", s.opts.TeamDomain, c.ID, strings.ReplaceAll(m.TS, ".", ""))
	if m.ThreadTS != "" {
		link += "?thread_ts=" + m.ThreadTS + "&cid=" + c.ID
	}
	return okResult(result{"channel": c.ID, "permalink": link})
}

func (s *Server) userJSON(u *User) map[string]any {
	return map[string]any{
		"id": u.ID, "team_id": s.opts.TeamID, "name": u.Name, "deleted": false,
		"real_name": u.RealName, "tz": u.TZ, "is_bot": u.IsBot,
		"profile": map[string]any{"real_name": u.RealName, "display_name": u.Name, "email": u.Email},
	}
}

func (s *Server) channelJSON(c *Channel) map[string]any {
	return map[string]any{
		"id": c.ID, "name": c.Name, "is_channel": true, "is_private": false,
		"created": c.Created.Unix(), "creator": c.Creator, "is_member": c.hasMember(s.opts.BotUserID),
		"num_members": len(c.Members),
	}
}

var channelName = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (s *Server) createChannel(p map[string]string) result {
	name := p["name"]
	switch {
	case name == "":
		return failResult("invalid_name_required")
	case len(name) > 80:
		return failResult("invalid_name_maxlength")
	case !channelName.MatchString(name):
		return failResult("invalid_name_specials")
	}
	for _, c := range s.channels {
		if c.Name == name {
			return failResult("name_taken")
		}
	}
	c := s.ensureChannel(s.nextID("C"), name)
	return okResult(result{"channel": s.channelJSON(c)})
}

func (s *Server) invite(p map[string]string) result {
	c, errCode := s.channelFor(p["channel"])
	if errCode != "" {
		return failResult(errCode)
	}
	var users []string
	for _, u := range strings.Split(p["users"], ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return failResult("no_user")
	}
	if len(users) > 1000 {
		return failResult("too_many_users")
	}
	var errs []map[string]any
	code := ""
	for _, u := range users {
		e := ""
		switch {
		case u == s.opts.BotUserID:
			e = "cant_invite_self"
		case s.users[u] == nil && !strings.HasPrefix(u, "U") && !strings.HasPrefix(u, "W"):
			e = "user_not_found"
		case c.hasMember(u):
			e = "already_in_channel"
		}
		if e != "" {
			errs = append(errs, map[string]any{"user": u, "ok": false, "error": e})
			if code == "" {
				code = e
			}
		}
	}
	if code != "" {
		r := failResult(code)
		r["errors"] = errs
		return r
	}
	for _, u := range users {
		c.addMember(u)
	}
	return okResult(result{"channel": s.channelJSON(c)})
}

// viewBody is the view object of views.open and views.publish.
type viewBody struct {
	Type            string          `json:"type"`
	Title           *textObj        `json:"title"`
	Submit          *textObj        `json:"submit"`
	Close           *textObj        `json:"close"`
	CallbackID      string          `json:"callback_id"`
	PrivateMetadata string          `json:"private_metadata"`
	ExternalID      string          `json:"external_id"`
	Blocks          json.RawMessage `json:"blocks"`
}

// check applies what Slack checks of every view of type typ, after the
// problems its method found: the type, callback_id, private_metadata and
// the blocks (at most 100). It returns the blocks, or Slack's
// invalid_arguments answer listing every problem.
func (v *viewBody) check(typ string, problems []string) (json.RawMessage, result) {
	if v.Type != typ {
		problems = append([]string{"[ERROR] must be " + typ + " [json-pointer:/view/type]"}, problems...)
	}
	if len(v.CallbackID) > 255 {
		problems = append(problems, "[ERROR] callback_id must be at most 255 characters [json-pointer:/view/callback_id]")
	}
	if len(v.PrivateMetadata) > 3000 {
		problems = append(problems, "[ERROR] private_metadata must be at most 3000 characters [json-pointer:/view/private_metadata]")
	}
	blocks, bp := validateBlocks(v.Blocks, 100)
	problems = append(problems, bp...)
	if len(problems) > 0 {
		r := failResult("invalid_arguments")
		r["response_metadata"] = map[string]any{"messages": problems}
		return nil, r
	}
	return blocks, nil
}

func (s *Server) openView(p map[string]string) result {
	tid := p["trigger_id"]
	t, ok := s.triggers[tid]
	if !ok {
		return failResult("invalid_trigger_id")
	}
	if s.opts.TriggerTTL > 0 && time.Since(t.issued) > s.opts.TriggerTTL {
		return failResult("expired_trigger_id")
	}
	var v viewBody
	if err := json.Unmarshal([]byte(p["view"]), &v); err != nil {
		return failResult("invalid_arguments")
	}
	var problems []string
	if v.Title == nil || v.Title.Text == "" || len([]rune(v.Title.Text)) > 24 {
		problems = append(problems, "[ERROR] title must be 1 to 24 characters [json-pointer:/view/title/text]")
	}
	if v.Submit != nil && len([]rune(v.Submit.Text)) > 24 {
		problems = append(problems, "[ERROR] submit must be at most 24 characters [json-pointer:/view/submit/text]")
	}
	if v.Close != nil && len([]rune(v.Close.Text)) > 24 {
		problems = append(problems, "[ERROR] close must be at most 24 characters [json-pointer:/view/close/text]")
	}
	blocks, refused := v.check("modal", problems)
	if refused != nil {
		return refused
	}
	delete(s.triggers, tid)
	view := &View{ID: s.nextID("V"), TriggerID: tid, User: t.user, CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata, Title: v.Title.Text, Blocks: blocks}
	if v.Submit != nil {
		view.Submit = v.Submit.Text
	}
	if v.Close != nil {
		view.Close = v.Close.Text
	}
	s.views[view.ID] = view
	s.viewOrder = append(s.viewOrder, view.ID)
	return okResult(result{"view": s.viewJSON(view, nil)})
}

func (s *Server) viewJSON(v *View, values map[string]map[string]any) map[string]any {
	if values == nil {
		values = map[string]map[string]any{}
	}
	return map[string]any{
		"id": v.ID, "team_id": s.opts.TeamID, "type": "modal", "blocks": v.Blocks,
		"private_metadata": v.PrivateMetadata, "callback_id": v.CallbackID,
		"state": map[string]any{"values": values}, "hash": "1." + randomHex(4),
		"title":  map[string]any{"type": "plain_text", "text": v.Title, "emoji": true},
		"app_id": s.opts.AppID, "bot_id": s.opts.BotID, "root_view_id": v.ID,
		"app_installed_team_id": s.opts.TeamID,
	}
}

func (s *Server) getUploadURL(p map[string]string) result {
	n, err := strconv.Atoi(p["length"])
	if p["filename"] == "" || err != nil || n <= 0 {
		return failResult("invalid_arguments")
	}
	id := s.nextID("F")
	s.uploads[id] = &Upload{FileID: id, Filename: p["filename"]}
	s.uploadIDs = append(s.uploadIDs, id)
	return okResult(result{"upload_url": s.http.URL + "/upload/" + id, "file_id": id})
}

// serveUpload receives a file's bytes (multipart "file" field or raw body),
// answering "OK - <size>" like files.slack.com.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var data []byte
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		f, _, ferr := r.FormFile("file")
		if ferr != nil {
			http.Error(w, "missing file", http.StatusBadRequest)
			return
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, 64<<20))
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, 64<<20))
	}
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	u, ok := s.uploads[id]
	if ok {
		u.Content = data
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(data))
}

func (s *Server) completeUpload(p map[string]string) result {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p["files"]), &files); err != nil || len(files) == 0 {
		return failResult("invalid_arguments")
	}
	ch := p["channel_id"]
	if ch == "" {
		ch = p["channels"]
	}
	var channelID string
	if ch != "" {
		c, errCode := s.channelFor(ch)
		if errCode != "" {
			return failResult(errCode)
		}
		channelID = c.ID
	}
	out := make([]map[string]any, 0, len(files))
	for _, f := range files {
		u, ok := s.uploads[f.ID]
		if !ok || u.Content == nil {
			return failResult("file_not_found")
		}
		u.Title, u.Channel, u.ThreadTS, u.Completed = f.Title, channelID, p["thread_ts"], true
		if u.Title == "" {
			u.Title = u.Filename
		}
		out = append(out, map[string]any{"id": u.FileID, "title": u.Title})
	}
	return okResult(result{"files": out})
}

func (s *Server) connectionsOpen() result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return failResult("service_unavailable")
	}
	ticket := randomHex(16)
	s.tickets[ticket] = true
	u := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/link?ticket=" + ticket + "&app_id=" + s.opts.AppID
	return okResult(result{"url": u})
}
