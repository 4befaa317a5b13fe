// Package records holds the facts nexo remembers for DORA and for the
// thread: deployments and incidents, stored as documents in the store.
package records

import "time"

// Store collections.
const (
	DeploymentsCollection = "deployments"
	IncidentsCollection   = "incidents"
)

// Deployment kinds and results.
const (
	KindPromote  = "promote"
	KindHotfix   = "hotfix"
	KindRollback = "rollback"
	KindFix      = "fix"
	KindImported = "imported" // read from the GitOps history

	ResultSuccess = "success"
	ResultFailed  = "failed"
	ResultPending = "pending"
	// ResultSuperseded: a hotfix or a rollback took its place (after its
	// merge it counts as a failed change for DORA).
	ResultSuperseded = "superseded"
	// ResultCancelled: someone cancelled it (after it was Healthy it counts
	// as a deployment).
	ResultCancelled = "cancelled"
)

// Deployment is one change of an environment's tag.
type Deployment struct {
	ID       string `json:"id"` // workflow id, or "git:<sha>" when imported
	Service  string `json:"service"`
	Env      string `json:"env"`
	Tag      string `json:"tag"`
	Previous string `json:"previous,omitempty"` // tag before
	Kind     string `json:"kind"`
	Result   string `json:"result"`
	// GitOpsSHA is the merge commit in the GitOps repo.
	GitOpsSHA string `json:"gitops_sha,omitempty"`
	// CommitSHAs are the source commits shipped (from the compare API).
	CommitSHAs []string `json:"commit_shas,omitempty"`
	// FirstCommitAt is the time of the oldest source commit shipped (lead time).
	FirstCommitAt *time.Time `json:"first_commit_at,omitempty"`
	PR            int        `json:"pr,omitempty"`
	Incident      string     `json:"incident,omitempty"`
	Requester     string     `json:"requester,omitempty"`
	Approvers     []string   `json:"approvers,omitempty"`
	RequestedAt   time.Time  `json:"requested_at"`
	ApprovedAt    *time.Time `json:"approved_at,omitempty"`
	MergedAt      *time.Time `json:"merged_at,omitempty"`
	HealthyAt     *time.Time `json:"healthy_at,omitempty"`
	// FinishedAt is when the deployment reached its result (deploy time).
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// RolledBackBy names the rollback/hotfix deployment that undid this one.
	RolledBackBy string `json:"rolled_back_by,omitempty"`
}

// DeployedAt is the time the deployment counts at.
func (d Deployment) DeployedAt() time.Time {
	switch {
	case d.HealthyAt != nil:
		return *d.HealthyAt
	case d.FinishedAt != nil:
		return *d.FinishedAt
	case d.MergedAt != nil:
		return *d.MergedAt
	}
	return d.RequestedAt
}

// Incident statuses, in order.
const (
	StatusInvestigating = "investigating"
	StatusIdentified    = "identified"
	StatusMonitoring    = "monitoring"
	StatusResolved      = "resolved"
	StatusClosed        = "closed"
)

// Incident is an incident's record (its timeline is in the store's timeline).
type Incident struct {
	ID         string            `json:"id"` // e.g. "inc-20260201-high-error-rate"
	Title      string            `json:"title"`
	Service    string            `json:"service"`
	Env        string            `json:"env"`
	Severity   string            `json:"severity"` // P0..P4, "" when unset
	Status     string            `json:"status"`
	Commander  string            `json:"commander,omitempty"`
	Roles      map[string]string `json:"roles,omitempty"` // role → user
	Channel    string            `json:"channel"`
	DeclaredBy string            `json:"declared_by"`
	DeclaredAt time.Time         `json:"declared_at"`
	ResolvedAt *time.Time        `json:"resolved_at,omitempty"`
	// Deployment is the deployment the incident is attached to (DORA).
	Deployment string `json:"deployment,omitempty"`
	PageKey    string `json:"page_key,omitempty"`
	AckedBy    string `json:"acked_by,omitempty"`
	Postmortem string `json:"postmortem,omitempty"` // PR URL
}
