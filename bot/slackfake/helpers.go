package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// verificationToken is the deprecated verification token Slack still puts in
// payloads.
const verificationToken = "fakeVerificationToken0"

// newTrigger issues a trigger_id for user; callers hold s.mu.
func (s *Server) newTrigger(user string) string {
	id := fmt.Sprintf("%d.%d.%s", rand.Int64N(9e10)+1e10, rand.Int64N(9e11)+1e11, randomHex(16))
	s.triggers[id] = trigger{user: user, issued: time.Now()}
	return id
}

// helperChannel finds or creates the channel a test helper names (an id,
// "#name" or "name"); callers hold s.mu.
func (s *Server) helperChannel(ch string) *Channel {
	id := s.resolveChannel(ch)
	if c, ok := s.channels[id]; ok {
		return c
	}
	if idShaped.MatchString(id) {
		return s.ensureChannel(id, "")
	}
	return s.ensureChannel(s.nextID("C"), strings.TrimPrefix(ch, "#"))
}

// userRef returns the payload "user" object; callers hold s.mu.
func (s *Server) userRef(user string) map[string]any {
	name := user
	if u, ok := s.users[user]; ok {
		name = u.Name
	}
	return map[string]any{"id": user, "username": name, "name": name, "team_id": s.opts.TeamID}
}

func (s *Server) userName(user string) string {
	if u, ok := s.users[user]; ok {
		return u.Name
	}
	return user
}

// SendSlashCommand delivers "/nexo <text>" typed by user in channel and
// returns the envelope id.
func (s *Server) SendSlashCommand(user, channel, text string) string {
	return s.SendCommand(user, channel, "/nexo", text)
}

// SendCommand delivers any slash command and returns the envelope id.
func (s *Server) SendCommand(user, channel, command, text string) string {
	s.mu.Lock()
	c := s.helperChannel(channel)
	c.addMember(user)
	payload := map[string]any{
		"token":                 verificationToken,
		"team_id":               s.opts.TeamID,
		"team_domain":           s.opts.TeamDomain,
		"channel_id":            c.ID,
		"channel_name":          c.Name,
		"user_id":               user,
		"user_name":             s.userName(user),
		"command":               command,
		"text":                  text,
		"api_app_id":            s.opts.AppID,
		"is_enterprise_install": "false",
		"response_url":          fmt.Sprintf("https://hooks.slack.com/commands/%s/%d/%s", s.opts.TeamID, rand.Int64N(9e12)+1e12, randomHex(12)),
		"trigger_id":            s.newTrigger(user),
	}
	s.mu.Unlock()
	e := &envelope{ID: newEnvelopeID(), Type: "slash_commands", Payload: payload, AcceptsResponsePayload: true}
	s.deliver(e)
	return e.ID
}

// findButton looks for a button by action_id in a block array.
func findButton(blocks json.RawMessage, actionID string) (blockID string, button map[string]any) {
	var bs []map[string]any
	if json.Unmarshal(blocks, &bs) != nil {
		return "", nil
	}
	for _, b := range bs {
		if b["type"] != "actions" {
			continue
		}
		els, _ := b["elements"].([]any)
		for _, e := range els {
			m, _ := e.(map[string]any)
			if m != nil && m["type"] == "button" && m["action_id"] == actionID {
				id, _ := b["block_id"].(string)
				return id, m
			}
		}
	}
	return "", nil
}

// ClickButton presses the button with actionID on the app's message at
// messageTS in channel (a posted or an ephemeral message) and returns the
// envelope id. value overrides the button's value when non-empty (to forge
// payloads in tests). It fails when no such button exists.
func (s *Server) ClickButton(user, channel, messageTS, actionID, value string) (string, error) {
	s.mu.Lock()
	chID := s.resolveChannel(channel)
	var blocks json.RawMessage
	var msg map[string]any
	container := map[string]any{"type": "message", "message_ts": messageTS, "channel_id": chID, "is_ephemeral": false}
	if m := s.findMessage(chID, messageTS); m != nil {
		blocks, msg = m.Blocks, s.messageJSON(m)
		if m.ThreadTS != "" {
			container["thread_ts"] = m.ThreadTS
		}
	} else {
		for _, e := range s.ephemerals {
			if e.Channel == chID && e.TS == messageTS && e.User == user {
				blocks = e.Blocks
				container["is_ephemeral"] = true
				if e.ThreadTS != "" {
					container["thread_ts"] = e.ThreadTS
				}
			}
		}
	}
	if blocks == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("slackfake: no message %s in %s", messageTS, channel)
	}
	blockID, btn := findButton(blocks, actionID)
	if btn == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("slackfake: message %s has no button %q", messageTS, actionID)
	}
	if value == "" {
		value, _ = btn["value"].(string)
	}
	action := map[string]any{
		"action_id": actionID, "block_id": blockID, "text": btn["text"], "value": value,
		"type": "button", "action_ts": fmt.Sprintf("%d.%06d", time.Now().Unix(), time.Now().Nanosecond()/1000),
	}
	if st, ok := btn["style"]; ok {
		action["style"] = st
	}
	chName := chID
	if c, ok := s.channels[chID]; ok {
		chName = c.Name
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  s.userRef(user),
		"api_app_id":            s.opts.AppID,
		"token":                 verificationToken,
		"container":             container,
		"trigger_id":            s.newTrigger(user),
		"team":                  map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": chID, "name": chName},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          fmt.Sprintf("https://hooks.slack.com/actions/%s/%d/%s", s.opts.TeamID, rand.Int64N(9e12)+1e12, randomHex(12)),
		"actions":               []any{action},
	}
	if msg != nil {
		payload["message"] = msg
	}
	s.mu.Unlock()
	e := &envelope{ID: newEnvelopeID(), Type: "interactive", Payload: payload, AcceptsResponsePayload: false}
	s.deliver(e)
	return e.ID, nil
}

