#!/usr/bin/env bash
# One-time (idempotent) setup: Debian packages, NuGet packages, local dotnet tools.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Fashion-MNIST (IDX files under /usr/share/datasets/fashion-mnist); PyTorch and an
# optimised BLAS for the reference training steps of `make bench` and their loss-equality tests
# (python3-torch is about 150 MB to download, 180 packages; without OpenBLAS Debian's torch uses the
# reference BLAS and is ~10x slower, which would make the bench's comparison meaningless).
debian_packages=(dataset-fashion-mnist python3-torch python3-numpy libopenblas0-pthread)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" = none ]; then
    echo "setup: cannot install Debian packages ${missing[*]} (not root, no sudo); the items that need them will report it." >&2
  else
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

echo "setup: restoring NuGet packages and local dotnet tools"
dotnet restore Smec.sln -nologo -v quiet
dotnet tool restore >/dev/null
