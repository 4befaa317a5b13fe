package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// AnyDoc as a document index means "the first document that has the key".
const AnyDoc = -1

// ErrKeyNotFound is returned (wrapped) when no document has the key.
var ErrKeyNotFound = errors.New("gitops: key not found")

// tagRE is what SetTag accepts: OCI tag characters plus "+", "@", "/" and ":"
// for digests; nothing that can start or end a YAML structure inside quotes.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_.+@/:-]{1,256}$`)

// GetTag returns the scalar at key (a yq-style path such as ".image.tag")
// in the first YAML document that has it. A null value is "".
func GetTag(doc []byte, key string) (string, error) {
	return GetTagInDoc(doc, AnyDoc, key)
}

// GetTagInDoc is GetTag in the document at index (0-based; AnyDoc for the
// first document that has the key).
func GetTagInDoc(doc []byte, index int, key string) (string, error) {
	path, err := parseKey(key)
	if err != nil {
		return "", err
	}
	docs, err := parseDocs(doc)
	if err != nil {
		return "", err
	}
	n, _, err := findNode(docs, index, path, key, true)
	if err != nil {
		return "", err
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// SetTag sets the scalar at key to tag in the first document that has it,
// changing only that scalar's bytes: comments, key order, indentation, line
// endings, anchors, other documents and the quoting style stay as they were
// (a plain scalar is double-quoted only if tag would otherwise not read back
// as a string, e.g. "1.10" or "true"). The result is parsed again and checked
// to differ from the input in that one value only.
func SetTag(doc []byte, key, tag string) ([]byte, error) {
	return SetTagInDoc(doc, AnyDoc, key, tag)
}

// SetTagInDoc is SetTag in the document at index (AnyDoc: first having key).
func SetTagInDoc(doc []byte, index int, key, tag string) ([]byte, error) {
	if !tagRE.MatchString(tag) {
		return nil, fmt.Errorf("gitops: tag %q is not allowed: use 1-256 of letters, digits and . _ - + @ / :", tag)
	}
	path, err := parseKey(key)
	if err != nil {
		return nil, err
	}
	if bytes.ContainsRune(bytes.ReplaceAll(doc, []byte("\r\n"), nil), '\r') {
		return nil, errors.New("gitops: the file uses bare CR line endings; refusing to edit it")
	}
	docs, err := parseDocs(doc)
	if err != nil {
		return nil, err
	}
	n, flow, err := findNode(docs, index, path, key, false)
	if err != nil {
		return nil, err
	}
	if n.Tag == "!!null" && n.Value == "" {
		return nil, fmt.Errorf("gitops: %s has no value; put a placeholder such as \"\" there first", key)
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, fmt.Errorf("gitops: %s is a block scalar (| or >); refusing to edit it", key)
	}
	start, end, err := scalarSpan(doc, n)
	if err != nil {
		return nil, fmt.Errorf("gitops: %s: %w", key, err)
	}
	var repl string
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		repl = `"` + tag + `"`
	case n.Style&yaml.SingleQuotedStyle != 0:
		repl = `'` + tag + `'`
	case plainIsString(tag, flow):
		repl = tag
	default:
		repl = `"` + tag + `"`
	}
	out := make([]byte, 0, len(doc)-(end-start)+len(repl))
	out = append(out, doc[:start]...)
	out = append(out, repl...)
	out = append(out, doc[end:]...)

	// Verify: the new file parses, the key reads back as tag, and every
	// other node (values, tags, styles, anchors, comments) is unchanged.
	newDocs, err := parseDocs(out)
	if err != nil {
		return nil, fmt.Errorf("gitops: the edit would break the YAML (%v); nothing changed", err)
	}
	if len(newDocs) != len(docs) {
		return nil, errors.New("gitops: the edit would change the number of YAML documents; nothing changed")
	}
	for i := range docs {
		if err := sameTree(docs[i], newDocs[i], n, tag); err != nil {
			return nil, fmt.Errorf("gitops: the edit would change more than %s (%v); nothing changed", key, err)
		}
	}
	return out, nil
}

// keySeg is one step of a key path: a mapping key, or a sequence index.
type keySeg struct {
	key   string
	index int // >= 0 for [N]
}

// parseKey parses ".a.b", ".a[0].b" and ."quoted.key".
func parseKey(key string) ([]keySeg, error) {
	bad := func(why string) error {
		return fmt.Errorf("gitops: key %q: %s (want a yq-style path such as .image.tag)", key, why)
	}
	if !strings.HasPrefix(key, ".") || len(key) < 2 {
		return nil, bad("must start with '.'")
	}
	var segs []keySeg
	s := key
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			if strings.HasPrefix(s, `"`) {
				end := strings.IndexByte(s[1:], '"')
				if end < 0 {
					return nil, bad("unterminated quote")
				}
				segs = append(segs, keySeg{key: s[1 : 1+end], index: -1})
				s = s[end+2:]
				continue
			}
			i := strings.IndexAny(s, ".[")
			if i < 0 {
				i = len(s)
			}
			if i == 0 {
				return nil, bad("empty component")
			}
			segs = append(segs, keySeg{key: s[:i], index: -1})
			s = s[i:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, bad("unterminated [")
			}
			n, err := strconv.Atoi(s[1:end])
			if err != nil || n < 0 {
				return nil, bad("index must be a number")
			}
			segs = append(segs, keySeg{index: n})
			s = s[end+1:]
		default:
			return nil, bad("unexpected " + strconv.Quote(s[:1]))
		}
	}
	return segs, nil
}

