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
	where := strings.TrimSpace(a.Service + " " + a.Env)
	if where == "" {
		where = "unknown service"
	}
	link := ""
	if a.GeneratorURL != "" {
		link = " <" + a.GeneratorURL + "|source>"
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
		text := fmt.Sprintf(":large_green_circle: [RESOLVED] *%s* (%s): %s%s", a.Name(), where, a.Summary(), link)
		if len(open) == 0 {
			_, err := d.Chat.Post(ctx, alertChannel(cfg, a.Service), "", chat.Message{Text: text})
			return err
		}
		for _, s := range open {
			timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":resolved:" + a.EndsAt.Format(time.RFC3339), Time: alertTime(a.EndsAt, now), Kind: "alert", Actor: "alertmanager",
				Text: fmt.Sprintf("Alert resolved: %s", a.Name())})
			if _, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: text}); err != nil {
				return err
			}
		}
		return nil
	}
	sev := AlertSeverity(a.Labels["severity"])
	text := fmt.Sprintf(":rotating_light: [FIRING] *%s* (%s, %s): %s%s", a.Name(), where, commands.OrDash(a.Labels["severity"]), a.Summary(), link)
	if len(open) > 0 {
		for _, s := range open {
			timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":firing:" + a.StartsAt.Format(time.RFC3339), Time: alertTime(a.StartsAt, now), Kind: "alert", Actor: "alertmanager",
				Text: fmt.Sprintf("Alert fired: %s", a.Name())})
			if _, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: text}); err != nil {
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
				Text: fmt.Sprintf("Alert fired: %s", a.Name())})
			_, err := d.Chat.Post(ctx, alertChannel(cfg, a.Service), "", chat.Message{Text: text + fmt.Sprintf("\nDeclared automatically (severity %s): <#%s>.", a.Labels["severity"], s.Channel)})
			return err
		}
	}
	m := chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: text}}}}
	if a.Service != "" && a.Env != "" {
		m.Blocks = append(m.Blocks, chat.Block{Actions: []chat.Button{{Text: "Declare incident", Action: "incident.declare", Value: a.Fingerprint, Style: chat.StyleDanger}}})
	} else {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{"nexo could not tell the service and environment from the labels (service/app, namespace/env), so it offers no Declare button."}})
	}
	_, err := d.Chat.Post(ctx, alertChannel(cfg, a.Service), "", m)
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
		return nil, commands.Refusalf("That button is malformed.")
	}
	var a Alert
	if err := d.Store.GetDoc(ctx, AlertsCollection, fingerprint, &a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, commands.Refusalf("nexo no longer knows that alert; declare with `%s incident declare <service> <env> <title>`.", d.Config.Slack.Command)
		}
		return nil, err
	}
	if a.Service == "" || a.Env == "" {
		return nil, commands.Refusalf("The alert names no known service and environment; declare with `%s incident declare`.", d.Config.Slack.Command)
	}
	open, err := OpenFor(ctx, d, a.Service, a.Env)
	if err != nil {
		return nil, err
	}
	if len(open) > 0 {
		return nil, commands.Refusalf("An incident of %s %s is already open: <#%s>.", a.Service, a.Env, open[0].Channel)
	}
	s, err := Declare(ctx, d, DeclareRequest{Service: a.Service, Env: a.Env, Title: a.Summary(), Severity: AlertSeverity(a.Labels["severity"]), Declarer: user, FromChannel: channel, Alert: a.Fingerprint})
	if err != nil {
		return nil, err
	}
	timeline(ctx, d, s.ID, store.TimelineEntry{Key: "alert:" + a.Fingerprint + ":firing:" + a.StartsAt.Format(time.RFC3339), Time: alertTime(a.StartsAt, s.DeclaredAt), Kind: "alert", Actor: "alertmanager",
		Text: fmt.Sprintf("Alert fired: %s", a.Name())})
	return commands.Ephemeral(chat.Message{Text: fmt.Sprintf("Incident declared: <#%s>.", s.Channel)}), nil
}
