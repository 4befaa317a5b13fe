// Package chattest has the one recording chat.Chat the command tests share.
package chattest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/nexo-org/nexo-bot/chat"
)

// Recorder is a chat.Chat that records every call: posts (an ephemeral is
// a post whose Thread is "ephemeral:<user>"), card updates, uploads,
// channels created, invitations and modals. Timestamps are Slack-shaped
// ("<BaseUnix+n>.<n>"), so a test can read a message's time from its ts
// as nexo does. Safe for concurrent use.
type Recorder struct {
	// BaseUnix is the seconds part of the first ts (default 1700000000).
	BaseUnix int64
	// BeforePost, when set, runs at the start of every Post (to hold one).
	BeforePost func()
	// Groups are the members of Slack user groups (GroupMembers).
	Groups map[string][]string
	// GroupErr, when set, is what GroupMembers answers.
	GroupErr error
	// Names are channel names by id (ChannelName).
	Names map[string]string

	mu         sync.Mutex
	n          int
	posts      []Post
	updates    []Post
	uploads    []Upload
	created    []string
	taken      map[string]bool
	invites    map[string][]string
	modals     []chat.Modal
	homes      map[string][]chat.Message
	groupCalls int
}

// Post is one recorded message.
type Post struct {
	Channel, Thread, TS, User string
	Msg                       chat.Message
}

// Upload is one recorded file upload.
type Upload struct {
	Channel, Thread, Name, Title string
	Content                      []byte
}

// New is a Recorder whose timestamps start at baseUnix (0: the default).
func New(baseUnix int64) *Recorder { return &Recorder{BaseUnix: baseUnix} }

func (c *Recorder) nextTS() string {
	c.n++
	base := c.BaseUnix
	if base == 0 {
		base = 1700000000
	}
	return fmt.Sprintf("%d.%06d", base+int64(c.n), c.n)
}

// Post implements chat.Chat.
func (c *Recorder) Post(_ context.Context, channel, thread string, m chat.Message) (string, error) {
	if c.BeforePost != nil {
		c.BeforePost()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.nextTS()
	c.posts = append(c.posts, Post{Channel: channel, Thread: thread, TS: ts, Msg: m})
	return ts, nil
}

// Update implements chat.Chat.
func (c *Recorder) Update(_ context.Context, channel, ts string, m chat.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updates = append(c.updates, Post{Channel: channel, TS: ts, Msg: m})
	return nil
}

// PostEphemeral implements chat.Chat.
func (c *Recorder) PostEphemeral(_ context.Context, channel, user string, m chat.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts = append(c.posts, Post{Channel: channel, Thread: "ephemeral:" + user, TS: c.nextTS(), User: user, Msg: m})
	return nil
}

// Upload implements chat.Chat.
func (c *Recorder) Upload(_ context.Context, channel, thread, filename, title string, content []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uploads = append(c.uploads, Upload{Channel: channel, Thread: thread, Name: filename, Title: title, Content: content})
	return nil
}

// CreateChannel implements chat.Chat: a name is taken once
// (chat.ErrNameTaken after), the id is "C" + the name in capitals.
func (c *Recorder) CreateChannel(_ context.Context, name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.taken == nil {
		c.taken = map[string]bool{}
	}
	if c.taken[name] {
		return "", chat.ErrNameTaken
	}
	c.taken[name] = true
	c.created = append(c.created, name)
	return "C" + strings.ToUpper(strings.ReplaceAll(name, "-", "")), nil
}

// Take marks a channel name as taken already (an earlier channel).
func (c *Recorder) Take(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.taken == nil {
		c.taken = map[string]bool{}
	}
	c.taken[name] = true
}

// Invite implements chat.Chat.
func (c *Recorder) Invite(_ context.Context, channel string, users []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.invites == nil {
		c.invites = map[string][]string{}
	}
	c.invites[channel] = append(c.invites[channel], users...)
	return nil
}

// OpenModal implements chat.Chat.
func (c *Recorder) OpenModal(_ context.Context, _ string, m chat.Modal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.modals = append(c.modals, m)
	return nil
}

// PublishHome implements chat.Home: it records each Home view published,
// per user.
func (c *Recorder) PublishHome(_ context.Context, user string, m chat.Message) error {
	if user == "" {
		return fmt.Errorf("chattest: publish home: no user (Slack: invalid_arguments)")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.homes == nil {
		c.homes = map[string][]chat.Message{}
	}
	c.homes[user] = append(c.homes[user], m)
	return nil
}

// Homes is every Home view published to user, oldest first.
func (c *Recorder) Homes(user string) []chat.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chat.Message(nil), c.homes[user]...)
}

