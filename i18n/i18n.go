// Package i18n is nexo's one message catalog: every sentence people read in
// Slack, in English and Brazilian Portuguese, with CLDR plural rules
// (go-i18n), and the formatting of times and durations that goes with
// them.
//
// The catalog is the files under catalog/<locale>/ (YAML, nested keys
// joined with "."): one file per area (core.yaml, change.yaml, …), every
// key in every locale. Code never writes a sentence itself: it asks a T,
// the catalog bound to the reader's locale:
//
//	t := d.T(channel)
//	text := t.S("change.already_runs", "Service", svc, "Tag", tag)
//	line := t.N("dora.incidents_resolved", n)       // plural forms, {{.Count}} = n
//
// Placeholders are {{.Name}}; a message with plural forms has one and other
// (and whatever else CLDR asks of the locale). Key path segments never use
// the words go-i18n reserves (id, description, hash, zero, one, two, few,
// many, other).
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// The locales nexo speaks.
const (
	English    = "en"
	Portuguese = "pt-BR"
)

// Locales are the locales nexo speaks, the default first.
var Locales = []string{English, Portuguese}

//go:embed catalog
var catalogFS embed.FS

// Catalog is the loaded message catalog.
type Catalog struct {
	bundle *goi18n.Bundle
	// ids lists every message id per locale (for the checks).
	ids map[string]map[string]*goi18n.Message
	// Zone is where texts outside Slack tell the time (config `timezone`).
	Zone *time.Location
}

// Normalize maps what people write ("pt-br", "pt_BR", "PT") to a locale
// nexo speaks.
func Normalize(locale string) (string, bool) {
	l := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(locale), "_", "-"))
	switch l {
	case "en", "en-us", "en-gb", "":
		return English, true
	case "pt", "pt-br":
		return Portuguese, true
	}
	return "", false
}

// Load reads the embedded catalog; zone is the time zone of texts outside
// Slack (nil: UTC).
func Load(zone *time.Location) (*Catalog, error) {
	return LoadFS(catalogFS, "catalog", zone)
}

