#!/usr/bin/env bash
# Start/stop sipbus as a benchmark target, the counterpart of
# peer/kamailio.sh: registrar + record-routing proxy for bench.local on
# udp:127.0.0.1:$SIP_PORT, authentication off (as the Kamailio peer), state
# in a Redis of its own (started here, fresh every start).
#
# usage: sipbus.sh start up      one process: `sipbus up --redis` (embedded NATS)
#        sipbus.sh start upnats  `sipbus nats` and `sipbus up --nats --redis`: the
#                                same services on a NATS server of their own
#        sipbus.sh start split   the services of `up`, a process each: sipbus nats,
#                                edge, tm, registrar, ctd serve, web (as k8s/base)
#        sipbus.sh stop          stop what start started (by recorded PID)
#        sipbus.sh pids          PIDs to account CPU for (sipbus processes + Redis)
#        sipbus.sh urls          NATS=... MONITOR=... REDIS=... for `sipbus stats`
#
# Environment (defaults):
#   SIPBUS=<repo>/bin/sipbus  SIP_PORT=5060  NATS_PORT=4250  MONITOR_PORT=8250
#   REDIS_PORT=6391  CTD_HTTP_PORT=8251  WEB_HTTP_PORT=8252
#   BENCH_STATE=/tmp/sipbus-bench/state
#   SIPBUS_FLAGS  extra flags for `up` or the edge (e.g. --debug-addr 127.0.0.1:6061)
#   TM_FLAGS, REG_FLAGS, CTD_FLAGS, WEB_FLAGS  extra flags for tm, the
#                 registrar, ctd and web (split)
# Everything binds to 127.0.0.1 only.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SIPBUS=${SIPBUS:-$HERE/../bin/sipbus}
SIP_PORT=${SIP_PORT:-5060}
NATS_PORT=${NATS_PORT:-4250}
MONITOR_PORT=${MONITOR_PORT:-8250}
REDIS_PORT=${REDIS_PORT:-6391}
CTD_HTTP_PORT=${CTD_HTTP_PORT:-8251}
WEB_HTTP_PORT=${WEB_HTTP_PORT:-8252}
STATE=${BENCH_STATE:-/tmp/sipbus-bench/state}/sipbus
SIPBUS_FLAGS=${SIPBUS_FLAGS:-}
TM_FLAGS=${TM_FLAGS:-}
REG_FLAGS=${REG_FLAGS:-}
CTD_FLAGS=${CTD_FLAGS:-}
WEB_FLAGS=${WEB_FLAGS:-}
PIDS=$STATE/pids
NATS_URL=nats://127.0.0.1:$NATS_PORT
REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# wait_ready LOG PID: until the process printed "ready" (30 s at most)
wait_ready() {
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q '^ready' "$1" 2>/dev/null && return 0
        alive "$2" || { echo "sipbus.sh: process exited, see $1" >&2; tail -20 "$1" >&2; return 1; }
        sleep 0.1
    done
    echo "sipbus.sh: not ready within 30 s, see $1" >&2
    return 1
}

# launch NAME ARGS...: start one process in the background, record its PID
launch() {
    local name=$1 pid
    shift
    "$@" </dev/null >"$STATE/$name.log" 2>&1 &
    pid=$!
    echo "$pid $name" >>"$PIDS"
    wait_ready "$STATE/$name.log" "$pid"
}

start_redis() {
    local i pid
    if ss -Hlnt "src 127.0.0.1:$REDIS_PORT" 2>/dev/null | grep -q .; then
        echo "sipbus.sh: 127.0.0.1:$REDIS_PORT is already in use" >&2
        return 1
    fi
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --daemonize no --protected-mode yes --dir "$STATE" --logfile "$STATE/redis.log" \
        </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid redis" >>"$PIDS"
    for ((i = 0; i < 100; i++)); do
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        alive "$pid" || { echo "sipbus.sh: redis exited, see $STATE/redis.log" >&2; return 1; }
        sleep 0.1
    done
    return 1
}

