#!/usr/bin/env bash
# Runs every examples/*.fsx with `dotnet fsi` from the repository root, shows its output, and ends
# with the line CI counts: `N passed, N failed, N skipped` (an example passes when it exits 0).
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
shopt -s nullglob
examples=(examples/*.fsx)
if [ ${#examples[@]} -eq 0 ]; then
  echo "run-examples: no examples/*.fsx found" >&2
  echo "0 passed, 1 failed, 0 skipped"; exit 1
fi
for script in "${examples[@]}"; do
  echo "== $script"
  start=$(date +%s)
  dotnet fsi "$script"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); verdict=passed
  else
    failed=$((failed + 1)); verdict="FAILED (exit $rc)"
  fi
  echo "== $script: $verdict in $(( $(date +%s) - start )) s"
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