// LoadFS reads a catalog from dir of fsys (tests load broken ones).
func LoadFS(fsys fs.FS, dir string, zone *time.Location) (*Catalog, error) {
	if zone == nil {
		zone = time.UTC
	}
	c := &Catalog{bundle: goi18n.NewBundle(language.English), ids: map[string]map[string]*goi18n.Message{}, Zone: zone}
	for _, loc := range Locales {
		tag := language.MustParse(loc)
		c.ids[loc] = map[string]*goi18n.Message{}
		files, err := fs.Glob(fsys, path.Join(dir, loc, "*.yaml"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			raw, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			msgs, err := goi18n.ParseMessageBytes(raw, yaml.Unmarshal)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for _, m := range msgs {
				if _, dup := c.ids[loc][m.ID]; dup {
					return nil, fmt.Errorf("%s: %q is defined twice", f, m.ID)
				}
				c.ids[loc][m.ID] = m
			}
			if err := c.bundle.AddMessages(tag, msgs...); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return c, nil
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default is the embedded catalog in UTC, loaded once. A broken catalog
// fails the catalog's tests long before it is used.
func Default() *Catalog {
	defaultOnce.Do(func() { defaultCat, defaultErr = Load(time.UTC) })
	if defaultErr != nil {
		panic("i18n: the embedded catalog does not load: " + defaultErr.Error())
	}
	return defaultCat
}

// WithZone is the catalog telling times outside Slack in zone.
func (c *Catalog) WithZone(zone *time.Location) *Catalog {
	if zone == nil {
		return c
	}
	cp := *c
	cp.Zone = zone
	return &cp
}

// In is the catalog for one reader's locale (English when unknown).
func (c *Catalog) In(locale string) T {
	if l, ok := Normalize(locale); ok {
		locale = l
	} else {
		locale = English
	}
	return T{Locale: locale, c: c}
}

// IDs lists the message ids of a locale, sorted.
func (c *Catalog) IDs(locale string) []string {
	out := make([]string, 0, len(c.ids[locale]))
	for id := range c.ids[locale] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Message is the catalog's entry for id in locale (nil when absent).
func (c *Catalog) Message(locale, id string) *goi18n.Message { return c.ids[locale][id] }

// T renders the catalog's messages for one locale.
type T struct {
	Locale string
	c      *Catalog
}

// Zone is where texts outside Slack tell the time.
func (t T) Zone() *time.Location {
	if t.c == nil {
		return time.UTC
	}
	return t.c.Zone
}

// Msg is a message not rendered yet: an id and its data, rendered for the
// reader's locale where it is shown (a refusal made deep in a scenario, a
// clause inside another message). A Msg in a message's data is rendered
// first, in the same locale; a []Msg is rendered as a list joined by "; ".
type Msg struct {
	ID string
	KV []any
}

// M is a message to render later. A "Count" int in kv chooses its plural
// form.
func M(id string, kv ...any) Msg { return Msg{ID: id, KV: kv} }

// Moment is a time a message shows: rendered by T.When (Slack's date token
// with its fallback).
type Moment time.Time

// Span is a duration a message shows: rendered by T.Duration.
type Span time.Duration

// Clock is a time of day outside Slack: rendered by T.Clock.
type Clock time.Time

// Since is how long before Now a moment At was: rendered by T.Ago
// ("5 min ago" / "há 5 min").
type Since struct{ Now, At time.Time }

// Msg renders m ("" for the zero Msg).
func (t T) Msg(m Msg) string {
	if m.ID == "" {
		return ""
	}
	return t.S(m.ID, m.KV...)
}

// S renders message id with data given as key/value pairs
// ("Service", "nexo-be", "Tag", "2026.02.17"). A message the catalog lacks
// renders as "⟦id⟧" (the catalog tests make sure none does).
func (t T) S(id string, kv ...any) string {
	return t.render(id, nil, kv)
}

// N renders a message with plural forms, chosen by n under the locale's
// CLDR rules; the data has Count = n.
func (t T) N(id string, n int, kv ...any) string {
	return t.render(id, n, append([]any{"Count", n}, kv...))
}

func (t T) render(id string, count any, kv []any) string {
	c := t.c
	if c == nil {
		c = Default()
	}
	data := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			switch v := kv[i+1].(type) {
			case Msg:
				data[k] = t.Msg(v)
			case Moment:
				data[k] = t.When(time.Time(v))
			case Span:
				data[k] = t.Duration(time.Duration(v))
			case Clock:
				data[k] = t.Clock(time.Time(v))
			case Since:
				data[k] = t.Ago(v.Now, v.At)
			case []Msg:
				parts := make([]string, len(v))
				for j, m := range v {
					parts[j] = t.Msg(m)
				}
				data[k] = strings.Join(parts, "; ")
			default:
				data[k] = v
			}
		}
	}
	if count == nil {
		if n, ok := data["Count"].(int); ok {
			count = n
		}
	}
	m := c.ids[t.Locale][id]
	if m == nil {
		m = c.ids[English][id]
	}
	if m == nil {
		return "⟦" + id + "⟧"
	}
	src := m.Other
	if n, ok := count.(int); ok {
		if form := pluralForm(t.Locale, n); form != "" && form != "other" {
			if f := formText(m, form); f != "" {
				src = f
			}
		}
	}
	out := fill(src, data)
	if out == "" {
		return "⟦" + id + "⟧"
	}
	return out
}

// Fixed is what a rendered message always contains whatever its data: the
// text between its placeholders, one piece per run of fixed text (split at
// line breaks and quotes, which chat payloads escape). Data given in kv is
// filled in; the rest is left out. Tests look for these pieces in what a
// reader got, in any locale.
func (t T) Fixed(id string, kv ...any) []string {
	const hole = "<no value>" // text/template's output for a missing key
	var out []string
	for _, part := range strings.Split(t.S(id, kv...), hole) {
		for _, p := range strings.FieldsFunc(part, func(r rune) bool { return r == '\n' || r == '"' }) {
			if p = strings.TrimSpace(p); len([]rune(p)) >= 3 {
				out = append(out, p)
			}
		}
	}
	return out
}
