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
		Summary:  "change.hotfix.summary",
		Help:     "change.hotfix.help",
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
		return HotfixRequest{}, commands.Refuse("change.malformed")
	}
	return HotfixRequest{Service: v.Get("service"), Tag: v.Get("tag"), Incident: v.Get("incident"), Reason: v.Get("reason"), Supersede: v.Get("supersede")}, nil
}

// StartHotfix validates and starts a hotfix. It preempts an ordinary
// change of production (commands.StartEmergency).
func StartHotfix(ctx context.Context, d *commands.Deps, hr HotfixRequest) (*store.Workflow, error) {
	cfg := d.Config
	incident := strings.TrimPrefix(strings.TrimSpace(hr.Incident), "#")
	if incident == "" {
		return nil, commands.Refuse("change.hotfix.needs_incident")
	}
	if !commands.SafeIncident.MatchString(incident) {
		return nil, commands.Refuse("change.hotfix.bad_incident", "ID", commands.Clip(incident, 40))
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
		return nil, commands.Refuse("change.hotfix.already_runs", "Service", svc.Name, "Tag", tag, "Env", prod.Name)
	}
	if err := commands.RequireImage(ctx, d, svc.Name, tag); err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "hotfix for incident #" + incident //i18n:verbatim git text (the commit subject's reason)
	}
	c := Change{
		Flavor: records.KindHotfix, Service: svc.Name, Env: prod.Name, Tag: tag, Previous: current,
		Incident: incident, Reason: reason, Requester: requester, RequestedAt: d.Clock().Now(),
		Need:   policy.Requirement{Approvals: cfg.Hotfix.Approvals, Group: cfg.Hotfix.ApproverGroup, Requester: requester},
		Branch: fmt.Sprintf("hotfix/%s-%s", commands.BranchEnv(cfg, prod.Name), tag),
		Labels: []string{"hotfix", "P0"}, Teams: []string{"nexo-" + cfg.Hotfix.ApproverGroup},
		AdminMerge: true,
	}
	c.Subject = fmt.Sprintf("hotfix(%s): %s → %s (%s)", svc.Name, prod.Name, tag, commands.Clip(reason, 60)) //i18n:verbatim git text
	AddChangelog(ctx, d, svc, &c)
	c.Body = HotfixBody(&c)
	hr.Incident = incident
	t := d.T(channel)
	offer := chat.Button{Text: t.S("change.hotfix.supersede"), Action: "hotfix.supersede", Value: hr.values(), Style: chat.StyleDanger,
		Confirm: t.S("change.hotfix.supersede_confirm", "Service", svc.Name, "Tag", tag)}
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
	commands.IncidentNote(ctx, d, incident, "deploy", requester, i18n.M("change.hotfix.requested_note", "Service", svc.Name, "Env", prod.Name, "Tag", tag, "Reason", reason))
	return wf, nil
}

