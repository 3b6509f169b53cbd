#!/usr/bin/env bash
# Runs every Sala test on a fresh machine of this kind: installs what is missing (Debian's
# redis-server and chromium; npm dependencies), builds, type-checks and lints, then runs the unit,
# integration and browser tests (each starts its own redis-server on a free port; browser tests
# also start two Sala nodes and drive Chromium against them).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  echo "test: installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Browser tests drive Debian's Chromium; the emoji font makes 🔒 render in screenshots.
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
# The process cluster puts nginx in front of the nodes; docker-compose validates the compose file.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# promtool lints a real /metrics scrape and infra/prometheus.yml; the package's prometheus runs the
# Grafana dashboard's queries (monitoring.int.test.ts).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then install_debian_packages "${missing[@]}"; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

echo "test: build"
npm run build --silent
echo "test: type-check and lint"
npm run check --silent

mkdir -p test-results
echo "test: unit, integration, cluster-fault and browser tests"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=$?

# A plain closing line that any CI reader understands.
node -e '
  const r = require("./test-results/vitest.json");
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit "$status"
