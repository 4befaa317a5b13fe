// Package incident is playbook scenario 5: declare an incident (its
// channel, on-call invited and paged), investigate it (error-rate onset,
// deploys near it, top error logs, config in force), run it (status,
// severity, roles, timeline from pins, reminders and nudges), resolve it
// into a post-mortem draft, and declare from Alertmanager's alerts.
package incident

import "github.com/nexo-org/nexo-bot/commands"

// Register adds `/nexo incident`, its buttons, timers and events, and
// listens to finished deploys (they join the open incidents' timelines).
func Register(r *commands.Router, d *commands.Deps) {
	r.Register(Spec(d))
	registerFollowUps(r, d)
}
