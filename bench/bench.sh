#!/usr/bin/env bash
# make bench: sipbus side by side with Kamailio on this machine, in one run.
#
# For each target (Kamailio with usrloc in memory, Kamailio with usrloc on
# Redis, sipbus in one process on Redis, sipbus as separate nats / edge /
# tm / registrar processes on Redis):
#   1. per-operation cost: 2,000 REGISTERs and 1,000 calls at a low rate,
#      with the servers' own counters read before and after (Redis
#      commands and scripts, NATS messages, stream events and bytes, Redis
#      memory held);
#   2. REGISTER ramp (peer/run.sh register): highest rate with < 0.1 %
#      failures, >= 95 % of the offered rate and <= 1 % retransmissions;
#   3. call ramp (peer/run.sh calls: INVITE 100 180 200 ACK BYE 200 through
#      the proxy to a registered SIPp UAS), and INVITE->200 p50/p99 at
#      1,000 calls/s when that step passed.
# Then the micro-benchmarks (header index, typed parse, store, bus).
#
# Prints the table (also written into RESULTS.md between the "latest run"
# markers, and to $OUT/results.md) and, last, the ratio lines
#   ratio_register=R   sipbus (one process) / Kamailio in memory, REGISTER/s
#   ratio_calls=R      sipbus (one process) / Kamailio in memory, calls/s
# with the other ratios just before them.
#
# Environment (defaults):
#   TARGETS="kamailio-mem kamailio-redis sipbus-up sipbus-split"
#   STEP_SECS=7 REFINE=2 QUIET_WAIT_MAX=15 STEP_TIMEOUT_EXTRA=8
#   REG_RATES="1000 2000 3000 4000 6000 8000 12000 16000 24000 32000 40000"
#   CALL_RATES="250 500 750 1000 1500 2000 3000 4000 5000 6000"
#   COST_REGS=2000 COST_CALLS=1000   MICRO=1 (0 skips the micro-benchmarks)
#   BENCH_OUT=/tmp/sipbus-bench      WRITE_RESULTS=1 (0: leave RESULTS.md alone)
#   USERS_CSV=$BENCH_OUT/users.csv   (made by peer/gen_users.sh when missing)
# Needs: kamailio kamailio-redis-modules sip-tester redis-server gcc go.
# Sends only to 127.0.0.1; stops every process it starts, also on Ctrl-C.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEER=$HERE/peer

TARGETS=${TARGETS:-"kamailio-mem kamailio-redis sipbus-up sipbus-split"}
export STEP_SECS=${STEP_SECS:-7} REFINE=${REFINE:-2} QUIET_WAIT_MAX=${QUIET_WAIT_MAX:-15}
export STEP_TIMEOUT_EXTRA=${STEP_TIMEOUT_EXTRA:-8} COOLDOWN_SECS=${COOLDOWN_SECS:-2}
REG_RATES=${REG_RATES:-"1000 2000 3000 4000 6000 8000 12000 16000 24000 32000 40000"}
CALL_RATES=${CALL_RATES:-"250 500 750 1000 1500 2000 3000 4000 5000 6000"}
COST_REGS=${COST_REGS:-2000}
COST_CALLS=${COST_CALLS:-1000}
MICRO=${MICRO:-1}
WRITE_RESULTS=${WRITE_RESULTS:-1}
OUT=${BENCH_OUT:-/tmp/sipbus-bench}/run-$(date +%Y%m%d-%H%M%S)
export BENCH_STATE=$OUT/state BENCH_OUT=$OUT/runs
# SIPp's list of distinct users (500,000, made once), outside the source tree
export USERS_CSV=${USERS_CSV:-${BENCH_OUT%/run-*}/users.csv}
export SIPBUS=$ROOT/bin/sipbus
SIPBUS_SH=$HERE/sipbus.sh
KAM_SH=$PEER/kamailio.sh
T0=$(date +%s)

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "== bench [$(($(date +%s) - T0))s] $*" >&2; }

# ---- prerequisites -----------------------------------------------------------
missing=()
for c in sipp:sip-tester kamailio:kamailio redis-server:redis-server redis-cli:redis-server gcc:gcc go:golang ss:iproute2; do
    command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
