package memserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode"
)

// logQuery is a parsed LogQL log query: a stream selector and a pipeline.
type logQuery struct {
	selector []matcher
	stages   []stage
}

// matcher is one label matcher: name op value.
type matcher struct {
	name, op, value string
	re              *regexp.Regexp
}

func (m matcher) matches(labels map[string]string) bool {
	v := labels[m.name]
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default: // "!~"
		return !m.re.MatchString(v)
	}
}

// stage is one pipeline step. It may change the line and labels; it
// returns false to drop the entry.
type stage func(line *string, labels map[string]string) bool

// parseError is the plain-text 400 message, in Loki's wording.
func parseError(pos int, format string, args ...any) error {
	return fmt.Errorf("parse error at line 1, col %d: %s", pos+1, fmt.Sprintf(format, args...))
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.s) && unicode.IsSpace(rune(l.s[l.pos])) {
		l.pos++
	}
}

func (l *lexer) eof() bool { l.skipSpace(); return l.pos >= len(l.s) }

func (l *lexer) accept(tok string) bool {
	l.skipSpace()
	if strings.HasPrefix(l.s[l.pos:], tok) {
		l.pos += len(tok)
		return true
	}
	return false
}

func (l *lexer) ident() (string, error) {
	l.skipSpace()
	start := l.pos
	for l.pos < len(l.s) {
		c := rune(l.s[l.pos])
		if c == '_' || unicode.IsLetter(c) || (l.pos > start && unicode.IsDigit(c)) {
			l.pos++
			continue
		}
		break
	}
	if l.pos == start {
		return "", parseError(start, "syntax error: unexpected %s, expecting IDENTIFIER", l.peek())
	}
	return l.s[start:l.pos], nil
}

func (l *lexer) peek() string {
	if l.pos >= len(l.s) {
		return "end of input"
	}
	end := l.pos + 1
	for end < len(l.s) && !unicode.IsSpace(rune(l.s[end])) && end-l.pos < 10 {
		end++
	}
	return strconv.Quote(l.s[l.pos:end])
}

