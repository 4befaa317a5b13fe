package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/internal/text"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// readEvents consumes one connection's events: it acks each envelope at
// once and queues it for a worker. view_submission is the exception: its
// ack carries the handler's validation errors, so it is answered by
// answerSubmission within SubmissionBudget.
func (b *Bot) readEvents(ctx context.Context, smc *socketmode.Client) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-smc.Events:
			b.onEvent(smc, ev)
		}
	}
}

func (b *Bot) ack(smc *socketmode.Client, envelopeID string, payload any, received time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := smc.AckCtx(ctx, envelopeID, payload); err != nil {
		b.m.Errors.WithLabelValues("ack").Inc()
		b.log.Error("slack ack failed", "envelope_id", envelopeID, "err", err)
		return
	}
	b.m.AckLatency.Observe(time.Since(received).Seconds())
}

func (b *Bot) onEvent(smc *socketmode.Client, ev socketmode.Event) {
	received := time.Now()
	switch ev.Type {
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		if ev.Request == nil {
			return
		}
		req := *ev.Request
		b.m.Envelopes.WithLabelValues(req.Type).Inc()
		w := &work{req: req, evType: ev.Type, data: ev.Data, received: received}
		if ic, ok := ev.Data.(slack.InteractionCallback); ok && ic.Type == slack.InteractionTypeViewSubmission {
			select {
			case b.subSem <- struct{}{}:
				b.qmu.Lock()
				closed := b.closed
				if !closed {
					b.inflight.Add(1)
				}
				b.qmu.Unlock()
				if closed {
					<-b.subSem
					b.ack(smc, req.EnvelopeID, nil, received)
					return
				}
				go b.answerSubmission(w, ic, func(payload any) { b.ack(smc, req.EnvelopeID, payload, received) })
			default:
				// Too many submissions at once: close the modal now and
				// handle it like any other work.
				b.ack(smc, req.EnvelopeID, nil, received)
				b.enqueue(w)
			}
			return
		}
		b.ack(smc, req.EnvelopeID, nil, received)
		b.enqueue(w)
	case socketmode.EventTypeErrorBadMessage:
		// An envelope slack-go could not parse (e.g. an event type it does
		// not know) still needs its ack, or Slack retries it.
		if bad, ok := ev.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
				Type       string `json:"type"`
			}
			if json.Unmarshal(bad.Message, &env) == nil && env.EnvelopeID != "" {
				b.ack(smc, env.EnvelopeID, nil, received)
			}
			b.m.Errors.WithLabelValues("bad_message").Inc()
			b.log.Warn("unparseable socket mode message acked and skipped", "type", env.Type, "err", bad.Cause)
		}
	case socketmode.EventTypeConnectionError:
		b.m.Errors.WithLabelValues("connection").Inc()
		b.log.Warn("socket mode connection error", "err", ev.Data)
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("socket mode: invalid app token")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		b.m.Errors.WithLabelValues("connection").Inc()
		b.log.Warn("socket mode I/O error", "type", ev.Type)
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		b.log.Debug("socket mode", "event", ev.Type)
	}
}

// firstDelivery records the dedupe key; a store failure lets the work
// through (handlers are idempotent) and is logged and counted.
func (b *Bot) firstDelivery(ctx context.Context, key string) bool {
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	first, err := b.dedupe.Dedupe(dctx, key, DedupeTTL)
	if err != nil {
		b.m.Errors.WithLabelValues("dedupe").Inc()
		b.log.Warn("dedupe unavailable; handling anyway", "key", key, "err", err)
		return true
	}
	if !first {
		b.m.Duplicates.Inc()
		b.log.Info("duplicate delivery skipped", "key", key)
	}
	return first
}

// dedupeKey is the event_id for Events API envelopes (retries carry new
// envelope ids), the envelope_id otherwise.
func dedupeKey(req socketmode.Request) string {
	if req.Type == socketmode.RequestTypeEventsAPI {
		var outer struct {
			EventID string `json:"event_id"`
		}
		if json.Unmarshal(req.Payload, &outer) == nil && outer.EventID != "" {
			return "slack:event:" + outer.EventID
		}
	}
	return "slack:envelope:" + req.EnvelopeID
}

