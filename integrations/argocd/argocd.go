// Package argocd is a small typed client of argocd-server's REST API (the
// argo-cd module is not imported; see DESIGN.md). Shapes follow
// ../shared/contracts/argocd-swagger.json (v1alpha1Application & co).
package argocd

import (
	"context"
	"time"
)

// Application is the subset of v1alpha1Application nexo reads.
type Application struct {
	Metadata ObjectMeta        `json:"metadata"`
	Spec     ApplicationSpec   `json:"spec"`
	Status   ApplicationStatus `json:"status"`
	// Operation is set while an operation is requested/running.
	Operation *Operation `json:"operation,omitempty"`
}

// ObjectMeta is the subset of v1ObjectMeta nexo reads.
type ObjectMeta struct {
	Name            string `json:"name"`
	Namespace       string `json:"namespace,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// ApplicationSpec is v1alpha1ApplicationSpec's subset.
type ApplicationSpec struct {
	Source      *ApplicationSource     `json:"source,omitempty"`
	Destination ApplicationDestination `json:"destination"`
	Project     string                 `json:"project"`
	SyncPolicy  *SyncPolicy            `json:"syncPolicy,omitempty"`
}

// ApplicationSource is v1alpha1ApplicationSource's subset.
type ApplicationSource struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path,omitempty"`
	TargetRevision string `json:"targetRevision,omitempty"`
}

// ApplicationDestination is v1alpha1ApplicationDestination.
type ApplicationDestination struct {
	Server    string `json:"server,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// SyncPolicy is v1alpha1SyncPolicy's subset.
type SyncPolicy struct {
	Automated   *SyncPolicyAutomated `json:"automated,omitempty"`
	SyncOptions []string             `json:"syncOptions,omitempty"`
}

// SyncPolicyAutomated is v1alpha1SyncPolicyAutomated.
type SyncPolicyAutomated struct {
	Prune    bool  `json:"prune,omitempty"`
	SelfHeal bool  `json:"selfHeal,omitempty"`
	Enabled  *bool `json:"enabled,omitempty"`
}

// ApplicationStatus is v1alpha1ApplicationStatus's subset.
type ApplicationStatus struct {
	Sync           SyncStatus         `json:"sync"`
	Health         HealthStatus       `json:"health"`
	History        []RevisionHistory  `json:"history,omitempty"`
	Conditions     []Condition        `json:"conditions,omitempty"`
	OperationState *OperationState    `json:"operationState,omitempty"`
	Resources      []ResourceStatus   `json:"resources,omitempty"`
	Summary        ApplicationSummary `json:"summary"`
	ReconciledAt   *time.Time         `json:"reconciledAt,omitempty"`
}

// SyncStatus is v1alpha1SyncStatus's subset. Status: Synced, OutOfSync, Unknown.
type SyncStatus struct {
	Status   string `json:"status"`
	Revision string `json:"revision,omitempty"`
}

// HealthStatus: Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// RevisionHistory is v1alpha1RevisionHistory. The swagger types id as int64
// encoded as a string in some versions; UnmarshalJSON accepts both.
type RevisionHistory struct {
	ID              int64               `json:"id"`
	Revision        string              `json:"revision"`
	DeployedAt      time.Time           `json:"deployedAt"`
	DeployStartedAt *time.Time          `json:"deployStartedAt,omitempty"`
	Source          *ApplicationSource  `json:"source,omitempty"`
	InitiatedBy     *OperationInitiator `json:"initiatedBy,omitempty"`
}

// OperationInitiator is v1alpha1OperationInitiator.
type OperationInitiator struct {
	Username  string `json:"username,omitempty"`
	Automated bool   `json:"automated,omitempty"`
}

// Condition is v1alpha1ApplicationCondition (e.g. ComparisonError).
type Condition struct {
	Type               string     `json:"type"`
	Message            string     `json:"message"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
}

// OperationState is v1alpha1OperationState's subset. Phase: Running,
// Succeeded, Failed, Error, Terminating.
type OperationState struct {
	Phase      string      `json:"phase"`
	Message    string      `json:"message,omitempty"`
	StartedAt  time.Time   `json:"startedAt"`
	FinishedAt *time.Time  `json:"finishedAt,omitempty"`
	SyncResult *SyncResult `json:"syncResult,omitempty"`
	Operation  *Operation  `json:"operation,omitempty"`
}

