package change

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/pagerduty"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Timer kinds of the hotfix SLA.
const (
	HotfixRemindTimer = "hotfix.remind"
	HotfixPageTimer   = "hotfix.page"
)

// HotfixSpec is `/nexo hotfix <svc> <version> --incident <id> [--reason "…"]`.
func HotfixSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "hotfix",
		Args:     []string{"service", "version"},
		Summary:  "Fast track a fix straight to production (SRE approvals, 15-minute SLA)",
		Help:     "Skips develop, qa and staging and their soak gates. Branch `hotfix/prod-<tag>`, PR labelled `hotfix,P0`, 2 approvals from sre-team with reminders at 5 and 10 minutes and a page at 15. As soon as it is Healthy: recovery figures and Backfill buttons for staging, qa and develop. It supersedes an ordinary change of production (one not merged yet once you press Supersede).\nExample: `/nexo hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason \"connection pool exhaustion\"`",
		Flags:    []commands.Flag{{Name: "incident", Value: "<id>"}, {Name: "reason", Value: "\"…\""}},
		Mutating: true,
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			_, err := StartHotfix(ctx, d, HotfixRequest{
				Service: r.Args.Words[0], Tag: r.Args.Words[1], Incident: r.Args.Flag("incident"), Reason: r.Args.Flag("reason"),
				Requester: r.UserID, Channel: r.ChannelID,
			})
			return nil, err
		},
	}
}

// HotfixRequest asks for a hotfix.
type HotfixRequest struct {
	Service, Tag, Incident, Reason string
	Requester, Channel             string
	// Supersede is the open change the requester chose to supersede.
	Supersede string
}

// values is the request as a Supersede button's value.
func (hr HotfixRequest) values() string {
	return url.Values{"service": {hr.Service}, "tag": {hr.Tag}, "incident": {hr.Incident}, "reason": {commands.Clip(hr.Reason, 500)}}.Encode()
}

// hotfixRequestOf reads a Supersede button's value (never trusted:
// StartHotfix checks everything again).
func hotfixRequestOf(value string) (HotfixRequest, error) {
	v, err := url.ParseQuery(value)
	if err != nil {
		return HotfixRequest{}, commands.Refusalf("That button is malformed.")
	}
	return HotfixRequest{Service: v.Get("service"), Tag: v.Get("tag"), Incident: v.Get("incident"), Reason: v.Get("reason"), Supersede: v.Get("supersede")}, nil
}

// StartHotfix validates and starts a hotfix. It preempts an ordinary
// change of production (commands.StartEmergency).
func StartHotfix(ctx context.Context, d *commands.Deps, hr HotfixRequest) (*store.Workflow, error) {
	cfg := d.Config
	incident := strings.TrimPrefix(strings.TrimSpace(hr.Incident), "#")
	if incident == "" {
		return nil, commands.Refusalf("A hotfix needs `--incident <id>`: the fast track is for incidents only.")
	}
	if !commands.SafeIncident.MatchString(incident) {
		return nil, commands.Refusalf("`%s` is not an incident id.", commands.Clip(incident, 40))
	}
	svc, err := commands.ResolveService(cfg, hr.Service)
	if err != nil {
		return nil, err
	}
	if err := commands.MayRequest(ctx, d, hr.Requester, cfg.Hotfix.Requesters, "hotfix.request", svc.Name, cfg.Environments[len(cfg.Environments)-1].Name, i18n.M("change.request.hotfix")); err != nil {
		return nil, err
	}
	tag, reason, requester, channel := hr.Tag, hr.Reason, hr.Requester, hr.Channel
	prod := &cfg.Environments[len(cfg.Environments)-1]
	if err := commands.ValidateTag(cfg, tag); err != nil {
		return nil, err
	}
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, fmt.Errorf("reading the GitOps repo: %w", err)
	}
	current, err := commands.ReadTag(ctx, d, svc.Name, prod.Name)
	if err != nil {
		return nil, err
	}
	if current == tag {
		return nil, commands.Refusalf("%s already runs `%s` in %s.", svc.Name, tag, prod.Name)
	}
	if err := commands.RequireImage(ctx, d, svc.Name, tag); err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "hotfix for incident #" + incident
	}
	c := Change{
		Flavor: records.KindHotfix, Service: svc.Name, Env: prod.Name, Tag: tag, Previous: current,
		Incident: incident, Reason: reason, Requester: requester, RequestedAt: d.Clock().Now(),
		Need:   policy.Requirement{Approvals: cfg.Hotfix.Approvals, Group: cfg.Hotfix.ApproverGroup, Requester: requester},
		Branch: fmt.Sprintf("hotfix/%s-%s", commands.BranchEnv(cfg, prod.Name), tag),
		Labels: []string{"hotfix", "P0"}, Teams: []string{"nexo-" + cfg.Hotfix.ApproverGroup},
		AdminMerge: true,
	}
	c.Subject = fmt.Sprintf("hotfix(%s): %s → %s (%s)", svc.Name, prod.Name, tag, commands.Clip(reason, 60))
	AddChangelog(ctx, d, svc, &c)
	c.Body = HotfixBody(&c)
	hr.Incident = incident
	offer := chat.Button{Text: "Supersede and start the hotfix", Action: "hotfix.supersede", Value: hr.values(), Style: chat.StyleDanger,
		Confirm: "Close the open change's PR and start the hotfix of " + svc.Name + " `" + tag + "`?"}
	wf, err := startEmergency(ctx, d, "hotfix", c, channel, hr.Supersede, offer)
	if err != nil {
		return nil, err
	}
	now := d.Clock().Now()
	for i, r := range cfg.Hotfix.Reminders {
		_ = d.Engine.Schedule(ctx, fmt.Sprintf("%s/remind/%d", wf.ID, i), now.Add(r.D()), HotfixRemindTimer, wf.ID)
	}
	_ = d.Engine.Schedule(ctx, wf.ID+"/page", now.Add(cfg.Hotfix.SLA.D()), HotfixPageTimer, wf.ID)
	commands.Audit(ctx, d, requester, "hotfix.request", svc.Name, prod.Name, wf.ID, "ok", fmt.Sprintf("%s → %s, incident %s", current, tag, incident))
	commands.IncidentNote(ctx, d, incident, "deploy", requester, fmt.Sprintf("Hotfix requested: %s %s → `%s` (%s)", svc.Name, prod.Name, tag, reason))
	return wf, nil
}

