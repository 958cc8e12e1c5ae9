#!/usr/bin/env bash
# The markdown report of one bench.sh run, and the ratio lines.
#
# usage: report.sh OUT                    print the report of run folder OUT
#                                         (results.txt, cost.txt, micro.txt);
#                                         writes OUT/ratios.txt
#                                         (results.txt, cpu.txt, overload.txt,
#                                         idle.txt when present)
#        report.sh --splice REPORT FILE   put REPORT into FILE between the
#                                         "latest run" markers
#        report.sh --tree                 print the tree's label, the commit and
#                                         "+changes" when a tracked file other than
#                                         bench/RESULTS.md (which a run rewrites)
#                                         differs from it; bench.sh keeps it in
#                                         OUT/tree.txt when it builds, so that the
#                                         report names the code that was measured
set -u -o pipefail
BEGIN_MARK='<!-- BEGIN latest run (written by bench/bench.sh) -->'
END_MARK='<!-- END latest run -->'

tree() {
    local git=(git -C "$(dirname "$0")") commit
    commit=$("${git[@]}" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
    "${git[@]}" diff --quiet HEAD -- ':(top)' ':(top,exclude)bench/RESULTS.md' && echo "$commit" || echo "$commit+changes"
}
if [ "${1:-}" = --tree ]; then tree; exit; fi

if [ "${1:-}" = --splice ]; then
    report=$2 file=$3
    [ -s "$report" ] || { echo "report.sh: $report is empty" >&2; exit 1; }
    if ! grep -qF "$BEGIN_MARK" "$file" 2>/dev/null; then
        printf '%s\n%s\n' "$BEGIN_MARK" "$END_MARK" >>"$file"
    fi
    awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v r="$report" '
        $0 == b { print; while ((getline l < r) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip { print }' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
    exit
fi

OUT=${1:?usage: report.sh OUT}
[ -s "$OUT/results.txt" ] || { echo "report.sh: no $OUT/results.txt" >&2; exit 1; }

# kv FILE TARGET KIND KEY: value of KEY= on TARGET's line of KIND
kv() {
    awk -v t="$2" -v kind="$3" -v k="$4" '
        $1 == t && index($0, kind "=") {
            for (i = 2; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) }
        }
        END { print (v == "" ? "na" : v) }' "$1"
}
reg() { kv "$OUT/results.txt" "$1" register_max_rps "$2"; }
cal() { kv "$OUT/results.txt" "$1" calls_max_cps "$2"; }
cst() { [ -s "$OUT/cost.txt" ] && awk -v t="target=$1" -v kind="cost_$2" -v k="$3" '
        $1 == kind && $2 == t { for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } }
        END { print (v == "" ? "na" : v) }' "$OUT/cost.txt" || echo na; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "na" || b == "na" || a == "" || b == "" || b + 0 == 0) print "na"; else printf "%.2f", a / b }'; }
# cpu TARGET KIND KEY: from cpu.txt (fixed-load steps), e.g. cpu sipbus-up calls us_per_op
cpu() { [ -s "$OUT/cpu.txt" ] && awk -v t="target=$1" -v kind="cpu_$2" -v k="$3" '
        $1 == kind && $2 == t { for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } }
        END { print (v == "" ? "na" : v) }' "$OUT/cpu.txt" || echo na; }
# cpuok TARGET KIND KEY: as cpu, but na unless that step passed (for the ratios)
cpuok() { if [ "$(cpu "$1" "$2" result)" = PASS ]; then cpu "$1" "$2" "$3"; else echo na; fi; }
ovl() { [ -s "$OUT/overload.txt" ] && kv "$OUT/overload.txt" "$1" overload_rate "$2" || echo na; }
idle() { [ -s "$OUT/idle.txt" ] && awk -v t="target=$1" -v k="$2" '
        $1 == "idle" && $2 == t { for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } }
        END { print (v == "" ? "na" : v) }' "$OUT/idle.txt" || echo na; }
us() { awk -v v="$1" 'BEGIN { if (v == "na" || v == "") print "na"; else printf "%.0f", v }'; }
bytes() { awk -v v="$1" 'BEGIN { if (v == "na") print "na"; else if (v < 0) print "~0"; else printf "%.0f", v }'; }

targets=$(awk '{ print $1 }' "$OUT/results.txt" | awk '!seen[$0]++')
label() {
    case "$1" in
    kamailio-mem) echo "Kamailio 5.6, usrloc in memory" ;;
    kamailio-redis) echo "Kamailio 5.6, usrloc on Redis (db_mode 3)" ;;
    sipbus-up) echo "sipbus up (one process, Redis)" ;;
    sipbus-split) echo "sipbus nats + edge + tm + registrar + ctd + web (Redis)" ;;
    sipbus-upnats) echo "sipbus nats + sipbus up --nats (Redis)" ;;
    *) echo "$1" ;;
    esac
}

