package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// playbookHeadings are the headings of the post-mortem template in the
// playbook (../shared/seed/playbook.md, "Documentar incident"), as it
// writes them.
var playbookHeadings = []string{"# Incident: ", "## Timeline", "## Root Cause", "## Resolution", "## Prevention", "## Lessons Learned"}

func saoPaulo(t *testing.T) *time.Location {
	t.Helper()
	z, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// In pt-BR the draft keeps the playbook's headings, says the rest in
// Portuguese and tells the time in the config's timezone (the file is
// read outside Slack): 10:31 UTC is 07:31 -03 in São Paulo, and an entry
// of the next local day carries its date.
func TestPostmortemInPortugueseHasThePlaybookHeadingsAndLocalTimes(t *testing.T) {
	at := func(hhmm string) time.Time {
		x, err := time.Parse("2006-01-02 15:04", "2026-02-01 "+hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return x.UTC()
	}
	resolved, acked := at("10:44"), at("10:37")
	s := &incident.State{
		Incident: records.Incident{ID: "inc-20260201-high-error-rate", Title: "High Error Rate", Service: "nexo-be", Env: "production", Severity: "P1",
			Status: records.StatusResolved, Commander: "U0ALICE01", DeclaredBy: "U0ALICE01", DeclaredAt: at("10:35"), ResolvedAt: &resolved},
		Slug: "high-error-rate", AckedAt: &acked,
	}
	pt := i18n.Default().WithZone(saoPaulo(t)).In(i18n.Portuguese)
	entries := []store.TimelineEntry{
		{Time: at("10:25"), Kind: "deploy", Text: pt.S("incident.timeline.suspect", "Tag", "2026.02.17")},
		{Time: at("10:31"), Kind: "onset", Text: pt.S("incident.timeline.onset", "Rate", "5,0%")},
		{Time: at("10:44"), Kind: "status", Text: pt.S("incident.timeline.status_note", "From", pt.S("incident.status.monitoring"), "To", pt.S("incident.status.resolved"), "User", "<@U0ALICE01>", "Note", "Serviço recuperado")},
		{Time: at("23:30").Add(4 * time.Hour), Kind: "update", Text: "Hotfix 2026.02.18 no ar"}, // 2026-02-02 00:30 -03
	}
	md := incident.RenderPostmortem(pt, s, entries)
	last := -1
	for _, h := range playbookHeadings {
		i := strings.Index(md, "\n"+h)
		if h == "# Incident: " {
			i = strings.Index(md, h)
		}
		if i < 0 || i < last {
			t.Fatalf("heading %q missing or out of order:\n%s", h, md)
		}
		last = i
	}
	for _, want := range []string{
		"# Incident: High Error Rate\n",
		"- Serviço: nexo-be (production)\n",
		"- Declarado: 2026-02-01 07:35 -03 por <@U0ALICE01>\n",
		"- Resolvido: 07:44 -03 (tempo de restauração: 9 min)\n",
		"- 07:25 -03: Deploy 2026.02.17\n",
		"- 07:31 -03: Pico na taxa de erro (5,0%)\n",
		"- 2026-02-02 00:30 -03: Hotfix 2026.02.18 no ar\n",
		"## Root Cause\n_A ser escrito pelo commander._\n",
		"Pistas encontradas pelo nexo:\n- Deploy 2026.02.17 às 07:25 -03, antes do pico\n",
		"## Resolution\n1. Serviço recuperado\n",
		"## Prevention\n- [ ] Adicionar um teste ou uma verificação em staging que teria pegado isso\n",
		"- Detectado 4 min depois do início do pico de erros (07:31 -03 → declarado 07:35 -03)\n",
		"- O on-call reconheceu o acionamento em 2 min\n",
		"- Recuperado 13 min depois do pico\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("pt-BR post-mortem lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "UTC") || strings.Contains(md, "To be written") || strings.Contains(md, "Detected") {
		t.Errorf("UTC or English in the pt-BR draft:\n%s", md)
	}
}

// The card in pt-BR: Portuguese fields, status and buttons, the times as
// Slack date tokens (each reader sees their zone) with the fallback in
// the config's timezone, never a "UTC" string.
func TestIncidentCardInPortuguese(t *testing.T) {
	declared := time.Date(2026, 2, 1, 10, 35, 0, 0, time.UTC)
	resolved := declared.Add(9 * time.Minute)
	pt := i18n.Default().WithZone(saoPaulo(t)).In(i18n.Portuguese)
	s := &incident.State{Incident: records.Incident{ID: "inc-20260201-high-error-rate", Title: "Taxa de erro alta", Service: "nexo-be", Env: "production",
		Status: records.StatusInvestigating, Channel: "C0INC", DeclaredAt: declared, Roles: map[string]string{"comms": "U0BOB0001"}}}
	m := incident.CardIn(pt, "/nexo", s)
	text := m.PlainText()
	for _, want := range []string{"*Severidade*\n_não definida_ — `/nexo incident sev P0..P4`", "*Status*\n:mag: em investigação", "*Serviço*\nnexo-be (production)",
		"*Commander*\n_não definido_ — `/nexo incident commander @usuário`", "*Comunicação*\n<@U0BOB0001>", "*Escriba*\n_não definido_",
		"Declarado <!date^1769942100^{date_short_pretty} {time}|1 fev 2026 07:35 -03>", "`/nexo incident update <texto>` · fixe uma mensagem"} {
		if !strings.Contains(text, want) {
			t.Errorf("pt-BR card lacks %q:\n%s", want, text)
		}
	}
	var labels []string
	for _, b := range chattest.Buttons(m) {
		labels = append(labels, b.Text+"|"+b.Confirm)
	}
	if got := strings.Join(labels, ","); got != "Identificado|,Em monitoramento|,Resolver|Resolver o incident e escrever o rascunho do post-mortem?" {
		t.Errorf("buttons %s", got)
	}
	if m.Text != "Incident inc-20260201-high-error-rate: Taxa de erro alta — —, em investigação" {
		t.Errorf("fallback %q", m.Text)
	}
	s.Status, s.ResolvedAt, s.Severity, s.AckedBy = records.StatusResolved, &resolved, "P1", "U0BOB0001"
	text = incident.CardIn(pt, "/nexo", s).PlainText()
	for _, want := range []string{"resolvido <!date^1769942640^{date_short_pretty} {time}|1 fev 2026 07:44 -03> (tempo de restauração 9 min)", "acionamento reconhecido por <@U0BOB0001>", ":white_check_mark: resolvido"} {
		if !strings.Contains(text, want) {
			t.Errorf("resolved pt-BR card lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "UTC") || len(chattest.Buttons(incident.CardIn(pt, "/nexo", s))) != 0 {
		t.Errorf("resolved card:\n%s", text)
	}
}

// Each channel reads in its own locale: declared from a pt-BR channel, the
// reply there is Portuguese while the new incident channel (slack.locale
// en) gets the English card; `show --incident` from the pt-BR channel
// shows the card in Portuguese.
func TestEachChannelReadsTheIncidentInItsLocale(t *testing.T) {
	r := newIncRig(t, false)
	r.cfg.Slack.ChannelLocales = map[string]string{"C0DEPLOYS": i18n.Portuguese}
	pt, en := i18n.Default().In(i18n.Portuguese), i18n.Default().In(i18n.English)
	reply := r.command("U0CAROL01", "C0DEPLOYS", "incident declare nexo-fe staging Login page blank --sev P3")
	if reply == nil || !strings.HasPrefix(reply.Message.Text, pt.Fixed("incident.declared")[0]) {
		t.Fatalf("declare reply: %+v", reply)
	}
	incs, _ := incident.OpenFor(r.ctx, r.d, "nexo-fe", "staging")
	if len(incs) != 1 {
		t.Fatalf("incidents: %+v", incs)
	}
	s := incs[0]
	if card := r.chat.In(s.Channel); !strings.Contains(card, en.S("incident.card.status", "Value", ":mag: investigating")) || strings.Contains(card, "investigação") {
		t.Errorf("the incident channel's card is not English:\n%s", card)
	}
	shown := r.command("U0CAROL01", "C0DEPLOYS", "incident show --incident "+s.ID)
	if shown == nil || !strings.Contains(shown.Message.PlainText(), pt.S("incident.card.status", "Value", ":mag: em investigação")) {
		t.Fatalf("show from the pt-BR channel: %+v", shown)
	}
}
