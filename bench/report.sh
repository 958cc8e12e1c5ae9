#!/usr/bin/env bash
# The markdown report of one bench.sh run, and the ratio lines.
#
# usage: report.sh OUT                    print the report of run folder OUT
#                                         (results.txt, cost.txt, micro.txt);
#                                         writes OUT/ratios.txt
#        report.sh --splice REPORT FILE   put REPORT into FILE between the
#                                         "latest run" markers
set -u -o pipefail
BEGIN_MARK='<!-- BEGIN latest run (written by bench/bench.sh) -->'
END_MARK='<!-- END latest run -->'

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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "na" || b == "na" || b + 0 == 0) print "na"; else printf "%.2f", a / b }'; }
bytes() { awk -v v="$1" 'BEGIN { if (v == "na") print "na"; else if (v < 0) print "~0"; else printf "%.0f", v }'; }

targets=$(awk '{ print $1 }' "$OUT/results.txt" | awk '!seen[$0]++')
label() {
    case "$1" in
    kamailio-mem) echo "Kamailio 5.6, usrloc in memory" ;;
    kamailio-redis) echo "Kamailio 5.6, usrloc on Redis (db_mode 3)" ;;
    sipbus-up) echo "sipbus up (one process, Redis)" ;;
    sipbus-split) echo "sipbus nats + edge + tm + registrar (Redis)" ;;
    *) echo "$1" ;;
    esac
}

commit=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$(dirname "$0")" status --porcelain 2>/dev/null | grep -qv '^??' && echo "+changes" || true)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
natsv=$(cd "$(dirname "$0")/../pkg" && go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2 2>/dev/null || echo "?")

echo "### Run of $(date -u +%Y-%m-%d' '%H:%M' UTC') (commit $commit$dirty)"
echo
echo "Machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);"
echo "$(go version | awk '{ print $3 }'), SIPp $(sipp -v 2>&1 | awk '/SIPp v/ { print $2; exit }'),"
echo "$(kamailio -v 2>/dev/null | awk 'NR == 1 { print $2, $3 }'), Redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2), nats-server $natsv (Go module)."
echo "Loopback UDP; SIPp, the target and Redis share the machine. Steps of ${STEP_SECS:-7} s."
echo
echo "| target | REGISTER/s | REGISTER p99 ms at max | calls/s | INVITE→200 p50 / p99 ms at 1,000 calls/s |"
echo "|---|---:|---:|---:|---:|"
for t in $targets; do
    ref=$(cal "$t" ref_rate)
    if [ "$ref" = 1000 ]; then lat="$(cal "$t" ref_p50_ms) / $(cal "$t" ref_p99_ms)"; else lat="fails at 1,000"; fi
    echo "| $(label "$t") | $(reg "$t" register_max_rps) | $(reg "$t" p99_ms) | $(cal "$t" calls_max_cps) | $lat |"
done
echo
if [ -s "$OUT/cost.txt" ]; then
    echo "Cost per operation, from the servers' own counters (Redis INFO, NATS /varz, the stream's state) around $(cst "$(awk '{print substr($2, 8); exit}' "$OUT/cost.txt")" register n) REGISTERs at 500/s and $(cst "$(awk '{print substr($2, 8); exit}' "$OUT/cost.txt")" calls n) calls at 200/s:"
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
    p99s=na; [ "$(cal sipbus-up ref_rate)" = 1000 ] && p99s=$(cal sipbus-up ref_p99_ms)
    p99k=na; [ "$(cal kamailio-mem ref_rate)" = 1000 ] && p99k=$(cal kamailio-mem ref_p99_ms)
    echo "ratio_p99_invite_1k=$(ratio "$p99s" "$p99k")"
    echo "ratio_register=$(ratio "$(reg sipbus-up register_max_rps)" "$(reg kamailio-mem register_max_rps)")"
    echo "ratio_calls=$(ratio "$(cal sipbus-up calls_max_cps)" "$(cal kamailio-mem calls_max_cps)")"
} >"$OUT/ratios.txt"
echo "Ratios (sipbus / Kamailio; \`_redis\`: against Kamailio on Redis; \`ratio_p99_invite_1k\`: sipbus p99 / Kamailio p99 at 1,000 calls/s, lower is better):"
echo
echo '```'
cat "$OUT/ratios.txt"
echo '```'
