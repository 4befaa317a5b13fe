// Package slackfake is an in-process fake Slack for tests and the sandbox. It
// speaks Slack's real wire format, so slack-go's real client talks to it
// unchanged: the Web API (form-encoded, JSON and GET requests, token in the
// body or in "Authorization: Bearer", `{"ok":…}` answers, HTTP 429 with
// Retry-After) and Socket Mode (apps.connections.open, a WebSocket with
// hello, ping frames, envelopes, acks and disconnect requests).
//
// Point the bot at it with slack.api_url = fake.URL()+"/api/".
package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Options configures a fake workspace. Zero values get sensible defaults.
type Options struct {
	// BotToken, when set, is the only xoxb- token accepted; otherwise any
	// token starting with "xoxb-" is.
	BotToken string
	// AppToken, when set, is the only xapp- token accepted by
	// apps.connections.open; otherwise any token starting with "xapp-" is.
	AppToken string
	// TeamID, TeamDomain, AppID, BotUserID and BotID name the workspace and
	// the app (defaults T0FAKE, nexo-fake, A0FAKE, U0BOT, B0BOT).
	TeamID     string
	TeamDomain string
	AppID      string
	BotUserID  string
	BotID      string
	// PingInterval is how often WebSocket ping frames are sent (default 10 s).
	PingInterval time.Duration
	// TriggerTTL is how long a trigger_id can open a view (default 3 s, as
	// Slack; negative means forever).
	TriggerTTL time.Duration
	// StrictChannels makes chat methods refuse channel ids never created or
	// added (channel_not_found). By default an id-shaped channel (C…, G…,
	// D…) is created on first use.
	StrictChannels bool
}

// Call is one recorded Web API request; tokens are redacted.
type Call struct {
	Method string
	Params map[string]string
	// Status is the HTTP status answered (429 and 5xx when injected).
	Status int
	// Error is the "error" field of a failed answer, "" when ok.
	Error string
	Time  time.Time
}

// Revision is one content of a message: the original post or an update.
type Revision struct {
	Text   string
	Blocks json.RawMessage
	Time   time.Time
}

// Message is a message the app posted in a channel, with its current
// content and every revision (index 0 is the original post).
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	User     string
	BotID    string
	Text     string
	Blocks   json.RawMessage
	// Updates is the content history, oldest first, including the post.
	Updates []Revision
}

// Ephemeral is a message shown to one user only.
type Ephemeral struct {
	Channel  string
	User     string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
}

// Upload is a file uploaded through files.getUploadURLExternal, the upload
// URL, and files.completeUploadExternal.
type Upload struct {
	FileID   string
	Filename string
	Title    string
	Channel  string
	ThreadTS string
	Content  []byte
	// Completed is true once files.completeUploadExternal shared it.
	Completed bool
}

// Channel is a conversation of the workspace.
type Channel struct {
	ID      string
	Name    string
	Members []string
	Created time.Time
	Creator string
}

// User is a workspace member.
type User struct {
	ID       string
	Name     string
	RealName string
	Email    string
	TZ       string
	IsBot    bool
}

// View is a modal opened with views.open.
type View struct {
	ID              string
	TriggerID       string
	User            string
	CallbackID      string
	PrivateMetadata string
	Title           string
	// Submit and Close are the buttons' labels ("" when not sent).
	Submit, Close string
	// Blocks is the view's blocks as sent by the app.
	Blocks json.RawMessage
}

// Ack is the app's acknowledgement of an envelope.
type Ack struct {
	EnvelopeID string
	// Payload is the ack's payload, nil when absent.
	Payload json.RawMessage
	// Latency is the time from sending the envelope to receiving the ack.
	Latency time.Duration
	Time    time.Time
}

type trigger struct {
	user   string
	issued time.Time
}

type fault struct {
	n          int
	status     int
	retryAfter time.Duration
}

// Server is a running fake Slack. Create it with New; Close it when done.
type Server struct {
	opts Options
	http *httptest.Server
	up   websocket.Upgrader

	mu         sync.Mutex
	seq        int64
	tsBase     int64
	calls      calllog.Log[Call]
	faults     map[string][]*fault
	holds      map[string][]*hold
	channels   map[string]*Channel
	chanOrder  []string
	messages   map[string][]*Message // channel → messages, in posting order
	ephemerals []*Ephemeral
	uploads    map[string]*Upload
	uploadIDs  []string
	users      map[string]*User
	groups     map[string][]string
	views      map[string]*View
	viewOrder  []string
	homes      map[string]*homeView // user → Home tab
	dms        map[string]string    // user → the app's DM channel
	homeOff    bool
	triggers   map[string]trigger
	tickets    map[string]bool
	conns      map[*conn]bool
	connected  int // total connections ever accepted
	pending    []*envelope
	sent       map[string]*envelope
	acks       map[string]Ack
	ackWaiters []chan struct{}
	closed     bool
}

// New starts a fake Slack on a random loopback port.
func New(opts Options) *Server {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&opts.TeamID, "T0FAKE")
	def(&opts.TeamDomain, "nexo-fake")
	def(&opts.AppID, "A0FAKE")
	def(&opts.BotUserID, "U0BOT")
	def(&opts.BotID, "B0BOT")
	if opts.PingInterval <= 0 {
		opts.PingInterval = 10 * time.Second
	}
	if opts.TriggerTTL == 0 {
		opts.TriggerTTL = 3 * time.Second
	}
	s := &Server{
		opts:     opts,
		tsBase:   time.Now().Unix(),
		faults:   map[string][]*fault{},
		holds:    map[string][]*hold{},
		channels: map[string]*Channel{},
		messages: map[string][]*Message{},
		uploads:  map[string]*Upload{},
		users:    map[string]*User{},
		groups:   map[string][]string{},
		views:    map[string]*View{},
		homes:    map[string]*homeView{},
		dms:      map[string]string{},
		triggers: map[string]trigger{},
		tickets:  map[string]bool{},
		conns:    map[*conn]bool{},
		sent:     map[string]*envelope{},
		acks:     map[string]Ack{},
	}
	// slack-go sends "Origin: https://api.slack.com"; Slack accepts it.
	s.up = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.users[opts.BotUserID] = &User{ID: opts.BotUserID, Name: "nexo", RealName: "nexo", IsBot: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link", s.serveSocket)
	mux.HandleFunc("/upload/", s.serveUpload)
	s.http = httptest.NewServer(mux)
	return s
}

