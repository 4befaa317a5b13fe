package secretstorefake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const sigv4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func post(t *testing.T, s *Server, target, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Fatalf("response Content-Type %q", ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestAuthorizationIsRequiredAndScoped(t *testing.T) {
	s := New()
	defer s.Close()
	s.Seed("db", `{"password":"x"}`)
	code, out := post(t, s, TargetGetSecretValue, "", `{"SecretId":"db"}`)
	if code != 400 || out["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("no auth: %d %v", code, out)
	}
	wrong := strings.Replace(sigv4, "/secretsmanager/", "/s3/", 1)
	code, out = post(t, s, TargetGetSecretValue, wrong, `{"SecretId":"db"}`)
	if code != 400 || out["__type"] != "InvalidSignatureException" {
		t.Fatalf("wrong scope: %d %v", code, out)
	}
	code, out = post(t, s, TargetGetSecretValue, sigv4, `{"SecretId":"db"}`)
	if code != 200 || out["SecretString"] != `{"password":"x"}` {
		t.Fatalf("signed: %d %v", code, out)
	}
	if _, ok := out["CreatedDate"].(float64); !ok {
		t.Fatalf("CreatedDate is not epoch seconds: %T", out["CreatedDate"])
	}
	if !strings.HasPrefix(out["ARN"].(string), "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-") {
		t.Fatalf("ARN %v", out["ARN"])
	}
}

func TestErrorsHaveAWSShape(t *testing.T) {
	s := New()
	defer s.Close()
	code, out := post(t, s, TargetGetSecretValue, sigv4, `{"SecretId":"missing"}`)
	if code != 400 || out["__type"] != "ResourceNotFoundException" || out["message"] == "" {
		t.Fatalf("%d %v", code, out)
	}
	code, out = post(t, s, "secretsmanager.Nope", sigv4, `{}`)
	if code != 400 || out["__type"] != "UnknownOperationException" {
		t.Fatalf("%d %v", code, out)
	}
}

func TestPutTokenIdempotencyAndStages(t *testing.T) {
	s := New()
	defer s.Close()
	first := s.Seed("db", "v1")
	tok := "11111111-2222-4333-8444-555555555555"
	body := `{"SecretId":"db","ClientRequestToken":"` + tok + `","SecretString":"v2","VersionStages":["AWSPENDING"]}`
	for i := 0; i < 2; i++ {
		code, out := post(t, s, TargetPutSecretValue, sigv4, body)
		if code != 200 || out["VersionId"] != tok {
			t.Fatalf("put %d: %d %v", i, code, out)
		}
	}
	if len(s.Versions("db")) != 2 {
		t.Fatalf("retried put created another version: %+v", s.Versions("db"))
	}
	code, out := post(t, s, TargetPutSecretValue, sigv4, strings.Replace(body, `"v2"`, `"other"`, 1))
	if code != 400 || out["__type"] != "ResourceExistsException" {
		t.Fatalf("same token, other value: %d %v", code, out)
	}
	if v, id := s.Current("db"); v != "v1" || id != first {
		t.Fatalf("pending put moved AWSCURRENT: %s %s", v, id)
	}
	// Moving AWSCURRENT without naming its holder is refused, as in AWS.
	code, out = post(t, s, TargetUpdateSecretVersionStage, sigv4, `{"SecretId":"db","VersionStage":"AWSCURRENT","MoveToVersionId":"`+tok+`"}`)
	if code != 400 || out["__type"] != "InvalidParameterException" {
		t.Fatalf("%d %v", code, out)
	}
	code, _ = post(t, s, TargetUpdateSecretVersionStage, sigv4, `{"SecretId":"db","VersionStage":"AWSCURRENT","MoveToVersionId":"`+tok+`","RemoveFromVersionId":"`+first+`"}`)
	if code != 200 {
		t.Fatalf("promote: %d", code)
	}
	if v, _ := s.Current("db"); v != "v2" {
		t.Fatalf("current %q after promote", v)
	}
	_, out = post(t, s, TargetDescribeSecret, sigv4, `{"SecretId":"db"}`)
	stages := out["VersionIdsToStages"].(map[string]any)
	if !strings.Contains(toJSON(stages[first]), "AWSPREVIOUS") || !strings.Contains(toJSON(stages[tok]), "AWSCURRENT") {
		t.Fatalf("stages after promote: %v", stages)
	}
}

func TestFailNextAndCalls(t *testing.T) {
	s := New()
	defer s.Close()
	s.Seed("db", "v1")
	s.FailNext(TargetGetSecretValue, 1)
	if code, out := post(t, s, TargetGetSecretValue, sigv4, `{"SecretId":"db"}`); code != 500 || out["__type"] != "InternalServiceError" {
		t.Fatalf("%d %v", code, out)
	}
	if code, _ := post(t, s, TargetGetSecretValue, sigv4, `{"SecretId":"db"}`); code != 200 {
		t.Fatalf("failure lasted longer than asked: %d", code)
	}
	calls := s.Calls()
	if len(calls) != 2 || calls[0].Status != 500 || calls[1].SecretID != "db" {
		t.Fatalf("calls %+v", calls)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
