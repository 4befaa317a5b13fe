package change

import (
	"context"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Kind is the workflow kind of every GitOps change: promotions,
// hotfixes, fix-tag PRs, GitOps rollbacks and backfills share one pipeline.
const Kind = "change"

// Change states, in order.
const (
	Card     = "card"     // post the status card
	PR       = "pr"       // push the branch, open the PR
	Approval = "approval" // wait for approvals and gates
	Merge    = "merge"
	Sync     = "sync"
	Rollout  = "rollout" // follow Argo CD until Synced+Healthy
	Watch    = "watch"   // error rate after the deploy
	Done     = "done"
	Rejected = "rejected"
	Failed   = "failed"
)

// Change is the payload of a change workflow.
type Change struct {
	Flavor   string `json:"flavor"` // records.KindPromote, KindHotfix, KindFix, KindRollback, "backfill"
	Service  string `json:"service"`
	Env      string `json:"env"`
	Tag      string `json:"tag"`
	Previous string `json:"previous"` // the tag running before
	FromEnv  string `json:"from_env,omitempty"`
	Auto     bool   `json:"auto,omitempty"`
	Incident string `json:"incident,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// WhenOpen waits for a freeze to end instead of being refused.
	WhenOpen bool `json:"when_open,omitempty"`
	// Freeze is the card's note of an emergency passing a freeze.
	Freeze string `json:"freeze,omitempty"`

	Branch    string   `json:"branch"`
	Subject   string   `json:"subject"` // commit subject = PR title
	Body      string   `json:"body"`    // commit body = PR body
	Labels    []string `json:"labels,omitempty"`
	Reviewers []string `json:"reviewers,omitempty"`
	Teams     []string `json:"teams,omitempty"`
	// Files overrides the values edit (e.g. a revert restores whole bytes).
	Files map[string]string `json:"files,omitempty"`

	Requester  string             `json:"requester"`
	Need       policy.Requirement `json:"need"`
	Approvals  []policy.Approval  `json:"approvals,omitempty"`
	SkipSoak   bool               `json:"skip_soak,omitempty"`
	Soak       time.Duration      `json:"soak,omitempty"` // gate in FromEnv
	AdminMerge bool               `json:"admin_merge,omitempty"`

	Changelog     []string   `json:"changelog,omitempty"`
	CommitSHAs    []string   `json:"commit_shas,omitempty"`
	FirstCommitAt *time.Time `json:"first_commit_at,omitempty"`

	PR       int    `json:"pr,omitempty"`
	PRURL    string `json:"pr_url,omitempty"`
	HeadSHA  string `json:"head_sha,omitempty"`
	MergeSHA string `json:"merge_sha,omitempty"`

	Gate string `json:"gate,omitempty"` // sentence for the card
	// GateOpensAt is when a closed soak gate opens (the release board
	// shows it); nil when open, or when the tag is not healthy there yet.
	GateOpensAt *time.Time `json:"gate_opens_at,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	MergedAt    *time.Time `json:"merged_at,omitempty"`
	SyncedAt    *time.Time `json:"synced_at,omitempty"`
	HealthyAt   *time.Time `json:"healthy_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	WatchUntil  time.Time  `json:"watch_until,omitempty"`
	ErrorRate   *float64   `json:"error_rate,omitempty"`
	Breach      bool       `json:"breach,omitempty"`
	Health      string     `json:"health,omitempty"`
	Note        string     `json:"note,omitempty"` // last notable event, for the card
	RejectedBy  string     `json:"rejected_by,omitempty"`
	RejectWhy   string     `json:"reject_why,omitempty"`
	Result      string     `json:"result,omitempty"`
}

// newWorkflow encodes a change as a workflow of the change pipeline (id
// prefix idKind) on its service/env lock.
func newWorkflow(d *commands.Deps, idKind string, c Change, channel string) (*store.Workflow, error) {
	if channel == "" {
		channel = d.Config.ServiceChannel(c.Service)
	}
	wf := &store.Workflow{ID: workflow.NewID(idKind), Kind: Kind, LockKey: commands.LockKey(c.Service, c.Env), State: Card, Channel: channel, CreatedBy: c.Requester}
	return wf, workflow.Encode(wf, c)
}

// startChange starts an ordinary change (promotion, fix, backfill): a held
// lock is a refusal naming the open workflow.
func startChange(ctx context.Context, d *commands.Deps, idKind string, c Change, channel string) (*store.Workflow, error) {
	if err := checkFreeze(ctx, d, &c, channel); err != nil {
		return nil, err
	}
	wf, err := newWorkflow(d, idKind, c, channel)
	if err != nil {
		return nil, err
	}
	if err := commands.StartLocked(ctx, d, wf, c.Service, c.Env); err != nil {
		return nil, err
	}
	return wf, nil
}

// startEmergency starts a hotfix or a GitOps revert, preempting an
// ordinary change of the same target (commands.StartEmergency); offer is
// the Supersede button of this request.
func startEmergency(ctx context.Context, d *commands.Deps, idKind string, c Change, channel, supersede string, offer chat.Button) (*store.Workflow, error) {
	if err := checkFreeze(ctx, d, &c, channel); err != nil {
		return nil, err
	}
	wf, err := newWorkflow(d, idKind, c, channel)
	if err != nil {
		return nil, err
	}
	err = commands.StartEmergency(ctx, d, commands.Emergency{
		Workflow: wf, Card: RenderCard(d.T(wf.Channel), wf.ID, &c, PR), What: What(&c), Service: c.Service, Env: c.Env,
		Requester: c.Requester, Supersede: supersede, Offer: offer,
	})
	if err != nil {
		return nil, err
	}
	return wf, nil
}

// MergeMessage is the merge commit's body: the PR body with the approvers
// filled in, as the playbook's "Approved by:" / "Reviewed-by:" lines.
//
//i18n:verbatim git text: the playbook's form in every locale
func MergeMessage(c *Change) string {
	var who []string
	for _, a := range policy.Evaluate(c.Need, c.Approvals).Counted {
		who = append(who, "@"+a)
	}
	approved := "Approved by: " + strings.Join(who, " ") + " (Slack)"
	if len(who) == 0 {
		approved = "Approved by: not required in " + c.Env
	}
	const placeholder = "Approved by: (filled in when approved in Slack)"
	if strings.Contains(c.Body, placeholder) {
		return strings.Replace(c.Body, placeholder, approved, 1)
	}
	return strings.TrimRight(c.Body, "\n") + "\n\n" + approved + "\n"
}

// Requirement implements commands.Approvable.
func (c *Change) Requirement() policy.Requirement { return c.Need }

// ApprovalList implements commands.Approvable.
func (c *Change) ApprovalList() *[]policy.Approval { return &c.Approvals }

// Target implements commands.Approvable.
func (c *Change) Target() (string, string) { return c.Service, c.Env }