// SyncResult is v1alpha1SyncOperationResult's subset.
type SyncResult struct {
	Revision  string           `json:"revision"`
	Resources []ResourceResult `json:"resources,omitempty"`
}

// ResourceResult is v1alpha1ResourceResult's subset.
type ResourceResult struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Status    string `json:"status,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Operation is v1alpha1Operation's subset.
type Operation struct {
	Sync        *SyncOperation      `json:"sync,omitempty"`
	InitiatedBy *OperationInitiator `json:"initiatedBy,omitempty"`
}

// SyncOperation is v1alpha1SyncOperation's subset.
type SyncOperation struct {
	Revision string `json:"revision,omitempty"`
	Prune    bool   `json:"prune,omitempty"`
}

// ResourceStatus is v1alpha1ResourceStatus's subset.
type ResourceStatus struct {
	Group     string        `json:"group,omitempty"`
	Version   string        `json:"version,omitempty"`
	Kind      string        `json:"kind"`
	Namespace string        `json:"namespace,omitempty"`
	Name      string        `json:"name"`
	Status    string        `json:"status,omitempty"` // Synced / OutOfSync
	Health    *HealthStatus `json:"health,omitempty"`
}

// ApplicationSummary is v1alpha1ApplicationSummary.
type ApplicationSummary struct {
	Images       []string `json:"images,omitempty"`
	ExternalURLs []string `json:"externalURLs,omitempty"`
}

// ResourceTree is v1alpha1ApplicationTree's subset.
type ResourceTree struct {
	Nodes []ResourceNode `json:"nodes,omitempty"`
}

// ResourceNode is v1alpha1ResourceNode's subset.
type ResourceNode struct {
	Group      string        `json:"group,omitempty"`
	Version    string        `json:"version,omitempty"`
	Kind       string        `json:"kind"`
	Namespace  string        `json:"namespace,omitempty"`
	Name       string        `json:"name"`
	Health     *HealthStatus `json:"health,omitempty"`
	UID        string        `json:"uid,omitempty"`
	Images     []string      `json:"images,omitempty"`
	ParentRefs []ResourceRef `json:"parentRefs,omitempty"`
}

// ResourceRef is v1alpha1ResourceRef's subset.
type ResourceRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// EventList is eventsEventList's subset: the Kubernetes events of the
// Application object (GET …/events; items may be null).
type EventList struct {
	Items []Event `json:"items"`
}

// Event is eventsEvent's subset. Reasons Argo CD records include
// OperationStarted, ResourceCreated, ResourceUpdated, OperationCompleted.
type Event struct {
	Metadata       ObjectMeta           `json:"metadata"`
	InvolvedObject EventObjectReference `json:"involvedObject"`
	Reason         string               `json:"reason,omitempty"`
	Message        string               `json:"message,omitempty"`
	Type           string               `json:"type,omitempty"` // Normal, Warning
	Count          int32                `json:"count,omitempty"`
	FirstTimestamp *time.Time           `json:"firstTimestamp,omitempty"`
	LastTimestamp  *time.Time           `json:"lastTimestamp,omitempty"`
}

// EventObjectReference is eventsObjectReference's subset.
type EventObjectReference struct {
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	UID       string `json:"uid,omitempty"`
}

// SyncRequest is applicationApplicationSyncRequest's subset. The client
// fills Name from the path argument.
type SyncRequest struct {
	Name     string `json:"name,omitempty"`
	Revision string `json:"revision,omitempty"`
	Prune    bool   `json:"prune,omitempty"`
	DryRun   bool   `json:"dryRun,omitempty"`
}

// RollbackRequest is applicationApplicationRollbackRequest's subset.
type RollbackRequest struct {
	Name   string `json:"name,omitempty"`
	ID     int64  `json:"id"`
	Prune  bool   `json:"prune,omitempty"`
	DryRun bool   `json:"dryRun,omitempty"`
}

// PatchRequest is applicationApplicationPatchRequest's subset. Patch is the
// patch document as a string; PatchType is "merge" (RFC 7396) or "json"
// (RFC 6902, the server's default when empty).
type PatchRequest struct {
	Name      string `json:"name,omitempty"`
	Patch     string `json:"patch"`
	PatchType string `json:"patchType,omitempty"`
}

// AppProject is GET /api/v1/projects/{name}: nexo reads its sync windows.
type AppProject struct {
	Metadata ObjectMeta     `json:"metadata"`
	Spec     AppProjectSpec `json:"spec"`
}

// AppProjectSpec is the part of a project's spec nexo reads.
type AppProjectSpec struct {
	Description string        `json:"description,omitempty"`
	SyncWindows []*SyncWindow `json:"syncWindows,omitempty"`
}

// SyncWindow is one of a project's sync windows: from each start of
// Schedule (five-field cron in TimeZone, default UTC) for Duration (a Go
// duration), syncs of the matching apps are allowed (kind allow: and only
// then) or denied; ManualSync lets manual syncs through.
type SyncWindow struct {
	Kind           string   `json:"kind,omitempty"`
	Schedule       string   `json:"schedule,omitempty"`
	Duration       string   `json:"duration,omitempty"`
	Applications   []string `json:"applications,omitempty"`
	Namespaces     []string `json:"namespaces,omitempty"`
	Clusters       []string `json:"clusters,omitempty"`
	ManualSync     bool     `json:"manualSync,omitempty"`
	TimeZone       string   `json:"timeZone,omitempty"`
	UseAndOperator bool     `json:"andOperator,omitempty"`
	Description    string   `json:"description,omitempty"`
	SyncOverrun    bool     `json:"syncOverrun,omitempty"`
}

// APIError is argocd-server's error body (runtimeError): {"error","code","message"}.
// Code is the gRPC code (e.g. 9 FailedPrecondition, 5 NotFound).
type APIError struct {
	HTTPStatus int    `json:"-"`
	Err        string `json:"error,omitempty"`
	Code       int    `json:"code"`
	Message    string `json:"message"`
}

// Error is nexo's sentence for the refusal (see Sentence); argocd-server's
// own text stays in Message, for logs and for the Is… predicates.
func (e *APIError) Error() string { return e.Sentence() }

// gRPC codes argocd-server returns.
const (
	CodeInvalidArgument    = 3
	CodeNotFound           = 5
	CodePermissionDenied   = 7
	CodeFailedPrecondition = 9
	CodeUnauthenticated    = 16
)

// Client is what nexo needs from Argo CD.
type Client interface {
	// GetApp reads an application; refresh is "", "normal" or "hard".
	GetApp(ctx context.Context, name, refresh string) (*Application, error)
	// Sync starts a sync (POST /api/v1/applications/{name}/sync).
	Sync(ctx context.Context, name string, req SyncRequest) (*Application, error)
	// Rollback rolls back to a history id (POST …/rollback).
	Rollback(ctx context.Context, name string, id int64) (*Application, error)
	// SetAutoSync turns automated sync on or off (PATCH the app's
	// spec.syncPolicy.automated with a merge patch).
	SetAutoSync(ctx context.Context, name string, enabled bool) (*Application, error)
	// ResourceTree reads GET …/resource-tree.
	ResourceTree(ctx context.Context, name string) (*ResourceTree, error)
	// GetProject reads an AppProject (GET /api/v1/projects/{name}): its
	// sync windows. The account needs RBAC `projects, get`.
	GetProject(ctx context.Context, name string) (*AppProject, error)
}

// HealthMessage is the most telling health message of the app: argocd-server
// v3 only names the resources that cause the app's health ("Caused by
// apps/Deployment:NS/NAME"); their own messages ("Waiting for rollout to
// finish: …", "Deployment … has timed out progressing.") are in
// status.resources. Empty for a Healthy app.
func (a *Application) HealthMessage() string {
	h := a.Status.Health
	if h.Status == "Healthy" {
		return ""
	}
	for _, r := range a.Status.Resources {
		if r.Health != nil && r.Health.Status == h.Status && r.Health.Message != "" {
			return r.Kind + " " + r.Name + ": " + r.Health.Message
		}
	}
	return h.Message
}

// AutoSyncEnabled reports whether the app has automated sync on.
func (a *Application) AutoSyncEnabled() bool {
	if a.Spec.SyncPolicy == nil || a.Spec.SyncPolicy.Automated == nil {
		return false
	}
	if e := a.Spec.SyncPolicy.Automated.Enabled; e != nil {
		return *e
	}
	return true
}