func (b *Bot) process(w *work) {
	defer b.inflight.Done()
	defer func() {
		if r := recover(); r != nil {
			b.m.Errors.WithLabelValues("handler").Inc()
			b.log.Error("handler panicked", "envelope_id", w.req.EnvelopeID, "panic", fmt.Sprint(r))
		}
	}()
	if !b.firstDelivery(b.workCtx, dedupeKey(w.req)) {
		return
	}
	ctx, cancel := context.WithTimeout(b.workCtx, b.opts.HandlerTimeout)
	defer cancel()
	switch d := w.data.(type) {
	case slack.SlashCommand:
		b.handleCommand(ctx, d)
	case slack.InteractionCallback:
		switch d.Type {
		case slack.InteractionTypeBlockActions:
			b.handleClicks(ctx, d)
		case slack.InteractionTypeViewSubmission:
			// Reached only when the submission pool was full.
			if errs, err := b.opts.Handler.HandleSubmission(ctx, submissionOf(d)); err != nil || len(errs) > 0 {
				b.log.Warn("late submission result not shown (modal already closed)", "errors", errs, "err", err)
			}
		}
	default:
		if w.evType == socketmode.EventTypeEventsAPI {
			b.handleEvent(ctx, w.req)
		}
	}
}

var subcommand = regexp.MustCompile(`^[a-z][a-z0-9-]{0,23}$`)

// commandLabel is the metric label of a command: its first word when it
// looks like a subcommand, "other" otherwise (bounded cardinality).
func commandLabel(text string) string {
	f := strings.Fields(strings.ToLower(text))
	if len(f) == 0 {
		return "help"
	}
	if subcommand.MatchString(f[0]) {
		return f[0]
	}
	return "other"
}

func (b *Bot) handleCommand(ctx context.Context, sc slack.SlashCommand) {
	c := chat.Command{
		UserID: sc.UserID, UserName: sc.UserName, ChannelID: sc.ChannelID, TeamID: sc.TeamID,
		Text: strings.TrimSpace(sc.Text), TriggerID: sc.TriggerID,
	}
	start := time.Now()
	reply, err := b.opts.Handler.HandleCommand(ctx, c)
	b.m.CommandDuration.WithLabelValues(commandLabel(c.Text)).Observe(time.Since(start).Seconds())
	if err != nil {
		b.m.Errors.WithLabelValues("handler").Inc()
		ref := text.Ref()
		b.log.Error("command failed", "user", c.UserID, "channel", c.ChannelID, "command", commandLabel(c.Text), "ref", ref, "err", err)
		reply = b.failedReply(c.ChannelID, ref)
	}
	if reply == nil {
		return
	}
	b.reply(ctx, c.ChannelID, c.UserID, *reply)
}

func (b *Bot) reply(ctx context.Context, channel, user string, r chat.Reply) {
	var err error
	if r.Ephemeral {
		err = b.chat.PostEphemeral(ctx, channel, user, r.Message)
	} else {
		_, err = b.chat.Post(ctx, channel, "", r.Message)
	}
	if err != nil {
		b.m.Errors.WithLabelValues("reply").Inc()
		b.log.Error("reply failed", "channel", channel, "user", user, "ephemeral", r.Ephemeral, "err", err)
	}
}

func (b *Bot) handleClicks(ctx context.Context, ic slack.InteractionCallback) {
	channel := ic.Channel.ID
	if channel == "" {
		channel = ic.Container.ChannelID
	}
	for _, a := range ic.ActionCallback.BlockActions {
		c := chat.Click{
			UserID: ic.User.ID, ChannelID: channel, MessageTS: ic.Container.MessageTs,
			ThreadTS: ic.Container.ThreadTs, Action: a.ActionID, Value: a.Value, TriggerID: ic.TriggerID,
		}
		if c.MessageTS == "" {
			c.MessageTS = ic.Message.Timestamp
		}
		if ic.Container.Type == "view" && ic.View.Type == slack.VTHomeTab {
			c.Surface = chat.SurfaceHome // the App Home tab: the router answers there
		}
		reply, err := b.opts.Handler.HandleClick(ctx, c)
		if err != nil {
			b.m.Errors.WithLabelValues("handler").Inc()
			ref := text.Ref()
			b.log.Error("click failed", "user", c.UserID, "action", c.Action, "ref", ref, "err", err)
			reply = b.failedReply(channel, ref)
		}
		if reply != nil && reply.Consumed && !ic.Container.IsEphemeral && b.chat != nil {
			b.consume(ctx, channel, c.MessageTS, ic.Message.Msg, a.ActionID, c.UserID)
		}
		if reply != nil && channel != "" && (reply.Message.Text != "" || len(reply.Message.Blocks) > 0) {
			reply.Ephemeral = true
			b.reply(ctx, channel, c.UserID, *reply)
		}
	}
}

