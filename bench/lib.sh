# lib.sh: what the bench/*.sh scripts with --options share, sourced by them (not run on its own):
# one option parser, so that every script words a bad option the same way.
#
#   source "$(dirname "$0")/lib.sh"
#   bench_options 21 --build=build --rounds=rounds -- "$@"

# bench_options HELP_END SPEC... -- ARGS...: parses the caller's ARGS. Each SPEC --name=var says
# that `--name VALUE` sets the shell variable var (global; its default is set beforehand);
# --name=var[] that each `--name VALUE` appends VALUE to the array var (repeatable).
# -h/--help prints lines 2..HELP_END of the caller without their '# ' and exits 0; after a lone
# `--` the remaining ARGS go to the array bench_rest (empty otherwise). An unknown option or one
# without its value prints "NAME: unknown option 'X'" (or "NAME: X needs a value") on stderr and
# exits 2.
bench_options() {
    local help_end=$1 name var
    local -A vars=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        vars[${1%%=*}]=${1#*=}
        shift
    done
    [ $# -gt 0 ] && shift
    name=$(basename "$0")
    bench_rest=()
    while [ $# -gt 0 ]; do
        case $1 in
        -h | --help) sed -n "2,${help_end}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; bench_rest=("$@"); return 0 ;;
        esac
        var=""
        [ -z "$1" ] || var=${vars[$1]:-}
        [ -n "$var" ] || { echo "$name: unknown option '$1'" >&2; exit 2; }
        [ $# -ge 2 ] || { echo "$name: $1 needs a value" >&2; exit 2; }
        case $var in
        *'[]') local -n bench_array=${var%'[]'}; bench_array+=("$2"); unset -n bench_array ;;
        *) printf -v "$var" '%s' "$2" ;;
        esac
        shift 2
    done
}
