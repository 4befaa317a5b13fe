package argocd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// UnmarshalJSON accepts the history id as a JSON number or as a string:
// grpc-gateway's protobuf JSON encodes int64 as a string, argocd-server's
// own JSON marshaler writes a number.
func (h *RevisionHistory) UnmarshalJSON(b []byte) error {
	type plain RevisionHistory
	var aux struct {
		plain
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*h = RevisionHistory(aux.plain)
	id, err := parseInt64(aux.ID)
	if err != nil {
		return fmt.Errorf("argocd: history id: %w", err)
	}
	h.ID = id
	return nil
}

// parseInt64 reads a JSON number, a JSON string holding a number, or nothing.
func parseInt64(raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		s = str
	}
	return strconv.ParseInt(s, 10, 64)
}
