package argocd

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// What argocd-server v3 answers, as seen against the real server in the
// integration tier (integrations/argocd/real_integration_test.go):
//
//	missing app (even for admin)     403 code 7  "permission denied"
//	action the role lacks            403 code 7  "permission denied: applications, delete, default/APP, sub: nexo, iat: …"
//	no or bad token                  401 code 16 "no session information" / "invalid session: …"
//	rollback under auto-sync         400 code 9  "rollback cannot be initiated when auto-sync is enabled"
//	second operation                 400 code 9  "another operation is already in progress"
//	sync to a pinned rev, auto-sync  400 code 9  "Cannot sync to REV: auto-sync currently set to TARGET"
//	rollback to a missing id         400 code 3  "application argocd/APP does not have deployment with id N"
//	sync to a revision git lacks     400 code 9  "error resolving repo revision: … unable to resolve 'REV' to a commit SHA: revision not found"
//	sync blocked by a sync window    403 code 7  "cannot sync: blocked by sync window" (server/application Sync, v3.6)
//	non-GET without exactly application/json 415 "Invalid content type" (plain text)
var (
	deniedRE      = regexp.MustCompile(`^permission denied: ([^,]+), ([^,]+), ([^,]+)`)
	missingIDRE   = regexp.MustCompile(`does not have deployment with id (-?\d+)`)
	pinnedRE      = regexp.MustCompile(`^Cannot sync to (\S+): auto-sync currently set to (\S+)`)
	unresolvedRE  = regexp.MustCompile(`unable to resolve '([^']+)' to a commit SHA`)
	sentenceClean = strings.NewReplacer("`", "'", "\n", " ", "*", "", "_", " ")
)

// Sentence says what argocd-server refused in nexo's words, for a user: never
// its raw text, only names taken from it (application, action, revision,
// history id) after checking their shape.
func (e *APIError) Sentence() string {
	msg := strings.TrimSpace(e.Message)
	switch {
	case e.HTTPStatus == http.StatusUnauthorized || e.Code == CodeUnauthenticated:
		return "Argo CD did not accept nexo's token (missing, expired or revoked: check ARGOCD_AUTH_TOKEN)"
	case IsBlockedBySyncWindow(e):
		return "Argo CD refuses the sync: a sync window of the application's project blocks it"
	case e.Code == CodePermissionDenied && msg == "permission denied":
		// argocd-server does not tell a missing app from a forbidden one.
		return "Argo CD: no such application or no permission"
	case e.Code == CodePermissionDenied || e.HTTPStatus == http.StatusForbidden:
		if m := deniedRE.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("Argo CD: nexo's account has no permission to %s %s %s (see the RBAC in docs/install.md)",
				clean(m[2]), clean(m[1]), clean(m[3]))
		}
		return "Argo CD: no permission for this request (see the RBAC in docs/install.md)"
	case IsAutoSyncRollbackRefusal(e):
		return "Argo CD refuses a rollback while auto-sync is on"
	case IsOperationInProgress(e):
		return "Argo CD is already running another operation on this application"
	case e.Code == CodeFailedPrecondition && pinnedRE.MatchString(msg):
		m := pinnedRE.FindStringSubmatch(msg)
		return fmt.Sprintf("Argo CD refuses to sync to %s while auto-sync follows %s", clean(m[1]), clean(m[2]))
	case e.Code == CodeFailedPrecondition && unresolvedRE.MatchString(msg):
		return "Argo CD cannot find revision " + clean(unresolvedRE.FindStringSubmatch(msg)[1]) + " in the GitOps repository"
	case e.Code == CodeInvalidArgument && missingIDRE.MatchString(msg):
		return "Argo CD has no deployment with history id " + missingIDRE.FindStringSubmatch(msg)[1] + " for this application"
	case e.HTTPStatus == http.StatusUnsupportedMediaType:
		return "Argo CD refused the request's content type (HTTP 415)"
	case e.Code == CodeNotFound || e.HTTPStatus == http.StatusNotFound:
		return "Argo CD: not found (HTTP 404)"
	case e.HTTPStatus == http.StatusTooManyRequests:
		return "Argo CD is rate limiting nexo (HTTP 429); try again shortly"
	case e.HTTPStatus >= 500:
		return fmt.Sprintf("Argo CD is failing (HTTP %d); try again shortly", e.HTTPStatus)
	}
	return fmt.Sprintf("Argo CD refused the request (HTTP %d, code %d)", e.HTTPStatus, e.Code)
}

// IsBlockedBySyncWindow reports whether err is argocd-server refusing a
// sync because a sync window of the app's project blocks it.
func IsBlockedBySyncWindow(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == CodePermissionDenied && strings.HasPrefix(strings.TrimSpace(apiErr.Message), "cannot sync: blocked by sync window")
}

// clean keeps a name taken from argocd-server's text short and free of
// Slack markup.
func clean(s string) string { return truncate(sentenceClean.Replace(strings.TrimSpace(s)), 80) }

// ErrorCode returns the gRPC code of an *APIError in err's chain, or -1.
func ErrorCode(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return -1
}

// IsNotFoundOrForbidden reports argocd-server's answer for an application
// that does not exist or that the token may not see (403 code 7 "permission
// denied"; a 404 from a proxy in front counts too).
func IsNotFoundOrForbidden(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (apiErr.Code == CodePermissionDenied || apiErr.Code == CodeNotFound || apiErr.HTTPStatus == http.StatusNotFound)
}

// IsAutoSyncRollbackRefusal reports whether err is argocd-server refusing a
// rollback because automated sync is on.
func IsAutoSyncRollbackRefusal(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == CodeFailedPrecondition &&
		strings.Contains(apiErr.Message, "rollback cannot be initiated when auto-sync is enabled")
}

// IsOperationInProgress reports whether err is argocd-server refusing a sync
// or rollback because another operation is running.
func IsOperationInProgress(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == CodeFailedPrecondition &&
		strings.Contains(apiErr.Message, "another operation is already in progress")
}