done
[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/db_redis.so ] || ls /usr/lib/*/kamailio/modules/db_redis.so >/dev/null 2>&1 ||
    missing+=(kamailio-redis-modules)
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (apt-get install ${missing[*]})"
for p in 5060 5080 5081 5090 5091; do
    ss -Hlnu "src 127.0.0.1:$p" 2>/dev/null | grep -q . && die "udp 127.0.0.1:$p is in use; the benchmark needs it"
done
mkdir -p "$OUT" "$BENCH_STATE" "$BENCH_OUT" || die "cannot create $OUT"

stop_all() { "$KAM_SH" stop >/dev/null 2>&1; "$SIPBUS_SH" stop >/dev/null 2>&1; }
trap stop_all EXIT
trap 'exit 130' INT TERM

log "build bin/sipbus"
(cd "$ROOT" && go build -o bin/sipbus ./cmd/sipbus) || die "go build failed"

# ---- targets -------------------------------------------------------------------
target_start() {
    case "$1" in
    kamailio-mem) "$KAM_SH" start mem ;;
    kamailio-redis) "$KAM_SH" start redis ;;
    sipbus-up) "$SIPBUS_SH" start up ;;
    sipbus-split) "$SIPBUS_SH" start split ;;
    *) die "unknown target $1" ;;
    esac
}
target_pids() {
    case "$1" in
    kamailio-*) "$KAM_SH" pids ;;
    sipbus-*) "$SIPBUS_SH" pids ;;
    esac
}
# the counters of a target, one JSON line (sipbus stats)
target_stats() {
    case "$1" in
    kamailio-mem) echo '{}' ;;
    kamailio-redis) "$SIPBUS" stats --nats "" --redis "redis://127.0.0.1:${REDIS_PORT:-6399}/5" ;;
    sipbus-*)
        eval "$("$SIPBUS_SH" urls)"
        "$SIPBUS" stats --nats "$NATS" --nats-monitor "$MONITOR" --redis "$REDIS"
        ;;
    esac
}

# json_num FILE KEY: a number from a one-line JSON object (flat key lookup)
json_num() { grep -o "\"$2\":[0-9]*" "$1" 2>/dev/null | head -1 | cut -d: -f2; }

# cost TARGET KIND N: per-operation cost from two counter readings
cost() {
    local t=$1 kind=$2 n=$3 d=$OUT/$1-cost-$2 k a b
    mkdir -p "$d"
    target_stats "$t" >"$d/before.json" 2>"$d/stats.err" || return 1
    if [ "$kind" = register ]; then
        RATES=500 REFINE=0 STEP_SECS=$((n / 500)) TARGET_PID= "$PEER/run.sh" register 127.0.0.1:5060 >"$d/run.log" 2>&1
    else
        RATES=200 REFINE=0 STEP_SECS=$((n / 200)) TARGET_PID= "$PEER/run.sh" calls 127.0.0.1:5060 5090 >"$d/run.log" 2>&1
    fi
    sleep 1
    target_stats "$t" >"$d/after.json" 2>>"$d/stats.err" || return 1
    local line="cost_$kind target=$t n=$n"
    for k in commands scripts in_msgs stream_msgs stream_bytes used_memory; do
        a=$(json_num "$d/before.json" "$k"); b=$(json_num "$d/after.json" "$k")
        if [ -n "$a" ] && [ -n "$b" ]; then
            line+=" $k=$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')"
        else
            line+=" $k=na"
        fi
    done
    echo "$line $(grep -o 'result=[A-Z]*' "$d/run.log" | head -1)" | tee -a "$OUT/cost.txt"
}

for t in $TARGETS; do
    for mode in register calls; do
        stop_all
        log "$t: start for $mode"
        target_start "$t" >"$OUT/$t-start-$mode.log" 2>&1 || { cat "$OUT/$t-start-$mode.log" >&2; die "$t did not start"; }
        if [ "$mode" = register ]; then
            log "$t: cost of $COST_REGS REGISTERs"
            cost "$t" register "$COST_REGS" || log "$t: cost run failed, see $OUT/$t-cost-register"
            log "$t: REGISTER ramp"
            RATES=$REG_RATES TARGET_PID="$(target_pids "$t")" "$PEER/run.sh" register 127.0.0.1:5060 \
                >"$OUT/$t-register.log" 2>&1
        else
            log "$t: cost of $COST_CALLS calls"
            cost "$t" calls "$COST_CALLS" || log "$t: cost run failed, see $OUT/$t-cost-calls"
            log "$t: call ramp"
            RATES=$CALL_RATES TARGET_PID="$(target_pids "$t")" "$PEER/run.sh" calls 127.0.0.1:5060 5090 \
                >"$OUT/$t-calls.log" 2>&1
        fi
        grep -E '^step=' "$OUT/$t-$mode.log" | sed 's/^/   /' | cut -c1-160 >&2
        line=$(grep -E '^(register_max_rps|calls_max_cps)=' "$OUT/$t-$mode.log" | tail -1)
        echo "$t $line" | tee -a "$OUT/results.txt"
    done
done
stop_all

if [ "$MICRO" = 1 ]; then
    log "micro-benchmarks"
    (cd "$ROOT/pkg" && go test -run '^$' -bench . -benchmem -benchtime 100ms ./sipmsg/ ./store/ ./bus/) \
        >"$OUT/micro.txt" 2>&1 || log "micro-benchmarks failed, see $OUT/micro.txt"
fi

log "report"
"$HERE/report.sh" "$OUT" >"$OUT/results.md" || die "report failed"
if [ "$WRITE_RESULTS" = 1 ]; then
    "$HERE/report.sh" --splice "$OUT/results.md" "$HERE/RESULTS.md" || die "cannot update RESULTS.md"
fi
cat "$OUT/results.md"
echo
echo "# output: $OUT ($(($(date +%s) - T0)) s)"
cat "$OUT/ratios.txt"