# the tree as it was built (bench.sh), else as it is now
treelabel=$(cat "$OUT/tree.txt" 2>/dev/null) || treelabel=$(tree)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
natsv=$(cd "$(dirname "$0")/../pkg" && go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2 2>/dev/null || echo "?")

echo "### Run of $(date -u +%Y-%m-%d' '%H:%M' UTC') (commit $treelabel)"
echo
echo "Machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);"
echo "$(go version | awk '{ print $3 }'), SIPp $(sipp -v 2>&1 | awk '/SIPp v/ { print $2; exit }'),"
echo "$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $2, $3 }'), Redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2), nats-server $natsv (Go module)."
echo "Loopback UDP; SIPp, the target and Redis share the machine. Steps of ${STEP_SECS:-7} s."
[ -n "${SIPBUS_GIVEN:-}" ] && echo "sipbus binary: \`$SIPBUS_GIVEN\` (given, not built from this tree)."
echo
echo "| target | REGISTER/s | REGISTER p99 ms at max | calls/s | INVITE→200 p50 / p99 ms at 1,000 calls/s |"
echo "|---|---:|---:|---:|---:|"
for t in $targets; do
    ref=$(cal "$t" ref_rate)
    if [ "$ref" = 1000 ]; then lat="$(cal "$t" ref_p50_ms) / $(cal "$t" ref_p99_ms)"; else lat="fails at 1,000"; fi
    echo "| $(label "$t") | $(reg "$t" register_max_rps) | $(reg "$t" p99_ms) | $(cal "$t" calls_max_cps) | $lat |"
done
echo
if [ -s "$OUT/cpu.txt" ] || [ -s "$OUT/overload.txt" ]; then
    regr=${CPU_REG_RATE:-1500} calr=${CPU_CALL_RATE:-300}
    echo "CPU per operation at a fixed load ($regr REGISTER/s and $calr calls/s, ${CPU_SECS:-20} s each, on a fresh start):"
    echo "utime+stime of the target's processes only (Kamailio and its Redis; every sipbus process and its Redis;"
    echo "not SIPp) over the step and its drain, divided by the operations completed. Overload: ${OVERLOAD_SECS:-15} s at"
    echo "${OVERLOAD_FACTOR:-2}× the target's max calls/s M (a 503 to the INVITE is a shed call), goodput = calls"
    echo "completed per second in that step ÷ M; then one ordinary step at M."
    echo
    echo "| target | CPU µs per REGISTER | CPU µs per call | INVITE→200 p50 / p99 ms at $calr calls/s | overload: goodput % of M | 503s (with Retry-After) / failed / incomplete | step at M after it |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for t in $targets; do
        cr=$(cpu "$t" register us_per_op); [ "$(cpu "$t" register result)" = FAIL ] && cr="$(us "$cr") (step failed)" || cr=$(us "$cr")
        cc=$(cpu "$t" calls us_per_op); [ "$(cpu "$t" calls result)" = FAIL ] && cc="$(us "$cc") (step failed)" || cc=$(us "$cc")
        lat="$(cpu "$t" calls p50_ms) / $(cpu "$t" calls p99_ms)"
        if [ "$(ovl "$t" overload_rate)" != na ]; then
            og="$(ovl "$t" goodput_pct) (M=$(ovl "$t" recover_rate))"
            oc="$(ovl "$t" shed_503) ($(ovl "$t" shed_503_retry_after)) / $(ovl "$t" failed) / $(ovl "$t" incomplete)"
            orc=$(ovl "$t" recover_result)
        else
            og="–"; oc="–"; orc="–"
        fi
        echo "| $(label "$t") | $cr | $cc | $lat | $og | $oc | $orc |"
    done
    if grep -q 'other_pct=' "$OUT/cpu.txt" 2>/dev/null; then
        echo
        echo "Interference in the steps kept (other processes / the hypervisor's steal, % of a core; tries; the busiest"
        echo "other processes): a step disturbed by ≥ ${DISTURBED_PCT:-10} % is run again, for every target alike (bench.sh)."
        echo
        for t in $targets; do
            line="- $(label "$t"):"
            for k in register calls; do
                [ "$(cpu "$t" "$k" other_pct)" = na ] && continue
                line+=" $k $(cpu "$t" "$k" other_pct) / $(cpu "$t" "$k" steal_pct) ($(cpu "$t" "$k" tries); $(cpu "$t" "$k" others));"
            done
            [ "$(ovl "$t" disturbance)" != na ] && line+=" overload $(ovl "$t" disturbance) ($(ovl "$t" tries));"
            echo "${line%;}"
        done
    fi
    [ "$(idle sipbus-up redis_cmds_per_s)" != na ] &&
        echo && echo "Idle: a freshly started \`sipbus up\` sends $(idle sipbus-up redis_cmds_per_s) Redis commands/s with no traffic (over $(idle sipbus-up secs) s)."
    echo
