// Package realargocd runs nexo's Argo CD flows end to end — the real bot of
// internal/e2e, fake Slack and GitHub — against a real Argo CD and
// kube-apiserver (integrations/argocdtest). Its tests carry the
// `integration` build tag; make test-integration runs them.
package realargocd
