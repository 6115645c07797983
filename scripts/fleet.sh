#!/usr/bin/env bash
# fleet.sh: a fleet on one machine: N `sl-offload edge` servers on loopback ports behind HAProxy
# (TCP mode, health checks on each edge's /health), from deploy/haproxy.cfg.in.
#
#   scripts/fleet.sh start DIR [--edges N] [--port P] [--build BUILD] [--token FILE]
#                              [--threads T] [--bundle FILE]...
#   scripts/fleet.sh status DIR              each edge: HAProxy's view, its /health, its counters
#   scripts/fleet.sh kill-edge DIR I [SIG]   stop edge I (1..N) with SIG (default KILL)
#   scripts/fleet.sh start-edge DIR I        start edge I again on its ports
#   scripts/fleet.sh stop DIR                stop everything and remove DIR
#
# start makes DIR (which must not exist), a token (or copies --token), starts the edges with
# --metrics on loopback, renders DIR/haproxy.cfg, starts HAProxy, waits until HAProxy sees every
# edge up, and deploys each --bundle to every edge (sl-offload deploy --fleet DIR/fleet).
# Devices connect to 127.0.0.1:$(cat DIR/port) with DIR/token. Files in DIR: port, stats_port,
# token, fleet (the edges' HOST:PORT), edgeI.{port,mport,pid,log,store}, haproxy.{cfg,pid,log}.
# Exit codes: 0 ok, 1 failure, 2 usage, 77 HAProxy not installed (apt-get install haproxy).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh" # bench_options

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "fleet.sh: $*" >&2; exit 1; }

