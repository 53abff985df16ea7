#!/usr/bin/env bash
# benches/serve.sh: `hapki serve` under load (issue 12; docs/performance.md "hapki serve").
#
# Measures, with wrk over loopback, on the release build:
#   (a) JWKS requests/s over TLS with keep-alive: `hapki serve` against NGINX serving the same
#       jwks.json with the same cert and key (TLS 1.3, same cipher choice left to both), in
#       ROUNDS alternated rounds of SECS seconds each (who goes first alternates, so drift in the
#       machine's load hits both); the ratio of the sums;
#   (b) OCSP responses/s (POST /ocsp over plain HTTP) against `openssl ocsp -index` answering the
#       same request from the same index with the same responder cert, alternated the same way;
#   (c) hapki's p99 latency in both (wrk --latency).
# and prints a Markdown report on stdout (progress on stderr).
#
# Usage: benches/serve.sh                       # ROUNDS=3 SECS=10 CONNS=32 THREADS=2
#        ROUNDS=5 SECS=20 benches/serve.sh
# Needs: wrk (apt-get install -y wrk), nginx, openssl 3, curl, cargo.
# openssl ocsp answers one request at a time on one connection (it closes after each answer), so
# (b) drives it with wrk's same request stream and its connections are re-opened each time; that is
# how it serves clients in production too.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
for t in wrk nginx openssl curl; do
  command -v "$t" >/dev/null || { echo "benches/serve.sh needs $t (apt-get install -y $t)" >&2; exit 2; }
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q
H="$CARGO_TARGET_DIR/release/hapki"
W=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$H" init --profile profiles/canton-ha-ecdsa.toml --out "$W/t" --at "$(( $(date +%s) - 3600 ))" >/dev/null
O="$W/t/participant1"; D=customer1.com
HS=$(port); HH=$(port); NS=$(port); OS=$(port)
"$H" serve --org participant1 --profile profiles/canton-ha-ecdsa.toml --out "$W/t" \
  --listen "127.0.0.1:$HS" --http "127.0.0.1:$HH" 2>"$W/serve.log" & pids+=($!)
mkdir -p "$W/nginx/www/.well-known" "$W/nginx/logs"
cp "$O/jwt/jwks.json" "$W/nginx/www/.well-known/jwks.json"
chmod a+x "$W"; chmod -R a+rX "$W/nginx"  # NGINX workers run as another user
cat > "$W/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/json json; }
  server {
    listen 127.0.0.1:$NS ssl;
    ssl_certificate $O/auth/certs/auth-chain.$D.cert.pem;
    ssl_certificate_key $O/auth/private/auth.$D.key.pem;
    root $W/nginx/www;
    keepalive_requests 1000000;
  }
}
NGX
nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" -g 'daemon off;' & pids+=($!)
# openssl's responder: the intermediate's index, its delegated responder cert.
openssl ocsp -index "$O/intermediate/index.txt" -port "$OS" \
  -rsigner "$O/intermediate/certs/ocsp.$D.cert.pem" -rkey "$O/intermediate/private/ocsp.$D.key.pem" \
  -CA "$O/intermediate/certs/intermediate.cert.pem" -nmin 60 >/dev/null 2>&1 & pids+=($!)
sleep 1
# One OCSP request for participant1's server cert (no nonce, so both responders may answer it the same way).
openssl ocsp -issuer "$O/intermediate/certs/intermediate.cert.pem" \
  -cert "$O/participant1/certs/participant1.$D.cert.pem" -reqout "$W/req.der" -no_nonce >/dev/null
for u in "https://127.0.0.1:$HS/.well-known/jwks.json" "https://127.0.0.1:$NS/.well-known/jwks.json"; do
  for _ in $(seq 50); do curl -sf -o /dev/null --cacert "$O/root/certs/ca.cert.pem" "$u" && break; sleep 0.2; done
  curl -s --cacert "$O/root/certs/ca.cert.pem" "$u" > "$W/got.json"; cmp -s "$W/got.json" "$O/jwt/jwks.json" \
    || { echo "$u does not serve the JWKS" >&2; tail -n 3 "$W/serve.log" "$W/nginx/logs/error.log" >&2; exit 2; }
done
cat > "$W/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/ocsp-request"
local f = io.open("$W/req.der", "rb"); wrk.body = f:read("*a"); f:close()
LUA

# wrk URL [script] -> "requests/s p99_ms"
run() {
  local out t=$THREADS
  (( $1 < t )) && t=$1  # wrk needs at least one connection per thread
  out=$(wrk -t"$t" -c"$1" -d"${SECS}s" --latency ${3:+-s "$3"} "$2" 2>&1)
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } print v }' <<<"$out")
  echo "${rps:-0} ${p99:-0}"
}
declare -a hj nj hjp ho oo hop
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  if (( r % 2 )); then
    read -r a b < <(run "$CONNS" "https://127.0.0.1:$HS/.well-known/jwks.json"); hj+=("$a"); hjp+=("$b")
    read -r a _ < <(run "$CONNS" "https://127.0.0.1:$NS/.well-known/jwks.json"); nj+=("$a")
    read -r a b < <(run "$CONNS" "http://127.0.0.1:$HH/ocsp" "$W/post.lua"); ho+=("$a"); hop+=("$b")
    read -r a _ < <(run 1 "http://127.0.0.1:$OS/" "$W/post.lua"); oo+=("$a")
  else
    read -r a _ < <(run "$CONNS" "https://127.0.0.1:$NS/.well-known/jwks.json"); nj+=("$a")
    read -r a b < <(run "$CONNS" "https://127.0.0.1:$HS/.well-known/jwks.json"); hj+=("$a"); hjp+=("$b")
    read -r a _ < <(run 1 "http://127.0.0.1:$OS/" "$W/post.lua"); oo+=("$a")
    read -r a b < <(run "$CONNS" "http://127.0.0.1:$HH/ocsp" "$W/post.lua"); ho+=("$a"); hop+=("$b")
  fi
done
sum() { awk '{ s += $1 } END { printf "%.0f", s }' < <(printf '%s\n' "$@"); }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ok() { case "$1" in n/a*) echo "-" ;; *) awk "BEGIN { exit !($1) }" && echo yes || echo "**no**" ;; esac; }
jr=$(ratio "$(sum "${hj[@]}")" "$(sum "${nj[@]}")")
or=$(ratio "$(sum "${ho[@]}")" "$(sum "${oo[@]}")")
jp=$(max "${hjp[@]}"); op=$(max "${hop[@]}")
cat <<MD
### hapki serve ($ROUNDS alternated rounds of ${SECS}s, wrk -t$THREADS -c$CONNS, $(nproc) cores)

| measure | result | target | met |
| --- | --- | --- | --- |
| JWKS over TLS keep-alive: hapki serve req/s (rounds) | ${hj[*]} | | |
| JWKS over TLS keep-alive: NGINX req/s (rounds) | ${nj[*]} | | |
| JWKS: hapki / NGINX (ratio of sums) | $jr | ≥ 1 | $(ok "$jr >= 1") |
| OCSP POST: hapki serve responses/s (rounds) | ${ho[*]} | | |
| OCSP POST: openssl ocsp -index responses/s (rounds) | ${oo[*]} | | |
| OCSP: hapki / openssl (ratio of sums) | $or | ≥ 20 | $(ok "$or >= 20") |
| hapki p99, JWKS (worst round) | $jp ms | < 5 ms | $(ok "$jp < 5") |
| hapki p99, OCSP (worst round) | $op ms | < 5 ms | $(ok "$op < 5") |
MD
