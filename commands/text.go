package commands

import (
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/internal/text"
)

// The small formatting helpers every scenario's cards share.

// Clip shortens s to at most n runes (see text.Clip).
func Clip(s string, n int) string { return text.Clip(s, n) }

func clip(s string, n int) string { return text.Clip(s, n) }

// OrDash is s, or "—" when empty.
func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ShortSHA is the first 7 characters of a commit id.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Mentions formats user ids as Slack mentions, comma separated.
func Mentions(users []string) string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = chat.Mention(u)
	}
	return strings.Join(out, ", ")
}

// CodeList formats items as `a`, `b`.
func CodeList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

// TitleCase upper-cases the first letter (ASCII names: "staging" → "Staging").
func TitleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// HealthEmoji maps an Argo CD health to an emoji.
func HealthEmoji(h string) string {
	switch h {
	case "Healthy":
		return ":large_green_circle:"
	case "Progressing":
		return ":large_blue_circle:"
	case "Degraded":
		return ":red_circle:"
	case "Suspended":
		return ":double_vertical_bar:"
	case "Missing":
		return ":black_circle:"
	}
	return ":white_circle:"
}

// StripMarks removes emoji codes and mrkdwn marks from a card title, for
// the plain-text fallback.
func StripMarks(s string) string {
	for _, r := range []string{":rocket: ", ":fire: ", ":rewind: ", ":wrench: ", ":arrow_backward: ", ":white_check_mark: ", ":x: ", ":no_entry: ", ":hourglass_flowing_sand: ", ":key: ", "*", "`"} {
		s = strings.ReplaceAll(s, r, "")
	}
	return s
}

// ShortErr is an error's text cut to a card's width.
func ShortErr(err error) string { return Clip(err.Error(), 80) }

// Suggest is the clause " Did you mean `word`?" (core.did_you_mean) for the
// candidate closest to s, or the zero Msg when nothing is close.
func Suggest(s string, candidates []string) i18n.Msg {
	best := closest(s, candidates)
	if best == "" {
		return i18n.Msg{}
	}
	return i18n.M("core.did_you_mean", "Word", best)
}

func didYouMeanFlag(s string, flags []string) i18n.Msg {
	best := closest(s, flags)
	if best == "" {
		return i18n.Msg{}
	}
	return i18n.M("core.did_you_mean", "Word", "--"+best)
}

func closest(s string, candidates []string) string { return config.Closest(s, candidates) }
