package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

// ChatOptions configures a SlackChat.
type ChatOptions struct {
	// APIURL is the Web API base ending in "/api/" (default Slack's).
	APIURL string
	// BotToken is the xoxb- bot token.
	BotToken string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// CallTimeout bounds each Web API attempt (default 10 s).
	CallTimeout time.Duration
	// PaceInterval is the minimum gap between chat.postMessage/chat.update
	// calls in one channel (default 1 s, Slack's per-channel posting rate;
	// negative disables pacing).
	PaceInterval time.Duration
	// MaxAttempts bounds attempts per call on 429 and 5xx (default 5).
	MaxAttempts int
	// MaxRetryWait is the longest Retry-After honoured; a longer one fails
	// the call at once (default 30 s).
	MaxRetryWait time.Duration
	// GroupCacheTTL is how long user-group members are cached (default 5 min).
	GroupCacheTTL time.Duration
	Logger        *slog.Logger
	Metrics       *Metrics
	// Locale is the catalog of a channel's readers (commands.Deps.T): the
	// transport's own words (confirm dialogs, modals' Cancel) are said in
	// it. Default: English; SetLocale sets it once the deps exist.
	Locale func(channel string) i18n.T
}

// SlackChat implements chat.Chat over Slack's Web API: Block Kit rendering,
// per-channel pacing, coalesced updates and bounded retries.
type SlackChat struct {
	api      *slack.Client
	opts     ChatOptions
	log      *slog.Logger
	m        *Metrics
	pace     *pacer
	groupsMu sync.Mutex
	groups   map[string]groupEntry
	names    map[string]string // channel id → name (ChannelName)
	localeMu sync.RWMutex
}

type groupEntry struct {
	members []string
	fetched time.Time
}

var _ chat.Chat = (*SlackChat)(nil)

// NewSlackChat builds a SlackChat. It makes no network call.
func NewSlackChat(opts ChatOptions) (*SlackChat, error) {
	if !strings.HasPrefix(opts.BotToken, "xoxb-") {
		return nil, errors.New("bot: the Slack bot token must be an xoxb- token")
	}
	if opts.APIURL == "" {
		opts.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.PaceInterval == 0 {
		opts.PaceInterval = time.Second
	}
	if opts.PaceInterval < 0 {
		opts.PaceInterval = 0
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = 30 * time.Second
	}
	if opts.GroupCacheTTL <= 0 {
		opts.GroupCacheTTL = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &SlackChat{
		api:    slack.New(opts.BotToken, slack.OptionAPIURL(opts.APIURL), slack.OptionHTTPClient(opts.HTTPClient)),
		opts:   opts,
		log:    opts.Logger,
		m:      orNewMetrics(opts.Metrics),
		groups: map[string]groupEntry{},
	}
	c.pace = newPacer(opts.PaceInterval)
	return c, nil
}

// API is the underlying slack-go client (bot token).
func (c *SlackChat) API() *slack.Client { return c.api }

// retryWait says whether err is worth another attempt and after how long.
func retryWait(err error, backoff time.Duration) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		if rl.RetryAfter <= 0 {
			return time.Second, true
		}
		return rl.RetryAfter, true
	}
	jitter := time.Duration(rand.Int64N(int64(backoff)/4 + 1))
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 500 {
		return backoff + jitter, true
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return backoff + jitter, true
		}
	}
	return 0, false
}

// call runs one Web API call with a per-attempt timeout, retrying 429
// (after Retry-After) and 5xx (exponential backoff), bounded by
// MaxAttempts, MaxRetryWait and ctx.
func (c *SlackChat) call(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			c.m.APICalls.WithLabelValues(method, "ok").Inc()
			return nil
		}
		wait, retry := retryWait(err, backoff)
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			c.m.APICalls.WithLabelValues(method, "ratelimited").Inc()
		}
		if !retry || attempt >= c.opts.MaxAttempts || wait > c.opts.MaxRetryWait {
			c.m.APICalls.WithLabelValues(method, "error").Inc()
			c.m.Errors.WithLabelValues("slack_api").Inc()
			var se slack.SlackErrorResponse
			if errors.As(err, &se) && len(se.ResponseMetadata.Messages) > 0 {
				return fmt.Errorf("slack %s: %w (%s)", method, err, strings.Join(se.ResponseMetadata.Messages, "; "))
			}
			return fmt.Errorf("slack %s: %w", method, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			c.m.APICalls.WithLabelValues(method, "error").Inc()
			return fmt.Errorf("slack %s: %w (no time left to retry)", method, err)
		}
		c.m.APICalls.WithLabelValues(method, "retry").Inc()
		c.log.Warn("slack call failed, retrying", "method", method, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("slack %s: %w", method, ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, 8*time.Second)
	}
}