# A free loopback port (released again at once: a small race, acceptable for tests and demos).
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# http_get PORT PATH: the body of a GET on loopback (bash's /dev/tcp; no curl needed); fails
# when nothing answers within 2 s.
http_get() {
    local port=$1 path=$2
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET %s HTTP/1.0\r\n\r\n' '$path' >&3 && cat <&3" \
        2>/dev/null | sed '1,/^\r\{0,1\}$/d'
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_edge DIR I: edge I on its recorded ports (or free ones the first time).
start_edge() {
    local d=$1 i=$2
    local bin; bin=$(cat "$d/bin")
    alive "$d/edge$i.pid" && die "edge $i is running already"
    local port=0 mport=0
    [ -s "$d/edge$i.port" ] && port=$(cat "$d/edge$i.port")
    [ -s "$d/edge$i.mport" ] && mport=$(cat "$d/edge$i.mport")
    rm -f "$d/edge$i.ready"
    nice -n "${SL_FLEET_NICE:-0}" "$bin/sl-offload" edge --listen "127.0.0.1:$port" \
        --port-file "$d/edge$i.ready" --metrics "127.0.0.1:$mport" \
        --metrics-port-file "$d/edge$i.mport" --store "$d/edge$i.store" \
        --token-file "$d/token" --threads "$(cat "$d/threads")" >>"$d/edge$i.log" 2>&1 &
    echo $! >"$d/edge$i.pid"
}

wait_edge() {
    local d=$1 i=$2
    for _ in $(seq 300); do
        [ -s "$d/edge$i.ready" ] && { cp "$d/edge$i.ready" "$d/edge$i.port"; return 0; }
        alive "$d/edge$i.pid" || break
        sleep 0.1
    done
    tail -5 "$d/edge$i.log" >&2
    die "edge $i did not start (log: $d/edge$i.log)"
}

# haproxy_state DIR I: HAProxy's status of edge I (UP, DOWN, "UP 1/2"...), from its stats CSV.
haproxy_state() {
    http_get "$(cat "$1/stats_port")" '/stats;csv' | awk -F, -v s="edge$2" '$1=="sl_edges" && $2==s {print $18}'
}

wait_haproxy_up() {
    local d=$1 i=$2
    for _ in $(seq 100); do
        [ "$(haproxy_state "$d" "$i")" = UP ] && return 0
        sleep 0.1
    done
    return 1
}

cmd=${1:-}; d=${2:-}
[ -n "$cmd" ] && [ -n "$d" ] || usage
shift 2
case $cmd in
start)
    n=3 port="" build="$here/build" token="" threads=2 bundles=()
    bench_options 18 --edges=n --port=port --build=build --token=token --threads=threads \
        --bundle='bundles[]' -- "$@"
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 16 ] || die "--edges must be 1..16"
    command -v haproxy >/dev/null || { echo "fleet.sh: haproxy is not installed (apt-get install haproxy)" >&2; exit 77; }
    [ -x "$build/bin/sl-offload" ] || die "$build/bin/sl-offload not built (--build DIR)"
    [ -e "$d" ] && die "$d exists: give a new folder (stop removes it)"
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    touch "$d/.sl-fleet"
    echo "$n" >"$d/n"
    echo "$threads" >"$d/threads"
    (cd "$build/bin" && pwd) >"$d/bin"
    if [ -n "$token" ]; then
        install -m 600 "$token" "$d/token"
    else
        (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/token")
    fi
    : >"$d/fleet"
    for i in $(seq "$n"); do
        mkdir -p "$d/edge$i.store"
        start_edge "$d" "$i"
    done
    for i in $(seq "$n"); do
        wait_edge "$d" "$i"
        echo "127.0.0.1:$(cat "$d/edge$i.port")" >>"$d/fleet"
    done
    echo "${port:-$(free_port)}" >"$d/port"
    free_port >"$d/stats_port"
    servers=""
    for i in $(seq "$n"); do
        servers+="    server edge$i 127.0.0.1:$(cat "$d/edge$i.port") check port $(cat "$d/edge$i.mport")\n"
    done
    sed -e "s|@FRONT@|bind 127.0.0.1:$(cat "$d/port")|" \
        -e "s|@STATS@|bind 127.0.0.1:$(cat "$d/stats_port")|" \
        -e "s|^ *@SERVERS@|${servers%\\n}|" "$here/deploy/haproxy.cfg.in" >"$d/haproxy.cfg"
    haproxy -c -q -f "$d/haproxy.cfg" || die "HAProxy refuses $d/haproxy.cfg"
    haproxy -db -f "$d/haproxy.cfg" >>"$d/haproxy.log" 2>&1 &
    echo $! >"$d/haproxy.pid"
    for _ in $(seq 50); do
        [ -n "$(http_get "$(cat "$d/stats_port")" '/stats;csv' | head -1)" ] && break
        alive "$d/haproxy.pid" || break
        sleep 0.1
    done
    alive "$d/haproxy.pid" || die "HAProxy did not start (log: $d/haproxy.log)"
    if [ ${#bundles[@]} -gt 0 ]; then
        "$(cat "$d/bin")/sl-offload" deploy --fleet "$d/fleet" --token-file "$d/token" \
            "${bundles[@]}" >"$d/deploy.jsonl" 2>"$d/deploy.log" || die "deploy to the fleet failed (log: $d/deploy.log)"
        for i in $(seq "$n"); do
            wait_haproxy_up "$d" "$i" || die "HAProxy does not see edge $i up"
        done
    fi
    echo "fleet: $n edge(s) behind HAProxy on 127.0.0.1:$(cat "$d/port") (token $d/token; stats http://127.0.0.1:$(cat "$d/stats_port")/stats)"
    ;;
status)
    [ -e "$d/.sl-fleet" ] || die "$d is not a fleet folder"
    for i in $(seq "$(cat "$d/n")"); do
        st=$(haproxy_state "$d" "$i" || true)
        if alive "$d/edge$i.pid"; then
            m=$(http_get "$(cat "$d/edge$i.mport")" /metrics || true)
            h=$(http_get "$(cat "$d/edge$i.mport")" /health || true)
            req=$(awk '$1=="sl_edge_requests_total"{print $2}' <<<"$m")
            res=$(awk '$1=="sl_edge_results_total"{print $2}' <<<"$m")
            echo "edge$i 127.0.0.1:$(cat "$d/edge$i.port") haproxy=${st:-?} requests=${req:-?} results=${res:-?} health=${h:-none}"
        else
            echo "edge$i 127.0.0.1:$(cat "$d/edge$i.port") haproxy=${st:-?} process=stopped"
        fi
    done
    ;;
kill-edge)
    i=${1:?edge number}; sig=${2:-KILL}
    alive "$d/edge$i.pid" || die "edge $i is not running"
    kill -"$sig" "$(cat "$d/edge$i.pid")"
    ;;
start-edge)
    i=${1:?edge number}
    start_edge "$d" "$i"
    wait_edge "$d" "$i"
    ;;
wait-up)
    i=${1:?edge number}
    wait_haproxy_up "$d" "$i" || die "HAProxy does not see edge $i up within 10 s"
    ;;
stop)
    [ -e "$d/.sl-fleet" ] || die "$d is not a fleet folder"
    pids=()
    for f in "$d"/edge*.pid "$d/haproxy.pid"; do
        alive "$f" && { kill -TERM "$(cat "$f")" 2>/dev/null || true; pids+=("$(cat "$f")"); }
    done
    for _ in $(seq 50); do
        left=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
        [ $left = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$d"
    ;;
*) usage ;;
esac
