package commands_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

func TestCardPostsAndEditsTellTheListeners(t *testing.T) {
	cfg := &config.Config{}
	cfg.ApplyDefaults()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := &commands.Deps{Config: cfg, Store: st, Chat: chattest.New(0), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	commands.New(d)
	var mu sync.Mutex
	var told []string
	d.OnCardUpdate(func(channel, ts string) {
		mu.Lock()
		told = append(told, channel+"/"+ts)
		mu.Unlock()
	})
	ctx := context.Background()
	ts, err := commands.PostOnce(ctx, d, "wf-1", "card", "C1", "", chat.Message{Text: "card"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commands.PostOnce(ctx, d, "wf-1", "reply-x", "C1", ts, chat.Message{Text: "a reply"}); err != nil {
		t.Fatal(err)
	}
	d.Cards().Update("C1", ts, chat.Message{Text: "card, edited"})
	d.Cards().Flush()
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 2 || told[0] != "C1/"+ts || told[1] != "C1/"+ts {
		t.Fatalf("told %v, want the card's post and its edit", told)
	}
	// A new router on the same deps starts with no listeners.
	commands.New(d)
	told = nil
	mu.Unlock()
	d.Cards().Update("C1", ts, chat.Message{Text: "again"})
	d.Cards().Flush()
	mu.Lock()
	if len(told) != 0 {
		t.Fatalf("a listener of the old router was told: %v", told)
	}
}
