#!/bin/sh
# Starts a Redis Sentinel (official redis image) monitoring the master
# "sipbus": the one the other sentinels name, else redis-0. Sentinel
# rewrites its file, so it lives in an emptyDir.
set -eu
export REDISCLI_AUTH="${REDIS_PASSWORD}"
master=""
for s in ${SENTINELS}; do
  [ "${s%%.*}" = "${POD_NAME}" ] && continue
  master=$(redis-cli -h "$s" -p 26379 sentinel get-master-addr-by-name sipbus 2>/dev/null | head -n1 || true)
  [ -n "$master" ] && break
done
[ -n "$master" ] || master="redis-0.redis-headless.${NAMESPACE}.svc.cluster.local"
cat > /tmp/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${POD_NAME}.redis-sentinel-headless.${NAMESPACE}.svc.cluster.local
requirepass ${REDIS_PASSWORD}
sentinel monitor sipbus ${master} 6379 2
sentinel auth-pass sipbus ${REDIS_PASSWORD}
sentinel down-after-milliseconds sipbus 5000
sentinel failover-timeout sipbus 60000
sentinel parallel-syncs sipbus 1
CONF
exec redis-server /tmp/sentinel.conf --sentinel
