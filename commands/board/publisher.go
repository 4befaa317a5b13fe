package board

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
)

// Publishing defaults. views.publish is Tier 4 (about 100 calls a minute
// per workspace): the publisher keeps well under it.
const (
	// DefaultDebounce coalesces the moves of changes into one round.
	DefaultDebounce = 2 * time.Second
	// DefaultGap separates two views.publish calls (at most 80 a minute).
	DefaultGap = 750 * time.Millisecond
	// DefaultRecent is how long after opening the Home tab a viewer still
	// gets the board re-published when a change moves.
	DefaultRecent = 2 * time.Hour
	// DefaultMaxViewers bounds the viewers kept (the least recent go).
	DefaultMaxViewers = 300
)

// Publisher publishes the board: one pending publish per user, rounds
// coalesced by Debounce, calls paced by Gap, only to users who opened the
// Home tab within Recent (at most MaxViewers of them, in memory: after a
// restart a viewer gets the board again when they next open the tab).
type Publisher struct {
	Debounce, Gap, Recent time.Duration
	MaxViewers            int

	d     *commands.Deps
	home  chat.Home
	links Links
	now   func() time.Time // wall clock: pacing is not the workflows' time

	mu      sync.Mutex
	ctx     context.Context
	viewers map[string]*viewer
	pending map[string]bool
	timer   *time.Timer
	running bool
	wg      sync.WaitGroup
	last    time.Time // the last views.publish call
}

type viewer struct {
	opened time.Time
	page   int
	notice string
}

// NewPublisher builds a publisher with the defaults; Start arms it.
func NewPublisher(d *commands.Deps, home chat.Home) *Publisher {
	return &Publisher{
		Debounce: DefaultDebounce, Gap: DefaultGap, Recent: DefaultRecent, MaxViewers: DefaultMaxViewers,
		d: d, home: home, now: time.Now,
		viewers: map[string]*viewer{}, pending: map[string]bool{},
	}
}

// Start arms the publisher (nothing is published before). The start
// context only has to live through the start (wire.Build bounds it), so
// its cancellation is not the publisher's: each call has its own timeout.
func (p *Publisher) Start(ctx context.Context) {
	p.mu.Lock()
	p.ctx = context.WithoutCancel(ctx)
	p.mu.Unlock()
}

// Opened records that user opened the Home tab and publishes their board.
func (p *Publisher) Opened(user string) { p.touch(user, 0, "") }

// Page shows user another page of the board.
func (p *Publisher) Page(user string, page int) { p.touch(user, page, "") }

// Notice shows user text on top of their board (the answer to a button
// they pressed there) until their next click or opening.
func (p *Publisher) Notice(user, text string) { p.touch(user, 0, text) }

// touch marks user as a recent viewer, on page (0: the page they are on,
// the first for a new viewer) with notice on top, and schedules their
// publish.
func (p *Publisher) touch(user string, page int, notice string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.viewers[user]
	if v == nil {
		v = &viewer{page: 1}
		p.viewers[user] = v
	}
	if page > 0 {
		v.page = page
	}
	v.opened, v.notice = p.now(), notice
	p.trim()
	p.pending[user] = true
	p.schedule()
}

// Changed says a change moved: every recent viewer's board is due.
func (p *Publisher) Changed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	cutoff := p.now().Add(-p.Recent)
	for u, v := range p.viewers {
		if v.opened.Before(cutoff) {
			delete(p.viewers, u)
			continue
		}
		p.pending[u] = true
	}
	if len(p.pending) > 0 {
		p.schedule()
	}
}

// Viewers is how many users get the board re-published.
func (p *Publisher) Viewers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.viewers)
}

// Wait waits for the publishing under way.
func (p *Publisher) Wait() { p.wg.Wait() }

// trim drops the least recent viewers beyond MaxViewers; callers hold mu.
func (p *Publisher) trim() {
	if len(p.viewers) <= p.MaxViewers {
		return
	}
	users := make([]string, 0, len(p.viewers))
	for u := range p.viewers {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return p.viewers[users[i]].opened.Before(p.viewers[users[j]].opened) })
	for _, u := range users[:len(users)-p.MaxViewers] {
		delete(p.viewers, u)
		delete(p.pending, u)
	}
}

// schedule arms one round after Debounce unless one is armed or running
// (a running round picks up what is pending when it ends); callers hold mu.
func (p *Publisher) schedule() {
	if p.ctx == nil || p.ctx.Err() != nil || p.timer != nil || p.running {
		return
	}
	p.wg.Add(1)
	p.timer = time.AfterFunc(p.Debounce, func() {
		defer p.wg.Done()
		p.round()
	})
}

// round publishes the pending boards, reading the platform once.
func (p *Publisher) round() {
	p.mu.Lock()
	p.timer, p.running = nil, true
	ctx := p.ctx
	users := make([]string, 0, len(p.pending))
	for u := range p.pending {
		users = append(users, u)
	}
	p.pending = map[string]bool{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		if len(p.pending) > 0 {
			p.schedule()
		}
		p.mu.Unlock()
	}()
	if ctx.Err() != nil || len(users) == 0 {
		return
	}
	sort.Strings(users)
	// Read the store once, then git and Argo CD only for the services on
	// the pages these viewers are on.
	b := Outline(ctx, p.d, &p.links)
	t := p.d.T("")
	views := make([]Viewer, 0, len(users))
	wanted := map[string]bool{}
	for _, u := range users {
		p.mu.Lock()
		v := p.viewers[u]
		var vw Viewer
		if v != nil {
			vw = Viewer{User: u, Page: v.page, Notice: v.notice}
		}
		p.mu.Unlock()
		if v == nil {
			continue
		}
		vw.Approver = p.approver(ctx, u)
		for _, s := range PageServices(t, b, vw) {
			wanted[s] = true
		}
		views = append(views, vw)
	}
	if len(wanted) > 0 {
		Fill(ctx, p.d, &b, wanted)
	}
	for _, vw := range views {
		if !p.pace(ctx) {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := p.home.PublishHome(pctx, vw.User, View(t, b, vw))
		cancel()
		if err != nil {
			p.d.Log.Warn("board: views.publish", "user", vw.User, "err", err)
		}
	}
}

// pace waits until Gap has passed since the last call; false when ctx
// ended meanwhile.
func (p *Publisher) pace(ctx context.Context) bool {
	if wait := p.Gap - p.now().Sub(p.last); wait > 0 && !p.last.IsZero() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
	p.last = p.now()
	return true
}

// approver reports the viewer's group memberships, asked once per group.
func (p *Publisher) approver(ctx context.Context, user string) func(group string) bool {
	seen := map[string]bool{}
	return func(group string) bool {
		if group == "" {
			return false
		}
		in, ok := seen[group]
		if !ok {
			var err error
			in, err = p.d.Members.Is(ctx, user, group)
			if err != nil {
				p.d.Log.Warn("board: group lookup", "user", user, "group", group, "err", err)
			}
			seen[group] = in
		}
		return in
	}
}
