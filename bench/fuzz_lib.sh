# fuzz_lib.sh: what bench/fuzz_*.sh share, sourced by them: their options, the clang check, the
# build folder, the work folder (removed at the end unless a crash is kept), and running
# libFuzzer and reporting its statistics and any crash. Not run on its own.
#
# The caller sets `name` (its file name, for messages), `src` and `build` (the default build
# folder), calls fuzz_options "$@" and then the steps below in order.

# Parses --build DIR --time SECONDS --runs N --corpus DIR --jobs N (fork-mode jobs at once, for
# callers that fork; default 1); -h prints lines 2..$1 of the caller.
fuzz_options() {
    local help_end=$1
    shift
    time_s=600 runs=-1 corpus="" jobs=1
    while [ $# -gt 0 ]; do
        case $1 in
        --build) build=$2; shift 2 ;;
        --time) time_s=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --corpus) corpus=$2; shift 2 ;;
        --jobs)
            case $2 in '' | *[!0-9]* | 0) echo "$name: --jobs wants a positive count, not '$2'" >&2; exit 2 ;; esac
            jobs=$2; shift 2 ;;
        -h | --help) sed -n "2,${help_end}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "$name: unknown option '$1'" >&2; exit 2 ;;
        esac
    done
}

# Exits 77 when clang or GNU time (the CPU time of a run) is missing; $1 says what to install.
fuzz_need_clang() {
    command -v clang >/dev/null || { echo "$name: clang is not installed ($1)" >&2; exit 77; }
    [ -x /usr/bin/time ] || { echo "$name: /usr/bin/time is not installed (apt-get install time)" >&2; exit 77; }
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

# Every process under pid $1, one a line (children first found first).
fuzz_descendants() {
    local p
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$p"
        fuzz_descendants "$p"
    done
}

# The watchdog beside a run: every 10 s it kills (SIGKILL, by pid, logged in $work/watchdog.log)
# any process of fuzzer $2 under pid $1 that has lived too long: the libFuzzer process itself
# (the child of $1) after $3 s, any other (a fork-mode job or merge) after $4 s. A fork-mode job
# lives at most 300 s (libFuzzer's cap on a job's -max_total_time) plus one input's -timeout, so
# one alive after $4 s is stuck where libFuzzer's own timeout cannot reach it (a LeakSanitizer
# stop-the-world that never returned did that once); the parent counts it as a crash and starts
# the next job. SIGKILL, not SIGTERM or SIGINT: libFuzzer takes those as "stop the whole run".
fuzz_watchdog() {
    local top=$1 comm=${2##*/} parent_limit=$3 job_limit=$4 main p q age limit
    comm=${comm:0:15}
    set +e +o pipefail # a process that ends while looked at is no error (runs in its own subshell)
    while kill -0 "$top" 2>/dev/null; do
        sleep 10
        main=$(ps -o pid= --ppid "$top" 2>/dev/null | head -1 | tr -d ' ')
        for p in $(fuzz_descendants "$top"); do
            [ "$(ps -o comm= -p "$p" 2>/dev/null)" = "$comm" ] || continue
            age=$(ps -o etimes= -p "$p" 2>/dev/null | tr -d ' ')
            limit=$job_limit
            [ "$p" != "$main" ] || limit=$parent_limit
            if [ -z "$age" ] || [ "$age" -le "$limit" ]; then continue; fi
            echo "$(date -u +%H:%M:%S) killed pid $p after $age s (limit $limit s): $(ps -o args= -p "$p" 2>/dev/null | cut -c1-160)" >>"$work/watchdog.log"
            if [ "$p" = "$main" ]; then
                for q in $(fuzz_descendants "$p"); do kill -KILL "$q" 2>/dev/null || true; done
            fi
            kill -KILL "$p" 2>/dev/null || true
        done
    done
}

# Runs "$@" (a libFuzzer command of fuzzer $1) under nice -n 10, GNU time ($work/$2.time: wall,
# user and system seconds of it and every process it waited for) and the watchdog, which lets the
# libFuzzer process live $3 s; its output in $work/$2; sets rc to its exit code.
fuzz_exec() {
    local fuzzer=$1 tag=$2 limit=$3 top
    shift 3
    /usr/bin/time -o "$work/$tag.time" -f '%e %U %S' nice -n 10 "$@" >"$work/$tag" 2>&1 &
    top=$!
    fuzz_watchdog "$top" "$fuzzer" "$limit" "$job_limit" &
    local dog=$!
    set +e
    wait "$top"
    rc=$?
    set -e
    kill "$dog" 2>/dev/null || true
    wait "$dog" 2>/dev/null || true
}

# Runs fuzzer $1 with -max_len=$2 (and any further libFuzzer flags) on the corpus and seeds, prints
# its statistics (executions, wall time, CPU time, rates) and on a crash keeps the work folder,
# prints the report's head and exits 1. With leak_pass=1 (set by the caller) the fuzzing runs
# without LeakSanitizer (ASan's detect_leaks=0, -detect_leaks=0: no stop-the-world in any job) and
# the leak check is a second step: the target runs once on every input of the final corpus and
# the seeds, with leak detection on (each input that allocates more than it frees is checked),
# under the same watchdog (for leak_limit s, default 1800). job_limit (seconds a fork-mode job may
# live, default 600) may be set too.
fuzz_run() {
    local fuzzer=$1 max_len=$2
    shift 2
    : "${job_limit:=600}" "${leak_pass:=0}"
    cd "$work"
    local asan=${ASAN_OPTIONS:-} leaks=()
    if [ "$leak_pass" = 1 ]; then
        export ASAN_OPTIONS="${asan:+$asan:}detect_leaks=0"
        leaks=(-detect_leaks=0)
    fi
    fuzz_exec "$fuzzer" log $((time_s + 2 * job_limit)) "$fuzzer" -max_total_time="$time_s" -runs="$runs" -max_len="$max_len" \
        "$@" "${leaks[@]}" -print_final_stats=1 -artifact_prefix="$work/" "$corpus" "$work/seeds"
    local wall user sys
    read -r wall user sys < <(tail -1 "$work/log.time") || true
    # In-process mode: libFuzzer's own final statistics.
    # -fork mode: the parent prints stat:: lines of its own (0 executions, it runs none) and no
    # `Done N runs`; its status line after each job has the executions of all jobs so far, each
    # job's own final count ("#135: cov: ... exec/s 0 ... time: 325s job: 5", exec/s the last
    # job's, rounded down), so the total is read from its last status line. A job the watchdog
    # killed printed no count: its executions are not in the total (a lower bound then, said so).
    local last
    last=$(grep -E '^#[0-9]+: cov: ' "$work/log" | tail -1 || true)
    if [ -z "$last" ]; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/log" || true
        grep -E '^Done [0-9]+ runs in [0-9]+ second' "$work/log" || true
    else
        echo "$last"
        echo "$last" | sed -nE 's/^#([0-9]+):.* time: ([0-9]+)s job: ([0-9]+).*/\1 \2 \3/p' |
            awk '$2 > 0 { printf "fork mode: %d executions in %d s over %d jobs, %.2f exec/s\n", $1, $2, $3, $1 / $2 }'
    fi
    local execs
    execs=$(echo "$last" | sed -nE 's/^#([0-9]+):.*/\1/p')
    [ -n "$execs" ] || execs=$(awk '/^stat::number_of_executed_units/ { print $2; exit }' "$work/log")
    if [ -n "$wall" ] && [ -n "$execs" ]; then
        awk -v n="$execs" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {
            printf "wall %.0f s, CPU %.0f s (user %.0f + system %.0f), %.1f exec/s of wall time, %.1f exec/s per CPU second\n",
                w, u + s, u, s, (w > 0 ? n / w : 0), (u + s > 0 ? n / (u + s) : 0) }'
    fi
    local killed=0
    [ -f "$work/watchdog.log" ] && killed=$(wc -l <"$work/watchdog.log")
    if [ "$killed" -gt 0 ]; then
        keep=1
        echo "$name: the watchdog killed $killed stuck process(es) (their executions are not counted):" >&2
        cat "$work/watchdog.log" >&2
    fi
    if [ "$leak_pass" = 1 ]; then
        local main_rc=$rc
        export ASAN_OPTIONS="${asan:+$asan:}detect_leaks=1"
        fuzz_exec "$fuzzer" leaks "${leak_limit:-1800}" "$fuzzer" -runs=0 -max_len="$max_len" -timeout=60 -rss_limit_mb=4096 \
            -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$work/" "$corpus" "$work/seeds"
        read -r wall user sys < <(tail -1 "$work/leaks.time") || true
        local checked
        checked=$(awk '/^stat::number_of_executed_units/ { print $2; exit }' "$work/leaks")
        echo "leak check: ${checked:-?} inputs of the corpus and seeds run once with LeakSanitizer, ${wall:-?} s, exit $rc"
        [ "$rc" = 0 ] || cat "$work/leaks" >>"$work/log"
        export ASAN_OPTIONS=$asan
        [ "$main_rc" = 0 ] || rc=$main_rc
    fi
    local found
    found=$(find "$work" -maxdepth 1 \( -name 'timeout-*' -o -name 'crash-*' -o -name 'leak-*' \
        -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
    if [ "$found" -gt 0 ]; then
        keep=1
        echo "$name: $found input(s) crashed, leaked, ran out of memory or over the -timeout; kept in $work:" >&2
        for k in crash timeout oom leak slow-unit; do
            n=$(find "$work" -maxdepth 1 -name "$k-*" | wc -l)
            [ "$n" = 0 ] || echo "  $k: $n" >&2
        done
        [ "$rc" -ne 0 ] || exit 1
    fi
    if [ "$rc" -ne 0 ]; then
        keep=1
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY|#[0-9]+ 0x' "$work/log" | head -12 >&2 || true
        echo "$name: libFuzzer exited $rc; log and input in $work" >&2
        exit 1
    fi
    [ "$killed" = 0 ] || exit 1
}
