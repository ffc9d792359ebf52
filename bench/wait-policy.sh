#!/usr/bin/env bash
# Measures the OpenMP wait policy's effect on a short SMEC training run (SciFact / MiniLM from the data
# mirror): wall time and the trained weights' checksum for each policy, alternating policies, N repeats.
# Usage: bash bench/wait-policy.sh [repeats=3] [steps=100] [policies="PASSIVE gomp-default ACTIVE"] [timeout_s=600]
# "gomp-default" emulates libgomp's behaviour when OMP_WAIT_POLICY is unset (spin ~3 ms, then sleep):
# the program now always sets a policy, so the unset case is reproduced with ACTIVE + GOMP_SPINCOUNT=300000.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-3}" steps="${2:-100}" policies="${3:-PASSIVE gomp-default ACTIVE}" limit="${4:-600}"
smec=(dotnet Smec.Experiments/bin/Release/net10.0/linux-x64/smec.dll)
out=$(mktemp -d)
echo "load before: $(cat /proc/loadavg)"
printf '%-14s %-7s %9s %9s  %s\n' policy repeat wall_s cpu_s weights_sha256
for r in $(seq 1 "$repeats"); do
  for policy in $policies; do
    env_args=(OMP_WAIT_POLICY="$policy")
    [ "$policy" = gomp-default ] && env_args=(OMP_WAIT_POLICY=ACTIVE GOMP_SPINCOUNT=300000)
    start=$(date +%s.%N)
    rm -rf "$out/$policy"
    if ! timeout "$limit" /usr/bin/time -f "%U %S" -o "$out/time" env "${env_args[@]}" "${smec[@]}" train --max-steps "$steps" \
      --eval-every 100000 --quiet --out "$out/$policy" >/dev/null 2>&1; then
      printf '%-14s %-7s %9s %9s  %s\n' "$policy" "$r" ">$limit" "-" "(stopped after ${limit} s)"
      continue
    fi
    end=$(date +%s.%N)
    read -r user sys < "$out/time"
    printf '%-14s %-7s %9.1f %9.1f  %s\n' "$policy" "$r" "$(echo "$end - $start" | bc)" "$(echo "$user + $sys" | bc)" \
      "$(sha256sum "$out/$policy/weights.bin" | cut -c1-16)"
  done
done
echo "load after: $(cat /proc/loadavg)"
rm -rf "$out"
