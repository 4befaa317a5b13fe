package board

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
)

// Slack's Home tab limits: 100 blocks per view, 3000 characters of
// section text, 2000 per field, 10 fields per section, 250 kB per view.
const (
	MaxBlocks = 100
	maxFields = 10
	maxText   = 3000
	// fieldText is where an environment's field is cut (Slack allows
	// 2000), and pageFields how many fields a page holds: together they
	// keep a page well under 250 kB whatever the rows say, and a page's
	// services are known before anything is read (see PageServices).
	fieldText  = 1000
	pageFields = 200
	// maxWaiting is how many changes waiting for the viewer are listed.
	maxWaiting = 10
)

// Board is what the board shows, read once per publishing round.
type Board struct {
	Now      time.Time
	Branch   string // the GitOps branch
	Apps     string // the Argo CD app name pattern
	Services []Service
	// Open are the open changes (for the waiting-for-you section).
	Open []Change
}

// Service is one service's row per environment.
type Service struct {
	Name string
	Envs []Env
}

// Env is one environment of a service.
type Env struct {
	Name     string
	Tag      string
	GitOK    bool // false: the tag could not be read (logged)
	Sync     string
	Health   string
	ArgoOK   bool      // false: Argo CD did not answer (logged)
	Since    time.Time // last deploy (Argo CD's history)
	Change   *Change   // the open change of this service and environment
	Frozen   bool
	Reason   string
	Until    time.Time
	NoGitOps bool
	NoArgoCD bool
}

// Change is an open change as the board shows it.
type Change struct {
	ID          string
	Service     string
	Env         string
	What        i18n.Msg
	State       string
	Requester   string
	URL         string // its thread, "" when unknown
	GateOpensAt time.Time
	// Group and ExtraGroup approve it; Open says approvals are taken now
	// and not all are in; Approved lists who approved.
	Group, ExtraGroup string
	Open              bool
	Approved          []string
}

// Viewer is who the Home tab is for.
type Viewer struct {
	User string
	// Approver reports whether the viewer is in a group (the env's
	// approver group of a change).
	Approver func(group string) bool
	Page     int    // 1-based
	Notice   string // the answer to the viewer's last Home click
}

// Pages is how many pages the services take for this viewer.
func Pages(t i18n.T, b Board, v Viewer) int {
	return len(pageRanges(t, b, v))
}

// View builds the viewer's Home tab: page v.Page of the services (the
// last page when beyond), within Slack's limits.
func View(t i18n.T, b Board, v Viewer) chat.Message {
	ranges := pageRanges(t, b, v)
	page := min(max(v.Page, 1), len(ranges))
	blocks := top(t, b, v, page, len(ranges))
	if len(b.Services) == 0 {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: t.S("board.empty")}})
	}
	r := ranges[page-1]
	for _, s := range b.Services[r[0]:r[1]] {
		blocks = append(blocks, serviceBlocks(t, b.Now, s)...)
	}
	blocks = append(blocks, bottom(t, b, page, len(ranges))...)
	return chat.Message{Text: t.S("board.fallback"), Blocks: blocks}
}

// top is the header, the notice and the waiting-for-you section.
func top(t i18n.T, b Board, v Viewer, page, pages int) []chat.Block {
	out := []chat.Block{
		{Header: t.S("board.title")},
		{Context: []string{t.S("board.updated", "When", t.When(b.Now), "Page", page, "Pages", pages)}},
	}
	if v.Notice != "" {
		out = append(out, chat.Block{Section: &chat.Section{Text: commands.Clip(v.Notice, maxText)}})
	}
	out = append(out, chat.Block{Section: &chat.Section{Text: t.S("board.waiting.title")}})
	var mine []Change
	for _, c := range b.Open {
		if c.Open && v.Approver != nil && (v.Approver(c.Group) || (c.ExtraGroup != "" && v.Approver(c.ExtraGroup))) {
			mine = append(mine, c)
		}
	}
	if len(mine) == 0 {
		out = append(out, chat.Block{Context: []string{t.S("board.waiting.none")}})
	}
	for i, c := range mine {
		if i == maxWaiting {
			out = append(out, chat.Block{Context: []string{t.N("board.waiting.more", len(mine)-maxWaiting)}})
			break
		}
		out = append(out, chat.Block{Section: &chat.Section{Text: commands.Clip(waitingLine(t, c), maxText)}})
		if contains(c.Approved, v.User) {
			out = append(out, chat.Block{Context: []string{t.S("board.waiting.you_approved")}})
			continue
		}
		out = append(out, chat.Block{Actions: []chat.Button{{Text: t.S("board.waiting.approve"), Action: approveAct, Value: c.ID, Style: chat.StylePrimary}}})
	}
	return append(out, chat.Block{Divider: true})
}

func waitingLine(t i18n.T, c Change) string {
	return t.S("board.waiting.item", "What", t.Msg(c.What), "Requester", chat.Mention(c.Requester), "State", stateName(t, c.State), "Link", link(t, c))
}

