#!/usr/bin/env bash
# SIP load driver (sipp 3.6): finds the highest sustained rate a SIP
# registrar/proxy handles on this machine. Target-agnostic: it only needs a
# UDP SIP endpoint on a loopback address that is registrar + record-routing
# proxy for the domain $DOMAIN (default bench.local).
#
# usage:
#   run.sh register HOST:PORT            max REGISTER/s (unique AoRs)
#   run.sh calls    HOST:PORT UAS_PORT   max calls/s (INVITE..BYE via the proxy)
#                                        with INVITE->200 p50/p99 at that rate
#   run.sh smoke    HOST:PORT UAS_PORT   quick functional check, no ramp: REGISTER,
#                                        call, CANCEL (callee on UAS_PORT+1), 404
#   run.sh overload HOST:PORT UAS_PORT   one step at OVERLOAD_RATE for OVERLOAD_SECS
#                                        with uac_overload.xml (a 503 to the INVITE is
#                                        a shed call, not a failure), then one normal
#                                        step at RECOVER_RATE: goodput and recovery
#
# The last line on stdout is machine-readable, e.g.
#   register_max_rps=8000 p50_ms=0.41 p99_ms=2.10 ...
#   calls_max_cps=1500 p50_ms=1.90 p99_ms=6.20 ... ref_rate=1000 ref_p50_ms=..
#   overload_rate=1200 recover_rate=600 overload_secs=15 goodput_pct=90.0 ok=.. failed=..
#       incomplete=.. .. goodput_cps=540.0 shed_503=.. shed_503_retry_after=.. recovers=yes
#   smoke=ok
#
# Every step line gives, when TARGET_PID is set, the target's CPU time as an
# exact utime+stime delta (/proc/PID/stat, all threads, each TARGET_PID with
# its direct children) from just before sipp starts until it exits, plus the
# drain after it (CPU_DRAIN_MAX): cpu_target_s=, cpu_us_per_op= (per
# successful call or REGISTER), drain_s=. cpu_target= is the sampled % of a
# core during the step, as before.
#
# A step at rate R sends R*STEP_SECS calls at R/s. It passes when
#   failed+incomplete < MAX_FAIL_PCT % of the calls (unexpected replies and
#   timeouts count as failed), the completion rate >= MIN_RATE_RATIO*R, and
#   sipp's UDP retransmissions <= MAX_RETRANS_PCT % of the calls (on loopback
#   a retransmission means no answer within 500 ms: overload).
# Ramp: the rates in RATES in turn until one fails, then REFINE bisection
# steps between the last pass and the first fail. Reported max = highest
# passing rate. With TRIALS=N a rate of the ramp fails only when N steps
# at it in a row fail (the first that passes ends its trials).
#
# Environment (defaults):
#   RATES           register: "1000 2000 4000 8000 12000 16000 20000 24000 32000"
#                   calls:    "250 500 1000 2000 3000 4000 5000 6000 8000"
#                   (steps of at most x1.5 past the first few, so the first
#                   failing step is not far past capacity: an overloaded
#                   target collapses, and the backlog must drain first)
#   STEP_SECS=15 REFINE=3 COOLDOWN_SECS=3 MAX_FAIL_PCT=0.1 MIN_RATE_RATIO=0.95
#   STEP_TIMEOUT_EXTRA=STEP_SECS+20  seconds a step may run past STEP_SECS
#                   before sipp gives up (an overloaded target drains slowly);
#                   enforced: sipp is ended then (calls still open = incomplete)
#   MAX_RETRANS_PCT=1
#   TRIALS=1        steps a ramp's rate gets before it counts as failed (1..3):
#                   near a target's bound one step of a few seconds passes or
#                   fails by chance (a burst, a collection, another tenant of
#                   the VM), and one unlucky step ends the ramp
#   DISTURBED_PCT=10  a failed step during which other processes and the
#                   hypervisor's steal took at least this % of a core (in
#                   the step, or while its wait for quiet timed out; the
#                   step line's disturbance=) gets one more trial, once per
#                   rate
#   REF_RATE        register: 2000, calls: 1000 -- the final line also gives
#                   p50/p99 of that step (ref_p50_ms, ref_p99_ms) if it passed
#   QUIET_PCT=15 QUIET_WAIT_MAX=60  before each step wait (bounded) until the
#                   machine (target included: it must have drained the previous
#                   step) uses < QUIET_PCT % of a core; cpu_other reports what
#                   other processes used during the step anyway, others= the
#                   busiest of them (comm:% of a core), cpu_steal what the
#                   hypervisor took from this VM, cpu_irq the kernel's packet
#                   handling (neither in cpu_other)
#   DOMAIN=bench.local  CALLEE=uas  CALL_PAUSE_MS=0 (ACK -> BYE pause)
#   LOCAL_IP=127.0.0.1  UAC_PORT=5080  REG_PORT=5081 (one-shot UAS REGISTER)
#   USERS_CSV=<here>/users.csv (made by gen_users.sh, USERS_N=500000, if absent)
#   REG_KEYSPACE=step  every step registers AoRs never seen before (prefix per
#                   step; the registrar's table grows over the run). "run": one
#                   prefix per run, the CSV wraps, so the table stays <= USERS_N
#                   and later REGISTERs are refreshes of existing bindings
#   TARGET_PID="pid ..." processes to account CPU for (each with its direct
#                   children), e.g. "$(./kamailio.sh pids)"; optional
#   BENCH_OUT=/tmp/bench-peer/runs   per-run folder with every sipp file
#   FINE_CLOCK=1    LD_PRELOAD clockfix.so (sipp 3.6 rtd has 4 ms resolution
#                   without it); needs gcc the first time
#   CPU_DRAIN_MAX=0  after sipp exits, wait up to this many seconds (whole
#                   seconds) until the target uses < DRAIN_PCT=10 % of a core,
#                   and count that CPU in cpu_target_s too (the work a step
#                   leaves behind: queued events, acknowledgements, timers)
#   overload mode:  OVERLOAD_RATE (required), RECOVER_RATE=OVERLOAD_RATE/2,
#                   OVERLOAD_SECS=15; the recovery step lasts STEP_SECS and
#                   passes by the ramp's criteria (recovers=yes)
#   RUN_TAG         user-name prefix unique to this run (default from time+pid)
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
MODE=${1:-}
TARGET=${2:-}
UAS_PORT=${3:-}

