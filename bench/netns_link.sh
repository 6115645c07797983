# netns_link.sh: a device->edge link in two network namespaces whose rate can be changed while
# it carries traffic — sourced by bench/trace.sh and tests/e2e/e2e_adapt_netns.sh.
#
#   nl_probe                 exit 77 (or 1 with SL_REQUIRE_NETNS=1) unless this machine can make
#                            a namespace, a veth pair and a tbf qdisc (and we are root)
#   nl_setup RATE RTT_MS     namespaces $NL_TAG-edge / -dev, the edge at 10.79.1.1, the device at
#                            10.79.1.2; on both ends tbf at RATE (one MTU of bucket, as a real
#                            bottleneck), under netem delay RTT_MS/2 when RTT_MS > 0; when the
#                            kernel has no netem, NL_NETEM=0 and the caller adds the RTT itself
#                            (sl-offload device --rtt, the in-process shaper)
#   nl_rate RATE             `tc qdisc change` of both tbf qdiscs to RATE, live
#   nl_on_edge / nl_on_dev CMD...   run CMD in that namespace (network only: cgroups stay visible);
#                            to start one in the background with its own pid in $!, use
#                            `nsenter "${NL_EDGE[@]}" CMD... &` (NL_DEV likewise): nsenter execs
#                            CMD, while a backgrounded function would leave it a grandchild
#   nl_cleanup               removes the namespaces (the veth pair goes with them)
# Needs: NL_TAG (a short unique name, e.g. sl$$).
nl_skip() {
    [ "${SL_REQUIRE_NETNS:-0}" = 1 ] && { echo "FAIL: SL_REQUIRE_NETNS=1, but $*" >&2; exit 1; }
    echo "skip: $*"
    exit 77
}
nl_probe() {
    [ "$(id -u)" = 0 ] || nl_skip "needs root"
    command -v ip >/dev/null && command -v tc >/dev/null || nl_skip "ip or tc not installed"
    local p=$NL_TAG-probe
    if ! { ip netns add "$p" && ip -n "$p" link add pa type veth peer name pb &&
        ip netns exec "$p" tc qdisc add dev pa root tbf rate 1mbit burst 1600 latency 400ms &&
        ip netns exec "$p" tc qdisc change dev pa root tbf rate 2mbit burst 1600 latency 400ms
    } >/dev/null 2>&1; then
        ip netns del "$p" 2>/dev/null || true
        nl_skip "this machine cannot make a network namespace, a veth pair and a tbf qdisc"
    fi
    ip netns del "$p"
}
nl_die() { echo "netns_link: $*" >&2; exit 1; }
NL_WHERE=()
nl_setup() {
    local rate=$1 rtt_ms=$2 ns dev
    ip netns add "$NL_TAG-edge" || nl_die "cannot create namespace $NL_TAG-edge"
    ip netns add "$NL_TAG-dev" || nl_die "cannot create namespace $NL_TAG-dev"
    ip link add "$NL_TAG-e" netns "$NL_TAG-edge" type veth peer name "$NL_TAG-d" netns "$NL_TAG-dev" ||
        nl_die "cannot create the veth pair"
    ip -n "$NL_TAG-edge" addr add 10.79.1.1/24 dev "$NL_TAG-e"
    ip -n "$NL_TAG-dev" addr add 10.79.1.2/24 dev "$NL_TAG-d"
    for ns in edge dev; do
        ip -n "$NL_TAG-$ns" link set lo up
        ip -n "$NL_TAG-$ns" link set "$NL_TAG-${ns:0:1}" up
        ip netns exec "$NL_TAG-$ns" sysctl -qw net.ipv4.tcp_slow_start_after_idle=0
    done
    NL_NETEM=0
    NL_WHERE=(root handle 2:)
    if [ "$rtt_ms" != 0 ] && ip netns exec "$NL_TAG-edge" tc qdisc add dev "$NL_TAG-e" root \
        handle 1: netem delay "$(awk "BEGIN{print $rtt_ms/2}")ms" 2>/dev/null; then
        NL_NETEM=1
        NL_WHERE=(parent 1: handle 2:)
        ip netns exec "$NL_TAG-dev" tc qdisc add dev "$NL_TAG-d" root handle 1: netem \
            delay "$(awk "BEGIN{print $rtt_ms/2}")ms" || nl_die "netem on $NL_TAG-d failed"
    fi
    for ns in edge dev; do
        dev=$NL_TAG-${ns:0:1}
        ip netns exec "$NL_TAG-$ns" tc qdisc add dev "$dev" "${NL_WHERE[@]}" tbf rate "$rate" \
            burst 1600 latency 400ms || nl_die "cannot add a tbf qdisc on $dev"
    done
}
nl_rate() {
    for ns in edge dev; do
        ip netns exec "$NL_TAG-$ns" tc qdisc change dev "$NL_TAG-${ns:0:1}" "${NL_WHERE[@]}" tbf \
            rate "$1" burst 1600 latency 400ms || nl_die "tc qdisc change to $1 failed"
    done
}
NL_EDGE=(--net="/run/netns/$NL_TAG-edge")
NL_DEV=(--net="/run/netns/$NL_TAG-dev")
nl_on_edge() { nsenter "${NL_EDGE[@]}" "$@"; }
nl_on_dev() { nsenter "${NL_DEV[@]}" "$@"; }
nl_cleanup() {
    ip netns del "$NL_TAG-edge" 2>/dev/null || true
    ip netns del "$NL_TAG-dev" 2>/dev/null || true
}