// Permalink implements chat.Chat with Slack's link shape.
func (c *Recorder) Permalink(_ context.Context, channel, ts string) (string, error) {
	return "https://nexo.slack.com/archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", ""), nil
}

// GroupMembers implements chat.Chat from Groups (or GroupErr).
func (c *Recorder) GroupMembers(_ context.Context, id string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.groupCalls++
	if c.GroupErr != nil {
		return nil, c.GroupErr
	}
	return c.Groups[id], nil
}

// ChannelName implements chat.Chat from Names (else the id itself).
func (c *Recorder) ChannelName(_ context.Context, id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.Names[id]; ok {
		return n, nil
	}
	return id, nil
}

// SetGroupErr changes what GroupMembers answers, safely while nexo runs.
func (c *Recorder) SetGroupErr(err error) {
	c.mu.Lock()
	c.GroupErr = err
	c.mu.Unlock()
}

// GroupCalls is how often GroupMembers was asked.
func (c *Recorder) GroupCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groupCalls
}

// Posts is every post, ephemerals included, in order.
func (c *Recorder) Posts() []Post {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Post(nil), c.posts...)
}

// Ephemerals is every ephemeral message, in order.
func (c *Recorder) Ephemerals() []Post {
	var out []Post
	for _, p := range c.Posts() {
		if p.User != "" {
			out = append(out, p)
		}
	}
	return out
}

// Updates is every card edit, in order.
func (c *Recorder) Updates() []Post {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Post(nil), c.updates...)
}

// Uploads is every upload, in order.
func (c *Recorder) Uploads() []Upload {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Upload(nil), c.uploads...)
}

// Uploaded is the content of the last upload of filename in channel.
func (c *Recorder) Uploaded(channel, filename string) ([]byte, bool) {
	ups := c.Uploads()
	for i := len(ups) - 1; i >= 0; i-- {
		if ups[i].Channel == channel && ups[i].Name == filename {
			return ups[i].Content, true
		}
	}
	return nil, false
}

// Created lists the channels created, in order.
func (c *Recorder) Created() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.created...)
}

// Invited lists who was invited to channel.
func (c *Recorder) Invited(channel string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.invites[channel]...)
}

// Modals lists the modals opened, in order.
func (c *Recorder) Modals() []chat.Modal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chat.Modal(nil), c.modals...)
}

// All is the plain text of every post and card edit, one per line.
func (c *Recorder) All() string {
	var b strings.Builder
	for _, p := range c.Posts() {
		b.WriteString(p.Msg.PlainText() + "\n")
	}
	for _, u := range c.Updates() {
		b.WriteString(u.Msg.PlainText() + "\n")
	}
	return b.String()
}

// AllJSON is every post and edit as JSON (blocks, buttons, fallbacks), to
// search for text that must never appear.
func (c *Recorder) AllJSON() string {
	b, _ := json.Marshal([][]Post{c.Posts(), c.Updates()})
	return string(b)
}

// In is the plain text of the posts in channel (ephemerals included).
func (c *Recorder) In(channel string) string {
	var b strings.Builder
	for _, p := range c.Posts() {
		if p.Channel == channel {
			b.WriteString(p.Msg.PlainText() + "\n")
		}
	}
	return b.String()
}

// Find is the newest post in channel whose text contains word.
func (c *Recorder) Find(channel, word string) (Post, bool) {
	posts := c.Posts()
	for i := len(posts) - 1; i >= 0; i-- {
		if posts[i].Channel == channel && strings.Contains(posts[i].Msg.PlainText(), word) {
			return posts[i], true
		}
	}
	return Post{}, false
}

// Thread lists the texts posted in the thread of ts.
func (c *Recorder) Thread(ts string) []string {
	var out []string
	for _, p := range c.Posts() {
		if p.Thread == ts {
			out = append(out, p.Msg.PlainText())
		}
	}
	return out
}

// Card is the latest version of the message ts (its last edit, else the post).
func (c *Recorder) Card(ts string) chat.Message {
	ups := c.Updates()
	for i := len(ups) - 1; i >= 0; i-- {
		if ups[i].TS == ts {
			return ups[i].Msg
		}
	}
	for _, p := range c.Posts() {
		if p.TS == ts {
			return p.Msg
		}
	}
	return chat.Message{}
}

// TopLevel lists the posts in channel that are not in a thread and not
// ephemeral.
func (c *Recorder) TopLevel(channel string) []Post {
	var out []Post
	for _, p := range c.Posts() {
		if p.Channel == channel && p.Thread == "" {
			out = append(out, p)
		}
	}
	return out
}

// Buttons lists every button of m.
func Buttons(m chat.Message) []chat.Button {
	var out []chat.Button
	for _, b := range m.Blocks {
		out = append(out, b.Actions...)
	}
	return out
}
