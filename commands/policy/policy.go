// Package policy decides whether a change may go ahead: approvals (who,
// how many, no self-approval, each person once) and soak gates. It returns
// sentences for people, separately from system errors.
package policy

import (
	"slices"
	"sort"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

// Approval is one person's approval.
type Approval struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
	// Groups the approver belonged to when approving (decides what it counts for).
	Groups []string `json:"groups,omitempty"`
}

// Requirement is what a change needs.
type Requirement struct {
	// Approvals needed from Group.
	Approvals int
	Group     string
	// ExtraApprovals needed from ExtraGroup (e.g. one more SRE for --skip-soak).
	ExtraApprovals int
	ExtraGroup     string
	Requester      string
}

// Decision is the result of Evaluate.
type Decision struct {
	Satisfied bool
	// Counted are the approvals that count, in order.
	Counted []string
	// Missing says what is still needed ("1 more approval from sre-team");
	// the zero Msg when satisfied.
	Missing i18n.Msg
}

// Evaluate counts approvals: each user once, never the requester, only
// members of the group. With an extra requirement, a user counts once in
// total, first towards the main group, and the extra must come from other
// people in the extra group.
func Evaluate(req Requirement, approvals []Approval) Decision {
	seen := map[string]bool{}
	var main, extra []string
	for _, a := range approvals {
		if a.User == req.Requester || seen[a.User] {
			continue
		}
		seen[a.User] = true
		inMain := req.Group == "" || slices.Contains(a.Groups, req.Group)
		inExtra := req.ExtraGroup != "" && slices.Contains(a.Groups, req.ExtraGroup)
		switch {
		case inMain && len(main) < req.Approvals:
			main = append(main, a.User)
		case inExtra && len(extra) < req.ExtraApprovals:
			extra = append(extra, a.User)
		case inMain && req.ExtraGroup == req.Group && len(extra) < req.ExtraApprovals:
			extra = append(extra, a.User)
		}
	}
	d := Decision{Counted: append(main, extra...)}
	var missing []i18n.Msg
	if n := req.Approvals - len(main); n > 0 {
		missing = append(missing, i18n.M("policy.more_approvals", "Count", n, "Group", req.Group))
	}
	if n := req.ExtraApprovals - len(extra); n > 0 {
		missing = append(missing, i18n.M("policy.extra_approvals", "Count", n, "Group", req.ExtraGroup))
	}
	switch len(missing) {
	case 1:
		d.Missing = missing[0]
	case 2:
		d.Missing = i18n.M("policy.and", "A", missing[0], "B", missing[1])
	}
	d.Satisfied = len(missing) == 0
	return d
}

// CanApprove says whether user may approve, with the refusal; whoCan
// names who can ("Ask @alice, @bob.").
func CanApprove(req Requirement, user string, userGroups []string, already []Approval, whoCan i18n.Msg) (bool, i18n.Msg) {
	if user == req.Requester {
		return false, i18n.M("policy.own_approval", "WhoCan", whoCan)
	}
	for _, a := range already {
		if a.User == user {
			return false, i18n.M("policy.approved_already")
		}
	}
	if req.Group == "" && req.ExtraGroup == "" {
		return true, i18n.Msg{}
	}
	if (req.Group != "" && slices.Contains(userGroups, req.Group)) || (req.ExtraGroup != "" && slices.Contains(userGroups, req.ExtraGroup)) {
		return true, i18n.Msg{}
	}
	if req.ExtraGroup != "" && req.ExtraGroup != req.Group {
		groups := []string{req.Group, req.ExtraGroup}
		sort.Strings(groups)
		return false, i18n.M("policy.only_members_of_two", "A", groups[0], "B", groups[1], "WhoCan", whoCan)
	}
	return false, i18n.M("policy.only_members_of", "Group", req.Group, "WhoCan", whoCan)
}

// Gate is a soak gate: the tag must have been Healthy in Env for Soak.
type Gate struct {
	Env          string
	Tag          string
	Soak         time.Duration
	HealthySince time.Time // zero: not healthy there (yet)
}

// Open reports whether the gate is open at now, when it opens, and the
// sentence for the card.
func (g Gate) Open(now time.Time) (open bool, opensAt time.Time, why i18n.Msg) {
	if g.Soak <= 0 {
		return true, time.Time{}, i18n.Msg{}
	}
	if g.HealthySince.IsZero() {
		return false, time.Time{}, i18n.M("policy.gate.not_healthy", "Tag", g.Tag, "Env", g.Env, "Soak", i18n.Span(g.Soak))
	}
	opensAt = g.HealthySince.Add(g.Soak)
	if !now.Before(opensAt) {
		return true, opensAt, i18n.M("policy.gate.open", "Tag", g.Tag, "Env", g.Env, "For", i18n.Span(now.Sub(g.HealthySince)), "Soak", i18n.Span(g.Soak))
	}
	return false, opensAt, i18n.M("policy.gate.closed", "Tag", g.Tag, "Env", g.Env, "For", i18n.Span(now.Sub(g.HealthySince)), "Soak", i18n.Span(g.Soak), "At", i18n.Moment(opensAt))
}
