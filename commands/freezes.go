package commands

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

// Freezes is the change-freeze gate: nexo's freezes (config and ad-hoc)
// and the Argo CD sync windows of each app's project. Implemented by
// commands/freeze (set in its Register); scenarios ask it through
// CheckFreeze and ActiveFreeze, so none imports another.
type Freezes interface {
	// Gate decides whether a change of service into env may go at now.
	// emergency is a hotfix or a rollback: it passes nexo's freezes and
	// the sync windows that allow manual syncs.
	Gate(ctx context.Context, service, env string, emergency bool, now time.Time) (FreezeGate, error)
	// Held is Gate for an ordinary change in one of its workflow's
	// steps: it reads no Application (the project Gate remembered is
	// used), so a step's Argo CD reads stay the step's own.
	Held(ctx context.Context, service, env string, now time.Time) (FreezeGate, error)
	// Active is the freeze in force in env at now (nil: none); with a
	// service, its app's sync windows count too.
	Active(ctx context.Context, service, env string, now time.Time) (*Freeze, error)
}

// Freeze is one freeze in force, or the chain of them that holds an env.
type Freeze struct {
	Env    string
	Source string // FreezeConfig, FreezeAdHoc or FreezeArgoCD
	Reason string // the freeze's reason, or the window's description
	// Window is the Argo CD sync window (Source FreezeArgoCD).
	Window     *FreezeWindow
	Start, End time.Time // End is zero when it is not known
	By         string    // ad-hoc: the admin who froze the env
	// Say is the freeze for a card or the board ("frozen until …: why").
	Say i18n.Msg
}

// FreezeWindow is an Argo CD sync window that holds an env.
type FreezeWindow struct {
	Kind, Schedule, Duration, Project string
	ManualSync                        bool
}

// Where a freeze comes from.
const (
	FreezeConfig = "config"
	FreezeAdHoc  = "adhoc"
	FreezeArgoCD = "argocd"
)

// FreezeGate is the gate's answer for one change.
type FreezeGate struct {
	// Freeze is what holds the env (nil: nothing).
	Freeze *Freeze
	// Blocked: the change may not go now (Why says why, Until when it may).
	Blocked bool
	Until   time.Time
	// Why is the refusal when Blocked, else (an emergency passing a
	// freeze) the note its card and reply show.
	Why i18n.Msg
}

// CheckFreeze asks the gate about a change of service into env now (an
// open gate when no freeze scenario is registered).
func CheckFreeze(ctx context.Context, d *Deps, service, env string, emergency bool) (FreezeGate, error) {
	if d.Freezes == nil {
		return FreezeGate{}, nil
	}
	return d.Freezes.Gate(ctx, service, env, emergency, d.Clock().Now())
}

// HeldByFreeze asks the gate, from a workflow's step, whether an ordinary
// change of service into env must wait now.
func HeldByFreeze(ctx context.Context, d *Deps, service, env string) (FreezeGate, error) {
	if d.Freezes == nil {
		return FreezeGate{}, nil
	}
	return d.Freezes.Held(ctx, service, env, d.Clock().Now())
}

// ActiveFreeze is the freeze in force in env now, for status cards and
// the board (nil: none, or no freeze scenario).
func ActiveFreeze(ctx context.Context, d *Deps, service, env string) (*Freeze, error) {
	if d.Freezes == nil {
		return nil, nil
	}
	return d.Freezes.Active(ctx, service, env, d.Clock().Now())
}
