package bot

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

// Slack Block Kit limits (https://api.slack.com/reference/block-kit).
const (
	maxBlocks         = 50
	maxModalBlocks    = 100
	maxSectionText    = 3000
	maxFields         = 10
	maxFieldText      = 2000
	maxHeaderText     = 150
	maxContextItems   = 10
	maxActionElements = 25
	maxButtonText     = 75
	maxButtonValue    = 2000
	maxActionID       = 255
	maxURL            = 3000
	maxAltText        = 2000
	maxMessageText    = 40000
	maxModalTitle     = 24
	maxPrivateMeta    = 3000
	maxConfirmText    = 300
)

// truncate cuts s to at most n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// chunks splits s into pieces of at most n runes, preferring line breaks.
func chunks(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > n {
		cut := n
		for i := n; i > n/2; i-- {
			if r[i-1] == '\n' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		r = r[cut:]
	}
	if len(r) > 0 || len(out) == 0 {
		out = append(out, string(r))
	}
	return out
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// RenderBlocks renders a transport-neutral message as Slack Block Kit,
// within Slack's limits: long section text and code are split over several
// sections (3000 characters each), more than 10 fields continue in another
// section, over-long texts are cut with "…", and a message of more than 50
// blocks keeps the first 49 and says how many were left out.
func RenderBlocks(m chat.Message) []slack.Block {
	return RenderBlocksIn(i18n.Default().In(i18n.English), m)
}

// RenderBlocksIn is RenderBlocks with the transport's own words (the
// confirm dialog, the note on left-out blocks) in t's locale.
func RenderBlocksIn(t i18n.T, m chat.Message) []slack.Block {
	return renderWithin(t, m, maxBlocks)
}

// renderWithin renders m's blocks, at most max of them: a longer message
// keeps the first max-1 and says how many were left out.
func renderWithin(t i18n.T, m chat.Message, max int) []slack.Block {
	var out []slack.Block
	for _, b := range m.Blocks {
		out = append(out, renderBlock(t, b)...)
	}
	if len(out) > max {
		dropped := len(out) - (max - 1)
		out = append(out[:max-1:max-1],
			slack.NewContextBlock("", mrkdwn(t.N("bot.blocks_left_out", dropped, "Max", max))))
	}
	return out
}

func renderBlock(t i18n.T, b chat.Block) []slack.Block {
	switch {
	case b.Header != "":
		return []slack.Block{slack.NewHeaderBlock(plain(truncate(b.Header, maxHeaderText)))}
	case b.Section != nil:
		return renderSection(b.Section)
	case len(b.Context) > 0:
		var els []slack.MixedElement
		for i, c := range b.Context {
			if c == "" {
				continue
			}
			if i == maxContextItems-1 && len(b.Context) > maxContextItems {
				c = strings.Join(b.Context[i:], " · ")
			}
			els = append(els, mrkdwn(truncate(c, maxSectionText)))
			if len(els) == maxContextItems {
				break
			}
		}
		if len(els) == 0 {
			return nil
		}
		return []slack.Block{slack.NewContextBlock("", els...)}
	case b.Divider:
		return []slack.Block{slack.NewDividerBlock()}
	case len(b.Actions) > 0:
		return renderActions(t, b.Actions)
	case b.Image != nil:
		if b.Image.URL == "" {
			return nil
		}
		alt := b.Image.Alt
		if alt == "" {
			alt = "image"
		}
		return []slack.Block{slack.NewImageBlock(truncate(b.Image.URL, maxURL), truncate(alt, maxAltText), "", nil)}
	case b.Code != "":
		code := strings.ReplaceAll(b.Code, "```", "ˋˋˋ")
		var out []slack.Block
		for _, c := range chunks(code, maxSectionText-8) {
			out = append(out, slack.NewSectionBlock(mrkdwn("```\n"+c+"\n```"), nil, nil))
		}
		return out
	}
	return nil
}

func renderSection(s *chat.Section) []slack.Block {
	var out []slack.Block
	texts := []string{}
	if s.Text != "" {
		texts = chunks(s.Text, maxSectionText)
	}
	var fields []*slack.TextBlockObject
	for _, f := range s.Fields {
		if f != "" {
			fields = append(fields, mrkdwn(truncate(f, maxFieldText)))
		}
	}
	for i, t := range texts {
		var fs []*slack.TextBlockObject
		if i == len(texts)-1 && len(fields) > 0 {
			n := min(len(fields), maxFields)
			fs, fields = fields[:n], fields[n:]
		}
		out = append(out, slack.NewSectionBlock(mrkdwn(t), fs, nil))
	}
	for len(fields) > 0 {
		n := min(len(fields), maxFields)
		out = append(out, slack.NewSectionBlock(nil, fields[:n], nil))
		fields = fields[n:]
	}
	return out
}

func renderActions(t i18n.T, buttons []chat.Button) []slack.Block {
	var els []slack.BlockElement
	seen := map[string]bool{}
	for i, btn := range buttons {
		if len(els) == maxActionElements {
			break
		}
		actionID := truncate(btn.Action, maxActionID)
		if actionID == "" || seen[actionID] {
			// Slack wants action ids unique within a block.
			actionID = fmt.Sprintf("%s#%d", actionID, i)
		}
		seen[actionID] = true
		text := btn.Text
		if text == "" {
			text = btn.Action
		}
		e := slack.NewButtonBlockElement(actionID, truncate(btn.Value, maxButtonValue), plain(truncate(text, maxButtonText)))
		switch btn.Style {
		case chat.StylePrimary:
			e = e.WithStyle(slack.StylePrimary)
		case chat.StyleDanger:
			e = e.WithStyle(slack.StyleDanger)
		}
		if btn.URL != "" {
			e = e.WithURL(truncate(btn.URL, maxURL))
		}
		if btn.Confirm != "" {
			c := slack.NewConfirmationBlockObject(plain(t.S("bot.confirm.title")), mrkdwn(truncate(btn.Confirm, maxConfirmText)), plain(t.S("bot.confirm.yes")), plain(t.S("bot.confirm.no")))
			if btn.Style == chat.StyleDanger {
				c = c.WithStyle(slack.StyleDanger)
			}
			e = e.WithConfirm(c)
		}
		els = append(els, e)
	}
	return []slack.Block{slack.NewActionBlock("", els...)}
}

// RenderModal renders a transport-neutral modal as a Slack modal view. Each
// input's block_id and action_id are its ModalInput.ID, so a submission's
// values and validation errors are keyed by it.
func RenderModal(m chat.Modal) slack.ModalViewRequest {
	return RenderModalIn(i18n.Default().In(i18n.English), m)
}

// RenderModalIn is RenderModal with the default Submit and the Close
// button in t's locale.
func RenderModalIn(t i18n.T, m chat.Modal) slack.ModalViewRequest {
	title := m.Title
	if title == "" {
		title = "nexo"
	}
	submit := m.Submit
	if submit == "" {
		submit = t.S("bot.modal.submit")
	}
	var blocks []slack.Block
	for _, in := range m.Inputs {
		if len(blocks) == maxModalBlocks {
			break
		}
		el := slack.NewPlainTextInputBlockElement(nil, in.ID)
		if in.Multiline {
			el = el.WithMultiline(true)
		}
		ib := slack.NewInputBlock(in.ID, plain(truncate(in.Label, maxHeaderText)), nil, el)
		ib.Optional = in.Optional
		blocks = append(blocks, ib)
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain(truncate(title, maxModalTitle)),
		Submit:          plain(truncate(submit, maxModalTitle)),
		Close:           plain(t.S("bot.modal.close")),
		CallbackID:      truncate(m.CallbackID, maxActionID),
		PrivateMetadata: m.PrivateMetadata,
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// fallbackText is the notification text of a message: its Text, or its
// flattened blocks, within Slack's 40 000 characters.
func fallbackText(m chat.Message) string {
	t := m.Text
	if t == "" {
		t = strings.TrimSpace(m.PlainText())
	}
	return truncate(t, maxMessageText)
}