// str reads a "double-quoted" or `backtick` string.
func (l *lexer) str() (string, error) {
	l.skipSpace()
	start := l.pos
	if l.pos >= len(l.s) {
		return "", parseError(start, "syntax error: unexpected end of input, expecting STRING")
	}
	switch l.s[l.pos] {
	case '`':
		end := strings.IndexByte(l.s[l.pos+1:], '`')
		if end < 0 {
			return "", parseError(start, "unterminated raw string")
		}
		l.pos += end + 2
		return l.s[start+1 : l.pos-1], nil
	case '"':
		i := l.pos + 1
		for i < len(l.s) && l.s[i] != '"' {
			if l.s[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(l.s) {
			return "", parseError(start, "unterminated string")
		}
		l.pos = i + 1
		v, err := strconv.Unquote(l.s[start:l.pos])
		if err != nil {
			return "", parseError(start, "invalid string %s", l.s[start:l.pos])
		}
		return v, nil
	}
	return "", parseError(start, "syntax error: unexpected %s, expecting STRING", l.peek())
}

func (l *lexer) op() (string, error) {
	for _, op := range []string{"=~", "!~", "!=", "="} {
		if l.accept(op) {
			return op, nil
		}
	}
	return "", parseError(l.pos, "syntax error: unexpected %s, expecting = or != or =~ or !~", l.peek())
}

// parseLogQuery parses the subset of LogQL that nexo sends: a stream
// selector, line filters (|= != |~ !~), | json, | logfmt is not supported,
// label filters (| name op "value") and | line_format.
func parseLogQuery(s string) (*logQuery, error) {
	l := &lexer{s: s}
	if !l.accept("{") {
		if l.eof() {
			return nil, parseError(0, "syntax error: unexpected end of input")
		}
		return nil, fmt.Errorf("parse error at line 1, col %d: this server answers log queries only (a stream selector {…} first); metric queries are not supported", l.pos+1)
	}
	q := &logQuery{}
	for !l.accept("}") {
		if len(q.selector) > 0 && !l.accept(",") {
			return nil, parseError(l.pos, "syntax error: unexpected %s, expecting } or ,", l.peek())
		}
		m, err := parseMatcher(l)
		if err != nil {
			return nil, err
		}
		q.selector = append(q.selector, m)
	}
	nonEmpty := false
	for _, m := range q.selector {
		if !m.matches(map[string]string{}) {
			nonEmpty = true
		}
	}
	if !nonEmpty {
		return nil, fmt.Errorf("parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will")
	}
	for !l.eof() {
		st, err := parseStage(l)
		if err != nil {
			return nil, err
		}
		q.stages = append(q.stages, st)
	}
	return q, nil
}

func parseMatcher(l *lexer) (matcher, error) {
	name, err := l.ident()
	if err != nil {
		return matcher{}, err
	}
	op, err := l.op()
	if err != nil {
		return matcher{}, err
	}
	val, err := l.str()
	if err != nil {
		return matcher{}, err
	}
	m := matcher{name: name, op: op, value: val}
	if op == "=~" || op == "!~" {
		if m.re, err = regexp.Compile("^(?:" + val + ")$"); err != nil {
			return matcher{}, fmt.Errorf("parse error : invalid regex %q: %v", val, err)
		}
	}
	return m, nil
}

func parseStage(l *lexer) (stage, error) {
	for _, op := range []string{"|=", "!=", "|~", "!~"} {
		if !l.accept(op) {
			continue
		}
		val, err := l.str()
		if err != nil {
			return nil, err
		}
		switch op {
		case "|=":
			return func(line *string, _ map[string]string) bool { return strings.Contains(*line, val) }, nil
		case "!=":
			return func(line *string, _ map[string]string) bool { return !strings.Contains(*line, val) }, nil
		}
		re, err := regexp.Compile(val)
		if err != nil {
			return nil, fmt.Errorf("parse error : invalid regex %q: %v", val, err)
		}
		want := op == "|~"
		return func(line *string, _ map[string]string) bool { return re.MatchString(*line) == want }, nil
	}
	if !l.accept("|") {
		return nil, parseError(l.pos, "syntax error: unexpected %s", l.peek())
	}
	name, err := l.ident()
	if err != nil {
		return nil, err
	}
	switch name {
	case "json":
		return jsonStage, nil
	case "line_format":
		src, err := l.str()
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New("line").Option("missingkey=zero").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("parse error : invalid line template: %v", err)
		}
		return func(line *string, labels map[string]string) bool {
			var b bytes.Buffer
			if tmpl.Execute(&b, labels) != nil {
				labels["__error__"] = "TemplateFormatErr"
				return true
			}
			*line = b.String()
			return true
		}, nil
	case "logfmt", "pattern", "regexp", "unpack", "label_format", "drop", "keep", "decolorize", "unwrap":
		return nil, fmt.Errorf("parse error : the %s stage is not supported by this server", name)
	}
	op, err := l.op()
	if err != nil {
		return nil, err
	}
	val, err := l.str()
	if err != nil {
		return nil, err
	}
	m := matcher{name: name, op: op, value: val}
	if op == "=~" || op == "!~" {
		if m.re, err = regexp.Compile("^(?:" + val + ")$"); err != nil {
			return nil, fmt.Errorf("parse error : invalid regex %q: %v", val, err)
		}
	}
	return func(_ *string, labels map[string]string) bool { return m.matches(labels) }, nil
}

var notLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// jsonStage is `| json`: every scalar field becomes a label, nested
// objects are flattened with "_", arrays are skipped, a name taken by a
// stream label gets "_extracted", and a line that is not a JSON object
// gets __error__="JSONParserErr".
func jsonStage(line *string, labels map[string]string) bool {
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(*line))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		labels["__error__"] = "JSONParserErr"
		labels["__error_details__"] = "Value looks like object, but can't find closing '}' symbol"
		return true
	}
	existing := map[string]bool{}
	for k := range labels {
		existing[k] = true
	}
	var walk func(prefix string, o map[string]any)
	walk = func(prefix string, o map[string]any) {
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := prefix + notLabelChar.ReplaceAllString(k, "_")
			var val string
			switch v := o[k].(type) {
			case map[string]any:
				walk(name+"_", v)
				continue
			case []any, nil:
				continue
			case string:
				val = v
			case json.Number:
				val = v.String()
			case bool:
				val = strconv.FormatBool(v)
			}
			if existing[name] {
				name += "_extracted"
			}
			labels[name] = val
		}
	}
	walk("", obj)
	return true
}