// HotfixBody is the playbook's hotfix commit body.
func HotfixBody(c *Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "URGENT: P0 incident #%s\nFix: %s\n", c.Incident, c.Reason)
	if len(c.Changelog) > 0 {
		b.WriteString("\n## Changelog\n")
		for _, l := range c.Changelog {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	fmt.Fprintf(&b, "\n## Rollback Plan\n1. /nexo rollback %s %s --to %s\n", c.Service, c.Env, commands.OrDash(c.Previous))
	b.WriteString("\nApproved by: (filled in when approved in Slack)\n")
	return b.String()
}

// hotfixSLA reminds the approvers, or pages on-call, while approvals are missing.
func hotfixSLA(ctx context.Context, d *commands.Deps, t store.Timer, page bool) error {
	var id string
	if err := json.Unmarshal(t.Payload, &id); err != nil {
		return nil
	}
	wf, err := d.Store.GetWorkflow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if wf.Done || (wf.State != Approval && wf.State != PR && wf.State != Card) {
		return nil
	}
	c, err := workflow.Decode[Change](wf)
	if err != nil {
		return nil
	}
	dec := policy.Evaluate(c.Need, c.Approvals)
	if dec.Satisfied {
		return nil
	}
	waited := d.Clock().Now().Sub(c.RequestedAt).Round(time.Minute)
	group := d.Members.Mentions(ctx, c.Need.Group)
	if !page {
		// Once per timer, even if the timer is handled twice.
		_, err := commands.PostOnce(ctx, d, wf.ID, commands.TimerPostKey(t), wf.Channel, wf.ThreadTS, chat.Message{Text: fmt.Sprintf(":alarm_clock: Hotfix %s `%s` has waited %s for approval: %s. %s, please review <%s|#%d>.", c.Service, c.Tag, waited, dec.Missing, group, c.PRURL, c.PR)})
		return err
	}
	text := fmt.Sprintf(":rotating_light: Hotfix %s `%s` is past its %s approval SLA (%s).", c.Service, c.Tag, d.Config.Hotfix.SLA, dec.Missing)
	if d.Pager != nil {
		if _, err := d.Pager.Send(ctx, pagerduty.Event{Action: "trigger", DedupKey: "nexo-" + wf.ID + "-sla", Summary: text, Source: "nexo", Severity: "critical",
			Links: []pagerduty.Link{{Href: c.PRURL, Text: fmt.Sprintf("PR #%d", c.PR)}}}); err != nil {
			return err
		}
		text += " On-call has been paged."
	} else {
		text += " " + d.Members.Mentions(ctx, d.Config.Incidents.OnCallGroup)
	}
	_, err = commands.PostOnce(ctx, d, wf.ID, commands.TimerPostKey(t), wf.Channel, wf.ThreadTS, chat.Message{Text: text})
	commands.Audit(ctx, d, "nexo", "hotfix.sla-page", c.Service, c.Env, wf.ID, "ok", commands.English().Msg(dec.Missing))
	return err
}

// hotfixFinished posts recovery figures and the Backfill buttons after a
// hotfix, and notes every finished change in its incident.
func hotfixFinished(ctx context.Context, d *commands.Deps, wf *store.Workflow, c *Change) {
	if c.Incident != "" {
		commands.IncidentNote(ctx, d, c.Incident, c.Flavor, c.Requester, fmt.Sprintf("%s %s %s → `%s`: %s", commands.TitleCase(c.Flavor), c.Service, c.Env, c.Tag, commands.OrDash(c.Result)))
	}
	if c.Result == records.ResultSuccess {
		hotfixLive(ctx, d, wf, c)
	}
}

// hotfixLive says a hotfix is live, with its recovery figures and the
// Backfill buttons, once: as soon as it is Synced and Healthy (the watch
// window goes on after it, and still alerts on a breach).
func hotfixLive(ctx context.Context, d *commands.Deps, wf *store.Workflow, c *Change) {
	if c.Flavor != records.KindHotfix {
		return
	}
	text := fmt.Sprintf(":white_check_mark: Hotfix `%s` is live in %s.", c.Tag, c.Env)
	if rec := RecoveryReport(ctx, d, c); rec != "" {
		text += "\n" + rec
	}
	var btns []chat.Button
	for i := len(d.Config.Environments) - 2; i >= 0; i-- {
		e := d.Config.Environments[i].Name
		btns = append(btns, chat.Button{Text: "Backfill " + e, Action: "hotfix.backfill", Value: wf.ID + "|" + e})
	}
	m := chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: text}}, {Context: []string{"Promote the same tag to the earlier environments (the reverse of the normal flow), as ordinary promotions without soak gates:"}}, {Actions: btns}}}
	commands.ThreadReply(ctx, d, wf, "backfill", m)
}

