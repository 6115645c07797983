# fuzz_lib.sh: what bench/fuzz_*.sh share, sourced by them: their options, the clang check, the
# build folder, the work folder (removed at the end unless a crash is kept), and running
# libFuzzer and reporting its statistics and any crash. Not run on its own.
#
# The caller sets `name` (its file name, for messages), `src` and `build` (the default build
# folder), calls fuzz_options "$@" and then the steps below in order.

# Parses --build DIR --time SECONDS --runs N --corpus DIR; -h prints lines 2..$1 of the caller.
fuzz_options() {
    local help_end=$1
    shift
    time_s=600 runs=-1 corpus=""
    while [ $# -gt 0 ]; do
        case $1 in
        --build) build=$2; shift 2 ;;
        --time) time_s=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --corpus) corpus=$2; shift 2 ;;
        -h | --help) sed -n "2,${help_end}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "$name: unknown option '$1'" >&2; exit 2 ;;
        esac
    done
}

# Exits 77 when clang is missing; $1 says what to install.
fuzz_need_clang() {
    command -v clang >/dev/null || { echo "$name: clang is not installed ($1)" >&2; exit 77; }
}

# Configures the build folder (an absolute path afterwards) when it is not yet.
fuzz_configure() {
    mkdir -p "$build" && build=$(cd "$build" && pwd)
    [ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
}

# Makes $work (prefix $1) with corpus/ (unless --corpus) and seeds/; removed on exit unless kept.
fuzz_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    keep=0
    trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT
    if [ -z "$corpus" ]; then corpus=$work/corpus; fi
    mkdir -p "$corpus" "$work/seeds"
    corpus=$(cd "$corpus" && pwd) # libFuzzer runs in $work: a relative --corpus would miss
}

# Runs fuzzer $1 with -max_len=$2 (and any further libFuzzer flags) on the corpus and seeds, prints
# its statistics, and on a crash keeps the work folder, prints the report's head and exits 1.
fuzz_run() {
    local fuzzer=$1 max_len=$2 rc
    shift 2
    cd "$work"
    set +e
    nice -n 10 "$fuzzer" -max_total_time="$time_s" -runs="$runs" -max_len="$max_len" "$@" \
        -print_final_stats=1 -artifact_prefix="$work/" "$corpus" "$work/seeds" >"$work/log" 2>&1
    rc=$?
    set -e
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/log" || true
    local done_line
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$work/log" || true)
    if [ -n "$done_line" ]; then echo "$done_line"; fi
    # -fork mode: no stat:: lines; the last status line has the executions of all jobs and the
    # time ("#135: cov: ... exec/s 0 ... time: 325s job: 5", its exec/s rounded down to a whole
    # number), so the total and the rate are printed from it. Timeouts and crashes it was told to
    # ignore are kept as timeout-* and crash-* inputs: findings all the same.
    local last
    last=$(grep -E '^#[0-9]+: cov: ' "$work/log" | tail -1 || true)
    if [ -n "$last" ]; then
        echo "$last"
        echo "$last" | sed -nE 's/^#([0-9]+):.* time: ([0-9]+)s job: ([0-9]+).*/\1 \2 \3/p' |
            awk '$2 > 0 { printf "fork mode: %d executions in %d s over %d jobs, %.2f exec/s\n", $1, $2, $3, $1 / $2 }'
    fi
    local found
    found=$(find "$work" -maxdepth 1 \( -name 'timeout-*' -o -name 'crash-*' -o -name 'leak-*' \
        -o -name 'oom-*' \) | wc -l)
    if [ "$found" -gt 0 ]; then
        keep=1
        echo "$name: $found input(s) crashed, leaked or ran over the -timeout; kept in $work:" >&2
        (cd "$work" && ls timeout-* crash-* leak-* oom-* 2>/dev/null | head -20) >&2
        [ $rc -ne 0 ] || exit 1
    fi
    if [ $rc -ne 0 ]; then
        keep=1
        grep -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error|SUMMARY|#[0-9]+ 0x' "$work/log" | head -12 >&2 || true
        echo "$name: libFuzzer exited $rc; log and crash input in $work" >&2
        exit 1
    fi
}
