package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

// The transport's own words follow the reader's locale: the confirm
// dialog of a button, a modal's Submit and Cancel, the note on left-out
// blocks.
func TestTransportWordsFollowTheLocale(t *testing.T) {
	pt := i18n.Default().In(i18n.Portuguese)
	m := chat.Message{Blocks: []chat.Block{{Actions: []chat.Button{{Text: "Resolver", Action: "x", Value: "v", Confirm: "Resolver o incident?"}}}}}
	for i := 0; i < 60; i++ {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{"x"}})
	}
	raw, err := json.Marshal(RenderBlocksIn(pt, m))
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	for _, want := range []string{`"Tem certeza?"`, `"Sim"`, `"Cancelar"`, "mais 12 blocos não mostrados (o Slack permite 50)"} {
		if !strings.Contains(got, want) {
			t.Errorf("pt-BR blocks lack %q:\n%s", want, got)
		}
	}
	raw, _ = json.Marshal(RenderBlocks(m))
	if !strings.Contains(string(raw), `"Are you sure?"`) || strings.Contains(string(raw), "Tem certeza") {
		t.Errorf("English blocks:\n%s", raw)
	}
	v := RenderModalIn(pt, chat.Modal{Title: "nexo"})
	if v.Submit.Text != "Enviar" || v.Close.Text != "Cancelar" {
		t.Errorf("modal buttons %q %q", v.Submit.Text, v.Close.Text)
	}
	if got := (&SlackChat{}).T("C1").S("bot.failed", "Ref", "r1"); !strings.Contains(got, "`r1`") || !strings.HasPrefix(got, ":warning: nexo could not") {
		t.Errorf("default failed reply %q", got)
	}
	c := &SlackChat{}
	c.SetLocale(func(string) i18n.T { return pt })
	if got := c.T("C1").S("bot.failed", "Ref", "r1"); !strings.Contains(got, "Referência `r1`") {
		t.Errorf("pt-BR failed reply %q", got)
	}
}