func submissionOf(ic slack.InteractionCallback) chat.Submission {
	s := chat.Submission{
		UserID: ic.User.ID, CallbackID: ic.View.CallbackID, PrivateMetadata: ic.View.PrivateMetadata,
		Values: map[string]string{},
	}
	if ic.View.State != nil {
		for blockID, actions := range ic.View.State.Values {
			for _, a := range actions {
				s.Values[blockID] = a.Value
			}
		}
	}
	return s
}

// answerSubmission runs the handler and acks with its validation errors
// ({"response_action":"errors",…}) when it answers within the budget; a
// slower handler gets an empty ack (the modal closes) and keeps running.
// ack answers Slack: the Socket Mode ack or the HTTP response (one path for
// both modes).
func (b *Bot) answerSubmission(w *work, ic slack.InteractionCallback, ack func(payload any)) {
	defer b.inflight.Done()
	defer func() { <-b.subSem }()
	budget, cancel := context.WithDeadline(b.workCtx, w.received.Add(b.opts.SubmissionBudget))
	defer cancel()
	if !b.firstDelivery(budget, dedupeKey(w.req)) {
		ack(nil)
		return
	}
	type result struct {
		errs map[string]string
		err  error
	}
	res := make(chan result, 1)
	sub := submissionOf(ic)
	hctx, hcancel := context.WithTimeout(b.workCtx, b.opts.HandlerTimeout)
	go func() {
		defer hcancel()
		defer func() {
			if r := recover(); r != nil {
				res <- result{err: fmt.Errorf("handler panicked: %v", r)}
			}
		}()
		errs, err := b.opts.Handler.HandleSubmission(hctx, sub)
		res <- result{errs, err}
	}()
	select {
	case r := <-res:
		errs := r.errs
		if r.err != nil {
			b.m.Errors.WithLabelValues("handler").Inc()
			ref := text.Ref()
			b.log.Error("submission failed", "user", sub.UserID, "callback_id", sub.CallbackID, "ref", ref, "err", r.err)
			if first := firstBlock(sub.Values); first != "" {
				errs = map[string]string{first: b.failedReply("", ref).Message.Text}
			}
		}
		if len(errs) > 0 {
			ack(slack.NewErrorsViewSubmissionResponse(errs))
			return
		}
		ack(nil)
	case <-budget.Done():
		ack(nil)
		b.log.Warn("submission handler slower than the ack budget; modal closed without validation", "callback_id", sub.CallbackID, "budget", b.opts.SubmissionBudget)
		// Wait for the handler so drain accounts for it.
		r := <-res
		if r.err != nil || len(r.errs) > 0 {
			b.log.Warn("late submission result not shown", "errors", r.errs, "err", r.err)
		}
	}
}