// bottom is the page buttons and the sources.
func bottom(t i18n.T, b Board, page, pages int) []chat.Block {
	var out []chat.Block
	if pages > 1 {
		var nav []chat.Button
		if page > 1 {
			nav = append(nav, chat.Button{Text: t.S("board.page.prev"), Action: actionPage + ".prev", Value: strconv.Itoa(page - 1)})
		}
		if page < pages {
			nav = append(nav, chat.Button{Text: t.S("board.page.next"), Action: actionPage + ".next", Value: strconv.Itoa(page + 1)})
		}
		out = append(out, chat.Block{Actions: nav})
	}
	return append(out, chat.Block{Context: []string{t.S("board.context", "Branch", b.Branch, "Apps", b.Apps)}})
}

// reserved is the most blocks top and bottom take.
func reserved(t i18n.T, b Board, v Viewer) int {
	return len(top(t, b, v, 1, 2)) + 2
}

// pageRanges is each page's services as [from, to) indices of b.Services.
func pageRanges(t i18n.T, b Board, v Viewer) [][2]int {
	budget := MaxBlocks - reserved(t, b, v)
	var out [][2]int
	from, blocks, fields := 0, 0, 0
	for i, s := range b.Services {
		n := max(1, (len(s.Envs)+maxFields-1)/maxFields)
		if i > from && (blocks+n > budget || fields+len(s.Envs) > pageFields) {
			out = append(out, [2]int{from, i})
			from, blocks, fields = i, 0, 0
		}
		blocks += n
		fields += len(s.Envs)
	}
	return append(out, [2]int{from, len(b.Services)})
}

// PageServices names the services on the page v sees (its page, or the
// last), for reading only those.
func PageServices(t i18n.T, b Board, v Viewer) []string {
	if len(b.Services) == 0 {
		return nil
	}
	ranges := pageRanges(t, b, v)
	r := ranges[min(max(v.Page, 1), len(ranges))-1]
	var out []string
	for _, s := range b.Services[r[0]:r[1]] {
		out = append(out, s.Name)
	}
	return out
}

// serviceBlocks is a service's title and one field per environment (10
// per section, Slack's limit).
func serviceBlocks(t i18n.T, now time.Time, s Service) []chat.Block {
	var out []chat.Block
	for i := 0; i < len(s.Envs) || i == 0; i += maxFields {
		sec := &chat.Section{}
		if i == 0 {
			sec.Text = t.S("board.service", "Service", s.Name)
		}
		for _, e := range s.Envs[i:min(i+maxFields, len(s.Envs))] {
			sec.Fields = append(sec.Fields, commands.Clip(envField(t, now, e), fieldText))
		}
		out = append(out, chat.Block{Section: sec})
	}
	return out
}

// envField is one environment: tag, Argo CD, since when, the open change,
// its gate, a freeze.
func envField(t i18n.T, now time.Time, e Env) string {
	var lines []string
	switch {
	case e.NoGitOps:
		lines = append(lines, t.S("board.env.no_gitops", "Env", e.Name))
	case !e.GitOK:
		lines = append(lines, t.S("board.env.no_tag", "Env", e.Name))
	default:
		lines = append(lines, t.S("board.env.tag", "Env", e.Name, "Tag", e.Tag))
	}
	switch {
	case e.NoArgoCD:
		lines = append(lines, t.S("board.env.no_argocd"))
	case !e.ArgoOK:
		lines = append(lines, t.S("board.env.argo_down"))
	default:
		state := t.S("board.env.state", "Emoji", commands.HealthEmoji(e.Health), "Health", e.Health, "Sync", e.Sync)
		if !e.Since.IsZero() {
			state += " " + t.S("board.env.since", "When", t.When(e.Since))
		}
		lines = append(lines, state)
	}
	if c := e.Change; c != nil {
		lines = append(lines, t.S("board.env.change", "What", t.Msg(c.What), "State", stateName(t, c.State), "Link", link(t, *c)))
		if !c.GateOpensAt.IsZero() && c.GateOpensAt.After(now) {
			lines = append(lines, t.S("board.env.gate", "When", t.When(c.GateOpensAt)))
		}
	}
	if e.Frozen {
		reason := e.Reason
		if reason == "" {
			reason = "—"
		}
		if e.Until.IsZero() {
			lines = append(lines, t.S("board.env.frozen", "Reason", reason))
		} else {
			lines = append(lines, t.S("board.env.frozen_until", "Until", t.When(e.Until), "Reason", reason))
		}
	}
	return strings.Join(lines, "\n")
}

// link is the change's thread as a Slack link, or its id.
func link(t i18n.T, c Change) string {
	if c.URL != "" {
		return fmt.Sprintf("<%s|%s>", c.URL, t.S("board.thread"))
	}
	return "`" + c.ID + "`"
}

// stateName is a workflow state in the viewer's words (the state itself
// for one the catalog does not name).
func stateName(t i18n.T, state string) string {
	if s := t.S("board.state." + state); !strings.HasPrefix(s, "⟦") {
		return s
	}
	return state
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
