#!/usr/bin/env bash
# Times two release binaries of leaseproof against each other in alternating pairs (the
# order flips every pair, so drift of this shared machine falls on both): the model check
# at its default bounds on one thread, and a simulator run of three scenarios on one job.
# Prints each run's wall time and, per command, the median of the pair ratios new / old
# with their spread. Run from the repository root (the scenarios are read from it).
#
#   scripts/ab-pairs.sh OLD_BINARY NEW_BINARY [PAIRS]    (default 10 pairs)
set -euo pipefail
old=$1 new=$2 n=${3:-10}
out=$(mktemp -d)
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
for i in $(seq 1 "$n"); do
    if [ $((i % 2)) -eq 0 ]; then order="old new"; else order="new old"; fi
    for w in $order; do
        bin=$old; [ "$w" = new ] && bin=$new
        c=$(secs "$bin" check --max-time 3 --threads 1)
        r=$(secs "$bin" run scenarios/standard.toml scenarios/swarm.toml \
            scenarios/lossy-duplicating.toml --jobs 1 --out "$out/$w")
        echo "$i $w check $c run $r"
    done
done | tee "$out/times"
python3 - "$out/times" <<'PY'
import statistics as st, sys
t = {}
for line in open(sys.argv[1]):
    i, w, _, c, _, r = line.split()
    t[(int(i), w)] = {"check": float(c), "run": float(r)}
pairs = sorted({i for i, _ in t})
for k in ("check", "run"):
    ratios = [t[(i, "new")][k] / t[(i, "old")][k] for i in pairs]
    print(f"{k}: median ratio new/old {st.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); medians old "
          f"{st.median(t[(i, 'old')][k] for i in pairs):.2f} s, new "
          f"{st.median(t[(i, 'new')][k] for i in pairs):.2f} s")
PY
