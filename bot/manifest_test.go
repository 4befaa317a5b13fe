package bot_test

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// The app manifest turns on what nexo uses: the Home tab (the release
// board) beside the Messages tab, and the app_home_opened event.
func TestManifestEnablesTheHomeTab(t *testing.T) {
	raw, err := os.ReadFile("../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			AppHome struct {
				Home     bool `yaml:"home_tab_enabled"`
				Messages bool `yaml:"messages_tab_enabled"`
			} `yaml:"app_home"`
		} `yaml:"features"`
		Settings struct {
			Events struct {
				Bot []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !m.Features.AppHome.Home || !m.Features.AppHome.Messages {
		t.Errorf("app_home: %+v", m.Features.AppHome)
	}
	for _, ev := range []string{"app_home_opened", "pin_added", "reaction_added", "member_joined_channel"} {
		if !slices.Contains(m.Settings.Events.Bot, ev) {
			t.Errorf("bot_events lack %s: %v", ev, m.Settings.Events.Bot)
		}
	}
}
