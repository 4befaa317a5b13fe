// Package policy decides whether a change may go ahead: approvals (who,
// how many, no self-approval, each person once) and soak gates. It returns
// sentences for people, separately from system errors.
package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"
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
	// Missing explains what is still needed ("1 more approval from sre-team").
	Missing string
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
		inMain := req.Group == "" || has(a.Groups, req.Group)
		inExtra := req.ExtraGroup != "" && has(a.Groups, req.ExtraGroup)
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
	var missing []string
	if n := req.Approvals - len(main); n > 0 {
		missing = append(missing, fmt.Sprintf("%d more approval%s from %s", n, plural(n), req.Group))
	}
	if n := req.ExtraApprovals - len(extra); n > 0 {
		missing = append(missing, fmt.Sprintf("%d extra approval%s from %s (soak skipped)", n, plural(n), req.ExtraGroup))
	}
	d.Missing = strings.Join(missing, " and ")
	d.Satisfied = len(missing) == 0
	return d
}

// CanApprove says whether user may approve, with the refusal sentence.
func CanApprove(req Requirement, user string, userGroups []string, already []Approval, whoCan string) (bool, string) {
	if user == req.Requester {
		return false, "You requested this change, so your approval does not count. " + whoCan
	}
	for _, a := range already {
		if a.User == user {
			return false, "You have already approved this; each person counts once."
		}
	}
	if req.Group == "" && req.ExtraGroup == "" {
		return true, ""
	}
	if (req.Group != "" && has(userGroups, req.Group)) || (req.ExtraGroup != "" && has(userGroups, req.ExtraGroup)) {
		return true, ""
	}
	groups := []string{req.Group}
	if req.ExtraGroup != "" && req.ExtraGroup != req.Group {
		groups = append(groups, req.ExtraGroup)
	}
	sort.Strings(groups)
	return false, fmt.Sprintf("Only members of %s can approve this. %s", strings.Join(groups, " or "), whoCan)
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
func (g Gate) Open(now time.Time) (open bool, opensAt time.Time, why string) {
	if g.Soak <= 0 {
		return true, time.Time{}, ""
	}
	if g.HealthySince.IsZero() {
		return false, time.Time{}, fmt.Sprintf("`%s` is not Healthy in %s yet; it must stay Healthy there for %s first.", g.Tag, g.Env, human(g.Soak))
	}
	opensAt = g.HealthySince.Add(g.Soak)
	if !now.Before(opensAt) {
		return true, opensAt, fmt.Sprintf("`%s` has been Healthy in %s for %s (needed %s).", g.Tag, g.Env, human(now.Sub(g.HealthySince)), human(g.Soak))
	}
	return false, opensAt, fmt.Sprintf("`%s` has been Healthy in %s for %s; the %s soak ends at %s UTC.", g.Tag, g.Env, human(now.Sub(g.HealthySince)), human(g.Soak), opensAt.UTC().Format("2006-01-02 15:04"))
}

func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
