package i18n_test

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"

	"github.com/nexo-org/nexo-bot/i18n"
)

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// forms are a message's texts by plural form ("" for a plain message).
func forms(m *goi18n.Message) map[string]string {
	out := map[string]string{}
	for form, text := range map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other} {
		if text != "" {
			out[form] = text
		}
	}
	return out
}

func placeholders(text string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// Every key of one catalog is in the other, with the same placeholders in
// every form, and each plural message has the forms its locale's CLDR
// rules use (en and pt: one and other).
func TestCatalogsAreComplete(t *testing.T) {
	c, err := i18n.Load(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	en, pt := c.IDs(i18n.English), c.IDs(i18n.Portuguese)
	if len(en) == 0 {
		t.Fatal("the English catalog is empty")
	}
	for _, id := range en {
		if c.Message(i18n.Portuguese, id) == nil {
			t.Errorf("%s is in the en catalog, not in pt-BR", id)
		}
	}
	for _, id := range pt {
		if c.Message(i18n.English, id) == nil {
			t.Errorf("%s is in the pt-BR catalog, not in en", id)
		}
	}
	for _, id := range en {
		me, mp := c.Message(i18n.English, id), c.Message(i18n.Portuguese, id)
		if mp == nil {
			continue
		}
		fe, fp := forms(me), forms(mp)
		want := strings.Join(placeholders(me.Other), ",")
		for _, f := range []map[string]string{fe, fp} {
			for form, text := range f {
				got := placeholders(text)
				// A "one" form may say the count in words and leave {{.Count}} out.
				if form == "one" {
					got = slices.DeleteFunc(got, func(s string) bool { return s == "Count" })
					w := slices.DeleteFunc(placeholders(me.Other), func(s string) bool { return s == "Count" })
					if strings.Join(got, ",") != strings.Join(w, ",") {
						t.Errorf("%s (%s): placeholders %v, want %v", id, form, got, w)
					}
					continue
				}
				if strings.Join(got, ",") != want {
					t.Errorf("%s (%s): placeholders %v, want %s", id, form, got, want)
				}
			}
		}
		plural := len(fe) > 1 || fe["one"] != ""
		if plural {
			for _, form := range []string{"one", "other"} {
				if fe[form] == "" || fp[form] == "" {
					t.Errorf("%s: plural message without its %q form in both locales", id, form)
				}
			}
		}
		if (len(fp) > 1 || fp["one"] != "") != plural {
			t.Errorf("%s: plural in one locale only", id)
		}
	}
	t.Logf("catalog: %d messages in en, %d in pt-BR", len(en), len(pt))
}

// The checks above can fail: a catalog with a key in one locale only and a
// placeholder renamed loads, and the test would report both.
func TestCatalogChecksCatchMismatches(t *testing.T) {
	fsys := fstest.MapFS{
		"c/en/a.yaml":    {Data: []byte("a:\n  b: \"Hello {{.Name}}\"\n  c: \"only here\"\n")},
		"c/pt-BR/a.yaml": {Data: []byte("a:\n  b: \"Olá {{.Nome}}\"\n")},
	}
	c, err := i18n.LoadFS(fsys, "c", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if c.Message(i18n.Portuguese, "a.c") != nil || c.Message(i18n.English, "a.c") == nil {
		t.Fatal("a.c should be in en only")
	}
	if got := placeholders(c.Message(i18n.Portuguese, "a.b").Other); strings.Join(got, ",") != "Nome" {
		t.Fatalf("placeholders %v", got)
	}
}

func TestRenderingAndPlurals(t *testing.T) {
	c, err := i18n.Load(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	en, pt := c.In("en"), c.In("pt-br")
	if pt.Locale != i18n.Portuguese || c.In("klingon").Locale != i18n.English {
		t.Fatalf("locales: %s %s", pt.Locale, c.In("klingon").Locale)
	}
	now := time.Date(2026, 2, 18, 10, 35, 0, 0, time.UTC)
	cases := []struct{ got, want string }{
		{en.Ago(now, now.Add(-5*time.Minute)), "5 min ago"},
		{pt.Ago(now, now.Add(-5*time.Minute)), "há 5 min"},
		{en.Ago(now, now.Add(-10*time.Second)), "just now"},
		{pt.Duration(125 * time.Minute), "2 h 5 min"},
		{en.Duration(25 * time.Hour), "25 h"},
		{en.Duration(49 * time.Hour), "2 days 1 h"},
		{pt.Duration(24 * 3 * time.Hour), "3 dias"},
		{en.Duration(24 * time.Hour * 1), "24 h"},
		{pt.N("time.days", 1), "1 dia"},
		{pt.N("time.days", 0), "0 dia"}, // CLDR pt: 0 and 1 are "one"
		{en.N("time.days", 0), "0 days"},
		{en.S("no.such.message"), "⟦no.such.message⟧"},
		{pt.DateTime(now), "18 fev 2026 10:35 UTC"},
		{en.When(now), "<!date^1771410900^{date_short_pretty} {time}|18 Feb 2026 10:35 UTC>"},
		{c.WithZone(mustZone(t, "America/Sao_Paulo")).In("pt-BR").Clock(now), "07:35 -03"},
		{pt.S("core.usage", "Usage", i18n.Since{Now: now, At: now.Add(-3 * time.Hour)}), "Uso: `há 3 h`"},
		{en.S("core.usage", "Usage", i18n.Since{Now: now, At: now}), "Usage: `just now`"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// Fixed keeps the text between placeholders and fills in what it is given.
func TestFixedIsTheTextAroundTheData(t *testing.T) {
	pt := i18n.Default().In(i18n.Portuguese)
	got := strings.Join(pt.Fixed("core.start.locked", "Service", "nexo-be"), "|")
	if got != "Já há uma mudança de nexo-be em|aberta:|. Termine ou rejeite essa primeiro." {
		t.Fatalf("Fixed: %q", got)
	}
}
