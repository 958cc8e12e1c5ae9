#!/usr/bin/env bash
# make bench: sipbus side by side with Kamailio on this machine, in one run.
#
# For each target (Kamailio with usrloc in memory, Kamailio with usrloc on
# Redis, sipbus in one process on Redis, sipbus as separate nats / edge /
# tm / registrar processes on Redis):
#   0. (sipbus-up) idle Redis load: commands/s with no traffic, right after start;
#   1. CPU and cost per operation at a fixed load: CPU_REG_RATE REGISTER/s and
#      CPU_CALL_RATE calls/s for CPU_SECS each, the target's processes' CPU
#      (utime+stime from /proc: Kamailio and its Redis, every sipbus process
#      and its Redis; never SIPp) over the step and its drain, divided by the
#      operations completed; INVITE->200 p50/p99 of that call step; and the
#      servers' own counters read before and after (Redis commands and
#      scripts, NATS messages, stream events and bytes, Redis memory held);
#   2. REGISTER ramp (peer/run.sh register): highest rate with < 0.1 %
#      failures, >= 95 % of the offered rate and <= 1 % retransmissions;
#   3. call ramp (peer/run.sh calls: INVITE 100 180 200 ACK BYE 200 through
#      the proxy to a registered SIPp UAS), and INVITE->200 p50/p99 at
#      1,000 calls/s when that step passed;
#   4. (OVERLOAD_TARGETS) overload, on a fresh start: OVERLOAD_SECS at twice the
#      max calls/s M of step 3 with peer/uac_overload.xml (a 503 to the INVITE
#      is a shed call), goodput = calls completed per second in that step / M;
#      then one ordinary step at M: recovers=yes if it passes.
# Then the micro-benchmarks (header index, typed parse, store, bus, the
# in-process NATS connection).
#
# Prints the tables (also written into RESULTS.md between the "latest run"
# markers, and to $OUT/results.md) and, last, the ratio lines, ending with
#   ratio_register=R   sipbus (one process) / Kamailio in memory, REGISTER/s
#   ratio_calls=R      sipbus (one process) / Kamailio in memory, calls/s
# with the other ratios (CPU per operation, p99 at CPU_CALL_RATE, overload,
# split / up, idle Redis load) just before them.
#
# Environment (defaults):
#   TARGETS="kamailio-mem kamailio-redis sipbus-up sipbus-split"
#                  (also sipbus-upnats, not by default: `sipbus up --nats` on
#                  `sipbus nats`, the services of one process, NATS apart)
#   STEP_SECS=7 REFINE=2 QUIET_WAIT_MAX=15 STEP_TIMEOUT_EXTRA=8 COOLDOWN_SECS=2
#   REG_RATES="2000 3000 4000 6000 8000 12000 16000 24000 32000 40000"
#   CALL_RATES="500 750 1000 1500 2000 3000 4000 5000 6000"
#                  (the fixed-load steps below cover the low rates; a target
#                  that fails the first rung is bisected down from it)
#   RAMP_TRIALS=2  steps a rate of the ramps gets before it counts as failed
#                  (peer/run.sh TRIALS): near the bound, back-to-back 7 s
#                  steps of one target at one rate differ by 10x in p50
#                  and pass or fail by chance; the fixed-load and overload
#                  steps run once
#   CPU_REG_RATE=1500 CPU_CALL_RATE=300 CPU_SECS=20 (0: no fixed-load steps,
#                  no cost table) CPU_DRAIN_MAX=5 (s the target may take to
#                  go quiet after a fixed-load step; that CPU is counted)
#   OVERLOAD_TARGETS="kamailio-redis sipbus-up sipbus-split" ("" skips)
#   OVERLOAD_SECS=15 OVERLOAD_FACTOR=2
#   DISTURBED_PCT=10 FIXED_TRIES=3 OVERLOAD_TRIES=2
#                  a fixed-load step, or an overload pair, during which
#                  other processes and the hypervisor's steal took at least
#                  DISTURBED_PCT % of a core (run.sh's disturbance=: cpu_other +
#                  cpu_steal, or the same while a wait for quiet timed out;
#                  not the target draining its own backlog) is run again,
#                  for every target alike (the overload on a fresh start), up
#                  to that many times; the least disturbed one counts, and the
#                  report names every try (fixed-tries.txt, overload-tries.txt).
#                  The VM's neighbours come and go in phases of minutes: in
#                  the runs of 2026-12-06 steal reached 30-64 % of a core in
#                  a step, under 1 % while the VM idles. A ramp's
#                  failed step that was disturbed gets one more trial
#                  (run.sh)
#   IDLE_SECS=10   (0 skips the idle Redis reading of sipbus-up)
#   MICRO=1 (0 skips the micro-benchmarks)
#   SIPBUS=path    use that sipbus binary and build nothing (e.g. one built
#                  from another checkout); SKIP_BUILD=1 uses bin/sipbus as is.
#                  Otherwise bin/sipbus is built from this tree.
#   BENCH_OUT=/tmp/sipbus-bench      WRITE_RESULTS=1 (0: leave RESULTS.md alone)
#   USERS_CSV=$BENCH_OUT/users.csv   (made by peer/gen_users.sh when missing)
# About 30 minutes on 2 cores with the defaults (26-28 in the runs of 2026-12-06
# before steps were run again when disturbed, 30-32 in the evening's after).
# Needs: kamailio kamailio-redis-modules sip-tester redis-server gcc go.
# Sends only to 127.0.0.1; stops every process it starts, also on Ctrl-C.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEER=$HERE/peer

