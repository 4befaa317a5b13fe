package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/store"
)

// postedCollection remembers what a workflow already posted (its card's ts,
// each keyed thread reply), outside the workflow record: a click that
// changes the record while a step posts makes the engine re-run the step
// with the stored record, and the re-run must not post again.
const postedCollection = "posted"

type postedDoc struct {
	TS string `json:"ts"`
}

// PostOnce posts m unless workflow id already posted under key, and returns
// the message's ts either way.
func PostOnce(ctx context.Context, d *Deps, id, key, channel, threadTS string, m chat.Message) (string, error) {
	var p postedDoc
	err := d.Store.GetDoc(ctx, postedCollection, id+"/"+key, &p)
	if err == nil {
		return p.TS, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	ts, err := d.Chat.Post(ctx, channel, threadTS, m)
	if err != nil {
		return "", err
	}
	if err := d.Store.PutDoc(ctx, postedCollection, id+"/"+key, postedDoc{TS: ts}); err != nil {
		d.Log.Warn("remembering a post", "workflow", id, "key", key, "err", err)
	}
	if key == "card" {
		d.TellCardUpdate(channel, ts) // a new workflow's card
	}
	return ts, nil
}

// TimerPostKey is the PostOnce key of what a timer posts: a timer that is
// handled twice (its claim expired while the handler ran, or the replica
// died before completing it) posts once; the same timer rescheduled for a
// later time posts again.
func TimerPostKey(t store.Timer) string {
	return "timer-" + t.ID + "@" + strconv.FormatInt(t.Due.UnixNano(), 10)
}

// ThreadReply posts a reply in a workflow's thread once per key, however
// often the step that posts it runs.
func ThreadReply(ctx context.Context, d *Deps, wf *store.Workflow, key string, m chat.Message) {
	if _, err := PostOnce(ctx, d, wf.ID, "reply-"+key, wf.Channel, wf.ThreadTS, m); err != nil {
		d.Log.Warn("thread reply", "workflow", wf.ID, "err", err)
	}
}

// ThreadLink is a link to a workflow's thread, or its id.
func ThreadLink(ctx context.Context, d *Deps, wf *store.Workflow) string {
	if wf.CardTS != "" && d.Chat != nil {
		if url, err := d.Chat.Permalink(ctx, wf.Channel, wf.CardTS); err == nil {
			return fmt.Sprintf("<%s|%s>", url, wf.ID)
		}
	}
	return "`" + wf.ID + "`"
}
