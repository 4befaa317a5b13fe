package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/internal/text"
	"github.com/nexo-org/nexo-bot/store"
)

// Refusal is a refusal for the user (bad input, policy, a state that
// does not allow the action): its Text is the sentence shown, and nothing
// was changed. It is the one way a scenario says no. Buttons, when set,
// offer what the user can do instead (Supersede the open change, say).
type Refusal struct {
	Text    string
	Buttons []chat.Button
}

func (e *Refusal) Error() string { return e.Text }

// Refusalf builds a Refusal.
func Refusalf(format string, args ...any) error {
	return &Refusal{Text: fmt.Sprintf(format, args...)}
}

// Fixed sentences for errors that are not refusals.
const (
	StoreDownText = "The state store is unavailable, so nothing was changed. Try again in a moment."
	TimeoutText   = "That took too long, so nexo stopped waiting. Nothing more will be done for this request; try again in a moment."
)

// InternalErrorText is the sentence for an unexpected error: never its
// raw text, a reference to the log line instead.
func InternalErrorText(ref string) string {
	return fmt.Sprintf("Something went wrong on nexo's side, and what was asked may not have been done. Reference `%s` (in nexo's log).", ref)
}

// ErrorReply is the one place an error becomes what the user reads:
// a Refusal its sentence, an unavailable store and a timeout their fixed
// sentences, anything else a fixed sentence with a reference id that is
// also in the log line. what names the request for the log.
func ErrorReply(ctx context.Context, log *slog.Logger, what string, err error) *chat.Reply {
	reply := Refuse("%s", ErrorText(ctx, log, what, err))
	if ref := (*Refusal)(nil); errors.As(err, &ref) && len(ref.Buttons) > 0 {
		reply.Message.Blocks = append(reply.Message.Blocks, chat.Block{Actions: ref.Buttons})
	}
	return reply
}

// ErrorText is ErrorReply's sentence (for modals and thread replies).
func ErrorText(ctx context.Context, log *slog.Logger, what string, err error) string {
	var ref *Refusal
	switch {
	case errors.As(err, &ref):
		return ref.Text
	case errors.Is(err, store.ErrUnavailable):
		log.Warn("state store unavailable", "request", what, "err", err)
		return StoreDownText
	case errors.Is(err, context.DeadlineExceeded):
		id := NewRef()
		log.Warn("request timed out", "request", what, "ref", id, "err", err)
		return TimeoutText + " Reference `" + id + "`."
	}
	id := NewRef()
	log.Error("request failed", "request", what, "ref", id, "err", err)
	return InternalErrorText(id)
}

// NewRef is a short reference id for a log line (see text.Ref).
func NewRef() string { return text.Ref() }

// Refuse is an ephemeral reply that changes nothing.
func Refuse(format string, args ...any) *chat.Reply {
	text := fmt.Sprintf(format, args...)
	return &chat.Reply{Ephemeral: true, Message: chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: ":no_entry_sign: " + text}}}}}
}

// Ephemeral is an ephemeral reply.
func Ephemeral(m chat.Message) *chat.Reply { return &chat.Reply{Ephemeral: true, Message: m} }

// InChannel is a reply everybody in the channel sees.
func InChannel(m chat.Message) *chat.Reply { return &chat.Reply{Message: m} }