TARGETS=${TARGETS:-"kamailio-mem kamailio-redis sipbus-up sipbus-split"}
export STEP_SECS=${STEP_SECS:-7} REFINE=${REFINE:-2} QUIET_WAIT_MAX=${QUIET_WAIT_MAX:-15}
export STEP_TIMEOUT_EXTRA=${STEP_TIMEOUT_EXTRA:-8} COOLDOWN_SECS=${COOLDOWN_SECS:-2}
REG_RATES=${REG_RATES:-"2000 3000 4000 6000 8000 12000 16000 24000 32000 40000"}
CALL_RATES=${CALL_RATES:-"500 750 1000 1500 2000 3000 4000 5000 6000"}
RAMP_TRIALS=${RAMP_TRIALS:-2}
CPU_REG_RATE=${CPU_REG_RATE:-1500}
CPU_CALL_RATE=${CPU_CALL_RATE:-300}
CPU_SECS=${CPU_SECS:-20}
CPU_DRAIN_MAX=${CPU_DRAIN_MAX:-5}
OVERLOAD_TARGETS=${OVERLOAD_TARGETS-"kamailio-redis sipbus-up sipbus-split"}
OVERLOAD_SECS=${OVERLOAD_SECS:-15}
OVERLOAD_FACTOR=${OVERLOAD_FACTOR:-2}
DISTURBED_PCT=${DISTURBED_PCT:-10}
FIXED_TRIES=${FIXED_TRIES:-3}
OVERLOAD_TRIES=${OVERLOAD_TRIES:-2}
IDLE_SECS=${IDLE_SECS:-10}
MICRO=${MICRO:-1}
WRITE_RESULTS=${WRITE_RESULTS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT=${BENCH_OUT:-/tmp/sipbus-bench}/run-$(date +%Y%m%d-%H%M%S)
export BENCH_STATE=$OUT/state BENCH_OUT=$OUT/runs
# SIPp's list of distinct users (500,000, made once), outside the source tree
export USERS_CSV=${USERS_CSV:-${BENCH_OUT%/run-*}/users.csv}
# a SIPBUS given by the caller is used as is (and named in the report)
if [ -n "${SIPBUS:-}" ]; then SKIP_BUILD=1; export SIPBUS_GIVEN=$SIPBUS; else export SIPBUS_GIVEN=; fi
export SIPBUS=${SIPBUS:-$ROOT/bin/sipbus}
export STEP_SECS CPU_REG_RATE CPU_CALL_RATE CPU_SECS OVERLOAD_SECS OVERLOAD_FACTOR DISTURBED_PCT
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

for v in CPU_REG_RATE CPU_CALL_RATE CPU_SECS CPU_DRAIN_MAX OVERLOAD_SECS OVERLOAD_FACTOR IDLE_SECS DISTURBED_PCT FIXED_TRIES OVERLOAD_TRIES; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
if [ "$SKIP_BUILD" = 1 ]; then
    [ -x "$SIPBUS" ] || die "$SIPBUS is not an executable (SKIP_BUILD=1 / SIPBUS given: nothing is built)"
    log "using $SIPBUS as is (no build)"
else
    log "build bin/sipbus"
    (cd "$ROOT" && go build -o bin/sipbus ./cmd/sipbus) || die "go build failed"
    "$HERE/report.sh" --tree >"$OUT/tree.txt"
fi

# ---- targets -------------------------------------------------------------------
# target_start TARGET: start it on a quiet machine. `sync` first: the
# previous phase's writes (a sipbus REGISTER ramp leaves ~1.5 GB of
# stream files) are otherwise written back during this phase's first
# steps, and at 300 calls/s that writeback alone moved sipbus's p99 by a
# quarter (bench/RESULTS.md round 17). Kamailio writes nothing; sipbus's
# own writes during a step stay in the step.
target_start() {
    sync
    case "$1" in
    kamailio-mem) "$KAM_SH" start mem ;;
    kamailio-redis) "$KAM_SH" start redis ;;
    sipbus-up) "$SIPBUS_SH" start up ;;
    sipbus-split) "$SIPBUS_SH" start split ;;
    sipbus-upnats) "$SIPBUS_SH" start upnats ;;
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
# kv_of LINE KEY: the value of KEY= in a line of key=value words
kv_of() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } } END { print (v == "" ? "na" : v) }' <<<"$1"; }

