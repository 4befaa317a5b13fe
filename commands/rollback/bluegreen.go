package rollback

import (
	"context"
	"fmt"
	"net/http"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
)

func (f *Flow) checkHealth(ctx context.Context, url string) error {
	client := f.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func ingressBackend(ing *networkingv1.Ingress) string {
	if len(ing.Spec.Rules) == 0 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) == 0 {
		return ""
	}
	b := ing.Spec.Rules[0].HTTP.Paths[0].Backend
	if b.Service == nil {
		return ""
	}
	return b.Service.Name
}

func otherColour(service, cur string) (string, bool) {
	switch cur {
	case service + "-blue":
		return service + "-green", true
	case service + "-green":
		return service + "-blue", true
	}
	return "", false
}
