package change_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/i18n"
)

// watching is a production promotion in its watch window: approved by two
// SREs, an error rate of 1.23%.
func watching() *change.Change {
	rate := 0.0123
	return &change.Change{
		Flavor: "promote", Service: "nexo-be", Env: "production", Tag: "2026.02.17", Previous: "2026.02.10", FromEnv: "staging",
		Requester: "U0CAROL01", PR: 42, PRURL: "https://github.com/nexo-org/nexo-gitops/pull/42",
		Need:      policy.Requirement{Approvals: 2, Group: "sre-team", Requester: "U0CAROL01"},
		Approvals: []policy.Approval{{User: "U0ALICE01", At: time.Unix(1771400000, 0), Groups: []string{"sre-team"}}, {User: "U0BOB0001", At: time.Unix(1771400060, 0), Groups: []string{"sre-team"}}},
		ErrorRate: &rate, Note: "monitoring",
	}
}

func buttons(m chat.Message) []chat.Button {
	var out []chat.Button
	for _, b := range m.Blocks {
		out = append(out, b.Actions...)
	}
	return out
}

// The promotion card in pt-BR: Portuguese words, the decimal comma, the
// button's confirmation; the same card in English keeps the decimal point.
func TestPromotionCardInPortuguese(t *testing.T) {
	pt := i18n.Default().In(i18n.Portuguese)
	m := change.RenderCard(pt, "promote-1", watching(), change.Watch)
	text := m.PlainText()
	for _, w := range []string{":rocket: Promover nexo-be → production `2026.02.17`", "*Em andamento*", "*Pedido por*\n<@U0CAROL01>",
		"*Aprovações*\n2/2 — <@U0ALICE01>, <@U0BOB0001>", "*Anterior*\n`2026.02.10`", "*Vindo de*\nstaging", "*Taxa de erro*\n1,23%",
		":white_check_mark: PR aberto", ":white_check_mark: mergeado", ":hourglass_flowing_sand: em watch", "[Cancelar]"} {
		if !strings.Contains(text, w) {
			t.Errorf("pt-BR card lacks %q:\n%s", w, text)
		}
	}
	for _, en := range []string{"Requested by", "In progress", "Error rate", "1.23", "⟦"} {
		if strings.Contains(text, en) {
			t.Errorf("pt-BR card has %q:\n%s", en, text)
		}
	}
	b := buttons(m)
	if len(b) != 1 || b[0].Action != commands.ActionCancel || !strings.HasPrefix(b[0].Confirm, "Cancelar promoção de nexo-be para production") {
		t.Fatalf("buttons: %+v", b)
	}

	en := change.RenderCard(i18n.Default().In(i18n.English), "promote-1", watching(), change.Watch).PlainText()
	for _, w := range []string{":rocket: Promote nexo-be → production", "*Error rate*\n1.23%", "*Requested by*", "In progress"} {
		if !strings.Contains(en, w) {
			t.Errorf("English card lacks %q:\n%s", w, en)
		}
	}
}

// Before approval the card offers Aprovar and Rejeitar; a finished card
// says so in Portuguese and offers nothing.
func TestPromotionCardButtonsAndEndInPortuguese(t *testing.T) {
	pt := i18n.Default().In(i18n.Portuguese)
	c := watching()
	c.Approvals, c.ErrorRate = nil, nil
	m := change.RenderCard(pt, "promote-1", c, change.Approval)
	var labels []string
	for _, b := range buttons(m) {
		labels = append(labels, b.Text)
	}
	if got := strings.Join(labels, ","); got != "Aprovar,Rejeitar,PR #42,Cancelar" {
		t.Fatalf("buttons %q", got)
	}
	if text := m.PlainText(); !strings.Contains(text, "*Aprovações*\n0/2") || !strings.Contains(text, ":hourglass_flowing_sand: aprovado") {
		t.Fatalf("card:\n%s", text)
	}
	done := change.RenderCard(pt, "promote-1", watching(), change.Done)
	if text := done.PlainText(); !strings.Contains(text, "*Concluída*") || len(buttons(done)) != 0 || !strings.Contains(done.Text, "Concluída") {
		t.Fatalf("done card:\n%s", text)
	}
}