// consume takes the pressed button off the message it was on (keeping the
// message's other blocks and buttons) and says who pressed it: a one-shot
// action (a fix PR, a rollback) cannot be started twice from it.
func (b *Bot) consume(ctx context.Context, channel, ts string, msg slack.Msg, actionID, user string) {
	var kept []slack.Block
	pressed := ""
	for _, blk := range msg.Blocks.BlockSet {
		ab, ok := blk.(*slack.ActionBlock)
		if !ok || ab.Elements == nil {
			kept = append(kept, blk)
			continue
		}
		var els []slack.BlockElement
		for _, el := range ab.Elements.ElementSet {
			if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == actionID {
				if btn.Text != nil {
					pressed = btn.Text.Text
				}
				continue
			}
			els = append(els, el)
		}
		if len(els) > 0 {
			kept = append(kept, slack.NewActionBlock(ab.BlockID, els...))
		}
	}
	if pressed == "" {
		return // not a button of this message (already taken off)
	}
	note := slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, b.chat.T(channel).S("bot.pressed", "User", "<@"+user+">", "Button", pressed), false, false))
	kept = append(kept, note)
	if err := b.chat.UpdateBlocks(ctx, channel, ts, msg.Text, kept); err != nil {
		b.log.Warn("taking a pressed button off its message", "channel", channel, "ts", ts, "err", err)
	}
}

// failedReply is what a person reads when the handler itself failed: a
// fixed sentence and the reference of the log line, never the error.
// It is said in channel's locale ("": the default one).
func (b *Bot) failedReply(channel, ref string) *chat.Reply {
	return &chat.Reply{Ephemeral: true, Message: chat.Message{Text: b.chat.T(channel).S("bot.failed", "Ref", ref)}}
}

func firstBlock(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// innerEvent is the subset of Events API inner events nexo reads.
type innerEvent struct {
	Type      string `json:"type"`
	Subtype   string `json:"subtype"`
	User      string `json:"user"`
	BotID     string `json:"bot_id"`
	Channel   string `json:"channel"`
	ChannelID string `json:"channel_id"`
	TS        string `json:"ts"`
	EventTS   string `json:"event_ts"`
	Reaction  string `json:"reaction"`
	Text      string `json:"text"`
	Tab       string `json:"tab"`
	Item      struct {
		Channel string `json:"channel"`
		TS      string `json:"ts"`
		Message struct {
			TS   string `json:"ts"`
			Text string `json:"text"`
		} `json:"message"`
	} `json:"item"`
}

// eventOf maps an Events API payload to a chat.Event; ok is false for
// events nexo ignores (its own messages, edits, deletions).
func eventOf(payload json.RawMessage, botUser string) (chat.Event, bool) {
	var outer struct {
		Event json.RawMessage `json:"event"`
	}
	if json.Unmarshal(payload, &outer) != nil {
		return chat.Event{}, false
	}
	var in innerEvent
	if json.Unmarshal(outer.Event, &in) != nil || in.Type == "" {
		return chat.Event{}, false
	}
	if in.BotID != "" || (botUser != "" && in.User == botUser) {
		return chat.Event{}, false
	}
	if in.Type == "message" && in.Subtype != "" && in.Subtype != "thread_broadcast" && in.Subtype != "file_share" {
		return chat.Event{}, false
	}
	e := chat.Event{Type: in.Type, UserID: in.User, Reaction: in.Reaction, Text: in.Text, Tab: in.Tab}
	e.ChannelID = firstNonEmpty(in.Channel, in.ChannelID, in.Item.Channel)
	switch in.Type {
	case "reaction_added", "reaction_removed":
		e.TS = firstNonEmpty(in.Item.TS, in.Item.Message.TS)
	case "pin_added", "pin_removed":
		e.TS = firstNonEmpty(in.Item.Message.TS, in.Item.TS)
		e.Text = firstNonEmpty(in.Item.Message.Text, in.Text)
	default:
		e.TS = in.TS
	}
	e.Time = slackTime(firstNonEmpty(in.EventTS, in.TS))
	return e, true
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// slackTime parses a Slack ts ("1700000000.000100"); zero on failure.
func slackTime(ts string) time.Time {
	if ts == "" {
		return time.Time{}
	}
	f, err := strconv.ParseFloat(ts, 64)
	if err != nil {
		return time.Time{}
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}

func (b *Bot) handleEvent(ctx context.Context, req socketmode.Request) {
	e, ok := eventOf(req.Payload, b.botUser)
	if !ok {
		return
	}
	if err := b.opts.Handler.HandleEvent(ctx, e); err != nil {
		b.m.Errors.WithLabelValues("handler").Inc()
		b.log.Error("event failed", "type", e.Type, "channel", e.ChannelID, "err", err)
	}
}
