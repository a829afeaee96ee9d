#!/usr/bin/env bash
# Proves a behaviour-preserving change preserved behaviour: the main job's four JSON artifacts
# compare equal once the fields that measure this machine's speed are dropped.
#
#   scripts/diff-reports.sh collect DIR     build this checkout (release) and write into DIR:
#                                           run.json (the main job's), bug-catalog.json,
#                                           tune-k8s.json (tune --preset k8s's data.json),
#                                           check.json (check --json at the default bounds)
#   scripts/diff-reports.sh compare A B     normalise both DIRs and diff them; exit 1 on any
#                                           difference, printing it
#   scripts/diff-reports.sh REV             collect REV (in a temporary git worktree) and
#                                           this checkout, then compare them
#
# Dropped as timing fields (they measure the machine, not the protocol):
#   bug-catalog.json   .seconds, .variants[].model_seconds
#   tune-k8s.json      .seconds
#   check.json         .seconds, .states_per_sec
# run.json has none: its sim_seconds is simulated time, which a seed decides.
#
# `collect` runs the main job, so it rewrites reports/ in the checkout it collects from
# (restore them with `git checkout reports/` if the run was only for the comparison).
# Needs jq.
set -euo pipefail
unset RUSTFLAGS RUSTDOCFLAGS

normalise() { # FILE KIND
    case "$2" in
    run) jq -S '.' "$1" ;;
    bug-catalog) jq -S 'del(.seconds) | .variants |= map(del(.model_seconds))' "$1" ;;
    tune-k8s) jq -S 'del(.seconds)' "$1" ;;
    check) jq -S 'del(.seconds, .states_per_sec)' "$1" ;;
    esac
}

collect() { # DIR, run from the checkout to collect
    local out=$1
    # Named before the runs, which rewrite reports/ in this checkout.
    local what
    what="$(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
    mkdir -p "$out"
    cargo build --release --quiet
    local bin=${CARGO_TARGET_DIR:-target}/release/leaseproof
    "$bin" >"$out/main-job.log" 2>&1 || true
    cp reports/run.json "$out/run.json"
    "$bin" catalog --json >"$out/bug-catalog.json" 2>/dev/null || true
    "$bin" tune --preset k8s --json >/dev/null 2>&1 || true
    cp reports/tune-k8s/data.json "$out/tune-k8s.json"
    "$bin" check --max-time 3 --json >"$out/check.json" 2>/dev/null || true
    echo "collected $what into $out"
}

compare() { # A B
    local a=$1 b=$2 status=0 kind
    for kind in run bug-catalog tune-k8s check; do
        if diff -u --label "$a/$kind.json" --label "$b/$kind.json" \
            <(normalise "$a/$kind.json" "$kind") <(normalise "$b/$kind.json" "$kind") \
            >"${TMPDIR:-/tmp}/diff-reports-$kind.diff"; then
            echo "$kind.json: equal (timing fields aside)"
        else
            echo "$kind.json: DIFFERS"
            cat "${TMPDIR:-/tmp}/diff-reports-$kind.diff"
            status=1
        fi
    done
    return $status
}

case "${1:-}" in
collect) [ $# -eq 2 ] || { echo "usage: $0 collect DIR" >&2; exit 2; }
    collect "$(realpath -m "$2")" ;;
compare) [ $# -eq 3 ] || { echo "usage: $0 compare A B" >&2; exit 2; }
    compare "$2" "$3" ;;
"" | -h | --help) sed -n '2,22p' "$0"; exit 2 ;;
*)
    rev=$1
    top=$(git rev-parse --show-toplevel)
    work=$(mktemp -d)
    trap 'git -C "$top" worktree remove --force "$work/tree" >/dev/null 2>&1 || true' EXIT
    git -C "$top" worktree add --detach "$work/tree" "$rev" >/dev/null
    # Share the build directory, so the old build is incremental, not from scratch.
    (cd "$work/tree" && CARGO_TARGET_DIR="$top/target/diff-reports" collect "$work/before")
    (cd "$top" && collect "$work/after")
    compare "$work/before" "$work/after"
    ;;
esac
