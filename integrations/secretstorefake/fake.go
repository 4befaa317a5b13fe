// Package secretstorefake is an in-process AWS Secrets Manager speaking the
// service's real wire protocol (AWS JSON 1.1: POST / with X-Amz-Target
// "secretsmanager.<Operation>", JSON bodies, {"__type","message"} errors), so
// the real aws-sdk-go-v2 client is what the tests exercise. It implements
// GetSecretValue, PutSecretValue, DescribeSecret and UpdateSecretVersionStage
// with Secrets Manager's staging-label rules and ClientRequestToken
// idempotency. It checks that requests carry a SigV4 Authorization header
// scoped to the secretsmanager service, but does not verify signatures.
package secretstorefake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Operation targets, as sent in X-Amz-Target.
const (
	TargetGetSecretValue           = "secretsmanager.GetSecretValue"
	TargetPutSecretValue           = "secretsmanager.PutSecretValue"
	TargetDescribeSecret           = "secretsmanager.DescribeSecret"
	TargetUpdateSecretVersionStage = "secretsmanager.UpdateSecretVersionStage"
)

const (
	contentType = "application/x-amz-json-1.1"
	accountID   = "123456789012"
	current     = "AWSCURRENT"
	previous    = "AWSPREVIOUS"
)

// Version is one stored version of a secret.
type Version struct {
	ID      string
	Value   string
	Stages  []string
	Created time.Time
}

// Call is one recorded request (never the secret value).
type Call struct {
	Target   string
	SecretID string
	// Token is the ClientRequestToken or VersionId the call named, if any.
	Token  string
	Stages []string
	// Status is the HTTP status the fake answered.
	Status int
	// ErrorType is the __type of an error answer.
	ErrorType string
}

type secret struct {
	name     string
	arn      string
	created  time.Time
	changed  time.Time
	versions map[string]*Version
}

// Server is the fake Secrets Manager. Use URL as the SDK's BaseEndpoint.
type Server struct {
	// URL is the base URL of the running server.
	URL string

	srv     *httptest.Server
	mu      sync.Mutex
	secrets map[string]*secret // by name
	fail    map[string]int
	calls   calllog.Log[Call]
	now     func() time.Time
}

