package commands

// Button actions one scenario shows and another handles: named here so
// neither has to know the other.
const (
	// ActionFixTag opens the fix PR of a missing image tag (value
	// "<service>|<env>|<tag>"); shown by diagnose, handled by change.
	ActionFixTag = "change.fix"
	// ActionRollbackStart shows the rollback menu (value
	// "<service>|<env>|<tag>"); shown by change and incident, handled by
	// rollback.
	ActionRollbackStart = "rollback.start"
	// ActionCancel is the Cancel button of every open card (value: the
	// workflow id); handled by commands/cancel.
	ActionCancel = "workflow.cancel"
)
