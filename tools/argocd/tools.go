//go:build tools

// Package tools pins the real Argo CD (API server, application controller and
// repo server: one binary, the component chosen by ARGOCD_BINARY_NAME) that
// the integration tier of integrations/argocd runs. Built by
// scripts/argocd/build.sh; never imported by the bot.
package tools

import _ "github.com/argoproj/argo-cd/v3/cmd"