// SubmitView submits a modal opened with views.open. values maps each input
// block_id to the typed text; the action_id is taken from the view. It
// returns the envelope id; the ack carries the app's response_action.
func (s *Server) SubmitView(user, viewID string, values map[string]string) (string, error) {
	s.mu.Lock()
	v, ok := s.views[viewID]
	if !ok {
		s.mu.Unlock()
		return "", errors.New("slackfake: unknown view " + viewID)
	}
	var bs []map[string]any
	_ = json.Unmarshal(v.Blocks, &bs)
	state := map[string]map[string]any{}
	for _, b := range bs {
		if b["type"] != "input" {
			continue
		}
		bid, _ := b["block_id"].(string)
		el, _ := b["element"].(map[string]any)
		aid, _ := el["action_id"].(string)
		typ, _ := el["type"].(string)
		entry := map[string]any{"type": typ, "value": nil}
		if val, ok := values[bid]; ok {
			entry["value"] = val
		}
		state[bid] = map[string]any{aid: entry}
	}
	for bid := range values {
		if _, ok := state[bid]; !ok {
			s.mu.Unlock()
			return "", fmt.Errorf("slackfake: view %s has no input block %q", viewID, bid)
		}
	}
	payload := map[string]any{
		"type":                  "view_submission",
		"team":                  map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"user":                  s.userRef(user),
		"api_app_id":            s.opts.AppID,
		"token":                 verificationToken,
		"trigger_id":            s.newTrigger(user),
		"view":                  s.viewJSON(v, state),
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	s.mu.Unlock()
	e := &envelope{ID: newEnvelopeID(), Type: "interactive", Payload: payload, AcceptsResponsePayload: true}
	s.deliver(e)
	return e.ID, nil
}

// SendEvent delivers an Events API event (the inner "event" object, e.g.
// {"type":"reaction_added",…}) wrapped in an event_callback with a fresh
// event_id, and returns the envelope id.
func (s *Server) SendEvent(event map[string]any) string {
	now := time.Now()
	if _, ok := event["event_ts"]; !ok {
		event["event_ts"] = fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
	}
	eventID := "Ev" + randomHex(5)
	payload := map[string]any{
		"token":                 verificationToken,
		"team_id":               s.opts.TeamID,
		"api_app_id":            s.opts.AppID,
		"event":                 event,
		"type":                  "event_callback",
		"event_id":              eventID,
		"event_time":            now.Unix(),
		"authorizations":        []any{map[string]any{"enterprise_id": nil, "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID, "is_bot": true, "is_enterprise_install": false}},
		"is_ext_shared_channel": false,
		"event_context":         "4-" + randomHex(20),
	}
	e := &envelope{ID: newEnvelopeID(), Type: "events_api", Payload: payload, EventID: eventID}
	s.deliver(e)
	return e.ID
}

// EventID returns the event_id carried by an events_api envelope.
func (s *Server) EventID(envelopeID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.sent[envelopeID]; ok {
		return e.EventID
	}
	for _, e := range s.pending {
		if e.ID == envelopeID {
			return e.EventID
		}
	}
	return ""
}

// Pin pins a message as user would and delivers the pin_added event.
func (s *Server) Pin(user, channel, ts string) string {
	s.mu.Lock()
	chID := s.resolveChannel(channel)
	item := map[string]any{"type": "message", "channel": chID, "created": time.Now().Unix(), "created_by": user}
	if m := s.findMessage(chID, ts); m != nil {
		item["message"] = map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS, "pinned_to": []string{chID}}
	} else {
		item["message"] = map[string]any{"type": "message", "ts": ts, "pinned_to": []string{chID}}
	}
	s.mu.Unlock()
	return s.SendEvent(map[string]any{"type": "pin_added", "user": user, "channel_id": chID, "item": item})
}

// React adds a reaction (without colons) as user and delivers reaction_added.
func (s *Server) React(user, channel, ts, reaction string) string {
	s.mu.Lock()
	chID := s.resolveChannel(channel)
	itemUser := ""
	if m := s.findMessage(chID, ts); m != nil {
		itemUser = m.User
	}
	s.mu.Unlock()
	return s.SendEvent(map[string]any{
		"type": "reaction_added", "user": user, "reaction": reaction, "item_user": itemUser,
		"item": map[string]any{"type": "message", "channel": chID, "ts": ts},
	})
}

// UserMessage records a message typed by user in channel (in thread
// threadTS when non-empty) and delivers the message event. It returns the
// message ts and the envelope id.
func (s *Server) UserMessage(user, channel, threadTS, text string) (ts, envelopeID string) {
	s.mu.Lock()
	c := s.helperChannel(channel)
	c.addMember(user)
	now := time.Now()
	m := &Message{Channel: c.ID, TS: s.nextTS(), ThreadTS: threadTS, User: user, Text: text}
	m.Updates = []Revision{{Text: text, Time: now}}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	s.mu.Unlock()
	ev := map[string]any{
		"type": "message", "channel": c.ID, "user": user, "text": text, "ts": m.TS,
		"event_ts": m.TS, "channel_type": "channel", "client_msg_id": newEnvelopeID(),
	}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return m.TS, s.SendEvent(ev)
}
