package loki

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaxExampleTraces is how many trace ids an ErrorGroup keeps.
const MaxExampleTraces = 3

// maxMessage caps a message taken from a non-JSON line.
const maxMessage = 200

// ErrorGroup is one distinct error message and how often it appeared.
type ErrorGroup struct {
	Message  string    `json:"message"`
	Count    int       `json:"count"`
	TraceIDs []string  `json:"trace_ids,omitempty"` // up to MaxExampleTraces, in order seen
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// GroupErrors groups log entries by error message, like LogQL's `| json`
// followed by a count by message. Each line is parsed as JSON; the message
// is the field named field, or when field is empty the first of "error",
// "msg" and "message" that is set. A field missing from the line is looked
// up in the entry's labels (Loki returns `| json` fields as labels); a
// line that is not JSON counts under its own (trimmed, shortened) text.
// Trace ids come from "trace_id". Groups are sorted by count, most first,
// then by first occurrence.
func GroupErrors(entries []Entry, field string) []ErrorGroup {
	fields := []string{"error", "msg", "message"}
	if field != "" {
		fields = []string{field}
	}
	idx := map[string]int{}
	var groups []ErrorGroup
	for _, e := range entries {
		obj := parseJSONLine(e.Line)
		msg := ""
		for _, f := range fields {
			if msg = lookup(obj, e.Labels, f); msg != "" {
				break
			}
		}
		if msg == "" {
			if obj != nil {
				continue // JSON without any message field: nothing to group
			}
			msg = shorten(strings.TrimSpace(e.Line))
			if msg == "" {
				continue
			}
		}
		i, ok := idx[msg]
		if !ok {
			i = len(groups)
			idx[msg] = i
			groups = append(groups, ErrorGroup{Message: msg, First: e.Time, Last: e.Time})
		}
		g := &groups[i]
		g.Count++
		if e.Time.Before(g.First) {
			g.First = e.Time
		}
		if e.Time.After(g.Last) {
			g.Last = e.Time
		}
		if tid := lookup(obj, e.Labels, "trace_id"); tid != "" && len(g.TraceIDs) < MaxExampleTraces && !contains(g.TraceIDs, tid) {
			g.TraceIDs = append(g.TraceIDs, tid)
		}
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if groups[i].Count != groups[j].Count {
			return groups[i].Count > groups[j].Count
		}
		return groups[i].First.Before(groups[j].First)
	})
	return groups
}

func parseJSONLine(line string) map[string]any {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{") {
		return nil
	}
	var obj map[string]any
	if json.Unmarshal([]byte(line), &obj) != nil {
		return nil
	}
	return obj
}

// lookup reads a field as text from the JSON object, then from labels.
func lookup(obj map[string]any, labels map[string]string, field string) string {
	if v, ok := obj[field]; ok && v != nil {
		switch x := v.(type) {
		case string:
			return strings.TrimSpace(x)
		case map[string]any, []any:
			b, _ := json.Marshal(x)
			return shorten(string(b))
		default:
			return fmt.Sprint(x)
		}
	}
	return strings.TrimSpace(labels[field])
}

func shorten(s string) string {
	if r := []rune(s); len(r) > maxMessage {
		return string(r[:maxMessage]) + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
