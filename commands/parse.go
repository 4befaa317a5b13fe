package commands

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCommandText bounds what a command line may be.
const MaxCommandText = 2000

// Args is a parsed command line: positional words and --flags.
type Args struct {
	Words []string
	Flags map[string]string // "--to 2026.02.10" → "to": "2026.02.10"; "--skip-soak" → "skip-soak": "true"
}

// Flag returns a flag's value.
func (a Args) Flag(name string) string { return a.Flags[name] }

// Has reports whether a flag was given.
func (a Args) Has(name string) bool { _, ok := a.Flags[name]; return ok }

// Tokenize splits a command line into words, honouring "double" and
// 'single' quotes (and Slack's “smart” quotes) and rejecting control
// characters.
func Tokenize(s string) ([]string, error) {
	if len(s) > MaxCommandText {
		return nil, Refuse("core.parse.too_long", "Length", len(s), "Limit", MaxCommandText)
	}
	if !utf8.ValidString(s) {
		return nil, Refuse("core.parse.utf8")
	}
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote || (quote == '“' && r == '”') {
				quote = 0
				continue
			}
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				return nil, Refuse("core.parse.control")
			}
			cur.WriteRune(r)
		case r == '"' || r == '\'' || r == '“':
			quote = r
			inWord = true
		case unicode.IsSpace(r):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case unicode.IsControl(r):
			return nil, Refuse("core.parse.control")
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, Refuse("core.parse.quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// ParseArgs splits words into positional words and flags. boolFlags are
// flags that take no value.
func ParseArgs(words []string, boolFlags map[string]bool) (Args, error) {
	a := Args{Flags: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		// Slack turns "--" into an em dash in some clients.
		if strings.HasPrefix(w, "—") {
			w = "--" + strings.TrimPrefix(w, "—")
		}
		if !strings.HasPrefix(w, "--") || len(w) == 2 {
			a.Words = append(a.Words, w)
			continue
		}
		name, val, hasVal := strings.Cut(w[2:], "=")
		name = strings.ToLower(name)
		if _, dup := a.Flags[name]; dup {
			return a, Refuse("core.parse.twice", "Flag", name)
		}
		if boolFlags[name] {
			if hasVal {
				return a, Refuse("core.parse.no_value", "Flag", name)
			}
			a.Flags[name] = "true"
			continue
		}
		if !hasVal {
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				return a, Refuse("core.parse.needs_value", "Flag", name)
			}
			i++
			val = words[i]
		}
		a.Flags[name] = val
	}
	return a, nil
}

// StripMention turns Slack's escaped mentions into ids: "<@U123|alice>" → "U123".
func StripMention(s string) string {
	if strings.HasPrefix(s, "<@") && strings.HasSuffix(s, ">") {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "<@"), ">")
		id, _, _ := strings.Cut(s, "|")
		return id
	}
	return strings.TrimPrefix(s, "@")
}