// New starts a fake on a random loopback port.
func New() *Server {
	s := &Server{secrets: map[string]*secret{}, fail: map[string]int{}, now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Seed creates (or adds a new AWSCURRENT version to) a secret named id and
// returns the version id.
func (s *Server) Seed(id, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[id]
	if sec == nil {
		now := s.now()
		sec = &secret{name: id, arn: arn("us-east-1", id), created: now, changed: now, versions: map[string]*Version{}}
		s.secrets[id] = sec
	}
	v := newUUID()
	sec.put(v, value, []string{current}, s.now())
	return v
}

// Current returns the AWSCURRENT value and version id of a secret ("" if none).
func (s *Server) Current(id string) (value, versionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[id]
	if sec == nil {
		return "", ""
	}
	if v := sec.byStage(current); v != nil {
		return v.Value, v.ID
	}
	return "", ""
}

// Versions returns copies of a secret's versions, oldest first.
func (s *Server) Versions(id string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[id]
	if sec == nil {
		return nil
	}
	out := make([]Version, 0, len(sec.versions))
	for _, v := range sec.versions {
		c := *v
		c.Stages = slices.Clone(v.Stages)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created.Equal(out[j].Created) {
			return out[i].ID < out[j].ID
		}
		return out[i].Created.Before(out[j].Created)
	})
	return out
}

// FailNext makes the next n calls to target (e.g. TargetPutSecretValue)
// answer HTTP 500 InternalServiceError. The SDK retries such errors, so n
// larger than the client's attempts is a lasting failure.
func (s *Server) FailNext(target string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[target] = n
}

// Calls returns the recorded requests, in order.
func (s *Server) Calls() []Call { return s.calls.All() }

// CallCount counts the recorded requests to target.
func (s *Server) CallCount(target string) int {
	return s.calls.Count(func(c Call) bool { return c.Target == target })
}

func (sec *secret) byStage(stage string) *Version {
	for _, v := range sec.versions {
		if slices.Contains(v.Stages, stage) {
			return v
		}
	}
	return nil
}

// put adds a version and moves its labels from wherever they were, moving
// AWSPREVIOUS to the version that loses AWSCURRENT, as Secrets Manager does.
func (sec *secret) put(id, value string, stages []string, now time.Time) *Version {
	v := &Version{ID: id, Value: value, Created: now}
	sec.versions[id] = v
	for _, st := range stages {
		sec.move(st, v)
	}
	sec.changed = now
	return v
}

func (sec *secret) move(stage string, to *Version) {
	from := sec.byStage(stage)
	if from == to {
		return
	}
	if from != nil {
		from.Stages = slices.DeleteFunc(from.Stages, func(s string) bool { return s == stage })
	}
	if !slices.Contains(to.Stages, stage) {
		to.Stages = append(to.Stages, stage)
	}
	if stage == current && from != nil {
		sec.move(previous, from)
	}
}

type apiError struct {
	status int
	typ    string
	msg    string
}

func errorf(status int, typ, format string, args ...any) *apiError {
	return &apiError{status: status, typ: typ, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	call := Call{Target: target}
	var (
		out  any
		aerr *apiError
	)
	func() {
		if r.Method != http.MethodPost || r.URL.Path != "/" {
			aerr = errorf(404, "UnknownOperationException", "%s %s is not an operation", r.Method, r.URL.Path)
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, contentType) {
			aerr = errorf(400, "SerializationException", "unexpected Content-Type %q", ct)
			return
		}
		e := checkAuth(r.Header.Get("Authorization"))
		if e != nil {
			aerr = e
			return
		}
		var body map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			aerr = errorf(400, "SerializationException", "malformed JSON body")
			return
		}
		call.SecretID = str(body, "SecretId")
		call.Token = str(body, "ClientRequestToken") + str(body, "VersionId") + str(body, "MoveToVersionId")
		call.Stages = strs(body, "VersionStages")
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := s.fail[target]; n > 0 {
			s.fail[target] = n - 1
			aerr = errorf(500, "InternalServiceError", "injected failure")
			return
		}
		switch target {
		case TargetGetSecretValue:
			out, aerr = s.getSecretValue(body)
		case TargetPutSecretValue:
			out, aerr = s.putSecretValue(body)
		case TargetDescribeSecret:
			out, aerr = s.describeSecret(body)
		case TargetUpdateSecretVersionStage:
			out, aerr = s.updateSecretVersionStage(body)
		default:
			aerr = errorf(400, "UnknownOperationException", "unknown operation %q", target)
		}
	}()
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("x-amzn-RequestId", newUUID())
	status := 200
	if aerr != nil {
		status = aerr.status
		call.ErrorType = aerr.typ
		out = map[string]string{"__type": aerr.typ, "message": aerr.msg}
	}
	call.Status = status
	s.calls.Add(call)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// checkAuth requires "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/secretsmanager/aws4_request, SignedHeaders=…, Signature=…".
func checkAuth(h string) *apiError {
	if h == "" {
		return errorf(400, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, algo) {
		return errorf(400, "IncompleteSignatureException", "Unsupported authorization type")
	}
	var cred string
	var signed, sig bool
	for _, part := range strings.Split(strings.TrimPrefix(h, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v != ""
		case "Signature":
			sig = len(v) == 64
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || !signed || !sig || scope[4] != "aws4_request" {
		return errorf(400, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature")
	}
	if scope[3] != "secretsmanager" {
		return errorf(400, "InvalidSignatureException", "Credential should be scoped to correct service: 'secretsmanager'.")
	}
	return nil
}

func (s *Server) find(body map[string]any) (*secret, *apiError) {
	id := str(body, "SecretId")
	if id == "" {
		return nil, errorf(400, "InvalidParameterException", "You must specify a SecretId.")
	}
	if sec := s.secrets[id]; sec != nil {
		return sec, nil
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec, nil
		}
	}
	return nil, errorf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func (s *Server) getSecretValue(body map[string]any) (any, *apiError) {
	sec, e := s.find(body)
	if e != nil {
		return nil, e
	}
	vid, stage := str(body, "VersionId"), str(body, "VersionStage")
	var v *Version
	switch {
	case vid != "":
		v = sec.versions[vid]
		if v == nil || (stage != "" && !slices.Contains(v.Stages, stage)) {
			return nil, errorf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", vid)
		}
	default:
		if stage == "" {
			stage = current
		}
		v = sec.byStage(stage)
		if v == nil {
			return nil, errorf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	return map[string]any{
		"ARN":           sec.arn,
		"Name":          sec.name,
		"VersionId":     v.ID,
		"SecretString":  v.Value,
		"VersionStages": v.Stages,
		"CreatedDate":   epoch(v.Created),
	}, nil
}

func (s *Server) putSecretValue(body map[string]any) (any, *apiError) {
	sec, e := s.find(body)
	if e != nil {
		return nil, e
	}
	token, value := str(body, "ClientRequestToken"), str(body, "SecretString")
	if _, bin := body["SecretBinary"]; bin {
		return nil, errorf(400, "InvalidParameterException", "SecretBinary is not supported by this fake.")
	}
	if value == "" {
		return nil, errorf(400, "InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	}
	if len(token) < 32 || len(token) > 64 {
		return nil, errorf(400, "InvalidParameterException", "ClientRequestToken must be 32 to 64 characters.")
	}
	stages := strs(body, "VersionStages")
	if len(stages) == 0 {
		stages = []string{current}
	}
	if v := sec.versions[token]; v != nil {
		if v.Value != value {
			return nil, errorf(400, "ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.ID, "VersionStages": v.Stages}, nil
	}
	v := sec.put(token, value, stages, s.now())
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.ID, "VersionStages": v.Stages}, nil
}

func (s *Server) describeSecret(body map[string]any) (any, *apiError) {
	sec, e := s.find(body)
	if e != nil {
		return nil, e
	}
	stages := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.Stages) > 0 { // Secrets Manager lists only labelled versions
			stages[id] = v.Stages
		}
	}
	return map[string]any{
		"ARN":                sec.arn,
		"Name":               sec.name,
		"CreatedDate":        epoch(sec.created),
		"LastChangedDate":    epoch(sec.changed),
		"VersionIdsToStages": stages,
	}, nil
}

func (s *Server) updateSecretVersionStage(body map[string]any) (any, *apiError) {
	sec, e := s.find(body)
	if e != nil {
		return nil, e
	}
	stage, to, from := str(body, "VersionStage"), str(body, "MoveToVersionId"), str(body, "RemoveFromVersionId")
	if stage == "" {
		return nil, errorf(400, "InvalidParameterException", "You must specify a VersionStage.")
	}
	holder := sec.byStage(stage)
	if from != "" && (holder == nil || holder.ID != from) {
		return nil, errorf(400, "InvalidParameterException", "The staging label %s is not attached to version %s.", stage, from)
	}
	if to == "" {
		if holder != nil && from != "" {
			holder.Stages = slices.DeleteFunc(holder.Stages, func(x string) bool { return x == stage })
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
	}
	v := sec.versions[to]
	if v == nil {
		return nil, errorf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", to)
	}
	if holder != nil && holder != v && from == "" {
		return nil, errorf(400, "InvalidParameterException",
			"The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder.ID)
	}
	sec.move(stage, v)
	sec.changed = s.now()
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strs(m map[string]any, k string) []string {
	raw, _ := m[k].([]any)
	var out []string
	for _, x := range raw {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// epoch is the JSON protocol's timestamp: seconds since 1970 as a number
// with a fractional part.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func arn(region, name string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, accountID, name, hex.EncodeToString(b))
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
