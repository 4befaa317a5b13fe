package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/internal/text"
	"github.com/nexo-org/nexo-bot/store"
)

// Refusal is a refusal for the user (bad input, policy, a state that
// does not allow the action): Msg is the catalog sentence shown, rendered
// in the reader's locale by the router, and nothing was changed. It is the
// one way a scenario says no. Buttons, when set, offer what the user can
// do instead (Supersede the open change, say).
type Refusal struct {
	Msg     i18n.Msg
	Buttons []chat.Button
	// text is a sentence made before the catalog existed (Refusalf).
	text string
}

// Error is the refusal in English (logs, audit details).
func (e *Refusal) Error() string { return e.In(English()) }

// In is the refusal's sentence for a reader.
func (e *Refusal) In(t i18n.T) string {
	if e.text != "" {
		return e.text
	}
	return t.Msg(e.Msg)
}

// English is the catalog in English: for logs and audit details, which
// stay in one language whatever the channel speaks.
func English() i18n.T { return i18n.Default().In(i18n.English) }

// Refuse is a refusal with the catalog's message id and its data as
// key/value pairs (see i18n.T.S).
func Refuse(id string, kv ...any) error { return &Refusal{Msg: i18n.M(id, kv...)} }

// Refusalf builds a Refusal from a sentence written in the code.
//
// Deprecated: every sentence comes from the catalog; use Refuse.
func Refusalf(format string, args ...any) error {
	return &Refusal{text: fmt.Sprintf(format, args...)}
}

// ErrorReply is the one place an error becomes what the user reads:
// a Refusal its sentence, an unavailable store and a timeout their fixed
// sentences, anything else a fixed sentence with a reference id that is
// also in the log line. what names the request for the log.
func ErrorReply(ctx context.Context, t i18n.T, log *slog.Logger, what string, err error) *chat.Reply {
	reply := refusalReply(ErrorText(ctx, t, log, what, err))
	if ref := (*Refusal)(nil); errors.As(err, &ref) && len(ref.Buttons) > 0 {
		reply.Message.Blocks = append(reply.Message.Blocks, chat.Block{Actions: ref.Buttons})
	}
	return reply
}

// ErrorText is ErrorReply's sentence (for modals and thread replies).
func ErrorText(ctx context.Context, t i18n.T, log *slog.Logger, what string, err error) string {
	var ref *Refusal
	switch {
	case errors.As(err, &ref):
		return ref.In(t)
	case errors.Is(err, store.ErrUnavailable):
		log.Warn("state store unavailable", "request", what, "err", err)
		return t.S("core.store_down")
	case errors.Is(err, context.DeadlineExceeded):
		id := NewRef()
		log.Warn("request timed out", "request", what, "ref", id, "err", err)
		return t.S("core.timeout", "Ref", id)
	}
	id := NewRef()
	log.Error("request failed", "request", what, "ref", id, "err", err)
	return t.S("core.internal_error", "Ref", id)
}

// NewRef is a short reference id for a log line (see text.Ref).
func NewRef() string { return text.Ref() }

// refusalReply is an ephemeral reply that changes nothing.
func refusalReply(text string) *chat.Reply {
	return &chat.Reply{Ephemeral: true, Message: chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: ":no_entry_sign: " + text}}}}}
}

// Ephemeral is an ephemeral reply.
func Ephemeral(m chat.Message) *chat.Reply { return &chat.Reply{Ephemeral: true, Message: m} }

// InChannel is a reply everybody in the channel sees.
func InChannel(m chat.Message) *chat.Reply { return &chat.Reply{Message: m} }
