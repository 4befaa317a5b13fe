package commands

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
)

// Members resolves config groups to Slack user ids: user ids are taken as
// they are, user-group ids (S…) are expanded through the chat and cached.
type Members struct {
	cfg  *config.Config
	chat chat.Chat
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]cachedGroup
}

type cachedGroup struct {
	users []string
	at    time.Time
}

// NewMembers builds a resolver with a 5-minute cache of user groups.
func NewMembers(cfg *config.Config, c chat.Chat) *Members {
	return &Members{cfg: cfg, chat: c, ttl: 5 * time.Minute, now: time.Now, cache: map[string]cachedGroup{}}
}

// Of lists the user ids of a config group.
func (m *Members) Of(ctx context.Context, group string) ([]string, error) {
	entries, ok := m.cfg.Groups[group]
	if !ok {
		return nil, fmt.Errorf("unknown group %q", group)
	}
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, e := range entries {
		if !strings.HasPrefix(e, "S") {
			add(e)
			continue
		}
		users, err := m.userGroup(ctx, e)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			add(u)
		}
	}
	return out, nil
}

// Is reports whether user belongs to group.
func (m *Members) Is(ctx context.Context, user, group string) (bool, error) {
	users, err := m.Of(ctx, group)
	if err != nil {
		return false, err
	}
	return slices.Contains(users, user), nil
}

// IsAdmin reports whether user is listed in admins (directly or by group).
func (m *Members) IsAdmin(ctx context.Context, user string) bool {
	for _, a := range m.cfg.Admins {
		if a == user {
			return true
		}
		if _, ok := m.cfg.Groups[a]; ok {
			if in, _ := m.Is(ctx, user, a); in {
				return true
			}
		}
	}
	return false
}

func (m *Members) userGroup(ctx context.Context, id string) ([]string, error) {
	m.mu.Lock()
	c, ok := m.cache[id]
	m.mu.Unlock()
	if ok && m.now().Sub(c.at) < m.ttl {
		return c.users, nil
	}
	if m.chat == nil {
		return nil, nil
	}
	users, err := m.chat.GroupMembers(ctx, id)
	if err != nil {
		if ok {
			return c.users, nil // stale beats nothing
		}
		return nil, fmt.Errorf("resolving user group %s: %w", id, err)
	}
	m.mu.Lock()
	m.cache[id] = cachedGroup{users: users, at: m.now()}
	m.mu.Unlock()
	return users, nil
}

// Mentions formats a group's members as mentions (for "who can approve").
func (m *Members) Mentions(ctx context.Context, group string) string {
	var parts []string
	for _, e := range m.cfg.Groups[group] {
		if strings.HasPrefix(e, "S") {
			parts = append(parts, "<!subteam^"+e+">")
		} else {
			parts = append(parts, chat.Mention(e))
		}
	}
	if len(parts) == 0 {
		return group
	}
	return strings.Join(parts, ", ")
}

// UserGroups lists the config groups a user belongs to.
func UserGroups(ctx context.Context, d *Deps, user string) []string {
	var out []string
	for _, g := range d.Config.GroupNames() {
		if in, err := d.Members.Is(ctx, user, g); err == nil && in {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// MayRequest refuses a user outside the groups allowed to ask for what
// (an empty list: anyone in a configured group, which the guard checked
// already), and audits the refusal as action. Admins may always ask.
func MayRequest(ctx context.Context, d *Deps, user string, groups []string, action, service, env string, what i18n.Msg) error {
	if len(groups) == 0 || user == "nexo" || d.Members.IsAdmin(ctx, user) {
		return nil
	}
	mine := UserGroups(ctx, d, user)
	for _, g := range groups {
		if slices.Contains(mine, g) {
			return nil
		}
	}
	who := make([]string, len(groups))
	for i, g := range groups {
		who[i] = g + " (" + d.Members.Mentions(ctx, g) + ")"
	}
	why := &Refusal{Msg: i18n.M("core.request.who", "Groups", strings.Join(who, " · "), "What", what)}
	Audit(ctx, d, user, action, service, env, "", "refused", why.Error())
	return why
}
