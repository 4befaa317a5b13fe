package views

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// Audit view limits.
const (
	// AuditDefaultLimit is how many entries `/nexo audit` shows by default.
	AuditDefaultLimit = 20
	// AuditMaxLimit caps --limit (an ephemeral must stay readable and
	// under Slack's 50-block limit).
	AuditMaxLimit = 40
)

// AuditSpec is `/nexo audit <service> [--limit N]`: the audit log of a
// service, newest first, shown only to the caller.
func AuditSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "audit",
		Args:     []string{"service"},
		Summary:  "views.audit.summary",
		Help:     "views.audit.help",
		HelpData: []any{"Default", AuditDefaultLimit, "Max", AuditMaxLimit},
		Flags:    []commands.Flag{{Name: "limit", Value: "N"}},
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, err := commands.ResolveService(d.Config, r.Args.Words[0])
			if err != nil {
				return nil, err
			}
			limit := AuditDefaultLimit
			if r.Args.Has("limit") {
				n, err := strconv.Atoi(r.Args.Flag("limit"))
				if err != nil || n < 1 {
					return nil, commands.Refuse("views.audit.limit_bad")
				}
				limit = min(n, AuditMaxLimit)
			}
			entries, err := d.Store.ListAudit(ctx, store.AuditFilter{Service: svc.Name, Limit: limit})
			if err != nil {
				return nil, err
			}
			return commands.Ephemeral(AuditMessage(d.T(r.ChannelID), svc.Name, entries, limit)), nil
		},
	}
}

// AuditMessage renders audit entries (already newest first) as one
// ephemeral message, for a reader; each time is Slack's date token. The
// entries' details stay as recorded, in English.
func AuditMessage(t i18n.T, service string, entries []store.AuditEntry, limit int) chat.Message {
	if len(entries) > limit {
		entries = entries[:limit]
	}
	title := t.S("views.audit.title", "Service", service)
	if len(entries) == 0 {
		return chat.Message{Text: t.S("views.audit.empty_fallback", "Service", service), Blocks: []chat.Block{{Header: title}, {Section: &chat.Section{Text: t.S("views.audit.empty")}}}}
	}
	var b strings.Builder
	for _, e := range entries {
		icon := ":white_check_mark:"
		switch e.Outcome {
		case "refused":
			icon = ":no_entry_sign:"
		case "error":
			icon = ":x:"
		}
		who := "nexo"
		if e.Actor != "" && e.Actor != "nexo" {
			who = chat.Mention(e.Actor)
		}
		fmt.Fprintf(&b, "%s %s %s *%s*", icon, t.When(e.Time), who, e.Action)
		if e.Env != "" {
			fmt.Fprintf(&b, " %s", e.Env)
		}
		if e.Target != "" {
			fmt.Fprintf(&b, " `%s`", commands.Clip(e.Target, 60))
		}
		if e.Detail != "" {
			fmt.Fprintf(&b, " — %s", commands.Clip(auditLine(e.Detail), 160))
		}
		b.WriteByte('\n')
	}
	text := b.String()
	// Keep within a section's 3,000 characters.
	blocks := []chat.Block{{Header: title}}
	for len(text) > 0 {
		chunk := text
		if len(chunk) > 2900 {
			cut := strings.LastIndexByte(chunk[:2900], '\n')
			if cut <= 0 {
				cut = 2900
			}
			chunk = chunk[:cut+1]
		}
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: chunk}})
		text = text[len(chunk):]
	}
	blocks = append(blocks, chat.Block{Context: []string{t.N("views.audit.footer", len(entries), "Limit", limit)}})
	return chat.Message{Text: t.N("views.audit.fallback", len(entries), "Service", service), Blocks: blocks}
}

func auditLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