# disturbance LOG: how much of a core something other than the target and
# SIPp took during run.sh's steps in LOG (other processes and the
# hypervisor's steal, in the step or in a wait for quiet that timed out):
# the largest disturbance= of its step lines
disturbance() {
    grep -E '^step=' "$1" | awk '{ for (i = 1; i <= NF; i++) { n = index($i, "=")
                if (substr($i, 1, n - 1) == "disturbance" && substr($i, n + 1) + 0 > m) m = substr($i, n + 1) + 0 } }
        END { printf "%d\n", m + 0 }'
}

# least_disturbed TRIES WHAT TRYLINE SELECT FIELDS LOG FN ARGS...: run
# `FN TRY ARGS...` (it writes LOG.TRY.log; non-zero: give up) until a try
# is disturbed by less than DISTURBED_PCT % of a core, at most TRIES times.
# Each try is a line of $OUT/WHAT-tries.txt: TRYLINE try=N disturbance=D
# and the FIELDS (a regex of keys) of the try log's last line that matches
# SELECT. The least disturbed try is copied to LOG.log; KEPT is its
# number, KEPT_DIST its disturbance, TRIED the tries run.
least_disturbed() {
    local tries=$1 what=$2 tryline=$3 select=$4 fields=$5 base=$6 fn=$7 try dist
    shift 7
    KEPT= KEPT_DIST= TRIED=0
    for ((try = 1; try <= tries; try++)); do
        "$fn" "$try" "$@" || return 1
        TRIED=$try
        dist=$(disturbance "$base.$try.log")
        echo "$tryline try=$try disturbance=$dist $(grep -E "$select" "$base.$try.log" | tail -1 | grep -oE "($fields)=[^ ]*" | tr '\n' ' ')" \
            >>"$OUT/$what-tries.txt"
        if [ -z "$KEPT" ] || [ "$dist" -lt "$KEPT_DIST" ]; then KEPT=$try KEPT_DIST=$dist; fi
        [ "$dist" -lt "$DISTURBED_PCT" ] && break
        [ "$try" -lt "$tries" ] && log "$tryline: disturbed (other processes and steal: $dist % of a core), again"
    done
    cp "$base.$KEPT.log" "$base.log"
}

# fixed_try TRY TARGET KIND RATE DIR: one try of fixed's step, with the
# servers' counters around it (DIR/before.TRY.json, DIR/after.TRY.json)
fixed_try() {
    local try=$1 t=$2 kind=$3 rate=$4 d=$5 args=(calls 127.0.0.1:5060 5090)
    [ "$kind" = register ] && args=(register 127.0.0.1:5060)
    target_stats "$t" >"$d/before.$try.json" 2>>"$d/stats.err" || log "$t: counters unreadable, see $d/stats.err"
    RATES=$rate REFINE=0 STEP_SECS=$CPU_SECS CPU_DRAIN_MAX=$CPU_DRAIN_MAX TARGET_PID="$(target_pids "$t")" \
        "$PEER/run.sh" "${args[@]}" >"$d/run.$try.log" 2>&1
    target_stats "$t" >"$d/after.$try.json" 2>>"$d/stats.err"
    grep -qE '^step=' "$d/run.$try.log" || { log "$t: fixed-load $kind step did not run, see $d/run.$try.log"; return 1; }
}