func parseDocs(doc []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gitops: YAML does not parse: %w", err)
		}
		docs = append(docs, &n)
	}
}

// findNode walks path in the document at index (or the first that has it)
// and returns the scalar and whether it sits in a flow collection.
// With read set, aliases and merge keys (<<) are followed, as yq does.
func findNode(docs []*yaml.Node, index int, path []keySeg, key string, read bool) (*yaml.Node, bool, error) {
	if index >= len(docs) {
		return nil, false, fmt.Errorf("gitops: the file has %d YAML documents, no document %d", len(docs), index)
	}
	for i, d := range docs {
		if index >= 0 && i != index {
			continue
		}
		n, flow, err := walk(d, path, key, read)
		if errors.Is(err, ErrKeyNotFound) && index < 0 {
			continue
		}
		return n, flow, err
	}
	return nil, false, fmt.Errorf("%w: %s", ErrKeyNotFound, key)
}

func walk(doc *yaml.Node, path []keySeg, key string, read bool) (*yaml.Node, bool, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, false, fmt.Errorf("%w: %s (empty document)", ErrKeyNotFound, key)
	}
	n := doc.Content[0]
	flow := false
	for _, seg := range path {
		if n.Kind == yaml.AliasNode && read {
			n = n.Alias
		}
		if n.Kind == yaml.AliasNode {
			return nil, false, fmt.Errorf("gitops: %s goes through the alias *%s; editing it would change every user of &%s", key, n.Value, n.Value)
		}
		flow = flow || n.Style&yaml.FlowStyle != 0
		var next *yaml.Node
		switch {
		case seg.index >= 0:
			if n.Kind != yaml.SequenceNode {
				return nil, false, fmt.Errorf("%w: %s ([%d] on a non-list)", ErrKeyNotFound, key, seg.index)
			}
			if seg.index < len(n.Content) {
				next = n.Content[seg.index]
			}
		default:
			if n.Kind != yaml.MappingNode {
				return nil, false, fmt.Errorf("%w: %s (%q under a non-mapping)", ErrKeyNotFound, key, seg.key)
			}
			next = lookup(n, seg.key, read)
		}
		if next == nil {
			return nil, false, fmt.Errorf("%w: %s", ErrKeyNotFound, key)
		}
		n = next
	}
	if n.Kind == yaml.AliasNode && read {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n, flow, nil
	case yaml.AliasNode:
		return nil, false, fmt.Errorf("gitops: %s is the alias *%s; set the anchored value instead", key, n.Value)
	}
	return nil, false, fmt.Errorf("gitops: %s is a mapping or list, not a single value", key)
}

