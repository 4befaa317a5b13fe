package bot

import (
	"context"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
)

// pacer serialises chat.postMessage and chat.update per channel, at most one
// call per interval, in arrival order. Updates of a message still waiting
// for its turn are merged: only the newest content is sent.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	lanes    map[string]*lane
}

type lane struct {
	jobs    []*paceJob
	running bool
	last    time.Time
	updates map[string]*pendingUpdate // ts → newest content
}

type paceJob struct {
	ctx      context.Context
	run      func(context.Context) error // a post
	updateTS string                      // or an update of this message
	done     chan error
}

type pendingUpdate struct {
	msg     chat.Message
	send    func(context.Context, chat.Message) error
	waiters []updateWaiter
}

type updateWaiter struct {
	ctx  context.Context
	done chan error
}

func newPacer(interval time.Duration) *pacer {
	return &pacer{interval: interval, lanes: map[string]*lane{}}
}

// lane returns the channel's lane; callers hold p.mu.
func (p *pacer) lane(channel string) *lane {
	l, ok := p.lanes[channel]
	if !ok {
		l = &lane{updates: map[string]*pendingUpdate{}}
		p.lanes[channel] = l
	}
	return l
}

func (p *pacer) startLocked(channel string, l *lane) {
	if !l.running {
		l.running = true
		go p.work(channel, l)
	}
}

func (p *pacer) post(ctx context.Context, channel string, run func(context.Context) error) error {
	j := &paceJob{ctx: ctx, run: run, done: make(chan error, 1)}
	p.mu.Lock()
	l := p.lane(channel)
	l.jobs = append(l.jobs, j)
	p.startLocked(channel, l)
	p.mu.Unlock()
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) update(ctx context.Context, channel, ts string, m chat.Message, send func(context.Context, chat.Message) error) error {
	w := updateWaiter{ctx: ctx, done: make(chan error, 1)}
	p.mu.Lock()
	l := p.lane(channel)
	if pu, ok := l.updates[ts]; ok {
		pu.msg, pu.send = m, send
		pu.waiters = append(pu.waiters, w)
	} else {
		l.updates[ts] = &pendingUpdate{msg: m, send: send, waiters: []updateWaiter{w}}
		l.jobs = append(l.jobs, &paceJob{updateTS: ts})
		p.startLocked(channel, l)
	}
	p.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) work(channel string, l *lane) {
	for {
		p.mu.Lock()
		if len(l.jobs) == 0 {
			l.running = false
			if time.Since(l.last) > p.interval {
				delete(p.lanes, channel)
			}
			p.mu.Unlock()
			return
		}
		j := l.jobs[0]
		l.jobs = l.jobs[1:]
		last := l.last
		p.mu.Unlock()

		if j.run != nil && j.ctx.Err() != nil {
			j.done <- j.ctx.Err()
			continue
		}
		if wait := p.interval - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}

		if j.run != nil {
			err := j.run(j.ctx)
			p.mu.Lock()
			l.last = time.Now()
			p.mu.Unlock()
			j.done <- err
			continue
		}

		p.mu.Lock()
		pu := l.updates[j.updateTS]
		delete(l.updates, j.updateTS)
		p.mu.Unlock()
		// Send with the newest caller still waiting.
		var ctx context.Context
		for i := len(pu.waiters) - 1; i >= 0; i-- {
			if pu.waiters[i].ctx.Err() == nil {
				ctx = pu.waiters[i].ctx
				break
			}
		}
		var err error
		if ctx == nil {
			err = context.Canceled
		} else {
			err = pu.send(ctx, pu.msg)
			p.mu.Lock()
			l.last = time.Now()
			p.mu.Unlock()
		}
		for _, w := range pu.waiters {
			w.done <- err
		}
	}
}
