#!/bin/bash
# startup.sh: what a command costs before it does any work — wall time, CPU time and peak RSS of
# whole processes that run no model: every command's --version, `sl-preprocess select` on the
# three-tier example of tests/preprocessor/data, `sl-preprocess config` on configs/ci-tiny.json,
# a usage error, and `sl-preprocess select` on a three-tier VGG19 example (bench/vgg19_profiles.py)
# beside its peer, Scission's prediction computed by a Python script on the same files
# (bench/scission_predict.py; the two must rank the same fastest plan, or the run stops). With a
# second build folder (e.g. a build of an older commit) both are
# measured in the same run, interleaved, so that both see the same machine load.
#
#   bench/startup.sh BUILD [OTHER_BUILD]      (REPEAT=N runs per case, default 30)
#
# Prints a Markdown table: median and fastest wall time, median CPU time (user + sys, from
# bash's `time`, 1 ms resolution) and the largest max RSS (/usr/bin/time -f %M) over the runs.
# `/bin/true` is measured too, the cost of starting any process on this machine, and
# `/usr/bin/python3 -c pass`: the floor under any Python tool's start here (not the
# `python3` on PATH, which may be a pyenv shim that alone takes a second).
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
VGG="$WORK/vgg19"
/usr/bin/python3 "$HERE/vgg19_profiles.py" "$VGG" || exit 1
VGG_ARGS="--device $VGG/device.json --edge $VGG/edge.json --cloud $VGG/cloud.json --network $VGG/net.csv"
PEER="/usr/bin/python3 $HERE/scission_predict.py $VGG/device.json $VGG/edge.json $VGG/cloud.json $VGG/net.csv"
cases=(
    "sl-preprocess --version"
    "sl-train --version"
    "sl-offload --version"
    "sl-data --version"
    "sl-preprocess select --device $DATA/device.json --edge $DATA/edge.json --cloud $DATA/cloud.json --network $DATA/net.csv"
    "sl-preprocess config $SRC/configs/ci-tiny.json"
    "sl-train fit"
    "sl-preprocess select $VGG_ARGS"
)
labels=("sl-preprocess --version" "sl-train --version" "sl-offload --version" "sl-data --version"
        "select (three tiers)" "config (ci-tiny)" "sl-train fit (usage error)"
        "select (VGG19, three tiers)")

# one BUILD CASE: one run; appends "wall user sys" (s) and the max RSS (KB) to $WORK/<key>.
one() {
    local b=$1 c=$2 key=$3
    local TIMEFORMAT='%3R %3U %3S'
    { time "$b/bin/"$c >/dev/null 2>&1; } 2>>"$WORK/$key.t"
    /usr/bin/time -f '%M' -o "$WORK/$key.m" -a "$b/bin/"$c >/dev/null 2>&1
}
# python_one KEY COMMAND...: as one, for a command outside the builds.
python_one() {
    local key=$1 TIMEFORMAT='%3R %3U %3S'
    shift
    { time "$@" >/dev/null 2>&1; } 2>>"$WORK/$key.t"
    /usr/bin/time -f '%M' -o "$WORK/$key.m" -a "$@" >/dev/null 2>&1
}

# The peer must give select's answer: the same fastest plan at the same latency.
# select prints "1. 354.0 ms - 150.5 kB - cloud 0-43", the peer "1. 0.3540s - cloud 0-43": both
# become the latency in seconds to 0.1 ms and the plan ("0.3540s cloud 0-43").
first_plan() {
    sed -n 2p | sed -E 's/ \[edge-only: raw image\]//' |
        awk -F' - ' '{ split($1, a, " "); t = a[2]; if (a[3] == "ms") t /= 1000; else sub(/s$/, "", t);
                       printf "%.4fs %s\n", t, $NF }'
}
for b in "${builds[@]}"; do
    ours=$("$b/bin/sl-preprocess" select $VGG_ARGS | first_plan)
    theirs=$($PEER | first_plan)
    [ "$ours" = "$theirs" ] || { echo "startup.sh: select ($ours) and the peer ($theirs) disagree" >&2; exit 1; }
done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for b in "${builds[@]}"; do # warm the page cache
    for c in "${cases[@]}"; do "$b/bin/"$c >/dev/null 2>&1; done
done
for ((r = 0; r < REPEAT; r++)); do
    for i in "${!cases[@]}"; do
        for j in "${!builds[@]}"; do one "${builds[$j]}" "${cases[$i]}" "$i-$j"; done
    done
    python_one py /usr/bin/python3 -c pass
    python_one true /bin/true
    python_one scission $PEER
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
# row LABEL BUILD_COLUMN KEY: one table row; the build column only when two builds are compared.
two=$([ ${#builds[@]} -eq 2 ] && echo 1)
row() { echo "| $1 |${two:+ $2 |} $(summary "$3") |"; }
echo "| case |${two:+ build |} median wall | fastest wall | median CPU | max RSS |"
echo "|---|${two:+---|}---|---|---|---|"
for i in "${!cases[@]}"; do
    for j in "${!builds[@]}"; do row "${labels[$i]}" "$(basename "${builds[$j]}")" "$i-$j"; done
done
row "Scission's computation in Python (VGG19, the peer)" "(peer)" scission
row "/usr/bin/python3 -c pass (reference)" "(reference)" py
row "/bin/true (reference: starting any process here)" "(reference)" true