cmd_start() {
    local mode=$1 adv=127.0.0.1:$SIP_PORT
    [ -x "$SIPBUS" ] || { echo "sipbus.sh: $SIPBUS not built (make build)" >&2; return 1; }
    if [ -s "$PIDS" ]; then echo "sipbus.sh: already started (see $PIDS); stop first" >&2; return 1; fi
    rm -rf "$STATE"
    mkdir -p "$STATE"
    start_redis || return 1
    # shellcheck disable=SC2086 # SIPBUS_FLAGS is a list of flags
    case "$mode" in
    up)
        launch up "$SIPBUS" up --sip "$adv" --data "$STATE/data" --nats-listen "127.0.0.1:$NATS_PORT" \
            --nats-monitor "127.0.0.1:$MONITOR_PORT" --redis "$REDIS_URL" --domain bench.local \
            --auth off --log-level warn $SIPBUS_FLAGS || return 1
        ;;
    upnats)
        launch nats "$SIPBUS" nats --listen "127.0.0.1:$NATS_PORT" --monitor "127.0.0.1:$MONITOR_PORT" \
            --data "$STATE/data" || return 1
        launch up "$SIPBUS" up --sip "$adv" --data "$STATE/data" --nats "$NATS_URL" --redis "$REDIS_URL" \
            --domain bench.local --auth off --log-level warn $SIPBUS_FLAGS || return 1
        ;;
    split)
        launch nats "$SIPBUS" nats --listen "127.0.0.1:$NATS_PORT" --monitor "127.0.0.1:$MONITOR_PORT" \
            --data "$STATE/data" || return 1
        local shared=(--nats "$NATS_URL" --redis "$REDIS_URL" --log-level warn)
        launch edge "$SIPBUS" edge --id edge-1 --udp "$adv" --tcp "$adv" --nats "$NATS_URL" --log-level warn $SIPBUS_FLAGS || return 1
        launch tm "$SIPBUS" tm --id tm-1 --advertise "$adv" --domains bench.local "${shared[@]}" \
            $TM_FLAGS || return 1
        launch registrar "$SIPBUS" registrar --id reg-1 --domains bench.local --auth off "${shared[@]}" \
            $REG_FLAGS || return 1
        # what `up` runs besides: click-to-dial and the web page (with its
        # call history, a consumer of every call's end), as in k8s/base, so
        # that both targets do the same work per call
        launch ctd "$SIPBUS" ctd serve --id ctd-1 --http "127.0.0.1:$CTD_HTTP_PORT" "${shared[@]}" $CTD_FLAGS || return 1
        SIPBUS_WEB_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n') \
            launch web "$SIPBUS" web --id web-1 --domains bench.local --http "127.0.0.1:$WEB_HTTP_PORT" "${shared[@]}" \
                $WEB_FLAGS || return 1
        ;;
    *) echo "mode must be up, upnats or split" >&2; return 2 ;;
    esac
    echo "sipbus started ($mode): $(awk '{printf "%s=%s ", $2, $1}' "$PIDS")"
}

cmd_stop() {
    local pid name i
    [ -s "$PIDS" ] || return 0
    # reverse order: services first, then the bus and Redis
    tac "$PIDS" | while read -r pid name; do
        alive "$pid" || continue
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 150; i++)); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && { echo "sipbus.sh: $name ($pid) did not stop in 15 s, KILL" >&2; kill -KILL "$pid"; }
    done
    rm -f "$PIDS"
}

case "${1:-}" in
start) cmd_start "${2:-up}" || { cmd_stop; exit 1; } ;;
stop) cmd_stop ;;
pids) [ -s "$PIDS" ] && awk '{printf "%s ", $1} END {print ""}' "$PIDS" ;;
urls) echo "NATS=$NATS_URL MONITOR=http://127.0.0.1:$MONITOR_PORT REDIS=$REDIS_URL" ;;
*) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
