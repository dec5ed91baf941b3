#!/usr/bin/env bash
# runtime-packages.sh FILE...: the Debian/Ubuntu packages that hold the shared libraries
# FILE... load (ldd), one per line, for the runtime stage of the images to install.
# Libraries the runtime base already brings are left out: the C library (libc6), the
# CUDA toolkit's (/usr/local/cuda*: the CUDA runtime image has them) and the driver's
# libcuda.so.1 (mounted from the node by the NVIDIA container toolkit).
set -euo pipefail
(($#)) || { echo "usage: $0 FILE..." >&2; exit 2; }
declare -A packages=()
for file in "$@"; do
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    case "$name" in libcuda.so*|linux-vdso.so*) continue ;; esac
    if [ "$path" = "not" ]; then
      echo "runtime-packages: $file needs $name, which is not found" >&2; exit 1
    fi
    real=$(readlink -f "$path")
    case "$real" in /usr/local/cuda*|/usr/local/nvidia*) continue ;; esac
    pkg=""
    for candidate in "$path" "$real" "${path#/usr}" "${real#/usr}" "/usr$path" "/usr$real"; do
      pkg=$(dpkg-query -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
      echo "runtime-packages: no package owns $path ($name, needed by $file)" >&2; exit 1
    fi
    packages[$pkg]=1
  done < <(ldd "$file")
done
printf '%s\n' "${!packages[@]}" | sort
