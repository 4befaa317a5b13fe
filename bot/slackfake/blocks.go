package slackfake

import (
	"encoding/json"
	"fmt"
)

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// validateBlocks checks a Block Kit array against Slack's documented limits
// and gives every block a block_id, as Slack does. It returns the normalised
// blocks and Slack-style problem messages ("[ERROR] … [json-pointer:…]").
func validateBlocks(raw json.RawMessage, maxBlocks int) (json.RawMessage, []string) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("[]"), nil
	}
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, []string{"[ERROR] blocks must be an array of objects [json-pointer:/blocks]"}
	}
	var problems []string
	add := func(ptr, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("[ERROR] "+format+" [json-pointer:%s]", append(args, ptr)...))
	}
	if len(blocks) > maxBlocks {
		add("/blocks", "no more than %d items allowed", maxBlocks)
	}
	seenBlockIDs := map[string]bool{}
	for i, b := range blocks {
		ptr := fmt.Sprintf("/blocks/%d", i)
		id, _ := b["block_id"].(string)
		if id == "" {
			id = randomHex(3)
			b["block_id"] = id
		} else if len(id) > 255 {
			add(ptr+"/block_id", "must be less than 256 characters")
		}
		if seenBlockIDs[id] {
			add(ptr+"/block_id", "duplicate block_id %q", id)
		}
		seenBlockIDs[id] = true
		typ, _ := b["type"].(string)
		switch typ {
		case "header":
			checkText(b["text"], ptr+"/text", 150, true, "plain_text", add)
		case "section":
			hasText := b["text"] != nil
			if hasText {
				checkText(b["text"], ptr+"/text", 3000, true, "", add)
			}
			fields, _ := b["fields"].([]any)
			if len(fields) > 10 {
				add(ptr+"/fields", "no more than 10 items allowed")
			}
			for j, f := range fields {
				checkText(f, fmt.Sprintf("%s/fields/%d", ptr, j), 2000, true, "", add)
			}
			if !hasText && len(fields) == 0 {
				add(ptr, "must provide either text or fields")
			}
		case "context":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > 10 {
				add(ptr+"/elements", "must have 1 to 10 items")
			}
			for j, e := range els {
				if m, ok := e.(map[string]any); ok && m["type"] == "image" {
					continue
				}
				checkText(e, fmt.Sprintf("%s/elements/%d", ptr, j), 3000, true, "", add)
			}
		case "divider":
		case "image":
			if u, _ := b["image_url"].(string); u == "" || len(u) > 3000 {
				add(ptr+"/image_url", "must be 1 to 3000 characters")
			}
			if a, _ := b["alt_text"].(string); a == "" || len(a) > 2000 {
				add(ptr+"/alt_text", "must be 1 to 2000 characters")
			}
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > 25 {
				add(ptr+"/elements", "must have 1 to 25 items")
			}
			seenActions := map[string]bool{}
			for j, e := range els {
				checkButton(e, fmt.Sprintf("%s/elements/%d", ptr, j), seenActions, add)
			}
		case "input":
			checkText(b["label"], ptr+"/label", 2000, true, "plain_text", add)
			el, _ := b["element"].(map[string]any)
			if el == nil {
				add(ptr+"/element", "must provide an element")
			} else if a, _ := el["action_id"].(string); len(a) > 255 {
				add(ptr+"/element/action_id", "must be less than 256 characters")
			}
		case "rich_text", "video", "file", "markdown":
		default:
			add(ptr+"/type", "unsupported type %q", typ)
		}
	}
	out, _ := json.Marshal(blocks)
	return out, problems
}

func checkText(v any, ptr string, max int, required bool, wantType string, add func(string, string, ...any)) {
	m, ok := v.(map[string]any)
	if !ok {
		if required {
			add(ptr, "must be a text object")
		}
		return
	}
	typ, _ := m["type"].(string)
	if typ != "plain_text" && typ != "mrkdwn" {
		add(ptr+"/type", "must be plain_text or mrkdwn")
	}
	if wantType != "" && typ != wantType {
		add(ptr+"/type", "must be %s", wantType)
	}
	text, _ := m["text"].(string)
	n := len([]rune(text))
	if n == 0 && required {
		add(ptr+"/text", "must be more than 0 characters")
	}
	if n > max {
		add(ptr+"/text", "must be less than %d characters", max+1)
	}
}

func checkButton(v any, ptr string, seen map[string]bool, add func(string, string, ...any)) {
	m, ok := v.(map[string]any)
	if !ok || m["type"] != "button" {
		// Other interactive elements are not used by nexo; accept them.
		return
	}
	checkText(m["text"], ptr+"/text", 75, true, "plain_text", add)
	aid, _ := m["action_id"].(string)
	if len(aid) > 255 {
		add(ptr+"/action_id", "must be less than 256 characters")
	}
	if aid != "" {
		if seen[aid] {
			add(ptr+"/action_id", "duplicate action_id %q", aid)
		}
		seen[aid] = true
	}
	if val, _ := m["value"].(string); len([]rune(val)) > 2000 {
		add(ptr+"/value", "must be less than 2001 characters")
	}
	if u, _ := m["url"].(string); len([]rune(u)) > 3000 {
		add(ptr+"/url", "must be less than 3001 characters")
	}
	if st, ok := m["style"].(string); ok && st != "primary" && st != "danger" {
		add(ptr+"/style", "must be primary or danger")
	}
	if c, ok := m["confirm"].(map[string]any); ok {
		checkText(c["title"], ptr+"/confirm/title", 100, true, "plain_text", add)
		checkText(c["text"], ptr+"/confirm/text", 300, true, "", add)
		checkText(c["confirm"], ptr+"/confirm/confirm", 30, true, "plain_text", add)
		checkText(c["deny"], ptr+"/confirm/deny", 30, true, "plain_text", add)
	}
}
