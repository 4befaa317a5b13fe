package incident

import (
	"math"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

// The words of the incident scenario that are data in the code (a status,
// a role, a kind of deploy, a result) and are shown in the reader's locale.

func statusName(t i18n.T, status string) string { return t.S("incident.status." + status) }

func roleName(t i18n.T, role string) string { return t.S("incident.role." + role) }

func kindName(t i18n.T, kind string) string {
	switch kind {
	case "promote", "hotfix", "rollback", "fix", "backfill", "imported":
		return t.S("incident.kind." + kind)
	}
	return kind
}

func resultName(t i18n.T, result string) string {
	switch result {
	case "success", "failed", "pending", "superseded", "cancelled":
		return t.S("incident.result." + result)
	case "":
		return "—"
	}
	return result
}

// percent is a rate (0.05 = 5%) in a message's data, rendered with the
// reader's decimal separator ("5.0%" / "5,0%").
type percent float64

func pct(t i18n.T, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return t.Decimal(v*100, 1) + "%"
}

// clockAt is a moment of the last hours in a message's data, rendered as
// Slack's time-of-day token (T.WhenTime): "began at 10:31".
type clockAt time.Time

// say renders m for t, writing its percent values in t's locale and its
// clockAt values as time-of-day tokens.
func say(t i18n.T, m i18n.Msg) string {
	if m.ID == "" {
		return ""
	}
	kv := make([]any, len(m.KV))
	for i, v := range m.KV {
		switch x := v.(type) {
		case percent:
			v = pct(t, float64(x))
		case clockAt:
			v = t.WhenTime(time.Time(x))
		}
		kv[i] = v
	}
	return t.S(m.ID, kv...)
}
