package incident

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// Alert is one alert received from Alertmanager, transport-neutral.
type Alert struct {
	Status       string            `json:"status"` // "firing" or "resolved"
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	Fingerprint  string            `json:"fingerprint"`
	// Service and Env are resolved from the labels ("" when unknown).
	Service string `json:"service,omitempty"`
	Env     string `json:"env,omitempty"`
}

// Name is the alert's alertname.
func (a Alert) Name() string { return commands.OrDash(a.Labels["alertname"]) }

// Summary is the alert's summary annotation, else its name.
func (a Alert) Summary() string {
	for _, k := range []string{"summary", "title", "description"} {
		if v := strings.TrimSpace(a.Annotations[k]); v != "" {
			return v
		}
	}
	return a.Name()
}

var fingerprintRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// AlertTarget resolves an alert's service (label service, else app) and
// environment (label env/environment, else the environment whose namespace
// is the namespace label).
func AlertTarget(cfg *config.Config, labels map[string]string) (service, env string) {
	for _, k := range []string{"service", "app", "app_kubernetes_io_name"} {
		if s, ok := cfg.Service(labels[k]); ok {
			service = s.Name
			break
		}
	}
	for _, k := range []string{"env", "environment"} {
		if e, ok := cfg.Env(labels[k]); ok {
			return service, e.Name
		}
	}
	if ns := labels["namespace"]; ns != "" {
		for _, e := range cfg.Environments {
			if cfg.Namespace(service, e.Name) == ns {
				return service, e.Name
			}
		}
	}
	return service, ""
}

// AlertSeverity maps an alert's severity label to P0..P4: a literal P0..P4
// is kept; critical → P1, error/high/major → P2, warning → P3, info → P4.
func AlertSeverity(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	if sevRE.MatchString(l) {
		return strings.ToUpper(l)
	}
	switch l {
	case "critical", "page":
		return "P1"
	case "error", "high", "major":
		return "P2"
	case "warning", "warn", "medium", "minor":
		return "P3"
	case "info", "low", "none":
		return "P4"
	}
	return ""
}

// ReceiveAlert handles one (already de-duplicated) alert: a firing alert
// is posted to the service's channel with a Declare button, or into the
// open incident of that service and env, and declared automatically when
// its severity is in incidents.auto_declare; a resolved alert is posted in
// the open incident's channel.
func ReceiveAlert(ctx context.Context, d *commands.Deps, a Alert) error {
	cfg := d.Config
	if !fingerprintRE.MatchString(a.Fingerprint) {
		return fmt.Errorf("alert without a valid fingerprint")
	}
	a.Service, a.Env = AlertTarget(cfg, a.Labels)
	if err := d.Store.PutDoc(ctx, AlertsCollection, a.Fingerprint, a); err != nil {
		return err
	}
	// Each channel reads the alert in its own locale.
	words := func(channel string) (t i18n.T, where, link string) {
		t = d.T(channel)
		where = strings.TrimSpace(a.Service + " " + a.Env)
		if where == "" {
			where = t.S("incident.alert.unknown_service")
		}
		if a.GeneratorURL != "" {
			link = " <" + a.GeneratorURL + "|" + t.S("incident.alert.source") + ">"
		}
		return t, where, link
	}
	resolvedText := func(channel string) string {
		t, where, link := words(channel)
		return t.S("incident.alert.resolved", "Name", a.Name(), "Where", where, "Summary", a.Summary(), "Link", link)
	}
	firingText := func(channel string) string {
		t, where, link := words(channel)
		return t.S("incident.alert.firing", "Name", a.Name(), "Where", where, "Severity", commands.OrDash(a.Labels["severity"]), "Summary", a.Summary(), "Link", link)
	}
	var open []*State
	if a.Service != "" && a.Env != "" {
		var err error
		if open, err = OpenFor(ctx, d, a.Service, a.Env); err != nil {
			return err
		}
	}
	now := d.Clock().Now().UTC()
	if a.Status == "resolved" {
		if len(open) == 0 {
			ch := alertChannel(cfg, a.Service)
			_, err := d.Chat.Post(ctx, ch, "", chat.Message{Text: resolvedText(ch)})
			return err
		}
		for _, s := range open {
			timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":resolved:" + a.EndsAt.Format(time.RFC3339), Time: alertTime(a.EndsAt, now), Kind: "alert", Actor: "alertmanager",
				Text: d.T(s.Channel).S("incident.timeline.alert_resolved", "Name", a.Name())})
			if _, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: resolvedText(s.Channel)}); err != nil {
				return err
			}
		}
		return nil
	}
	sev := AlertSeverity(a.Labels["severity"])
	if len(open) > 0 {
		for _, s := range open {
			timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":firing:" + a.StartsAt.Format(time.RFC3339), Time: alertTime(a.StartsAt, now), Kind: "alert", Actor: "alertmanager",
				Text: d.T(s.Channel).S("incident.timeline.alert_fired", "Name", a.Name())})
			if _, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: firingText(s.Channel)}); err != nil {
				return err
			}
		}
		return nil
	}
	if a.Service != "" && a.Env != "" && slices.Contains(lower(cfg.Incidents.AutoDeclare), strings.ToLower(a.Labels["severity"])) {
		s, err := Declare(ctx, d, DeclareRequest{Service: a.Service, Env: a.Env, Title: a.Summary(), Severity: sev, Alert: a.Fingerprint})
		if err != nil {
			var ref *commands.Refusal
			if !errors.As(err, &ref) {
				return err
			}
			d.Log.Warn("auto-declare refused", "alert", a.Name(), "reason", ref.Error())
		} else {
			timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":firing:" + a.StartsAt.Format(time.RFC3339), Time: alertTime(a.StartsAt, now), Kind: "alert", Actor: "alertmanager",
				Text: d.T(s.Channel).S("incident.timeline.alert_fired", "Name", a.Name())})
			ch := alertChannel(cfg, a.Service)
			_, err := d.Chat.Post(ctx, ch, "", chat.Message{Text: firingText(ch) + "\n" + d.T(ch).S("incident.alert.auto_declared", "Severity", a.Labels["severity"], "Channel", s.Channel)})
			return err
		}
	}
	ch := alertChannel(cfg, a.Service)
	t, text := d.T(ch), firingText(ch)
	m := chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: text}}}}
	if a.Service != "" && a.Env != "" {
		m.Blocks = append(m.Blocks, chat.Block{Actions: []chat.Button{{Text: t.S("incident.button.declare"), Action: "incident.declare", Value: a.Fingerprint, Style: chat.StyleDanger}}})
	} else {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{t.S("incident.alert.no_target")}})
	}
	_, err := d.Chat.Post(ctx, ch, "", m)
	return err
}