// URL is the fake's base URL (http://127.0.0.1:PORT); the Web API is under
// URL()+"/api/".
func (s *Server) URL() string { return s.http.URL }

// APIURL is URL()+"/api/", the value for slack.api_url.
func (s *Server) APIURL() string { return s.http.URL + "/api/" }

// BotUserID is the app's bot user id (what auth.test returns).
func (s *Server) BotUserID() string { return s.opts.BotUserID }

// Close disconnects every socket and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.http.Close()
}

// nextID returns a Slack-shaped id with the given prefix.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%07X", prefix, s.seq)
}

// nextTS returns a new, strictly increasing message timestamp.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.tsBase, s.seq)
}

// AddUser adds (or replaces) a workspace member.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Name == "" {
		u.Name = strings.ToLower(u.ID)
	}
	cp := u
	s.users[u.ID] = &cp
}

// AddUserGroup sets the members of a user group (S…).
func (s *Server) AddUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = append([]string(nil), members...)
}

// AddChannel adds a channel with members (the bot is always a member).
func (s *Server) AddChannel(id, name string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.ensureChannel(id, name)
	for _, m := range members {
		c.addMember(m)
	}
}

func (s *Server) ensureChannel(id, name string) *Channel {
	if c, ok := s.channels[id]; ok {
		return c
	}
	if name == "" {
		name = strings.ToLower(id)
	}
	c := &Channel{ID: id, Name: name, Created: time.Now(), Creator: s.opts.BotUserID, Members: []string{s.opts.BotUserID}}
	s.channels[id] = c
	s.chanOrder = append(s.chanOrder, id)
	return c
}

func (c *Channel) addMember(u string) bool {
	for _, m := range c.Members {
		if m == u {
			return false
		}
	}
	c.Members = append(c.Members, u)
	return true
}

func (c *Channel) hasMember(u string) bool {
	for _, m := range c.Members {
		if m == u {
			return true
		}
	}
	return false
}

// Calls returns every recorded Web API call, oldest first.
func (s *Server) Calls() []Call { return s.calls.All() }

// CallCount counts the recorded calls of one method (every attempt,
// injected failures included).
func (s *Server) CallCount(method string) int {
	return s.calls.Count(func(c Call) bool { return c.Method == method })
}

// InjectRateLimit makes the next n calls of method answer HTTP 429 with a
// Retry-After header (whole seconds, at least 1) and
// {"ok":false,"error":"ratelimited"}.
func (s *Server) InjectRateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], &fault{n: n, status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

type hold struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// HoldNext holds the next call of method: it is neither answered nor acted
// on until release is called (then it proceeds normally) or its caller
// hangs up (then it has no effect, as when a client dies before Slack read
// its request). arrived is closed when the call comes in.
func (s *Server) HoldNext(method string) (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.holds[method] = append(s.holds[method], h)
	s.mu.Unlock()
	return h.arrived, func() { h.once.Do(func() { close(h.release) }) }
}

// Inject5xx makes the next n calls of method answer HTTP 503 with an HTML
// body, as Slack's edge does.
func (s *Server) Inject5xx(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], &fault{n: n, status: http.StatusServiceUnavailable})
}

// Messages returns copies of the app's messages in a channel (id or name),
// in posting order, with their current content and revision history.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.resolveChannel(channel)
	out := make([]Message, 0, len(s.messages[id]))
	for _, m := range s.messages[id] {
		cp := *m
		cp.Updates = append([]Revision(nil), m.Updates...)
		out = append(out, cp)
	}
	return out
}

// Message returns one message by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	for _, m := range s.Messages(channel) {
		if m.TS == ts {
			return m, true
		}
	}
	return Message{}, false
}

// Ephemerals returns the ephemeral messages shown to user, oldest first.
func (s *Server) Ephemerals(user string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.User == user {
			out = append(out, *e)
		}
	}
	return out
}

// Uploads returns every upload, oldest first.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, 0, len(s.uploadIDs))
	for _, id := range s.uploadIDs {
		u := *s.uploads[id]
		u.Content = append([]byte(nil), u.Content...)
		out = append(out, u)
	}
	return out
}

// Channels returns every channel, in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.chanOrder))
	for _, id := range s.chanOrder {
		c := *s.channels[id]
		c.Members = append([]string(nil), c.Members...)
		out = append(out, c)
	}
	return out
}

// Views returns the modals opened with views.open, oldest first.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.viewOrder))
	for _, id := range s.viewOrder {
		out = append(out, *s.views[id])
	}
	return out
}

// WaitFor polls cond every 5 ms until it is true or timeout passes, and
// reports whether it became true.
func (s *Server) WaitFor(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// resolveChannel maps "#name", "name" or an id to a channel id; unknown
// values are returned unchanged. Callers hold s.mu.
func (s *Server) resolveChannel(ch string) string {
	if _, ok := s.channels[ch]; ok {
		return ch
	}
	name := strings.TrimPrefix(ch, "#")
	for _, id := range s.chanOrder {
		if s.channels[id].Name == name {
			return id
		}
	}
	return ch
}
