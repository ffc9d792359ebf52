#!/usr/bin/env bash
# Runs every test stage and ends with the one line CI counts: `N passed, N failed, N skipped`.
# That line counts the tests of tests/Smec.Tests only. Notebook cells and examples are runs that
# pass when nothing throws, not tests with assertions, so they are reported on lines of their own
# and never added to the passed count; a notebook or example stage that fails adds one failure
# to the line CI counts (and makes the exit code non-zero), so it still fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
config="${1:-Release}"
count_pattern='^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
passed=0 failed=0 skipped=0
summary=()

# The last `N passed, N failed, N skipped` line of a log, as "P F S" (empty when there is none).
counts_of() {
  local line p f s
  line=$(grep -aE "$count_pattern" "$1" | tail -n 1)
  [ -n "$line" ] && { read -r p _ f _ s _ <<<"${line//,/}"; echo "$p $f $s"; }
}

# Run a stage, show its output without its count line, and leave its log and exit code behind.
run_logged() {
  stage_log=$(mktemp)
  "$@" 2>&1 | tee "$stage_log" | grep -avE "$count_pattern"
  stage_rc=${PIPESTATUS[0]}
}

# The tests: their counts are the CI line's (a run that prints no count is one failure, so a crash
# is never read as success).
run_logged dotnet "tests/Smec.Tests/bin/$config/net10.0/linux-x64/Smec.Tests.dll"
read -r p f s <<<"$(counts_of "$stage_log")"
if [ -z "${p:-}" ]; then
  echo "test stage 'Expecto (tests/Smec.Tests)' printed no count (exit $stage_rc): counted as 1 failure" >&2
  failed=$((failed + 1))
  summary+=("tests (tests/Smec.Tests): no count printed (exit $stage_rc); counted as 1 failure")
else
  passed=$p failed=$f skipped=$s
  summary+=("tests (tests/Smec.Tests): $p passed, $f failed, $s skipped")
  if [ "$stage_rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1))
    summary+=("tests (tests/Smec.Tests): exit $stage_rc with no failed test: counted as 1 failure")
  fi
fi
rm -f "$stage_log"

# A run stage (notebooks, examples): its own line in the summary; one failure on the CI line when
# it failed (a failing item, a non-zero exit or no count printed).
run_checked_stage() {
  local stage="$1" unit="$2"; shift 2
  local p f s
  run_logged "$@"
  read -r p f s <<<"$(counts_of "$stage_log")"
  rm -f "$stage_log"
  if [ -z "${p:-}" ]; then
    summary+=("$stage: no count printed (exit $stage_rc); counted as 1 failure")
    failed=$((failed + 1)); return
  fi
  local line="$stage: $p $unit ran without error, $f failed, $s skipped (checked only not to throw; not counted as tests)"
  if [ "$f" -gt 0 ] || [ "$stage_rc" -ne 0 ]; then
    line="$line; FAILED (exit $stage_rc): counted as 1 failure"
    failed=$((failed + 1))
  fi
  summary+=("$line")
}

# Notebooks: every notebooks/*.ipynb runs headless, each cell counted; executed copies in results/notebooks/.
run_checked_stage "notebooks (notebooks/*.ipynb)" "cells" \
  dotnet "tools/NotebookRunner/bin/$config/net10.0/linux-x64/notebook-runner.dll" --out results/notebooks notebooks

# Examples: every examples/*.fsx runs with dotnet fsi and prints its result table.
run_checked_stage "examples (examples/*.fsx)" "examples" bash scripts/run-examples.sh

echo
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