// RecoveryReport compares error rate and p95 latency before the sync and
// now, and counts ready pods.
func RecoveryReport(ctx context.Context, d *commands.Deps, c *Change) string {
	var parts []string
	ns := d.Config.Namespace(c.Service, c.Env)
	expand := func(q string) string {
		return strings.NewReplacer("{service}", c.Service, "{namespace}", ns, "{env}", c.Env).Replace(q)
	}
	if d.Prom != nil && c.SyncedAt != nil {
		now := d.Clock().Now()
		before := c.SyncedAt.Add(-time.Minute)
		if b, ok1, err1 := d.Prom.Scalar(ctx, expand(d.Config.Prometheus.ErrorRateQuery), before); err1 == nil {
			if a, ok2, err2 := d.Prom.Scalar(ctx, expand(d.Config.Prometheus.ErrorRateQuery), now); err2 == nil && ok1 && ok2 {
				parts = append(parts, fmt.Sprintf("error rate %.2f%% → %.2f%%", b*100, a*100))
			}
		}
		if b, ok1, err1 := d.Prom.Scalar(ctx, expand(d.Config.Prometheus.LatencyQuery), before); err1 == nil {
			if a, ok2, err2 := d.Prom.Scalar(ctx, expand(d.Config.Prometheus.LatencyQuery), now); err2 == nil && ok1 && ok2 {
				parts = append(parts, fmt.Sprintf("p95 latency %s → %s", commands.Seconds(b), commands.Seconds(a)))
			}
		}
	}
	if d.Kube != nil {
		sel := strings.NewReplacer("{service}", c.Service, "{env}", c.Env).Replace(d.Config.Kubernetes.LabelSelector)
		if pods, err := d.Kube.Pods(ctx, ns, sel); err == nil {
			ready := 0
			for _, p := range pods {
				for _, cond := range p.Status.Conditions {
					if cond.Type == "Ready" && cond.Status == "True" {
						ready++
					}
				}
			}
			parts = append(parts, fmt.Sprintf("pods ready %d/%d", ready, len(pods)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Recovery: " + strings.Join(parts, " · ")
}

// Backfill promotes a hotfix's tag to an earlier environment, without soak gates.
func Backfill(ctx context.Context, d *commands.Deps, hotfixID, env, user, channel string) (*chat.Reply, error) {
	wf, err := d.Store.GetWorkflow(ctx, hotfixID)
	if err != nil {
		return nil, commands.Refusalf("That hotfix no longer exists.")
	}
	c, err := workflow.Decode[Change](wf)
	if err != nil || c.Flavor != records.KindHotfix || c.HealthyAt == nil || (c.Result != "" && c.Result != records.ResultSuccess) {
		return nil, commands.Refusalf("Backfill is offered once a hotfix is live (Synced and Healthy) and only while it has not failed.")
	}
	nw, err := StartPromotion(ctx, d, PromoteRequest{Service: c.Service, Env: env, Tag: c.Tag, Requester: user, Channel: wf.Channel, Flavor: "backfill", Incident: c.Incident})
	if err != nil {
		return nil, err
	}
	return commands.Ephemeral(chat.Message{Text: fmt.Sprintf("Backfill of `%s` to %s started: `%s`.", c.Tag, env, nw.ID)}), nil
}
