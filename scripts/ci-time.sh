#!/usr/bin/env bash
# Measures the CI ledger's row for the current commit (reports/ci-time.md): `bash .ci/run`
# in a fresh clone of HEAD (no target/ to reuse, as CI has none), N times (default 3),
# each timed with /usr/bin/time -f '%e %U %S' (wall, user CPU, system CPU, seconds).
# Prints one line per run and the medians. Not run by .ci/run.
#
#   scripts/ci-time.sh [N]
set -euo pipefail
n=${1:-3}
top=$(git rev-parse --show-toplevel)
commit=$(git -C "$top" rev-parse --short HEAD)
walls=() cpus=()
for i in $(seq 1 "$n"); do
    dir=$(mktemp -d)
    git clone --quiet "$top" "$dir/clone"
    (cd "$dir/clone" && CI=true /usr/bin/time -f '%e %U %S' -o "$dir/time" bash .ci/run \
        >"$dir/out.log" 2>&1) || { echo "run $i failed: see $dir/out.log" >&2; exit 1; }
    read -r wall user sys <"$dir/time"
    cpu=$(echo "$user + $sys" | bc)
    echo "run $i: commit $commit wall ${wall}s cpu ${cpu}s (user $user, sys $sys)"
    walls+=("$wall") cpus+=("$cpu")
    rm -rf "$dir"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "median: wall $(median "${walls[@]}")s cpu $(median "${cpus[@]}")s"
