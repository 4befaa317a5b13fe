package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// PushStream is one stream of a push: its labels and its lines.
type PushStream struct {
	Labels  map[string]string
	Entries []PushEntry
}

// PushEntry is one line to push.
type PushEntry struct {
	Time time.Time
	Line string
}

// pushTimeout bounds Push when ctx has no earlier deadline.
const pushTimeout = 30 * time.Second

// Push sends streams to Loki (POST /loki/api/v1/push, JSON). tenant, when
// set, goes in X-Scope-OrgID. Used by tests and the sandbox; nexo itself
// only reads logs.
func Push(ctx context.Context, url, tenant string, streams []PushStream) error {
	base, err := parseBase(url)
	if err != nil {
		return err
	}
	type wire struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	body := struct {
		Streams []wire `json:"streams"`
	}{}
	for i, s := range streams {
		if len(s.Labels) == 0 {
			return fmt.Errorf("loki: push: stream %d has no labels", i)
		}
		w := wire{Stream: s.Labels}
		for _, e := range s.Entries {
			if e.Time.IsZero() {
				return fmt.Errorf("loki: push: stream %d has an entry without a time", i)
			}
			w.Values = append(w.Values, [2]string{strconv.FormatInt(e.Time.UnixNano(), 10), e.Line})
		}
		body.Streams = append(body.Streams, w)
	}
	if len(body.Streams) == 0 {
		return errors.New("loki: push: no streams")
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("loki: push: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/loki/api/v1/push", bytes.NewReader(buf))
	if err != nil {
		return fmt.Errorf("loki: push: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := (&http.Client{Timeout: pushTimeout}).Do(req)
	if err != nil {
		return fmt.Errorf("loki: push: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("loki: push: %s: %s", resp.Status, errorMessage(msg))
	}
	return nil
}
