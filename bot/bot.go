// Package bot is nexo's Slack transport: Socket Mode connections that ack
// every envelope at once, de-duplicate redeliveries in the store, hand the
// work to a bounded worker pool and route it to a chat.Handler; and
// SlackChat, the chat.Chat implementation over Slack's Web API (Block Kit
// rendering, per-channel pacing, coalesced updates, bounded retries).
package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/nexo-org/nexo-bot/chat"
)

// Deduper records de-duplication keys. store.Store satisfies it.
type Deduper interface {
	// Dedupe sets key if absent for ttl and reports whether this call set it.
	Dedupe(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// DedupeFunc adapts a function to Deduper.
type DedupeFunc func(ctx context.Context, key string, ttl time.Duration) (bool, error)

// Dedupe calls f.
func (f DedupeFunc) Dedupe(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return f(ctx, key, ttl)
}

// DedupeTTL is how long envelope and event ids are remembered.
const DedupeTTL = time.Hour

// Options configures a Bot.
type Options struct {
	// APIURL is the Web API base ending in "/api/" (default Slack's).
	APIURL string
	// BotToken (xoxb-) calls the Web API; AppToken (xapp-) opens Socket
	// Mode connections.
	BotToken string
	AppToken string
	// Handler receives commands, clicks, submissions and events.
	Handler chat.Handler
	// Dedupe remembers envelope and event ids (pass the store.Store). When
	// nil an in-process memory is used, which is only correct with a single
	// replica.
	Dedupe Deduper
	// Chat posts replies; built from APIURL and BotToken when nil. Share it
	// with the Handler so both pace the same channels.
	Chat *SlackChat
	// Workers bounds concurrent handling (default 16).
	Workers int
	// Connections is the number of Socket Mode connections (1 to 10,
	// default 1); Slack spreads envelopes over them.
	Connections int
	// QueueSize bounds the work queue (default 64 per worker). When it is
	// full, work waits in an overflow list (logged and counted) of up to
	// 16 × QueueSize entries; only past that is work dropped, loudly.
	QueueSize int
	// DrainTimeout bounds how long Run waits for in-flight work after ctx is
	// done (default 25 s).
	DrainTimeout time.Duration
	// HandlerTimeout bounds one handler call (default 5 min).
	HandlerTimeout time.Duration
	// SubmissionBudget is how long a view_submission ack waits for the
	// handler's validation errors (default 2.5 s, Slack's deadline is 3 s).
	SubmissionBudget time.Duration
	// PingInterval is how long without a WebSocket ping from Slack before a
	// connection is considered dead (default 30 s).
	PingInterval time.Duration
	// HTTPClient is used for apps.connections.open (default 30 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// HTTP serves Slack over HTTP (Events API, interactivity and slash
	// commands, see HTTPHandler) instead of opening Socket Mode
	// connections; AppToken is then not needed but SigningSecret is.
	HTTP bool
	// SigningSecret verifies Slack's v0 request signatures (http mode).
	SigningSecret string
	// MaxBody bounds an HTTP request body (default 1 MiB).
	MaxBody int64
	// Metrics are shared with Chat when Chat is built here (default:
	// unregistered collectors).
	Metrics *Metrics
}

// Bot is a running Socket Mode app.
type Bot struct {
	opts    Options
	log     *slog.Logger
	m       *Metrics
	chat    *SlackChat
	appAPI  *slack.Client
	dedupe  Deduper
	botUser string

	queue    chan *work
	quit     chan struct{}
	inflight sync.WaitGroup
	workCtx  context.Context
	stopWork context.CancelFunc
	subSem   chan struct{}

	qmu         sync.Mutex
	overflow    []*work
	overflowCap int
	feeding     bool
	closed      bool

	runMu   sync.Mutex
	running bool
	// serving is true while Run accepts work (http mode answers 503 otherwise).
	serving atomic.Bool
}

// work is one acked envelope waiting for a worker.
type work struct {
	req      socketmode.Request
	evType   socketmode.EventType
	data     any
	received time.Time
}

// New validates options and builds a Bot. It makes no network call.
func New(opts Options) (*Bot, error) {
	if opts.Handler == nil {
		return nil, errors.New("bot: a Handler is required")
	}
	if opts.HTTP {
		if opts.SigningSecret == "" {
			return nil, errors.New("bot: http mode needs the Slack signing secret (SLACK_SIGNING_SECRET)")
		}
	} else if !strings.HasPrefix(opts.AppToken, "xapp-") {
		return nil, errors.New("bot: the Slack app token must be an xapp- token (Socket Mode)")
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.Connections == 0 {
		opts.Connections = 1
	}
	if opts.Connections < 1 || opts.Connections > 10 {
		return nil, fmt.Errorf("bot: connections must be 1 to 10, got %d", opts.Connections)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64 * opts.Workers
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 25 * time.Second
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = 5 * time.Minute
	}
	if opts.SubmissionBudget <= 0 {
		opts.SubmissionBudget = 2500 * time.Millisecond
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.APIURL == "" {
		opts.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	opts.Metrics = orNewMetrics(opts.Metrics)
	if opts.Chat == nil {
		c, err := NewSlackChat(ChatOptions{APIURL: opts.APIURL, BotToken: opts.BotToken, Logger: opts.Logger, Metrics: opts.Metrics})
		if err != nil {
			return nil, err
		}
		opts.Chat = c
	}
	b := &Bot{
		opts:        opts,
		log:         opts.Logger,
		m:           opts.Metrics,
		chat:        opts.Chat,
		dedupe:      opts.Dedupe,
		queue:       make(chan *work, opts.QueueSize),
		quit:        make(chan struct{}),
		subSem:      make(chan struct{}, opts.Workers),
		overflowCap: 16 * opts.QueueSize,
	}
	if b.dedupe == nil {
		b.dedupe = newMemoryDedupe()
	}
	b.appAPI = slack.New(opts.BotToken,
		slack.OptionAPIURL(opts.APIURL),
		slack.OptionAppLevelToken(opts.AppToken),
		slack.OptionHTTPClient(opts.HTTPClient))
	return b, nil
}

// Chat is the bot's SlackChat.
func (b *Bot) Chat() *SlackChat { return b.chat }

// Run checks the bot token (auth.test), opens the Socket Mode connections
// and serves until ctx is done. It then closes the connections, lets
// in-flight work finish within DrainTimeout, and returns nil. It returns an
// error when the tokens are refused.
func (b *Bot) Run(ctx context.Context) error {
	b.runMu.Lock()
	if b.running {
		b.runMu.Unlock()
		return errors.New("bot: Run called twice")
	}
	b.running = true
	b.runMu.Unlock()

	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	auth, err := b.chat.API().AuthTestContext(actx)
	cancel()
	switch {
	case err != nil && isTokenRefusal(err):
		return fmt.Errorf("bot: slack auth.test: %w", err)
	case err != nil:
		// Slack unreachable or the method unavailable: the token is not
		// known to be bad, so go on; the connections retry on their own.
		b.log.Warn("slack auth.test failed; continuing", "err", err)
	default:
		b.botUser = auth.UserID
		b.log.Info("slack connected", "team", auth.Team, "bot_user", auth.UserID, "connections", b.opts.Connections, "http", b.opts.HTTP)
	}

	b.workCtx, b.stopWork = context.WithCancel(context.WithoutCancel(ctx))
	defer b.stopWork()
	var workers sync.WaitGroup
	for range b.opts.Workers {
		workers.Go(b.worker)
	}

	connCtx, stopConns := context.WithCancel(ctx)
	fatal := make(chan error, b.opts.Connections)
	var conns sync.WaitGroup
	b.serving.Store(true)
	for i := range b.opts.Connections {
		if b.opts.HTTP {
			break // Slack calls HTTPHandler instead
		}
		smc := socketmode.New(b.appAPI,
			socketmode.OptionPingInterval(b.opts.PingInterval),
			socketmode.OptionLog(log.New(io.Discard, "", 0)))
		conns.Go(func() { b.readEvents(connCtx, smc) })
		conns.Go(func() {
			if err := b.keepConnected(connCtx, i, smc); err != nil {
				fatal <- err
			}
		})
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
	}
	b.serving.Store(false)
	stopConns()
	conns.Wait()
	b.drain()
	close(b.quit)
	workers.Wait()
	return runErr
}

// keepConnected runs one Socket Mode connection, reconnecting (slack-go
// reconnects on Slack's disconnect requests and dead pings itself; this
// covers the errors it gives up on) until ctx is done.
func (b *Bot) keepConnected(ctx context.Context, i int, smc *socketmode.Client) error {
	backoff := time.Second
	for {
		err := smc.RunContext(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch slackErrCode(err) {
		case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type":
			b.log.Error("slack refused the app token", "connection", i, "err", err)
			return fmt.Errorf("bot: socket mode: %w", err)
		}
		b.m.Errors.WithLabelValues("connection").Inc()
		b.log.Warn("socket mode connection ended, reconnecting", "connection", i, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// drain stops accepting work and waits for queued and running work, at
// most DrainTimeout; then it cancels what is left.
func (b *Bot) drain() {
	b.qmu.Lock()
	b.closed = true
	b.qmu.Unlock()
	done := make(chan struct{})
	go func() {
		b.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		b.log.Info("slack transport drained")
	case <-time.After(b.opts.DrainTimeout):
		b.log.Warn("drain timeout: cancelling in-flight work", "timeout", b.opts.DrainTimeout)
		b.stopWork()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.log.Error("in-flight work ignored cancellation")
		}
	}
}

func (b *Bot) worker() {
	for {
		select {
		case <-b.quit:
			return
		case w := <-b.queue:
			b.process(w)
		}
	}
}

// enqueue hands acked work to the pool without ever blocking the caller.
func (b *Bot) enqueue(w *work) {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	if b.closed {
		b.m.Errors.WithLabelValues("queue_drop").Inc()
		b.log.Error("envelope received while shutting down; not handled", "envelope_id", w.req.EnvelopeID, "type", w.req.Type)
		return
	}
	b.inflight.Add(1)
	if len(b.overflow) == 0 {
		select {
		case b.queue <- w:
			return
		default:
		}
	}
	if len(b.overflow) >= b.overflowCap {
		b.inflight.Done()
		b.m.Errors.WithLabelValues("queue_drop").Inc()
		b.log.Error("work queue and overflow full: envelope dropped", "envelope_id", w.req.EnvelopeID, "type", w.req.Type, "overflow", len(b.overflow))
		return
	}
	b.overflow = append(b.overflow, w)
	b.m.Errors.WithLabelValues("queue_full").Inc()
	b.log.Warn("work queue full: envelope waits in overflow", "envelope_id", w.req.EnvelopeID, "overflow", len(b.overflow))
	if !b.feeding {
		b.feeding = true
		go b.feed()
	}
}

// feed moves overflow work into the queue as workers free up.
func (b *Bot) feed() {
	for {
		b.qmu.Lock()
		if len(b.overflow) == 0 {
			b.feeding = false
			b.qmu.Unlock()
			return
		}
		w := b.overflow[0]
		b.qmu.Unlock()
		select {
		case b.queue <- w:
		case <-b.quit:
			return
		}
		b.qmu.Lock()
		b.overflow[0] = nil
		b.overflow = b.overflow[1:]
		b.qmu.Unlock()
	}
}

// memoryDedupe is the single-process fallback Deduper.
type memoryDedupe struct {
	mu   sync.Mutex
	keys map[string]time.Time
}

func newMemoryDedupe() *memoryDedupe { return &memoryDedupe{keys: map[string]time.Time{}} }

func (d *memoryDedupe) Dedupe(_ context.Context, key string, ttl time.Duration) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if exp, ok := d.keys[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(d.keys) > 100000 {
		for k, exp := range d.keys {
			if now.After(exp) {
				delete(d.keys, k)
			}
		}
	}
	d.keys[key] = now.Add(ttl)
	return true, nil
}

// isTokenRefusal reports whether Slack refused the token itself (as
// opposed to being unreachable).
func isTokenRefusal(err error) bool {
	var se slack.SlackErrorResponse
	msg := err.Error()
	if errors.As(err, &se) {
		msg = se.Err
	}
	for _, code := range []string{"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope", "not_allowed_token_type"} {
		if strings.Contains(msg, code) {
			return true
		}
	}
	return false
}
