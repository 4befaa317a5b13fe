package slackfake

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// envelope is one Socket Mode request sent to the app.
type envelope struct {
	ID                     string
	Type                   string
	Payload                any
	AcceptsResponsePayload bool
	RetryAttempt           int
	RetryReason            string
	EventID                string
	SentAt                 time.Time
}

func (e *envelope) wire() map[string]any {
	m := map[string]any{
		"envelope_id":              e.ID,
		"type":                     e.Type,
		"payload":                  e.Payload,
		"accepts_response_payload": e.AcceptsResponsePayload,
	}
	if e.Type == "events_api" {
		m["retry_attempt"] = e.RetryAttempt
		m["retry_reason"] = e.RetryReason
	}
	return m
}

// conn is one Socket Mode WebSocket connection.
type conn struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	done    chan struct{}
	once    sync.Once
}

func (c *conn) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.writeMu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.writeMu.Unlock()
		_ = c.ws.Close()
	})
}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, done: make(chan struct{})}
	s.mu.Lock()
	s.conns[c] = true
	s.connected++
	n := len(s.conns)
	s.mu.Unlock()

	hello := map[string]any{
		"type":            "hello",
		"num_connections": n,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": s.opts.AppID},
	}
	if err := c.writeJSON(hello); err != nil {
		s.drop(c)
		return
	}
	go s.pingLoop(c)
	go s.readLoop(c)
	s.flushPending()
}

func (s *Server) drop(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.close()
}

func (s *Server) pingLoop(c *conn) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.writeMu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second))
			c.writeMu.Unlock()
			if err != nil {
				s.drop(c)
				return
			}
		}
	}
}

// readLoop records the app's acks: {"envelope_id": …, "payload": …}.
func (s *Server) readLoop(c *conn) {
	defer s.drop(c)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		var a struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &a) != nil || a.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		ack := Ack{EnvelopeID: a.EnvelopeID, Time: now}
		if len(a.Payload) > 0 && string(a.Payload) != "null" {
			ack.Payload = a.Payload
		}
		if e, ok := s.sent[a.EnvelopeID]; ok {
			ack.Latency = now.Sub(e.SentAt)
		}
		if _, dup := s.acks[a.EnvelopeID]; !dup {
			s.acks[a.EnvelopeID] = ack
		}
		waiters := s.ackWaiters
		s.ackWaiters = nil
		s.mu.Unlock()
		for _, w := range waiters {
			close(w)
		}
	}
}

// deliver sends an envelope over a random open connection, or queues it
// until one opens.
func (s *Server) deliver(e *envelope) {
	for {
		s.mu.Lock()
		if len(s.conns) == 0 {
			s.pending = append(s.pending, e)
			s.mu.Unlock()
			return
		}
		all := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			all = append(all, c)
		}
		c := all[rand.IntN(len(all))]
		e.SentAt = time.Now()
		s.sent[e.ID] = e
		delete(s.acks, e.ID)
		s.mu.Unlock()
		if err := c.writeJSON(e.wire()); err != nil {
			s.drop(c)
			continue
		}
		return
	}
}

func (s *Server) flushPending() {
	s.mu.Lock()
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, e := range p {
		s.deliver(e)
	}
}

// Connections is the number of open Socket Mode connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// TotalConnections is how many Socket Mode connections were ever accepted
// (reconnects included).
func (s *Server) TotalConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Disconnect asks every connection to go away, as Slack does before it
// rotates its servers: it sends {"type":"disconnect","reason":reason} and
// closes the socket once the app hangs up (or after 2 s).
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	msg := map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "applink-fake"}}
	for _, c := range conns {
		_ = c.writeJSON(msg)
		go func(c *conn) {
			select {
			case <-c.done:
			case <-time.After(2 * time.Second):
				s.drop(c)
			}
		}(c)
	}
}

// DropConnections closes every socket abruptly, without a disconnect
// message (a network failure).
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.drop(c)
	}
}

// Acked reports the ack of an envelope, if received.
func (s *Server) Acked(envelopeID string) (Ack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.acks[envelopeID]
	return a, ok
}

// WaitAck waits for the ack of an envelope.
func (s *Server) WaitAck(envelopeID string, timeout time.Duration) (Ack, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		a, ok := s.acks[envelopeID]
		var ch chan struct{}
		if !ok {
			ch = make(chan struct{})
			s.ackWaiters = append(s.ackWaiters, ch)
		}
		s.mu.Unlock()
		if ok {
			return a, nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return Ack{}, errors.New("slackfake: no ack for envelope " + envelopeID)
		}
	}
}

// Redeliver sends an envelope again with the same envelope_id and
// retry_attempt+1, as when Slack did not see the ack.
func (s *Server) Redeliver(envelopeID string) error {
	s.mu.Lock()
	e, ok := s.sent[envelopeID]
	s.mu.Unlock()
	if !ok {
		return errors.New("slackfake: unknown envelope " + envelopeID)
	}
	cp := *e
	cp.RetryAttempt++
	cp.RetryReason = "timeout"
	s.deliver(&cp)
	return nil
}

// RetryEvent re-sends an events_api envelope the way the Events API retries
// a delivery: a new envelope_id, the same event_id, retry_attempt+1 and
// retry_reason "timeout". It returns the new envelope id.
func (s *Server) RetryEvent(envelopeID string) (string, error) {
	s.mu.Lock()
	e, ok := s.sent[envelopeID]
	if ok && e.Type != "events_api" {
		s.mu.Unlock()
		return "", errors.New("slackfake: envelope " + envelopeID + " is not an events_api envelope")
	}
	var cp envelope
	if ok {
		cp = *e
		cp.ID = newEnvelopeID()
		cp.RetryAttempt++
		cp.RetryReason = "timeout"
	}
	s.mu.Unlock()
	if !ok {
		return "", errors.New("slackfake: unknown envelope " + envelopeID)
	}
	s.deliver(&cp)
	return cp.ID, nil
}

func newEnvelopeID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
