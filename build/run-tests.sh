#!/usr/bin/env bash
# Runs every test stage and ends with the one line CI counts: `N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "$0")/.."
config="${1:-Release}"
passed=0 failed=0 skipped=0

# Add the counts from a stage's last `N passed, N failed, N skipped` line (a stage that prints
# none counts as one failure, so a crash is never read as success).
add_counts() {
  local stage="$1" log="$2" rc="$3" line
  line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "test stage '$stage' printed no count (exit $rc): counted as 1 failure" >&2
    failed=$((failed + 1)); return
  fi
  read -r p _ f _ s _ <<<"${line//,/}"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
}

log=$(mktemp)
dotnet "tests/Smec.Tests/bin/$config/net10.0/linux-x64/Smec.Tests.dll" 2>&1 | tee "$log" | grep -av '^[0-9]* passed, [0-9]* failed, [0-9]* skipped$'
add_counts "Expecto (tests/Smec.Tests)" "$log" "${PIPESTATUS[0]}"
rm -f "$log"

# A stage that prints its own count line: run it, show its output, add its counts.
run_stage() {
  local stage="$1"; shift
  local stage_log
  stage_log=$(mktemp)
  "$@" 2>&1 | tee "$stage_log" | grep -av '^[0-9]* passed, [0-9]* failed, [0-9]* skipped$'
  add_counts "$stage" "$stage_log" "${PIPESTATUS[0]}"
  rm -f "$stage_log"
}

# Notebooks: every notebooks/*.ipynb runs headless, each cell counted; executed copies in results/notebooks/.
run_stage "notebooks (notebooks/*.ipynb)" \
  dotnet "tools/NotebookRunner/bin/$config/net10.0/linux-x64/notebook-runner.dll" --out results/notebooks notebooks

# Examples: every examples/*.fsx runs with dotnet fsi and prints its result table.
run_stage "examples (examples/*.fsx)" bash scripts/run-examples.sh

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