# fixed TARGET KIND: one step at a fixed rate (CPU_REG_RATE REGISTER/s or
# CPU_CALL_RATE calls/s, CPU_SECS long): the target's CPU per operation from
# run.sh's exact tick delta, p50/p99, and the servers' counters around it
# (cost per operation: one line in cost.txt, one in cpu.txt); run again
# while disturbed (least_disturbed, FIXED_TRIES)
fixed() {
    local t=$1 kind=$2 d=$OUT/$1-fixed-$2 k a b rate step ok
    mkdir -p "$d"
    rate=$CPU_CALL_RATE; [ "$kind" = register ] && rate=$CPU_REG_RATE
    least_disturbed "$FIXED_TRIES" fixed "fixed_try target=$t kind=$kind" '^step=' \
        'cpu_other|cpu_steal|others|quiet_wait_s|p99_ms|cpu_us_per_op' "$d/run" fixed_try "$t" "$kind" "$rate" "$d" || return 1
    cp "$d/before.$KEPT.json" "$d/before.json"; cp "$d/after.$KEPT.json" "$d/after.json"
    step=$(grep -E '^step=' "$d/run.log" | tail -1)
    ok=$(kv_of "$step" ok)
    echo "cpu_$kind target=$t rate=$rate secs=$CPU_SECS ok=$ok cpu_s=$(kv_of "$step" cpu_target_s) us_per_op=$(kv_of "$step" cpu_us_per_op) drain_s=$(kv_of "$step" drain_s) p50_ms=$(kv_of "$step" p50_ms) p99_ms=$(kv_of "$step" p99_ms) result=$(kv_of "$step" result | cut -d'(' -f1) other_pct=$(kv_of "$step" cpu_other) steal_pct=$(kv_of "$step" cpu_steal) others=$(kv_of "$step" others) tries=$TRIED kept=$KEPT" |
        tee -a "$OUT/cpu.txt" >&2
    local line="cost_$kind target=$t n=$ok"
    for k in commands scripts in_msgs stream_msgs stream_bytes used_memory; do
        a=$(json_num "$d/before.json" "$k"); b=$(json_num "$d/after.json" "$k")
        if [ -n "$a" ] && [ -n "$b" ] && [ "$ok" != na ] && [ "$ok" -gt 0 ]; then
            line+=" $k=$(awk -v a="$a" -v b="$b" -v n="$ok" 'BEGIN { printf "%.1f", (b - a) / n }')"
        else
            line+=" $k=na"
        fi
    done
    echo "$line rate=$rate result=$(kv_of "$step" result | cut -d'(' -f1)" >>"$OUT/cost.txt"
}

