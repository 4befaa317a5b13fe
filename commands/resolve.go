package commands

import (
	"regexp"
	"strings"

	"github.com/nexo-org/nexo-bot/config"
)

var safeName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ResolveService checks a service name against config ("did you mean").
func ResolveService(cfg *config.Config, name string) (*config.Service, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if s, ok := cfg.Service(n); ok && safeName.MatchString(n) {
		return s, nil
	}
	if !safeName.MatchString(n) {
		return nil, Refuse("core.resolve.bad_service", "Name", clip(name, 40), "Hint", Suggest(n, cfg.ServiceNames()), "Services", strings.Join(cfg.ServiceNames(), ", "))
	}
	return nil, Refuse("core.resolve.unknown_service", "Name", n, "Hint", Suggest(n, cfg.ServiceNames()), "Services", strings.Join(cfg.ServiceNames(), ", "))
}

// ResolveEnv checks an environment name or alias.
func ResolveEnv(cfg *config.Config, name string) (*config.Environment, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if e, ok := cfg.Env(n); ok {
		return e, nil
	}
	names := make([]string, 0, len(cfg.Environments))
	for _, e := range cfg.Environments {
		names = append(names, e.Name)
	}
	return nil, Refuse("core.resolve.unknown_env", "Name", clip(name, 40), "Hint", Suggest(n, cfg.EnvNames()), "Envs", strings.Join(names, ", "))
}

// ResolveTarget checks a service and an environment together.
func ResolveTarget(cfg *config.Config, service, env string) (*config.Service, *config.Environment, error) {
	svc, err := ResolveService(cfg, service)
	if err != nil {
		return nil, nil, err
	}
	e, err := ResolveEnv(cfg, env)
	if err != nil {
		return nil, nil, err
	}
	return svc, e, nil
}

// ValidateTag checks a tag against the configured pattern.
func ValidateTag(cfg *config.Config, tag string) error {
	re, err := regexp.Compile(cfg.Tags.Pattern)
	if err != nil {
		return err
	}
	if !re.MatchString(tag) {
		return Refuse("core.resolve.bad_tag", "Tag", clip(tag, 60))
	}
	return nil
}

// SafeIncident is what an incident id may look like ("456", "inc-2026…").
var SafeIncident = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
