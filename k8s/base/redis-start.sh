#!/bin/sh
# Starts redis-server (official redis image). Alone (SENTINELS empty) it is
# the master. With Sentinel it asks the sentinels for the current master
# and replicates from it; when none answers (first start), pod 0 is the
# master and the others replicate from it. The password stays out of argv.
set -eu
domain="redis-headless.${NAMESPACE}.svc.cluster.local"
self="${POD_NAME}.${domain}"
cat > /tmp/redis.conf <<CONF
port 6379
dir /data
appendonly yes
requirepass ${REDIS_PASSWORD}
masterauth ${REDIS_PASSWORD}
replica-announce-ip ${self}
CONF
master=""
export REDISCLI_AUTH="${REDIS_PASSWORD}"
for s in ${SENTINELS:-}; do
  master=$(redis-cli -h "$s" -p 26379 sentinel get-master-addr-by-name sipbus 2>/dev/null | head -n1 || true)
  [ -n "$master" ] && break
done
if [ -n "${SENTINELS:-}" ] && [ -z "$master" ] && [ "${POD_NAME##*-}" != "0" ]; then
  master="redis-0.${domain}"
fi
if [ -n "$master" ] && [ "$master" != "$self" ]; then
  echo "replicaof ${master} 6379" >> /tmp/redis.conf
fi
exec redis-server /tmp/redis.conf
