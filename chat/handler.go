package chat

import (
	"context"
	"time"
)

// Command is a slash command invocation ("/nexo promote nexo-be staging").
type Command struct {
	UserID    string
	UserName  string
	ChannelID string
	TeamID    string
	Text      string // everything after the command word
	TriggerID string
}

// Click is a button press (Slack block_actions).
type Click struct {
	UserID    string
	ChannelID string
	MessageTS string
	ThreadTS  string
	Action    string // Button.Action
	Value     string // Button.Value
	TriggerID string
	// Surface is SurfaceHome for a button of the App Home tab (such a
	// click has no channel and no message), "" for a message's button.
	Surface string
}

// SurfaceHome is the Click.Surface of the App Home tab's buttons.
const SurfaceHome = "home"

// Submission is a modal submission (Slack view_submission).
type Submission struct {
	UserID          string
	CallbackID      string
	PrivateMetadata string
	Values          map[string]string // ModalInput.ID → text
}

// Event is a channel event nexo listens to (Slack Events API).
type Event struct {
	Type      string // "pin_added", "reaction_added", "message", "member_joined_channel"
	UserID    string
	ChannelID string
	TS        string // the message concerned
	Reaction  string // for reaction_added, without colons
	Text      string
	Time      time.Time
	// Tab is the tab of an "app_home_opened" event ("home", "messages").
	Tab string
}

// Reply is the immediate answer to a command.
type Reply struct {
	// Ephemeral replies are seen by the invoking user only.
	Ephemeral bool
	Message   Message
	// Consumed, on a click's reply, says the button's action has started:
	// the transport takes that button off its message (and notes who
	// pressed it), so nobody starts it twice. An empty Message posts nothing.
	Consumed bool
}

// Handler is what the transport calls. Implemented by commands.Router.
type Handler interface {
	HandleCommand(ctx context.Context, c Command) (*Reply, error)
	// HandleClick may answer the clicking user with an ephemeral reply.
	HandleClick(ctx context.Context, c Click) (*Reply, error)
	// HandleSubmission returns per-input validation errors (shown in the
	// modal) or nil to close it.
	HandleSubmission(ctx context.Context, s Submission) (map[string]string, error)
	HandleEvent(ctx context.Context, e Event) error
}
