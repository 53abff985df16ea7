#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's: installs what the tests
# drive (openssl, NGINX, HAProxy, PostgreSQL, curl, faketime for the one openssl signing that
# must happen at a pinned time (OpenSSL 3.0's `x509 -req` has no start date), SoftHSM2 and
# OpenSC's pkcs11-tool for CA keys in a PKCS#11 token, and a Python venv with PyJWT and jwcrypto
# for JWT interop), then runs every Rust test (the integration tests are one binary, tests/it)
# and closes with the tests that said SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in openssl:openssl nginx:nginx haproxy:haproxy curl:curl xxd:xxd man:man-db faketime:faketime softhsm2-util:softhsm2 pkcs11-tool:opensc; do
  bin=${pair%%:*}; pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$pkg")
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/test.sh: install these packages first (as root): ${need_apt[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The packages start their services; the tests start their own on free loopback ports.
for svc in nginx haproxy postgresql; do
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

if [[ -f tests/interop/requirements.txt ]]; then
  if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
  fi
  .venv/bin/pip install -q --disable-pip-version-check -r tests/interop/requirements.txt
fi

# Tests that cannot run their subject here say `SKIPPED: <test>: <reason>` on stderr (and with
# CI=true they fail instead, unless HAPKI_ALLOW_SKIP names them: tests/it/support/skip.rs). As
# root on Debian every test can run (the tmpfs tests mount), so no skip is allowed here.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets -- "$@" 2>&1 | tee "$log" || status=$?
skips=$(grep -c '^SKIPPED: ' "$log" || true)
if ((skips)); then
  echo
  echo "$skips tests SKIPPED (they passed without running their subject):"
  grep '^SKIPPED: ' "$log" | sed 's/^/  /'
fi
exit "$status"