// lookup finds key's value in mapping m; with read set it also looks in
// merged mappings (<<: *anchor or a list of them).
func lookup(m *yaml.Node, key string, read bool) *yaml.Node {
	var merged []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == key {
			return v
		}
		if read && k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			merged = append(merged, v)
		}
	}
	for _, v := range merged {
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		switch v.Kind {
		case yaml.MappingNode:
			if r := lookup(v, key, true); r != nil {
				return r
			}
		case yaml.SequenceNode:
			for _, e := range v.Content {
				if e.Kind == yaml.AliasNode {
					e = e.Alias
				}
				if e.Kind == yaml.MappingNode {
					if r := lookup(e, key, true); r != nil {
						return r
					}
				}
			}
		}
	}
	return nil
}

// scalarSpan finds the byte range of n's text (quotes included, anchor and
// explicit tag excluded) in doc from n's line and column.
func scalarSpan(doc []byte, n *yaml.Node) (int, int, error) {
	off := 0
	for line := 1; line < n.Line; line++ {
		i := bytes.IndexByte(doc[off:], '\n')
		if i < 0 {
			return 0, 0, errors.New("value position is past the end of the file")
		}
		off += i + 1
	}
	if off == 0 && bytes.HasPrefix(doc, []byte("\xef\xbb\xbf")) {
		off = 3
	}
	for col := 1; col < n.Column; col++ {
		if off >= len(doc) || doc[off] == '\n' {
			return 0, 0, errors.New("value position is past the end of its line")
		}
		_, w := utf8.DecodeRune(doc[off:])
		off += w
	}
	// Skip "&anchor" and "!tag" properties written before the value.
	for off < len(doc) && (doc[off] == '&' || doc[off] == '!') {
		for off < len(doc) && !isSpace(doc[off]) {
			off++
		}
		for off < len(doc) && (doc[off] == ' ' || doc[off] == '\t') {
			off++
		}
	}
	rest := doc[off:]
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if len(rest) == 0 || rest[0] != '"' {
			return 0, 0, errors.New("could not locate the quoted value in the file")
		}
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '\n', '\r':
				return 0, 0, errors.New("the value spans several lines; refusing to edit it")
			case '"':
				return off, off + i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		if len(rest) == 0 || rest[0] != '\'' {
			return 0, 0, errors.New("could not locate the quoted value in the file")
		}
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\n', '\r':
				return 0, 0, errors.New("the value spans several lines; refusing to edit it")
			case '\'':
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return off, off + i + 1, nil
			}
		}
	default:
		if !bytes.HasPrefix(rest, []byte(n.Value)) {
			return 0, 0, errors.New("could not locate the value in the file (multi-line plain scalar?)")
		}
		end := off + len(n.Value)
		if end < len(doc) && !isSpace(doc[end]) && !strings.ContainsRune(",]}#", rune(doc[end])) {
			return 0, 0, errors.New("the value continues past what was parsed; refusing to edit it")
		}
		return off, end, nil
	}
	return 0, 0, errors.New("unterminated quoted value")
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// plainIsString tells whether tag written unquoted reads back as the same
// string (not a number, bool, null, or broken structure).
func plainIsString(tag string, flow bool) bool {
	src := "k: " + tag + "\n"
	if flow {
		src = "{k: " + tag + "}\n"
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil || len(n.Content) == 0 {
		return false
	}
	m := n.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		return false
	}
	v := m.Content[1]
	return v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == tag
}

// sameTree compares old (with target's value to become tag) to new.
func sameTree(old, new *yaml.Node, target *yaml.Node, tag string) error {
	if old.Kind != new.Kind {
		return fmt.Errorf("line %d: node kind changed", new.Line)
	}
	if old == target {
		if new.Value != tag || new.Tag != "!!str" {
			return fmt.Errorf("line %d: value reads back as %s %q, not %q", new.Line, new.Tag, new.Value, tag)
		}
	} else if old.Value != new.Value || old.Tag != new.Tag || old.Style != new.Style {
		return fmt.Errorf("line %d: %q changed to %q", new.Line, old.Value, new.Value)
	}
	if old.Anchor != new.Anchor || old.HeadComment != new.HeadComment ||
		old.LineComment != new.LineComment || old.FootComment != new.FootComment {
		return fmt.Errorf("line %d: anchor or comment changed", new.Line)
	}
	if len(old.Content) != len(new.Content) {
		return fmt.Errorf("line %d: number of children changed", new.Line)
	}
	for i := range old.Content {
		if err := sameTree(old.Content[i], new.Content[i], target, tag); err != nil {
			return err
		}
	}
	return nil
}
