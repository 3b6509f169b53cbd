#!/usr/bin/env bash
# Makes a self-signed certificate for trying Sala over HTTPS/WSS on this machine:
#   infra/tls/local.crt and infra/tls/local.key, for localhost and 127.0.0.1 (and ::1), 825 days
# (the longest validity Apple platforms accept for a TLS server certificate).
# Idempotent: an existing pair that is still valid for at least 30 more days is kept; pass --force
# to replace it. Used by `docker-compose --profile tls up` (see docker-compose.yml).
# Never use this certificate for anything but local testing.
set -euo pipefail

dir="$(cd "$(dirname "$0")" && pwd)"
crt="$dir/local.crt"
key="$dir/local.key"
force=false
[ "${1:-}" = "--force" ] && force=true

command -v openssl >/dev/null 2>&1 || { echo "make-self-signed: openssl is required (Debian: apt-get install openssl)" >&2; exit 1; }

if ! $force && [ -s "$crt" ] && [ -s "$key" ] && openssl x509 -in "$crt" -noout -checkend $((30 * 86400)) >/dev/null 2>&1; then
  echo "make-self-signed: $crt is still valid; keeping it (--force to replace)"
else
  umask 077
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
    -keyout "$tmp/local.key" -out "$tmp/local.crt" \
    -subj "/CN=localhost/O=Sala local development" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
  # The nginx container runs its workers as an unprivileged user, but its master (root) reads the
  # key; keep it private to you. The certificate is public.
  chmod 600 "$tmp/local.key"
  chmod 644 "$tmp/local.crt"
  mv "$tmp/local.key" "$key"
  mv "$tmp/local.crt" "$crt"
  echo "make-self-signed: wrote $crt and $key"
fi

openssl x509 -in "$crt" -noout -subject -enddate -ext subjectAltName 2>/dev/null | sed 's/^/  /'
cat <<EOF

To make your browser trust it (local testing only; remove it when done):
  Debian/Ubuntu: sudo cp "$crt" /usr/local/share/ca-certificates/sala-local.crt && sudo update-ca-certificates
                 Chromium and Firefox on Linux keep their own stores: import "$crt" in their
                 certificate settings, or accept the browser's warning once for localhost:8443
  macOS:         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "$crt"
  Windows:       certutil -addstore -f Root "$crt"   (elevated prompt)
  curl only:     curl --cacert "$crt" https://localhost:8443/healthz
Then: SALA_COOKIE_SECURE=true docker-compose --profile tls up  →  https://localhost:8443
EOF
