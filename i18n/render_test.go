package i18n

import (
	"regexp"
	"strings"
	"testing"
)

// The renderer fills plain fields and picks CLDR plural forms: 0 is "one"
// in Portuguese and "other" in English; a missing field shows as
// text/template's "<no value>".
func TestRenderFillsFieldsAndPluralForms(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	en, pt := c.In(English), c.In(Portuguese)
	if got := en.N("dora.deployments", 1); got != "1 deployment" {
		t.Errorf("en 1: %q", got)
	}
	if got := en.N("dora.deployments", 0); got != "0 deployments" {
		t.Errorf("en 0: %q", got)
	}
	if got, one := pt.N("dora.deployments", 0), pt.N("dora.deployments", 1); !strings.HasPrefix(got, "0 ") || strings.TrimPrefix(got, "0 ") != strings.TrimPrefix(one, "1 ") {
		t.Errorf("pt-BR 0 is CLDR's one, like 1: %q vs %q", got, one)
	}
	if got, many := pt.N("dora.deployments", 2), pt.N("dora.deployments", 1); strings.TrimPrefix(got, "2 ") == strings.TrimPrefix(many, "1 ") {
		t.Errorf("pt-BR 2 takes the other form: %q", got)
	}
	if got := en.S("dora.title", "Service", "nexo-be", "Env", "qa"); got != "DORA Metrics - nexo-be qa (<no value>)" {
		t.Errorf("missing field: %q", got)
	}
	if got := fill("{{ .A }}-{{.B}}-{{if .C}}x{{end}}", map[string]any{"A": 1, "B": "b"}); got != "1-b-{{if .C}}x{{end}}" {
		t.Errorf("fill: %q", got)
	}
	if got := en.S("no.such.id"); got != "⟦no.such.id⟧" {
		t.Errorf("unknown id: %q", got)
	}
}

// Every placeholder in the catalogs is a plain field: the renderer knows
// no other template action.
func TestCatalogPlaceholdersArePlain(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	action := regexp.MustCompile(`\{\{(.*?)\}\}`)
	for _, loc := range Locales {
		for _, id := range c.IDs(loc) {
			m := c.Message(loc, id)
			for _, text := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
				for _, a := range action.FindAllStringSubmatch(text, -1) {
					if _, ok := placeholder(a[1]); !ok {
						t.Errorf("%s %s: {{%s}} is not a plain field", loc, id, a[1])
					}
				}
			}
		}
	}
}