fi
if [ -s "$OUT/cost.txt" ]; then
    echo "Cost per operation, from the servers' own counters (Redis INFO, NATS /varz, the stream's state) around the fixed-load steps above ($(cst "$(awk '{print substr($2, 8); exit}' "$OUT/cost.txt")" register n) REGISTERs at $(cst "$(awk '{print substr($2, 8); exit}' "$OUT/cost.txt")" register rate)/s and $(cst "$(awk '{print substr($2, 8); exit}' "$OUT/cost.txt")" calls n) calls at $(cst "$(awk '{print substr($2, 8); exit}' "$OUT/cost.txt")" calls rate)/s):"
    echo
    echo "| target | per | Redis commands | of them scripts | NATS messages | stream events | stream bytes | Redis bytes held after |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    for t in $targets; do
        for k in register calls; do
            [ "$(cst "$t" "$k" n)" = na ] && continue
            per=REGISTER; [ $k = calls ] && per=call
            echo "| $(label "$t") | $per | $(cst "$t" $k commands) | $(cst "$t" $k scripts) | $(cst "$t" $k in_msgs) | $(cst "$t" $k stream_msgs) | $(bytes "$(cst "$t" $k stream_bytes)") | $(bytes "$(cst "$t" $k used_memory)") |"
        done
    done
    echo
fi
if [ -s "$OUT/micro.txt" ]; then
    echo "Micro-benchmarks (\`go test -bench\`, pkg/):"
    echo
    echo '```'
    grep -E '^Benchmark' "$OUT/micro.txt" | tr -s '\t ' ' '
    echo '```'
    echo
fi

{
    for s in up split; do
        suf=; [ $s = split ] && suf=_split
        echo "ratio_register${suf}_redis=$(ratio "$(reg sipbus-$s register_max_rps)" "$(reg kamailio-redis register_max_rps)")"
        echo "ratio_calls${suf}_redis=$(ratio "$(cal sipbus-$s calls_max_cps)" "$(cal kamailio-redis calls_max_cps)")"
        [ $s = split ] && echo "ratio_register_split=$(ratio "$(reg sipbus-split register_max_rps)" "$(reg kamailio-mem register_max_rps)")"
        [ $s = split ] && echo "ratio_calls_split=$(ratio "$(cal sipbus-split calls_max_cps)" "$(cal kamailio-mem calls_max_cps)")"
    done
    echo "ratio_split_up_register=$(ratio "$(reg sipbus-split register_max_rps)" "$(reg sipbus-up register_max_rps)")"
    echo "ratio_split_up_calls=$(ratio "$(cal sipbus-split calls_max_cps)" "$(cal sipbus-up calls_max_cps)")"
    echo "ratio_cpu_register_redis=$(ratio "$(cpuok sipbus-up register us_per_op)" "$(cpuok kamailio-redis register us_per_op)")"
    echo "ratio_cpu_call_redis=$(ratio "$(cpuok sipbus-up calls us_per_op)" "$(cpuok kamailio-redis calls us_per_op)")"
    echo "ratio_p99_invite_${CPU_CALL_RATE:-300}=$(ratio "$(cpuok sipbus-up calls p99_ms)" "$(cpuok kamailio-redis calls p99_ms)")"
    echo "overload_goodput_pct=$(ovl sipbus-up goodput_pct)"
    echo "overload_recovers=$(ovl sipbus-up recovers)"
    echo "idle_redis_cmds_per_s=$(idle sipbus-up redis_cmds_per_s)"
    p99s=na; [ "$(cal sipbus-up ref_rate)" = 1000 ] && p99s=$(cal sipbus-up ref_p99_ms)
    p99k=na; [ "$(cal kamailio-mem ref_rate)" = 1000 ] && p99k=$(cal kamailio-mem ref_p99_ms)
    echo "ratio_p99_invite_1k=$(ratio "$p99s" "$p99k")"
    echo "ratio_register=$(ratio "$(reg sipbus-up register_max_rps)" "$(reg kamailio-mem register_max_rps)")"
    echo "ratio_calls=$(ratio "$(cal sipbus-up calls_max_cps)" "$(cal kamailio-mem calls_max_cps)")"
} >"$OUT/ratios.txt"
echo "Ratios (sipbus / Kamailio; \`_redis\`: against Kamailio on Redis; \`ratio_split_up_*\`: split / one process;"
echo "\`ratio_cpu_*\`: CPU per operation at the fixed load, and \`ratio_p99_invite_${CPU_CALL_RATE:-300}\`: p99 INVITE→200 at ${CPU_CALL_RATE:-300} calls/s,"
echo "sipbus up / Kamailio on Redis; \`ratio_p99_invite_1k\`: sipbus p99 / Kamailio in memory p99 at 1,000 calls/s;"
echo "these three: lower is better; \`overload_*\` and \`idle_*\`: sipbus up):"
echo
echo '```'
cat "$OUT/ratios.txt"
echo '```'
