#!/usr/bin/env bash
# Builds a radixserve container image from the repository root.
#   deploy/docker/build.sh cpu  [IMAGE]   default IMAGE: radixserve:cpu
#   deploy/docker/build.sh cuda [IMAGE]   default IMAGE: radixserve:cuda
# Extra docker build arguments via DOCKER_BUILD_ARGS, e.g.
#   DOCKER_BUILD_ARGS="--build-arg JOBS=16 --build-arg CUDA_VERSION=12.8.1" deploy/docker/build.sh cuda
# Inside, the build stage runs `make build` (scripts/setup.sh + the Release CMake build),
# the same commands as a developer's build; see deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
flavor=${1:-}
case "$flavor" in
  cpu|cuda) ;;
  *) echo "usage: $0 cpu|cuda [IMAGE]" >&2; exit 2 ;;
esac
image=${2:-radixserve:$flavor}
# BuildKit reads deploy/docker/Dockerfile.<flavor>.dockerignore (keeps build/, .venv/,
# models/ and .git out of the context).
export DOCKER_BUILDKIT=1
# shellcheck disable=SC2086  # DOCKER_BUILD_ARGS is a list of words
exec docker build -f "deploy/docker/Dockerfile.$flavor" -t "$image" ${DOCKER_BUILD_ARGS:-} .