usage() { sed -n '6,16p' "$0" >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit 1; }

case "$MODE" in
    register) [ -n "$TARGET" ] || usage ;;
    calls|smoke|overload) [ -n "$TARGET" ] && [ -n "$UAS_PORT" ] || usage ;;
    *) usage ;;
esac

TARGET_HOST=${TARGET%:*}
TARGET_PORT=${TARGET##*:}
[ "$TARGET_HOST" = localhost ] && TARGET_HOST=127.0.0.1
TARGET="$TARGET_HOST:$TARGET_PORT"
is_loopback() { [[ "$1" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; }
is_port() { [[ "$1" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
is_loopback "$TARGET_HOST" || die "target host must be a 127.x.x.x loopback address (got '$TARGET_HOST')"
is_port "$TARGET_PORT" || die "bad target port '$TARGET_PORT'"

DOMAIN=${DOMAIN:-bench.local}
CALLEE=${CALLEE:-uas}
CALL_PAUSE_MS=${CALL_PAUSE_MS:-0}
LOCAL_IP=${LOCAL_IP:-127.0.0.1}
UAC_PORT=${UAC_PORT:-5080}
REG_PORT=${REG_PORT:-5081}
STEP_SECS=${STEP_SECS:-15}
STEP_TIMEOUT_EXTRA=${STEP_TIMEOUT_EXTRA:-$((STEP_SECS + 20))}
REFINE=${REFINE:-3}
COOLDOWN_SECS=${COOLDOWN_SECS:-3}
MAX_FAIL_PCT=${MAX_FAIL_PCT:-0.1}
MIN_RATE_RATIO=${MIN_RATE_RATIO:-0.95}
MAX_RETRANS_PCT=${MAX_RETRANS_PCT:-1}
TRIALS=${TRIALS:-1}
USERS_CSV=${USERS_CSV:-$HERE/users.csv}
USERS_N=${USERS_N:-500000}
REG_KEYSPACE=${REG_KEYSPACE:-step}
TARGET_PID=${TARGET_PID:-}
FINE_CLOCK=${FINE_CLOCK:-1}
RUN_TAG=${RUN_TAG:-r$(date +%s)p$$}
BUFF_SIZE=${BUFF_SIZE:-4194304}
CPU_DRAIN_MAX=${CPU_DRAIN_MAX:-0}
DRAIN_PCT=${DRAIN_PCT:-10}
if [ "$MODE" = register ]; then RATES=${RATES:-"1000 2000 4000 8000 12000 16000 20000 24000 32000"}; REF_RATE=${REF_RATE:-2000}
elif [ "$MODE" = overload ]; then
    OVERLOAD_RATE=${OVERLOAD_RATE:-}
    [[ "$OVERLOAD_RATE" =~ ^[0-9]+$ ]] && [ "$OVERLOAD_RATE" -ge 2 ] || die "overload needs OVERLOAD_RATE (calls/s, >= 2)"
    RECOVER_RATE=${RECOVER_RATE:-$((OVERLOAD_RATE / 2))}
    OVERLOAD_SECS=${OVERLOAD_SECS:-15}
    [[ "$OVERLOAD_SECS" =~ ^[0-9]+$ ]] && [ "$OVERLOAD_SECS" -ge 2 ] && [ "$OVERLOAD_SECS" -le 120 ] || die "OVERLOAD_SECS must be 2..120"
    [ "$RECOVER_RATE" != "$OVERLOAD_RATE" ] || die "RECOVER_RATE must differ from OVERLOAD_RATE"
    RATES="$OVERLOAD_RATE $RECOVER_RATE"; REF_RATE=0
else RATES=${RATES:-"250 500 1000 2000 3000 4000 5000 6000 8000"}; REF_RATE=${REF_RATE:-1000}; fi
[[ "$CPU_DRAIN_MAX" =~ ^[0-9]+$ ]] && [ "$CPU_DRAIN_MAX" -le 60 ] || die "CPU_DRAIN_MAX must be 0..60"

is_loopback "$LOCAL_IP" || die "LOCAL_IP must be a 127.x.x.x loopback address"
for p in "$UAC_PORT" "$REG_PORT" ${UAS_PORT:+"$UAS_PORT"}; do is_port "$p" || die "bad port '$p'"; done
[ "$STEP_SECS" -ge 2 ] && [ "$STEP_SECS" -le 120 ] || die "STEP_SECS must be 2..120"
[ "$REFINE" -ge 0 ] && [ "$REFINE" -le 6 ] || die "REFINE must be 0..6"
[[ "$TRIALS" =~ ^[1-3]$ ]] || die "TRIALS must be 1..3"
case "$REG_KEYSPACE" in step|run) ;; *) die "REG_KEYSPACE must be step or run" ;; esac
nrates=0; for r in $RATES; do
    [[ "$r" =~ ^[0-9]+$ ]] && [ "$r" -ge 1 ] && [ "$r" -le 200000 ] || die "bad rate '$r' in RATES"
    nrates=$((nrates + 1)); done
[ "$nrates" -ge 1 ] && [ "$nrates" -le 12 ] || die "RATES must list 1..12 rates"
command -v sipp >/dev/null || die "sipp not found (apt-get install sip-tester)"

OUT=${BENCH_OUT:-/tmp/bench-peer/runs}/$(date +%Y%m%d-%H%M%S)-$MODE-$$
mkdir -p "$OUT" || die "cannot create $OUT"
SUMMARY=$OUT/steps.tsv
CLK_TCK=$(getconf CLK_TCK)

# ---- processes we start; cleaned up on any exit ----------------------------
STARTED=()
cleanup() {
    local p i
    for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
        local any=0
        for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for p in "${STARTED[@]}"; do kill -KILL "$p" 2>/dev/null; done
    STARTED=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
forget() { local p keep=(); for p in "${STARTED[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; STARTED=("${keep[@]}"); }

# ---- sipp environment ------------------------------------------------------
PRELOAD=
if [ "$FINE_CLOCK" = 1 ]; then
    SO=${BENCH_STATE:-/tmp/bench-peer/state}/clockfix.so
    if [ ! -s "$SO" ] || [ "$HERE/clockfix.c" -nt "$SO" ]; then
        mkdir -p "$(dirname "$SO")"
        gcc -shared -fPIC -O2 -o "$SO" "$HERE/clockfix.c" -ldl 2>"$OUT/clockfix.err" || SO=
    fi
    if [ -n "$SO" ]; then PRELOAD=$SO
    else echo "warning: could not build clockfix.so; response times have 4 ms resolution" >&2; fi
fi
# sipp is started directly (not through a function or subshell) so that $! is
# sipp's own PID; LD_PRELOAD= (empty) when the shim is off.

if [ "$MODE" = register ] && [ ! -s "$USERS_CSV" ]; then
    "$HERE/gen_users.sh" "$USERS_N" "$USERS_CSV" || die "cannot create $USERS_CSV"
fi

# ---- CPU accounting --------------------------------------------------------
TPIDS=()
if [ -n "$TARGET_PID" ]; then
    for p in ${TARGET_PID//,/ }; do
        [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null || { echo "warning: TARGET_PID $p not running" >&2; continue; }
        TPIDS+=("$p")
        for c in $(ps -o pid= --ppid "$p"); do TPIDS+=("$c"); done
    done
fi
# utime+stime (clock ticks) summed over the given pids (whole process, all threads)
ticks() {
    local f=() p
    for p in "$@"; do [ -r "/proc/$p/stat" ] && f+=("/proc/$p/stat"); done
    [ ${#f[@]} -eq 0 ] && { echo 0; return; }
    cat "${f[@]}" 2>/dev/null | awk '{ sub(/^.*\) /, ""); s += $12 + $13 } END { print s + 0 }'
}
# the machine's ticks from /proc/stat: total, idle (idle + iowait), steal
# (time the hypervisor ran something else while this VM's CPUs wanted to
# run: counted as busy, as on the host, and reported apart as cpu_steal),
# irq + softirq (the kernel's packet handling: loopback UDP of the step's
# own traffic, reported apart as cpu_irq)
systicks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6, $9, $7 + $8; exit }' /proc/stat; }
# every process's ticks, "pid ticks comm" (its comm without spaces)
proctable() {
    local f
    for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null; echo; done |
        awk 'NF { i = index($0, " ("); j = index($0, ") "); if (i == 0 || j == 0) next
              c = substr($0, i + 2, j - i - 2); gsub(/[ =,]/, "_", c)
              n = split(substr($0, j + 2), f, " "); print substr($0, 1, i - 1), f[12] + f[13], c }'
}
# others_pct BEFORE AFTER SECS PID...: the CPU of the processes other than
# the given ones between two proctables, "percent-of-a-core comm" a line
# (summed by comm)
others_pct() {
    local a=$1 b=$2 secs=$3; shift 3
    awk -v hz="$CLK_TCK" -v secs="$secs" -v skip=" $* " '
        FNR == NR { t[$1] = $2; next }
        index(skip, " " $1 " ") == 0 { d = $2 - (($1 in t) ? t[$1] : 0); if (d > 0) u[$3] += d }
        END { for (c in u) printf "%.1f %s\n", 100 * u[c] / hz / secs, c }' "$a" "$b"
}
# others_top ARGS (as others_pct): those at >= 2 % of a core, busiest first,
# as comm:percent,comm:percent (at most 3; "-" when none): what cpu_other was
others_top() {
    others_pct "$@" | awk '$1 >= 2' | sort -rn | head -3 |
        awk '{ s = s (NR > 1 ? "," : "") $2 ":" sprintf("%.0f", $1) } END { print (s == "" ? "-" : s) }'
}
# span A B: seconds from A to B (date +%s%N), for a rate's denominator (1 if not positive)
span() { awk -v a="$1" -v b="$2" 'BEGIN { s = (b - a) / 1e9; printf "%.3f", (s > 0 ? s : 1) }'; }
# others_sum ARGS (as others_pct): their total, % of a core
others_sum() { others_pct "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# sample every second while $1 lives (at most $2 samples): ns uac uas target sys_total sys_idle sys_steal sys_irq
sampler() {
    local watch=$1 max=$2 i
    for ((i = 0; i < max; i++)); do
        kill -0 "$watch" 2>/dev/null || break
        echo "$(date +%s%N) $(ticks "$watch") $(ticks ${UAS_PID:-}) $(ticks "${TPIDS[@]}") $(systicks)"
        sleep 1
    done
}
# CPU % between the 2nd sample and the last one: uac uas target sys_busy(of
# 100*ncpu) other steal irq (other: busy less the three, steal and irq)
cpu_summary() {
    awk -v hz="$CLK_TCK" '
        { n++; t[n] = $1; a[n] = $2; b[n] = $3; c[n] = $4; tot[n] = $5; idl[n] = $6; stl[n] = $7; irq[n] = $8 }
        END {
            if (n < 2) { print "na na na na na na na"; exit }
            f = (n >= 4) ? 2 : 1
            dt = (t[n] - t[f]) / 1e9; if (dt <= 0) { print "na na na na na na na"; exit }
            dtot = tot[n] - tot[f]
            busy = (dtot > 0) ? 100 * (dtot - (idl[n] - idl[f])) / dtot : 0
            steal = (dtot > 0) ? 100 * (stl[n] - stl[f]) / dtot : 0
            ir = (dtot > 0) ? 100 * (irq[n] - irq[f]) / dtot : 0
            ncpu = 0; while (("nproc" | getline x) > 0) ncpu = x
            ua = 100 * (a[n] - a[f]) / hz / dt; us = 100 * (b[n] - b[f]) / hz / dt
            ta = 100 * (c[n] - c[f]) / hz / dt; bz = busy * ncpu; st = steal * ncpu; iq = ir * ncpu
            o = bz - ua - us - ta - st - iq; if (o < 0) o = 0
            printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", ua, us, ta, bz, o, st, iq
        }' "$1"
}
# wait (at most QUIET_WAIT_MAX s) until the machine is quiet: busy CPU of
# the whole machine, the target included, below QUIET_PCT (% of one core)
# over one second. This lets the target drain the backlog of an overloaded
# step before the next one, and waits out other sessions' load on the 2-core
# box (it never touches other processes). Prints the seconds waited.
QUIET_PCT=${QUIET_PCT:-15}
DISTURBED_PCT=${DISTURBED_PCT:-10}
STEP_DISTURBED=no
QUIET_WAIT_MAX=${QUIET_WAIT_MAX:-60}
wait_quiet() {
    local i s0 s1 busy
    for ((i = 0; i < QUIET_WAIT_MAX; i++)); do
        s0=$(systicks)
        sleep 1
        s1=$(systicks)
        busy=$(awk -v a="$s0" -v b="$s1" -v n="$(nproc)" 'BEGIN {
            split(a, x, " "); split(b, y, " "); d = y[1] - x[1]
            if (d <= 0) { print 0; exit }
            print int(100 * n * (d - (y[2] - x[2])) / d) }')
        [ "$busy" -lt "$QUIET_PCT" ] && { echo "$i"; return 0; }
    done
    echo "$i"; return 1
}

# ---- helpers ---------------------------------------------------------------
# final cumulative counters from a sipp -trace_stat file
stat_fields() {
    awk -F';' '
        NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        { last = $0 }
        END {
            if (last == "") { print "0 0 0 0 0 0 0 0"; exit }
            split(last, v, ";")
            printf "%d %d %d %d %d %d %d %d\n", v[h["TotalCallCreated"]], v[h["SuccessfulCall(C)"]],
                v[h["FailedCall(C)"]], v[h["FailedUnexpectedMessage(C)"]], v[h["Retransmissions(C)"]],
                v[h["FailedMaxUDPRetrans(C)"]] + v[h["FailedTimeoutOnRecv(C)"]],
                v[h["OutOfCallMsgs(C)"]] + v[h["DeadCallMsgs(C)"]], v[h["WatchdogMajor(C)"]]
        }' "$1"
}
# percentiles (nearest rank) of rtd $2 in rtt csv $1, and completion rate of rtd $3
# prints: n p50 p90 p99 max rate_per_s
rtt_summary() {
    local f=$1 rtd=$2 done_rtd=$3
    [ -s "$f" ] || { echo "0 na na na na 0"; return; }
    local rate
    rate=$(awk -F';' -v r="$done_rtd" 'NR > 1 && $3 == r { n++; if (n == 1) a = $1; b = $1 }
        END { if (n > 1 && b > a) printf "%.1f", (n - 1) * 1000 / (b - a); else print 0 }' "$f")
    awk -F';' -v r="$rtd" 'NR > 1 && $3 == r { print $2 }' "$f" | sort -g | awk -v rate="$rate" '
        { v[NR] = $1 }
        function pct(p,  k) { k = int(NR * p); if (k < NR * p) k++; if (k < 1) k = 1; return v[k] }
        END {
            if (NR == 0) { print "0 na na na na", rate; exit }
            printf "%d %.3f %.3f %.3f %.3f %s\n", NR, pct(0.5), pct(0.9), pct(0.99), v[NR], rate
        }'
}

# last value of column $2 (e.g. "shed503(C)") of a sipp -trace_stat file; 0 if absent
stat_col() {
    awk -F';' -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i; next }
        { last = $0 } END { if (!c || last == "") { print 0; exit } split(last, v, ";"); print v[c] + 0 }' "$1" 2>/dev/null || echo 0
}
# within_window RTT_CSV MS: "answered completed" = INVITE->200 (rtd 1) and
# BYE->200 (rtd 2, the call done) that ended within MS ms of the first
# INVITE's send (the earliest rtd 1 start: ending time - response time)
within_window() {
    [ -s "$1" ] || { echo "0 0"; return; }
    awk -F';' -v w="$2" 'NR > 1 && ($3 == 1 || $3 == 2) { n++; d[n] = $1; r[n] = $3
            if ($3 == 1) { s = $1 - $2; if (!have || s < t0) { t0 = s; have = 1 } } }
        END { a = 0; c = 0; for (i = 1; i <= n; i++) if (have && d[i] <= t0 + w) { if (r[i] == 1) a++; else c++ }
              print a, c }' "$1"
}
# after sipp exits: wait (at most CPU_DRAIN_MAX s, in 0.5 s windows) until the
# target uses < DRAIN_PCT % of a core; DRAIN_TK = the target's ticks when it
# went quiet (the quiet window itself is not counted), DRAIN_S = seconds
DRAIN_TK=0 DRAIN_S=0
drain_target() {
    local i a b lim=$((DRAIN_PCT * CLK_TCK / 200))
    DRAIN_TK=$(ticks "${TPIDS[@]}"); DRAIN_S=0
    [ ${#TPIDS[@]} -gt 0 ] || return 0
    for ((i = 0; i < CPU_DRAIN_MAX * 2; i++)); do
        a=$DRAIN_TK
        sleep 0.5
        b=$(ticks "${TPIDS[@]}")
        [ $((b - a)) -le "$lim" ] && return 0
        DRAIN_TK=$b
        DRAIN_S=$(awk -v i="$i" 'BEGIN { printf "%.1f", (i + 1) / 2 }')
    done
}

# step_watchdog PID SECS: sipp 3.6.1's -timeout only stops new calls (as
# does -m once every call is created) and then waits for the open ones: an
# unanswered INVITE is retransmitted for ~32 s, a BYE for ~20 s, a call that
# got its 100 waits for the final reply with no limit, so an overloaded step
# used to run 30-40 s past its end. SECS after the start, end it: SIGTERM
# makes sipp write its final statistics and exit (open calls count as
# incomplete); SIGKILL 5 s later if it is still there.
step_watchdog() {
    local p=$1 s=$2 sp=
    trap '[ -n "$sp" ] && kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$s" & sp=$!; wait "$sp"
    kill -TERM "$p" 2>/dev/null || exit 0
    sleep 5 & sp=$!; wait "$sp"
    kill -KILL "$p" 2>/dev/null
}

STEPNO=0
STEP_SCEN=    # "overload": uac_overload.xml (503 = shed call), no concurrency limit
declare -A RES_PASS RES_LINE RES_P50 RES_P99 RES_CPU RES_EXTRA
run_step() {
    local rate=$1 d total limit scen extra=() pid spid wpid rc wall0 wall1
    STEPNO=$((STEPNO + 1))
    d=$OUT/$(printf 's%02d-r%d' "$STEPNO" "$rate")
    mkdir -p "$d"
    total=$((rate * STEP_SECS))
    if [ "$MODE" = register ]; then
        scen=$HERE/register.xml
        if [ "$REG_KEYSPACE" = run ]; then extra=(-inf "$USERS_CSV" -key prefix "${RUN_TAG}_")
        else extra=(-inf "$USERS_CSV" -key prefix "${RUN_TAG}s${STEPNO}_"); fi
        # A REGISTER makes no dialog: sipp's default BYE for an aborted call
        # (a REGISTER answered 503) is traffic no UA sends. It went through
        # the target's full path (an in-dialog request is never shed), one
        # per refused REGISTER: a step past the max shed 30-70 % of them.
        extra+=(-default_behaviors all,-bye)
        limit=$((rate * 2)); [ $limit -lt 500 ] && limit=500
    elif [ "$STEP_SCEN" = overload ]; then
        scen=$HERE/uac_overload.xml
        extra=(-s "$CALLEE" -d "$CALL_PAUSE_MS")
        # no cap on calls in progress: an overloaded target must see the whole
        # offered rate, not one that sipp throttles as answers slow down
        limit=$total
    else
        scen=$HERE/uac.xml
        extra=(-s "$CALLEE" -d "$CALL_PAUSE_MS")
        limit=$((rate * (2 + CALL_PAUSE_MS / 1000))); [ $limit -lt 500 ] && limit=500
    fi
    local waited quiet=yes tk0 w0 s0 busy_wait= wait_foreign=0
    proctable >"$d/procs.wait"; w0=$(date +%s%N); s0=$(systicks)
    waited=$(wait_quiet) || quiet=no
    uas_alive || die "step $STEPNO: the UAS sipp (pid $UAS_PID) is gone before the step: ended from outside (pkill sipp?); see $OUT"
    proctable >"$d/procs.before"
    # not quiet: who kept the machine busy while the step waited (the
    # target draining the previous step is the target's own; other
    # processes and steal then are a disturbance, wait_foreign)
    if [ $quiet = no ]; then
        local wsecs
        wsecs=$(span "$w0" "$(date +%s%N)")
        busy_wait=$(others_top "$d/procs.wait" "$d/procs.before" "$wsecs" "${UAS_PID:-}" "${UASC_PID:-}" $$)
        wait_foreign=$(others_sum "$d/procs.wait" "$d/procs.before" "$wsecs" "${TPIDS[@]}" "${UAS_PID:-}" "${UASC_PID:-}" $$)
        wait_foreign=$(awk -v f="$wait_foreign" -v a="$s0" -v b="$(systicks)" -v n="$(nproc)" 'BEGIN {
            split(a, x, " "); split(b, y, " "); d = y[1] - x[1]
            printf "%.0f", f + ((d > 0) ? 100 * n * (y[3] - x[3]) / d : 0) }')
    fi
    tk0=$(ticks "${TPIDS[@]}")
    wall0=$(date +%s%N)
    cd "$d" || die "cd $d"
    LD_PRELOAD=$PRELOAD sipp "$TARGET" -sf "$scen" "${extra[@]}" -key domain "$DOMAIN" \
        -i "$LOCAL_IP" -p "$UAC_PORT" -t u1 -r "$rate" -rp 1000 -m "$total" -l "$limit" \
        -timeout "$((STEP_SECS + STEP_TIMEOUT_EXTRA))s" -nostdin -buff_size "$BUFF_SIZE" \
        -trace_stat -stf stats.csv -fd 1 -trace_rtt -rtt_freq 1 \
        -trace_err -max_log_size 20000000 -trace_screen \
        </dev/null >sipp.stdout 2>sipp.stderr &
    pid=$!
    STARTED+=("$pid")
    cd "$HERE" || true
    sampler "$pid" $((STEP_SECS * 2 + 30)) >"$d/cpu.samples" &
    spid=$!
    STARTED+=("$spid")
    step_watchdog "$pid" $((STEP_SECS + STEP_TIMEOUT_EXTRA + 1)) &
    wpid=$!
    STARTED+=("$wpid")
    wait "$pid"; rc=$?
    wall1=$(date +%s%N)
    proctable >"$d/procs.after"
    forget "$pid"
    kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; forget "$wpid"
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; forget "$spid"
    drain_target

    local created ok failed unexp retrans tmo stray wdog lost failpct
    read -r created ok failed unexp retrans tmo stray wdog < <(stat_fields "$d/stats.csv")
    lost=$((total - ok - failed)); [ $lost -lt 0 ] && lost=0
    failpct=$(awk -v f=$((failed + lost)) -v t="$total" 'BEGIN { printf "%.3f", 100 * f / t }')
    local rtt n p50 p90 p99 pmax achieved
    rtt=$(ls "$d"/*_rtt.csv 2>/dev/null | head -1)
    if [ "$MODE" = register ]; then read -r n p50 p90 p99 pmax achieved < <(rtt_summary "$rtt" 1 1)
    else read -r n p50 p90 p99 pmax achieved < <(rtt_summary "$rtt" 1 2); fi
    local cu cs ct cb co cst cirq others
    read -r cu cs ct cb co cst cirq < <(cpu_summary "$d/cpu.samples")
    others=$(others_top "$d/procs.before" "$d/procs.after" "$(span "$wall0" "$wall1")" \
        "${TPIDS[@]}" "$pid" "$spid" "$wpid" "${UAS_PID:-}" "${UASC_PID:-}" $$)
    local pass=PASS why=
    if awk -v f="$failpct" -v m="$MAX_FAIL_PCT" 'BEGIN { exit !(f >= m) }'; then pass=FAIL; why+="fail%;"; fi
    if awk -v a="$achieved" -v r="$rate" -v m="$MIN_RATE_RATIO" 'BEGIN { exit !(a < r * m) }'; then pass=FAIL; why+="rate;"; fi
    if awk -v x="$retrans" -v t="$total" -v m="$MAX_RETRANS_PCT" 'BEGIN { exit !(100 * x / t > m) }'; then pass=FAIL; why+="retrans;"; fi
    [ "$created" -eq 0 ] && { pass=FAIL; why+="nocalls;"; }
    local uas_ok=yes
    uas_alive || { uas_ok=no; pass=FAIL; why+="uas-gone;"; }
    # exact CPU of the target over the step (and its drain), per operation
    local cpu_s=na cpu_op=na
    if [ ${#TPIDS[@]} -gt 0 ] && [ "$DRAIN_TK" -ge "$tk0" ]; then
        cpu_s=$(awk -v a="$tk0" -v b="$DRAIN_TK" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')
        [ "$ok" -gt 0 ] && cpu_op=$(awk -v a="$tk0" -v b="$DRAIN_TK" -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.1f", (b - a) / hz * 1e6 / n }')
    fi
    # overload step: ok counts answered and shed calls; tell them apart
    local ov=
    if [ "$STEP_SCEN" = overload ]; then
        local shed ra ans win_ans win_done
        shed=$(stat_col "$d/stats.csv" 'shed503(C)'); ra=$(stat_col "$d/stats.csv" 'retry_after(C)')
        ans=$(stat_col "$d/stats.csv" 'answered(C)')
        read -r win_ans win_done < <(within_window "$rtt" $((STEP_SECS * 1000)))
        ov=" answered=$ans answered_in_step=$win_ans completed_in_step=$win_done goodput_cps=$(awk -v n="$win_done" -v s="$STEP_SECS" 'BEGIN { printf "%.1f", n / s }') shed_503=$shed shed_503_retry_after=$ra"
    fi
    # disturbance: % of a core that other processes and steal took during
    # the step, or during a wait for quiet that timed out, the larger
    local dist
    dist=$(awk -v o="$co" -v s="$cst" -v w="$wait_foreign" 'BEGIN { d = o + s; if (w > d) d = w; printf "%.0f", d }')
    STEP_DISTURBED=no
    [ "$dist" -ge "$DISTURBED_PCT" ] && STEP_DISTURBED=yes
    local line
    line=$(printf 'step=%d mode=%s rate=%d result=%s%s calls=%d ok=%d failed=%d incomplete=%d fail_pct=%s unexpected=%d timeouts=%d retrans=%d stray=%d achieved=%s p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s cpu_uac=%s cpu_uas=%s cpu_target=%s cpu_sys=%s/%d cpu_other=%s cpu_steal=%s cpu_irq=%s others=%s disturbance=%s quiet_wait_s=%s%s sipp_rc=%d wall_s=%s cpu_target_s=%s cpu_us_per_op=%s drain_s=%s%s' \
        "$STEPNO" "$MODE" "$rate" "$pass" "${why:+($why)}" "$total" "$ok" "$failed" "$lost" "$failpct" \
        "$unexp" "$tmo" "$retrans" "$stray" "$achieved" "$p50" "$p90" "$p99" "$pmax" \
        "$cu" "${UAS_PID:+$cs}" "${TPIDS:+$ct}" "$cb" "$(( $(nproc) * 100 ))" "$co" "$cst" "$cirq" "$others" "$dist" "$waited" \
        "$([ $quiet = yes ] || echo "(not-quiet:$busy_wait)")" "$rc" \
        "$(awk -v a="$wall0" -v b="$wall1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')" \
        "$cpu_s" "$cpu_op" "$DRAIN_S" "$ov")
    echo "$line"
    echo "$line" >>"$SUMMARY"
    RES_PASS[$rate]=$pass; RES_LINE[$rate]=$line; RES_P50[$rate]=$p50; RES_P99[$rate]=$p99
    RES_CPU[$rate]="cpu_uac=$cu${UAS_PID:+ cpu_uas=$cs}${TPIDS:+ cpu_target=$ct} cpu_sys=$cb cpu_other=$co cpu_steal=$cst cpu_irq=$cirq"
    RES_EXTRA[$rate]="ok=$ok failed=$failed incomplete=$lost timeouts=$tmo unexpected=$unexp cpu_target_s=$cpu_s cpu_us_per_op=$cpu_op$ov"
    [ $uas_ok = yes ] || die "step $STEPNO: the UAS sipp (pid $UAS_PID) ended during the step: ended from outside (pkill sipp?); see $OUT"
    sleep "$COOLDOWN_SECS"
    [ "$pass" = PASS ]
}

# ---- one-shot REGISTER of the callee ---------------------------------------
register_callee() {
    local d=$OUT/register-$CALLEE
    mkdir -p "$d"; cd "$d" || die "cd $d"
    timeout 15 sipp "$TARGET" -sf "$HERE/register_one.xml" -key domain "$DOMAIN" \
        -key user "$CALLEE" -key contact "$LOCAL_IP:$UAS_PORT" -i "$LOCAL_IP" -p "$REG_PORT" \
        -m 1 -nostdin -timeout 10s -trace_err -trace_msg </dev/null >sipp.stdout 2>sipp.stderr
    local rc=$?
    cd "$HERE" || true
    [ $rc -eq 0 ] || die "REGISTER of $CALLEE -> $LOCAL_IP:$UAS_PORT failed (sipp rc=$rc, see $d)"
}

UAS_PID=
# false when a UAS was started and is no longer running (no UAS: true)
uas_alive() { [ -z "$UAS_PID" ] || kill -0 "$UAS_PID" 2>/dev/null; }
# start_uas TIMEOUT_S [DIR]: the callee, in $OUT/DIR (default uas)
start_uas() {
    local d=$OUT/${2:-uas} i
    mkdir -p "$d"; cd "$d" || die "cd $d"
    LD_PRELOAD=$PRELOAD sipp -sf "$HERE/uas.xml" -i "$LOCAL_IP" -p "$UAS_PORT" -t u1 -nostdin \
        -buff_size "$BUFF_SIZE" -timeout "$1s" -trace_stat -stf stats.csv -fd 5 \
        -trace_err -max_log_size 20000000 </dev/null >sipp.stdout 2>sipp.stderr &
    UAS_PID=$!
    STARTED+=("$UAS_PID")
    cd "$HERE" || true
    for ((i = 0; i < 50; i++)); do
        ss -Hlnu "src $LOCAL_IP:$UAS_PORT" 2>/dev/null | grep -q . && break
        kill -0 "$UAS_PID" 2>/dev/null || die "UAS sipp exited (see $d)"
        sleep 0.1
    done
    ss -Hlnu "src $LOCAL_IP:$UAS_PORT" 2>/dev/null | grep -q . || die "UAS did not bind $LOCAL_IP:$UAS_PORT"
}
# stop_uas [DIR]: USR1 = sipp's smooth exit (final statistics are written;
# it waits for open calls), then TERM (also writes them), KILL. "now" as
# $2: TERM first, for a callee holding the dialogs of an overload step
stop_uas() {
    [ -n "$UAS_PID" ] || return 0
    local i sig d=$OUT/${1:-uas} sigs="USR1 TERM KILL"
    [ "${2:-}" = now ] && sigs="TERM KILL"
    for sig in $sigs; do
        kill -"$sig" "$UAS_PID" 2>/dev/null || break
        for ((i = 0; i < 50; i++)); do kill -0 "$UAS_PID" 2>/dev/null || break 2; sleep 0.1; done
    done
    wait "$UAS_PID" 2>/dev/null
    forget "$UAS_PID"
    local created ok failed unexp retrans tmo stray wdog
    read -r created ok failed unexp retrans tmo stray wdog < <(stat_fields "$d/stats.csv")
    echo "uas${1:+ ($1)} calls=$created ok=$ok failed=$failed unexpected=$unexp timeouts=$tmo retrans=$retrans" | tee -a "$SUMMARY"
    UAS_PID=
}

echo "# run.sh $MODE target=$TARGET domain=$DOMAIN step_secs=$STEP_SECS reg_keyspace=$REG_KEYSPACE out=$OUT sipp=$(sipp -v 2>&1 | awk '/SIPp v/ { print $2 }') fine_clock=$([ -n "$PRELOAD" ] && echo yes || echo no) target_pids=${#TPIDS[@]}"

# one-shot functional scenario: NAME SCENARIO CALLS [sipp args]; 0 = all calls passed
oneshot() {
    local name=$1 scen=$2 calls=$3 d=$OUT/$1 rc
    shift 3
    mkdir -p "$d"; cd "$d" || die "cd $d"
    timeout 30 sipp "$TARGET" -sf "$HERE/$scen" -key domain "$DOMAIN" -i "$LOCAL_IP" -p "$UAC_PORT" \
        -m "$calls" -r 10 -nostdin -timeout 20s -trace_err -trace_msg -trace_stat -stf stats.csv "$@" \
        </dev/null >sipp.stdout 2>sipp.stderr
    rc=$?
    cd "$HERE" || true
    local created ok failed unexp retrans tmo stray wdog
    read -r created ok failed unexp retrans tmo stray wdog < <(stat_fields "$d/stats.csv")
    echo "check=$name calls=$calls ok=$ok failed=$failed unexpected=$unexp timeouts=$tmo sipp_rc=$rc result=$([ $rc -eq 0 ] && [ "$ok" -eq "$calls" ] && echo PASS || echo FAIL)"
    [ $rc -eq 0 ] && [ "$ok" -eq "$calls" ]
}

if [ "$MODE" = smoke ]; then
    # functional checks at low rate: REGISTER, call through the proxy,
    # CANCEL of a ringing call, 404 for an unregistered user
    STEP_SECS=2; COOLDOWN_SECS=1
    [ -s "$USERS_CSV" ] || "$HERE/gen_users.sh" "$USERS_N" "$USERS_CSV" || die "cannot create $USERS_CSV"
    is_port $((UAS_PORT + 1)) || die "UAS_PORT+1 must be a valid port too"
    register_callee
    MODE=register; run_step 50; r1=$?
    start_uas 60
    MODE=calls; run_step 20; r2=$?
    stop_uas
    # a callee that rings and gets cancelled, on UAS_PORT+1
    CALLEE_C=${CALLEE}-cancel
    ( CALLEE=$CALLEE_C; UAS_PORT=$((UAS_PORT + 1)); register_callee ) || die "REGISTER of $CALLEE_C failed"
    d=$OUT/uas-cancel; mkdir -p "$d"; cd "$d" || die "cd $d"
    sipp -sf "$HERE/uas_cancel.xml" -i "$LOCAL_IP" -p $((UAS_PORT + 1)) -t u1 -nostdin -timeout 40s \
        -trace_err -trace_msg </dev/null >sipp.stdout 2>sipp.stderr &
    UASC_PID=$!; STARTED+=("$UASC_PID"); cd "$HERE" || true
    sleep 0.5
    oneshot cancel uac_cancel.xml 5 -s "$CALLEE_C"; r3=$?
    kill -USR1 "$UASC_PID" 2>/dev/null
    oneshot not-found uac_404.xml 5 -s "nobody-$RUN_TAG"; r4=$?
    if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ $r3 -eq 0 ] && [ $r4 -eq 0 ]; then echo "smoke=ok out=$OUT"; exit 0; fi
    echo "smoke=fail out=$OUT"; exit 1
fi

if [ "$MODE" = overload ]; then
    # one step past capacity with the scenario that accepts a 503, then one
    # normal step at RECOVER_RATE (the target's max): does it still pass?
    MODE=calls
    register_callee
    start_uas $((OVERLOAD_SECS + STEP_TIMEOUT_EXTRA + QUIET_WAIT_MAX + COOLDOWN_SECS + 60))
    NORMAL_SECS=$STEP_SECS
    STEP_SECS=$OVERLOAD_SECS STEP_SCEN=overload
    run_step "$OVERLOAD_RATE"
    # a fresh callee for the step at M: the first one holds the dialogs of
    # every call the ended UAC never ACKed, and retransmits their 200s
    # through the target for ~30 s: load of the harness, not of the target
    stop_uas uas now
    start_uas $((STEP_SECS + 2 * STEP_TIMEOUT_EXTRA + QUIET_WAIT_MAX + COOLDOWN_SECS + 60)) uas-recover
    STEP_SECS=$NORMAL_SECS STEP_SCEN=
    if run_step "$RECOVER_RATE"; then recovers=yes; else recovers=no; fi
    stop_uas uas-recover
    ov=${RES_EXTRA[$OVERLOAD_RATE]}
    gp=$(awk -v l="$ov" -v m="$RECOVER_RATE" 'BEGIN { n = split(l, f, " "); for (i = 1; i <= n; i++) if (f[i] ~ /^goodput_cps=/) g = substr(f[i], 13)
        if (g == "" || m <= 0) print "na"; else printf "%.1f", 100 * g / m }')
    echo "# steps: $SUMMARY"
    echo "overload_rate=$OVERLOAD_RATE recover_rate=$RECOVER_RATE overload_secs=$OVERLOAD_SECS goodput_pct=$gp $ov recover_result=${RES_PASS[$RECOVER_RATE]} recover_p99_ms=${RES_P99[$RECOVER_RATE]} recovers=$recovers"
    exit 0
fi

if [ "$MODE" = calls ]; then
    register_callee
    # UAS lives for the whole ramp (bounded by its own global timeout)
    start_uas $(((nrates + REFINE) * TRIALS * (STEP_SECS * 2 + 20 + COOLDOWN_SECS) + 60))
fi

# ---- ramp ------------------------------------------------------------------
# try_rate RATE: up to TRIALS steps at RATE; passes with the first that
# passes. A failed step that something else disturbed (STEP_DISTURBED: other
# processes and the hypervisor's steal took >= DISTURBED_PCT % of a core, in
# the step or while its wait for quiet timed out) does not count as a trial, once
# per rate: it measured the machine's other tenants, not the target
try_rate() {
    local t extra=0
    for ((t = 1; t <= TRIALS + extra; t++)); do
        run_step "$1" && return 0
        if [ "$STEP_DISTURBED" = yes ] && [ $extra -lt 1 ]; then extra=1; fi
    done
    return 1
}
lo=0 hi=0
for r in $RATES; do
    if try_rate "$r"; then lo=$r; else hi=$r; break; fi
done
if [ "$hi" -gt 0 ]; then
    for ((k = 0; k < REFINE; k++)); do
        step=$(( hi >= 4000 ? 250 : (hi >= 1000 ? 50 : 10) ))
        mid=$(( ((lo + hi) / 2 + step / 2) / step * step ))
        [ "$mid" -le "$lo" ] || [ "$mid" -ge "$hi" ] && break
        if try_rate "$mid"; then lo=$mid; else hi=$mid; fi
    done
fi
[ "$MODE" = calls ] && stop_uas

sat=yes; [ "$hi" -eq 0 ] && sat=no
# latency at a fixed reference rate (same for every target; default is a
# step of the default ramp), if that step ran and passed
ref=
if [ -n "${RES_PASS[$REF_RATE]:-}" ] && [ "${RES_PASS[$REF_RATE]}" = PASS ]; then
    ref=" ref_rate=$REF_RATE ref_p50_ms=${RES_P50[$REF_RATE]} ref_p99_ms=${RES_P99[$REF_RATE]}"
fi
if [ "$lo" -gt 0 ]; then
    tail="p50_ms=${RES_P50[$lo]} p99_ms=${RES_P99[$lo]} ${RES_CPU[$lo]} first_fail=$hi saturated=$sat$ref"
else
    tail="p50_ms=na p99_ms=na first_fail=$hi saturated=$sat$ref"
fi
echo "# steps: $SUMMARY"
if [ "$MODE" = register ]; then echo "register_max_rps=$lo $tail"
else echo "calls_max_cps=$lo $tail"; fi