// SetLocale sets how the transport finds a channel's locale (see
// ChatOptions.Locale).
func (c *SlackChat) SetLocale(fn func(channel string) i18n.T) {
	c.localeMu.Lock()
	c.opts.Locale = fn
	c.localeMu.Unlock()
}

// T is the catalog of channel's readers ("" : the default locale).
func (c *SlackChat) T(channel string) i18n.T {
	if c == nil {
		return i18n.Default().In(i18n.English)
	}
	c.localeMu.RLock()
	fn := c.opts.Locale
	c.localeMu.RUnlock()
	if fn == nil {
		return i18n.Default().In(i18n.English)
	}
	return fn(channel)
}

func msgOptions(t i18n.T, m chat.Message, update bool) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(fallbackText(m), false)}
	blocks := RenderBlocksIn(t, m)
	if len(blocks) > 0 || update {
		// An empty set on update clears the previous blocks.
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	return opts
}

// Post posts m in channel (in thread threadTS when non-empty), paced per
// channel, and returns the message ts.
func (c *SlackChat) Post(ctx context.Context, channel, threadTS string, m chat.Message) (string, error) {
	if channel == "" {
		return "", errors.New("bot: post: empty channel")
	}
	opts := msgOptions(c.T(channel), m, false)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := c.pace.post(ctx, channel, func(ctx context.Context) error {
		return c.call(ctx, "chat.postMessage", func(ctx context.Context) error {
			_, t, err := c.api.PostMessageContext(ctx, channel, opts...)
			ts = t
			return err
		})
	})
	return ts, err
}

// Update edits a message in place. Updates of the same message queued
// behind the channel's pace are coalesced: only the latest content is sent,
// and every waiting caller gets that call's result.
func (c *SlackChat) Update(ctx context.Context, channel, ts string, m chat.Message) error {
	if channel == "" || ts == "" {
		return errors.New("bot: update: empty channel or ts")
	}
	return c.pace.update(ctx, channel, ts, m, func(ctx context.Context, m chat.Message) error {
		opts := msgOptions(c.T(channel), m, true)
		return c.call(ctx, "chat.update", func(ctx context.Context) error {
			_, _, _, err := c.api.UpdateMessageContext(ctx, channel, ts, opts...)
			return err
		})
	})
}

// UpdateBlocks replaces a message with Block Kit blocks as they are (the
// transport's own edits of a clicked message; see Reply.Consumed).
func (c *SlackChat) UpdateBlocks(ctx context.Context, channel, ts, text string, blocks []slack.Block) error {
	if channel == "" || ts == "" {
		return errors.New("bot: update: empty channel or ts")
	}
	return c.call(ctx, "chat.update", func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
}

// PostEphemeral shows m to one user in channel.
func (c *SlackChat) PostEphemeral(ctx context.Context, channel, user string, m chat.Message) error {
	if channel == "" || user == "" {
		return errors.New("bot: ephemeral: empty channel or user")
	}
	opts := msgOptions(c.T(channel), m, false)
	return c.call(ctx, "chat.postEphemeral", func(ctx context.Context) error {
		_, err := c.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
}

// Upload shares a file in channel (and thread) with Slack's external upload
// flow: files.getUploadURLExternal, POST to the upload URL,
// files.completeUploadExternal. Each step is retried on its own.
func (c *SlackChat) Upload(ctx context.Context, channel, threadTS, filename, title string, content []byte) error {
	if channel == "" || filename == "" {
		return errors.New("bot: upload: empty channel or filename")
	}
	if len(content) == 0 {
		return errors.New("bot: upload: empty file")
	}
	var u *slack.GetUploadURLExternalResponse
	err := c.call(ctx, "files.getUploadURLExternal", func(ctx context.Context) error {
		var err error
		u, err = c.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: filename, FileSize: len(content)})
		return err
	})
	if err != nil {
		return err
	}
	err = c.call(ctx, "files.upload", func(ctx context.Context) error {
		return c.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Reader: bytes.NewReader(content), Filename: filename})
	})
	if err != nil {
		return err
	}
	if title == "" {
		title = filename
	}
	return c.call(ctx, "files.completeUploadExternal", func(ctx context.Context) error {
		_, err := c.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
			Files: []slack.FileSummary{{ID: u.FileID, Title: title}}, Channel: channel, ThreadTimestamp: threadTS,
		})
		return err
	})
}

func slackErrCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// CreateChannel creates a public channel; chat.ErrNameTaken when the name
// exists.
func (c *SlackChat) CreateChannel(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", errors.New("bot: create channel: empty name")
	}
	var id string
	err := c.call(ctx, "conversations.create", func(ctx context.Context) error {
		ch, err := c.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name})
		if err == nil {
			id = ch.ID
		}
		return err
	})
	if slackErrCode(err) == "name_taken" {
		return "", chat.ErrNameTaken
	}
	return id, err
}

// Invite adds users to channel; users already in it (and the bot itself)
// are skipped.
func (c *SlackChat) Invite(ctx context.Context, channel string, users []string) error {
	seen := map[string]bool{}
	var list []string
	for _, u := range users {
		if u != "" && !seen[u] {
			seen[u] = true
			list = append(list, u)
		}
	}
	for len(list) > 0 {
		n := min(len(list), 1000)
		batch := list[:n]
		list = list[n:]
		err := c.invite(ctx, channel, batch)
		switch code := slackErrCode(err); {
		case err == nil:
		case (code == "already_in_channel" || code == "cant_invite_self") && len(batch) > 1:
			// Slack refuses the whole batch; invite one by one.
			for _, u := range batch {
				if err := c.invite(ctx, channel, []string{u}); err != nil {
					if code := slackErrCode(err); code != "already_in_channel" && code != "cant_invite_self" {
						return err
					}
				}
			}
		case code == "already_in_channel" || code == "cant_invite_self":
		default:
			return err
		}
	}
	return nil
}

func (c *SlackChat) invite(ctx context.Context, channel string, users []string) error {
	return c.call(ctx, "conversations.invite", func(ctx context.Context) error {
		_, err := c.api.InviteUsersToConversationContext(ctx, channel, users...)
		return err
	})
}

// OpenModal opens m for the user who clicked (triggerID, valid 3 s).
func (c *SlackChat) OpenModal(ctx context.Context, triggerID string, m chat.Modal) error {
	if triggerID == "" {
		return errors.New("bot: open modal: empty trigger id")
	}
	if len(m.PrivateMetadata) > maxPrivateMeta {
		return fmt.Errorf("bot: open modal: private metadata is %d bytes, Slack allows %d", len(m.PrivateMetadata), maxPrivateMeta)
	}
	view := RenderModalIn(c.T(""), m)
	return c.call(ctx, "views.open", func(ctx context.Context) error {
		_, err := c.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
}

// Permalink returns the URL of a message.
func (c *SlackChat) Permalink(ctx context.Context, channel, ts string) (string, error) {
	var link string
	err := c.call(ctx, "chat.getPermalink", func(ctx context.Context) error {
		var err error
		link, err = c.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: channel, Ts: ts})
		return err
	})
	return link, err
}

// ChannelName is a channel's name (conversations.info), cached for the
// process: a channel's locale setting may name it.
func (c *SlackChat) ChannelName(ctx context.Context, channelID string) (string, error) {
	c.groupsMu.Lock()
	name, ok := c.names[channelID]
	c.groupsMu.Unlock()
	if ok {
		return name, nil
	}
	err := c.call(ctx, "conversations.info", func(ctx context.Context) error {
		ch, err := c.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channelID})
		if err == nil {
			name = ch.Name
		}
		return err
	})
	if err != nil {
		return "", err
	}
	c.groupsMu.Lock()
	if c.names == nil {
		c.names = map[string]string{}
	}
	c.names[channelID] = name
	c.groupsMu.Unlock()
	return name, nil
}

// GroupMembers resolves a user group (S…) to its members, cached for
// GroupCacheTTL.
func (c *SlackChat) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	c.groupsMu.Lock()
	e, ok := c.groups[groupID]
	c.groupsMu.Unlock()
	if ok && time.Since(e.fetched) < c.opts.GroupCacheTTL {
		return append([]string(nil), e.members...), nil
	}
	var members []string
	err := c.call(ctx, "usergroups.users.list", func(ctx context.Context) error {
		var err error
		members, err = c.api.GetUserGroupMembersContext(ctx, groupID)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.groupsMu.Lock()
	c.groups[groupID] = groupEntry{members: append([]string(nil), members...), fetched: time.Now()}
	c.groupsMu.Unlock()
	return members, nil
}
