#!/bin/bash
# startup.sh: what a command costs before it does any work — wall time, CPU time and peak RSS of
# whole processes that run no model: every command's --version, `sl-preprocess select` on the
# three-tier example of tests/preprocessor/data, `sl-preprocess config` on configs/ci-tiny.json,
# and a usage error. With a second build folder (e.g. a build of an older commit) both are
# measured in the same run, interleaved, so that both see the same machine load.
#
#   bench/startup.sh BUILD [OTHER_BUILD]      (REPEAT=N runs per case, default 30)
#
# Prints a Markdown table: median and fastest wall time, median CPU time (user + sys, from
# bash's `time`, 1 ms resolution) and the largest max RSS (/usr/bin/time -f %M) over the runs.
# `python3 -c pass` is measured too: the floor under any Python tool's start on this machine.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
REPEAT=${REPEAT:-30}
builds=()
for b in "$@"; do
    d=$(cd "$b" 2>/dev/null && pwd) || { echo "startup.sh: no build folder '$b'" >&2; exit 2; }
    [ -x "$d/bin/sl-preprocess" ] || { echo "startup.sh: $d/bin/sl-preprocess missing" >&2; exit 2; }
    builds+=("$d")
done
[ ${#builds[@]} -gt 0 ] || { echo "usage: bench/startup.sh BUILD [OTHER_BUILD]" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "startup.sh: needs /usr/bin/time (Debian package time)" >&2; exit 2; }

DATA="$SRC/tests/preprocessor/data"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cases=(
    "sl-preprocess --version"
    "sl-train --version"
    "sl-offload --version"
    "sl-data --version"
    "sl-preprocess select --device $DATA/device.json --edge $DATA/edge.json --cloud $DATA/cloud.json --network $DATA/net.csv"
    "sl-preprocess config $SRC/configs/ci-tiny.json"
    "sl-train fit"
)
labels=("sl-preprocess --version" "sl-train --version" "sl-offload --version" "sl-data --version"
        "select (three tiers)" "config (ci-tiny)" "sl-train fit (usage error)")

# one BUILD CASE: one run; appends "wall user sys" (s) and the max RSS (KB) to $WORK/<key>.
one() {
    local b=$1 c=$2 key=$3
    local TIMEFORMAT='%3R %3U %3S'
    { time "$b/bin/"$c >/dev/null 2>&1; } 2>>"$WORK/$key.t"
    /usr/bin/time -f '%M' -o "$WORK/$key.m" -a "$b/bin/"$c >/dev/null 2>&1
}
python_one() {
    local TIMEFORMAT='%3R %3U %3S'
    { time python3 -c pass; } 2>>"$WORK/py.t"
    /usr/bin/time -f '%M' -o "$WORK/py.m" -a python3 -c pass
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for b in "${builds[@]}"; do # warm the page cache
    for c in "${cases[@]}"; do "$b/bin/"$c >/dev/null 2>&1; done
done
for ((r = 0; r < REPEAT; r++)); do
    for i in "${!cases[@]}"; do
        for j in "${!builds[@]}"; do one "${builds[$j]}" "${cases[$i]}" "$i-$j"; done
    done
    python_one
done

# summary KEY: "median_wall fastest_wall median_cpu max_rss_mb"
summary() {
    python3 - "$WORK/$1.t" "$WORK/$1.m" <<'EOF'
import statistics, sys
t = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
m = [int(l) for l in open(sys.argv[2]) if l.strip().isdigit()]
wall = sorted(x[0] for x in t)
cpu = [x[1] + x[2] for x in t]
print("%.3f s | %.3f s | %.3f s | %.1f MB" % (statistics.median(wall), wall[0],
      statistics.median(cpu), max(m) / 1024))
EOF
}

echo "$REPEAT runs per case, $(nproc) CPUs; load average at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg)."
echo
if [ ${#builds[@]} -eq 2 ]; then
    echo "| case | build | median wall | fastest wall | median CPU | max RSS |"
    echo "|---|---|---|---|---|---|"
else
    echo "| case | median wall | fastest wall | median CPU | max RSS |"
    echo "|---|---|---|---|---|"
fi
for i in "${!cases[@]}"; do
    for j in "${!builds[@]}"; do
        if [ ${#builds[@]} -eq 2 ]; then
            echo "| ${labels[$i]} | $(basename "${builds[$j]}") | $(summary "$i-$j") |"
        else
            echo "| ${labels[$i]} | $(summary "$i-$j") |"
        fi
    done
done
if [ ${#builds[@]} -eq 2 ]; then
    echo "| python3 -c pass | (reference) | $(summary py) |"
else
    echo "| python3 -c pass (reference) | $(summary py) |"
fi
