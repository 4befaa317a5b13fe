package i18n

import (
	"fmt"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Messages are rendered here rather than by go-i18n's Localizer, which
// executes them as text/template: a template calls methods by name at run
// time, so linking it makes the linker keep every exported method of every
// type in the binary (14 MiB more in cmd/nexo-bot). The catalog's
// placeholders are plain fields ({{.Name}}; TestCatalogPlaceholdersArePlain
// keeps it so), and plural forms follow CLDR's cardinal rules from
// golang.org/x/text, as go-i18n's do.

// pluralForm is the CLDR cardinal plural category of the integer n in
// locale: "zero", "one", "two", "few", "many" or "other".
func pluralForm(locale string, n int) string {
	if n < 0 {
		n = -n
	}
	tag := language.Make(locale)
	switch plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0) {
	case plural.Zero:
		return "zero"
	case plural.One:
		return "one"
	case plural.Two:
		return "two"
	case plural.Few:
		return "few"
	case plural.Many:
		return "many"
	}
	return "other"
}

// formText is m's text for a plural category ("" when m has none).
func formText(m *goi18n.Message, form string) string {
	switch form {
	case "zero":
		return m.Zero
	case "one":
		return m.One
	case "two":
		return m.Two
	case "few":
		return m.Few
	case "many":
		return m.Many
	}
	return m.Other
}

// noValue is what a placeholder without data renders as (text/template's
// own "<no value>", which T.Fixed splits on).
const noValue = "<no value>"

// fill replaces each {{.Name}} of src with data's Name.
func fill(src string, data map[string]any) string {
	if !strings.Contains(src, "{{") {
		return src
	}
	var b strings.Builder
	for {
		i := strings.Index(src, "{{")
		if i < 0 {
			b.WriteString(src)
			return b.String()
		}
		j := strings.Index(src[i:], "}}")
		if j < 0 {
			b.WriteString(src)
			return b.String()
		}
		b.WriteString(src[:i])
		name, ok := placeholder(src[i+2 : i+j])
		switch v, has := data[name]; {
		case !ok:
			b.WriteString(src[i : i+j+2]) // not a field: left as written
		case !has || v == nil:
			b.WriteString(noValue)
		default:
			b.WriteString(fmt.Sprint(v))
		}
		src = src[i+j+2:]
	}
}

// placeholder is the field name of a {{.Name}} action's inside.
func placeholder(action string) (string, bool) {
	a := strings.TrimSpace(action)
	if len(a) < 2 || a[0] != '.' {
		return "", false
	}
	for _, r := range a[1:] {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", false
		}
	}
	return a[1:], true
}
