package commands

import (
	"context"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
)

// CardUpdates edits cards in the background, newest content first: a step
// never waits on Slack's per-channel pacing, and when several edits of one
// card queue up only the latest is sent.
type CardUpdates struct {
	chat    chat.Chat
	onError func(channel, ts string, err error)
	// sent, when set, is told each card edit that reached the chat (the
	// release board re-publishes on it).
	sent func(channel, ts string)

	mu      sync.Mutex
	pending map[string]cardEdit // channel/ts → latest content
	running map[string]bool
	wg      sync.WaitGroup
}

type cardEdit struct {
	channel, ts string
	msg         chat.Message
}

// NewCardUpdates builds the updater.
func NewCardUpdates(c chat.Chat, onError func(channel, ts string, err error)) *CardUpdates {
	return &CardUpdates{chat: c, onError: onError, pending: map[string]cardEdit{}, running: map[string]bool{}}
}

// Update queues an edit of a card.
func (u *CardUpdates) Update(channel, ts string, m chat.Message) {
	key := channel + "/" + ts
	u.mu.Lock()
	u.pending[key] = cardEdit{channel: channel, ts: ts, msg: m}
	if u.running[key] {
		u.mu.Unlock()
		return
	}
	u.running[key] = true
	u.wg.Add(1)
	u.mu.Unlock()
	go u.drain(key)
}

func (u *CardUpdates) drain(key string) {
	defer u.wg.Done()
	for {
		u.mu.Lock()
		e, ok := u.pending[key]
		if !ok {
			delete(u.running, key)
			u.mu.Unlock()
			return
		}
		delete(u.pending, key)
		u.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := u.chat.Update(ctx, e.channel, e.ts, e.msg)
		if err != nil && u.onError != nil {
			u.onError(e.channel, e.ts, err)
		}
		if err == nil && u.sent != nil {
			u.sent(e.channel, e.ts)
		}
		cancel()
	}
}

// Flush waits until every queued edit has been sent.
func (u *CardUpdates) Flush() { u.wg.Wait() }