# idle_redis TARGET: Redis commands/s of a freshly started target with no
# traffic (INFO stats twice, IDLE_SECS apart; the first INFO itself is not counted)
idle_redis() {
    local t=$1 url port a b
    eval "$("$SIPBUS_SH" urls)"
    url=${REDIS#redis://}; port=${url%%/*}; port=${port##*:}
    a=$(redis-cli -h 127.0.0.1 -p "$port" INFO stats 2>/dev/null | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }')
    sleep "$IDLE_SECS"
    b=$(redis-cli -h 127.0.0.1 -p "$port" INFO stats 2>/dev/null | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }')
    if [ -n "$a" ] && [ -n "$b" ]; then
        echo "idle target=$t secs=$IDLE_SECS redis_cmds=$((b - a - 1)) redis_cmds_per_s=$(awk -v n=$((b - a - 1)) -v s="$IDLE_SECS" 'BEGIN { printf "%.1f", n / s }')"
    else
        echo "idle target=$t secs=$IDLE_SECS redis_cmds=na redis_cmds_per_s=na"
    fi | tee -a "$OUT/idle.txt" >&2
}

# overload_try TRY TARGET M: on a fresh start, OVERLOAD_SECS at
# OVERLOAD_FACTOR x M calls/s, then a step at M (run.sh overload)
overload_try() {
    local try=$1 t=$2 max=$3
    stop_all
    log "$t: overload, fresh start: $((OVERLOAD_FACTOR * max)) calls/s for $OVERLOAD_SECS s, then $max calls/s"
    target_start "$t" >"$OUT/$t-start-overload.log" 2>&1 || { cat "$OUT/$t-start-overload.log" >&2; die "$t did not start"; }
    OVERLOAD_RATE=$((OVERLOAD_FACTOR * max)) RECOVER_RATE=$max OVERLOAD_SECS=$OVERLOAD_SECS \
        TARGET_PID="$(target_pids "$t")" "$PEER/run.sh" overload 127.0.0.1:5060 5090 >"$OUT/$t-overload.$try.log" 2>&1
}

in_list() { local x; for x in $2; do [ "$x" = "$1" ] && return 0; done; return 1; }

for t in $TARGETS; do
    for mode in register calls; do
        stop_all
        log "$t: start for $mode"
        target_start "$t" >"$OUT/$t-start-$mode.log" 2>&1 || { cat "$OUT/$t-start-$mode.log" >&2; die "$t did not start"; }
        if [ "$mode" = register ]; then
            if [ "$t" = sipbus-up ] && [ "$IDLE_SECS" -gt 0 ]; then
                log "$t: idle Redis load over ${IDLE_SECS} s"
                idle_redis "$t"
            fi
            if [ "$CPU_SECS" -gt 0 ]; then
                log "$t: CPU and cost at $CPU_REG_RATE REGISTER/s for $CPU_SECS s"
                fixed "$t" register
            fi
            log "$t: REGISTER ramp"
            RATES=$REG_RATES TRIALS=$RAMP_TRIALS TARGET_PID="$(target_pids "$t")" "$PEER/run.sh" register 127.0.0.1:5060 \
                >"$OUT/$t-register.log" 2>&1
        else
            if [ "$CPU_SECS" -gt 0 ]; then
                log "$t: CPU and cost at $CPU_CALL_RATE calls/s for $CPU_SECS s"
                fixed "$t" calls
            fi
            log "$t: call ramp"
            RATES=$CALL_RATES TRIALS=$RAMP_TRIALS TARGET_PID="$(target_pids "$t")" "$PEER/run.sh" calls 127.0.0.1:5060 5090 \
                >"$OUT/$t-calls.log" 2>&1
        fi
        grep -E '^step=' "$OUT/$t-$mode.log" | sed 's/^/   /' | cut -c1-160 >&2
        line=$(grep -E '^(register_max_rps|calls_max_cps)=' "$OUT/$t-$mode.log" | tail -1)
        echo "$t $line" | tee -a "$OUT/results.txt"
    done
    max=$(kv_of "$line" calls_max_cps)
    if in_list "$t" "$OVERLOAD_TARGETS" && [ "$OVERLOAD_SECS" -gt 0 ]; then
        if [ "$max" != na ] && [ "$max" -gt 0 ]; then
            least_disturbed "$OVERLOAD_TRIES" overload "overload_try target=$t" '^overload_rate=' \
                'goodput_pct|recovers' "$OUT/$t-overload" overload_try "$t" "$max"
            grep -E '^step=' "$OUT/$t-overload.log" | sed 's/^/   /' | cut -c1-160 >&2
            ol=$(grep -E '^overload_rate=' "$OUT/$t-overload.log" | tail -1)
            [ -n "$ol" ] || { log "$t: overload run failed, see $OUT/$t-overload.log"; ol="overload_rate=na"; }
            echo "$t max_cps=$max $ol disturbance=$KEPT_DIST tries=$TRIED kept=$KEPT" | tee -a "$OUT/overload.txt"
        else
            log "$t: no max calls/s, no overload step"
        fi
    fi
done
stop_all

if [ "$MICRO" = 1 ]; then
    log "micro-benchmarks"
    make -s -C "$ROOT" bench-micro BENCHTIME=100ms >"$OUT/micro.txt" 2>&1 || log "micro-benchmarks failed, see $OUT/micro.txt"
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
