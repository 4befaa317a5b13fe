// Package chat is the transport-neutral reply model of nexo: messages made of
// blocks, buttons and modals, and the Chat interface the scenarios use to post
// and edit them. bot/ renders it as Slack Block Kit; the sandbox console
// renders it as HTML. Nothing here knows Slack.
package chat

import (
	"context"
	"strings"
)

// Message is what a command or workflow posts.
type Message struct {
	// Text is the plain-text fallback (notifications, screen readers).
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is one element of a message. Exactly one field is set.
type Block struct {
	Header  string   `json:"header,omitempty"`
	Section *Section `json:"section,omitempty"`
	Context []string `json:"context,omitempty"` // small grey mrkdwn lines
	Divider bool     `json:"divider,omitempty"`
	Actions []Button `json:"actions,omitempty"`
	Image   *Image   `json:"image,omitempty"`
	// Code is preformatted text (rendered as a ``` block).
	Code string `json:"code,omitempty"`
}

// Section is a mrkdwn paragraph with optional two-column fields.
type Section struct {
	Text   string   `json:"text,omitempty"`
	Fields []string `json:"fields,omitempty"`
}

// Image is a picture by URL.
type Image struct {
	URL string `json:"url"`
	Alt string `json:"alt"`
}

// Button styles.
const (
	StylePrimary = "primary"
	StyleDanger  = "danger"
)

// Button is an interactive button. Action and Value come back in a Click;
// they are never trusted for authorization.
type Button struct {
	Text   string `json:"text"`
	Action string `json:"action"` // e.g. "promote.approve"
	Value  string `json:"value"`  // e.g. the workflow id
	Style  string `json:"style,omitempty"`
	// Confirm, when set, asks "are you sure?" with this text first.
	Confirm string `json:"confirm,omitempty"`
	// URL makes it a link button.
	URL string `json:"url,omitempty"`
}

// Modal is a form opened by a button (e.g. a reject reason).
type Modal struct {
	// CallbackID routes the submission (e.g. "promote.reject").
	CallbackID string `json:"callback_id"`
	// PrivateMetadata comes back with the submission (e.g. a workflow id).
	PrivateMetadata string       `json:"private_metadata"`
	Title           string       `json:"title"`
	Submit          string       `json:"submit"`
	Inputs          []ModalInput `json:"inputs"`
}

// ModalInput is one text input of a modal.
type ModalInput struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Multiline bool   `json:"multiline,omitempty"`
	Optional  bool   `json:"optional,omitempty"`
}

// Chat is how scenarios talk to people. Implementations: bot/ (Slack Web
// API) and the sandbox console. Every call must honour ctx's deadline.
type Chat interface {
	// Post posts into channel, in thread threadTS when non-empty, and
	// returns the new message's ts.
	Post(ctx context.Context, channel, threadTS string, m Message) (ts string, err error)
	// Update edits a message in place.
	Update(ctx context.Context, channel, ts string, m Message) error
	// PostEphemeral shows a message to one user only.
	PostEphemeral(ctx context.Context, channel, user string, m Message) error
	// Upload attaches a file to a channel (and thread).
	Upload(ctx context.Context, channel, threadTS, filename, title string, content []byte) error
	// CreateChannel creates a public channel and returns its id; it returns
	// ErrNameTaken when the name exists.
	CreateChannel(ctx context.Context, name string) (id string, err error)
	// Invite adds users to a channel (already-members are ignored).
	Invite(ctx context.Context, channel string, users []string) error
	// OpenModal opens a modal for the user who clicked (triggerID).
	OpenModal(ctx context.Context, triggerID string, m Modal) error
	// Permalink returns the URL of a message.
	Permalink(ctx context.Context, channel, ts string) (string, error)
	// GroupMembers resolves a user group id (S…) to its user ids.
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
	// ChannelName is a channel's name, without "#" (for per-channel
	// settings written by name).
	ChannelName(ctx context.Context, channelID string) (string, error)
}

// Home is a Chat that also shows each user an App Home tab (Slack's
// views.publish): the release board publishes through it. A Chat without
// one has no board.
type Home interface {
	// PublishHome replaces user's Home tab with m's blocks.
	PublishHome(ctx context.Context, user string, m Message) error
}

// ErrNameTaken is returned by CreateChannel when the name is taken.
var ErrNameTaken = errorString("chat: channel name taken")

type errorString string

func (e errorString) Error() string { return string(e) }

// Mention formats a user id as a mention.
func Mention(user string) string {
	if user == "" || strings.HasPrefix(user, "<") {
		return user
	}
	return "<@" + user + ">"
}

// PlainText flattens a message to text: its fallback, then each block. Used
// by tests and by the terminal.
func (m Message) PlainText() string {
	var b strings.Builder
	b.WriteString(m.Text)
	for _, bl := range m.Blocks {
		b.WriteString("\n")
		switch {
		case bl.Header != "":
			b.WriteString(bl.Header)
		case bl.Section != nil:
			b.WriteString(bl.Section.Text)
			for _, f := range bl.Section.Fields {
				b.WriteString("\n" + f)
			}
		case len(bl.Context) > 0:
			b.WriteString(strings.Join(bl.Context, " · "))
		case bl.Divider:
			b.WriteString("---")
		case len(bl.Actions) > 0:
			for i, btn := range bl.Actions {
				if i > 0 {
					b.WriteString(" ")
				}
				b.WriteString("[" + btn.Text + "]")
			}
		case bl.Image != nil:
			b.WriteString("(image: " + bl.Image.Alt + ")")
		case bl.Code != "":
			b.WriteString(bl.Code)
		}
	}
	return b.String()
}
