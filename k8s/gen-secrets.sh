#!/bin/sh
# gen-secrets.sh DIR [DOMAIN]: writes the secret files an overlay's
# secretGenerator reads (DIR is k8s/overlays/<name>/secrets): random
# hex secrets (URL-safe: the Redis password goes into SIPBUS_REDIS_URL), an SMTP
# URL to edit, and a self-signed TLS certificate for DOMAIN (replace it
# with a real one for phones outside a lab). Existing files are kept.
set -eu
dir=${1:?usage: gen-secrets.sh DIR [DOMAIN]}
domain=${2:-sip.example.com}
mkdir -p "$dir"
umask 077
for f in auth-secret sl-secret flow-secret redis-password web-session-key ctd-admin-token; do
  [ -s "$dir/$f" ] || openssl rand -hex 32 | tr -d '\n' > "$dir/$f"
done
[ -s "$dir/smtp-url" ] || printf 'smtp://user:password@smtp.example.com:587' > "$dir/smtp-url"
if [ ! -s "$dir/tls.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
    -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
fi
echo "secrets in $dir (edit $dir/smtp-url)"