// HotfixBody is the playbook's hotfix commit body.
//
//i18n:verbatim git text: the playbook's form in every locale
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
	tr := d.T(wf.Channel)
	if !page {
		// Once per timer, even if the timer is handled twice.
		_, err := commands.PostOnce(ctx, d, wf.ID, commands.TimerPostKey(t), wf.Channel, wf.ThreadTS, chat.Message{Text: tr.S("change.hotfix.remind",
			"Service", c.Service, "Tag", c.Tag, "Waited", i18n.Span(waited), "Missing", dec.Missing, "Group", group, "URL", c.PRURL, "Number", c.PR)})
		return err
	}
	sla := func(t i18n.T) string {
		return t.S("change.hotfix.past_sla", "Service", c.Service, "Tag", c.Tag, "SLA", i18n.Span(d.Config.Hotfix.SLA.D()), "Missing", dec.Missing)
	}
	text := sla(tr)
	if d.Pager != nil {
		// PagerDuty's summary is for the on-call tool: in English.
		if _, err := d.Pager.Send(ctx, pagerduty.Event{Action: "trigger", DedupKey: "nexo-" + wf.ID + "-sla", Summary: sla(commands.English()), Source: "nexo", Severity: "critical",
			Links: []pagerduty.Link{{Href: c.PRURL, Text: fmt.Sprintf("PR #%d", c.PR)}}}); err != nil {
			return err
		}
		text += tr.S("change.hotfix.paged")
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
		commands.IncidentNote(ctx, d, c.Incident, c.Flavor, c.Requester, i18n.M("change.incident_note",
			"Flavor", i18n.M("change.flavor."+noun(c.Flavor)), "Service", c.Service, "Env", c.Env, "Tag", c.Tag, "Result", commands.OrDash(c.Result)))
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
	t := d.T(wf.Channel)
	text := t.S("change.hotfix.live", "Tag", c.Tag, "Env", c.Env)
	if rec := RecoveryReport(ctx, d, t, c); rec != "" {
		text += "\n" + rec
	}
	var btns []chat.Button
	for i := len(d.Config.Environments) - 2; i >= 0; i-- {
		e := d.Config.Environments[i].Name
		btns = append(btns, chat.Button{Text: t.S("change.hotfix.backfill_button", "Env", e), Action: "hotfix.backfill", Value: wf.ID + "|" + e})
	}
	m := chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: text}}, {Context: []string{t.S("change.hotfix.backfill_context")}}, {Actions: btns}}}
	commands.ThreadReply(ctx, d, wf, "backfill", m)
}

// RecoveryReport compares error rate and p95 latency before the sync and
// now, and counts ready pods, in the locale of t.
func RecoveryReport(ctx context.Context, d *commands.Deps, t i18n.T, c *Change) string {
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
				parts = append(parts, t.S("change.hotfix.recovery_error_rate", "Before", t.Decimal(b*100, 2), "After", t.Decimal(a*100, 2)))
			}
		}
		if b, ok1, err1 := d.Prom.Scalar(ctx, expand(d.Config.Prometheus.LatencyQuery), before); err1 == nil {
			if a, ok2, err2 := d.Prom.Scalar(ctx, expand(d.Config.Prometheus.LatencyQuery), now); err2 == nil && ok1 && ok2 {
				parts = append(parts, t.S("change.hotfix.recovery_latency", "Before", seconds(t, b), "After", seconds(t, a)))
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
			parts = append(parts, t.S("change.hotfix.recovery_pods", "Ready", ready, "Total", len(pods)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return t.S("change.hotfix.recovery", "Parts", strings.Join(parts, " · "))
}

// seconds is a latency for people: "420ms", "1.5s" ("1,5s" in pt-BR).
func seconds(t i18n.T, v float64) string {
	if v < 1 {
		return fmt.Sprintf("%dms", int(v*1000))
	}
	return t.Decimal(v, 1) + "s"
}

// Backfill promotes a hotfix's tag to an earlier environment, without soak gates.
func Backfill(ctx context.Context, d *commands.Deps, hotfixID, env, user, channel string) (*chat.Reply, error) {
	wf, err := d.Store.GetWorkflow(ctx, hotfixID)
	if err != nil {
		return nil, commands.Refuse("change.hotfix.backfill_gone")
	}
	c, err := workflow.Decode[Change](wf)
	if err != nil || c.Flavor != records.KindHotfix || c.HealthyAt == nil || (c.Result != "" && c.Result != records.ResultSuccess) {
		return nil, commands.Refuse("change.hotfix.backfill_not_live")
	}
	nw, err := StartPromotion(ctx, d, PromoteRequest{Service: c.Service, Env: env, Tag: c.Tag, Requester: user, Channel: wf.Channel, Flavor: "backfill", Incident: c.Incident})
	if err != nil {
		return nil, err
	}
	return commands.Ephemeral(chat.Message{Text: d.T(channel).S("change.hotfix.backfill_started", "Tag", c.Tag, "Env", env, "ID", nw.ID)}), nil
}
