package rollback_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// The rollback menu in pt-BR, from the git log of staging's values file:
// Portuguese words and buttons, the last stable version marked, the
// table's times in the catalog's zone, no Argo CD button without Argo CD.
func TestRollbackMenuInPortuguese(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{NoArgo: true})
	zone, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	pt := i18n.Default().WithZone(zone).In(i18n.Portuguese)
	m, err := rollback.Menu(r.Ctx, r.Deps, pt, "nexo-be", "stg", "")
	if err != nil {
		t.Fatal(err)
	}
	text := m.PlainText()
	for _, w := range []string{"Opções de rollback de nexo-be em staging", ":rewind: *Rollback de nexo-be em staging*", "← atual", "← última estável",
		"[Revert GitOps → 2026.02.03]", "Argo CD: o mais rápido, desliga o auto-sync", "Horários em America/Sao_Paulo"} {
		if !strings.Contains(text, w) {
			t.Errorf("pt-BR menu lacks %q:\n%s", w, text)
		}
	}
	for _, en := range []string{"last stable", "current", "GitOps revert", "Rollback options", "⟦"} {
		if strings.Contains(text, en) {
			t.Errorf("pt-BR menu has %q:\n%s", en, text)
		}
	}
	if strings.Contains(text, "Argo CD → #") {
		t.Errorf("an Argo CD button without Argo CD:\n%s", text)
	}
	// The table's times are São Paulo's (UTC−3): the same rows in UTC
	// read three hours later.
	utc, err := rollback.Menu(r.Ctx, r.Deps, i18n.Default().In(i18n.Portuguese), "nexo-be", "stg", "")
	if err != nil {
		t.Fatal(err)
	}
	first := func(code string) time.Time {
		t.Helper()
		m := regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}`).FindString(code)
		at, err := time.Parse("2006-01-02 15:04", m)
		if err != nil {
			t.Fatalf("no time in %q", code)
		}
		return at
	}
	if d := first(utc.PlainText()).Sub(first(text)); d != 3*time.Hour {
		t.Errorf("UTC and São Paulo tables differ by %s, want 3h:\n%s\n%s", d, utc.PlainText(), text)
	}
}

// A rollback card in pt-BR.
func TestRollbackCardInPortuguese(t *testing.T) {
	pt := i18n.Default().In(i18n.Portuguese)
	wf := &store.Workflow{ID: "rollback-1"}
	rb := &rollback.Rollback{Via: rollback.ViaArgoCD, Service: "nexo-be", Env: "production", Tag: "2026.02.10", Current: "2026.02.17", HistoryID: 7, Requester: "U0ALICE01"}
	rb.Need.Approvals = 1
	rb.Need.Group = "sre-team"
	text := rollback.RenderCard(pt, wf, rb, rollback.Approval).PlainText()
	for _, w := range []string{":rewind: Rollback de nexo-be em production via argocd → `2026.02.10`", "aguardando aprovação", "*Rodava antes*\n`2026.02.17`",
		"*Id no histórico*\n#7", "[Aprovar rollback]", "[Cancelar]"} {
		if !strings.Contains(text, w) {
			t.Errorf("pt-BR rollback card lacks %q:\n%s", w, text)
		}
	}
}