func alertTime(t, def time.Time) time.Time {
	if t.IsZero() || t.Year() < 2000 {
		return def
	}
	return t.UTC()
}

func alertChannel(cfg *config.Config, service string) string {
	if service != "" {
		return cfg.ServiceChannel(service)
	}
	return cfg.Slack.Channel
}

func lower(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}

// DeclareFromAlert is the Declare button on an alert: the clicking user
// declares, and becomes commander; a second click finds the open incident.
func DeclareFromAlert(ctx context.Context, d *commands.Deps, fingerprint, user, channel string) (*chat.Reply, error) {
	if !fingerprintRE.MatchString(fingerprint) {
		return nil, commands.Refuse("incident.refuse.malformed_button")
	}
	var a Alert
	if err := d.Store.GetDoc(ctx, AlertsCollection, fingerprint, &a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, commands.Refuse("incident.refuse.alert_unknown", "Command", d.Config.Slack.Command)
		}
		return nil, err
	}
	if a.Service == "" || a.Env == "" {
		return nil, commands.Refuse("incident.refuse.alert_no_target", "Command", d.Config.Slack.Command)
	}
	open, err := OpenFor(ctx, d, a.Service, a.Env)
	if err != nil {
		return nil, err
	}
	if len(open) > 0 {
		return nil, commands.Refuse("incident.refuse.already_open", "Service", a.Service, "Env", a.Env, "Channel", open[0].Channel)
	}
	s, err := Declare(ctx, d, DeclareRequest{Service: a.Service, Env: a.Env, Title: a.Summary(), Severity: AlertSeverity(a.Labels["severity"]), Declarer: user, FromChannel: channel, Alert: a.Fingerprint})
	if err != nil {
		return nil, err
	}
	timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":firing:" + a.StartsAt.Format(time.RFC3339), Time: alertTime(a.StartsAt, s.DeclaredAt), Kind: "alert", Actor: "alertmanager",
		Text: d.T(s.Channel).S("incident.timeline.alert_fired", "Name", a.Name())})
	return commands.Ephemeral(chat.Message{Text: d.T(channel).S("incident.alert.declared", "Channel", s.Channel)}), nil
}
