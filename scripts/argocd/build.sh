#!/usr/bin/env bash
# Builds a real Argo CD v3.6.1 (github.com/argoproj/argo-cd/v3, from the Go
# module proxy) into tools/argocd/bin/ for the integration tier of
# integrations/argocd (see integrations/argocdtest). One binary serves every
# component (API server, application controller, repo server): the component
# is chosen by ARGOCD_BINARY_NAME. Beside it go what the repo server runs on
# every manifest generation (hack/git-verify-wrapper.sh, hack/gpg-wrapper.sh)
# and the CRDs the tests create (manifests/crds/), copied from the same module.
#
# argo-cd v3.6.1 declares go 1.27.0, so the build uses GOTOOLCHAIN=go1.27.3
# (the toolchain comes from the module proxy) in its own module,
# tools/argocd, which repeats argo-cd's replace directives. The project's
# go.mod is not touched.
#
# Idempotent: does nothing when the binary for this version is there. A cold
# build takes about 14 minutes on 2 cores (peak ~2.5 GB); with a warm Go build
# cache it takes well under a minute. Also installs redis-server (Argo CD's
# cache; the tests start their own on a free port) when it is missing.
#
# Usage: scripts/argocd/build.sh
# Env:   ARGOCD_BIN_DIR  where everything goes (default tools/argocd/bin)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mod="$root/tools/argocd"
version="v3.6.1"
toolchain="go1.27.3"
dir="${ARGOCD_BIN_DIR:-$mod/bin}"
bin="$dir/argocd-$version"

log() { printf 'argocd-build: %s\n' "$*" >&2; }

if ! command -v redis-server >/dev/null 2>&1; then
	log "installing redis-server"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends redis-server >/dev/null; then
		apt-get update >/dev/null
		apt-get install -y --no-install-recommends redis-server >/dev/null
	fi
fi
if ! command -v git >/dev/null 2>&1; then
	log "git is needed (the repo server clones the test's GitOps repo)"
	exit 1
fi

export GOWORK=off GOTOOLCHAIN="$toolchain" GOFLAGS="-mod=readonly -buildvcs=false"

if [[ -x "$bin" ]] && [[ -f "$dir/crds/application-crd.yaml" ]] && [[ -x "$dir/git-verify-wrapper.sh" ]]; then
	log "argocd present: $bin"
	exit 0
fi

mkdir -p "$dir"
src="$(cd "$mod" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
if [[ -z "$src" || ! -d "$src" ]]; then
	(cd "$mod" && go mod download github.com/argoproj/argo-cd/v3)
	src="$(cd "$mod" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
fi
mkdir -p "$dir/crds"
for f in application-crd.yaml appproject-crd.yaml applicationset-crd.yaml; do
	install -m 0644 "$src/manifests/crds/$f" "$dir/crds/$f"
done
install -m 0755 "$src/hack/git-verify-wrapper.sh" "$dir/git-verify-wrapper.sh"
install -m 0755 "$src/hack/gpg-wrapper.sh" "$dir/gpg-wrapper.sh"

if [[ ! -x "$bin" ]]; then
	log "building argocd $version into $bin (cold: ~14 min)"
	start=$(date +%s)
	(
		cd "$mod"
		go build -trimpath -ldflags "-s -w" -o "$bin.tmp" github.com/argoproj/argo-cd/v3/cmd
	)
	mv "$bin.tmp" "$bin"
	log "built argocd $version in $(($(date +%s) - start))s"
fi
