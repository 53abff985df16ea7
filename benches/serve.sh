#!/usr/bin/env bash
# benches/serve.sh: `hapki serve` under load (issue 12; docs/performance.md "hapki serve").
#
# Measures, with wrk over loopback, on the release build:
#   (a) JWKS requests/s over TLS with keep-alive: `hapki serve` against NGINX serving the same
#       jwks.json with the same cert and key (TLS 1.3, same cipher choice left to both), in
#       ROUNDS alternated rounds of SECS seconds each (who goes first alternates, so drift in the
#       machine's load hits both); the ratio of the sums;
#   (b) OCSP responses/s (POST over plain HTTP) against `openssl ocsp -index` answering the
#       same request from the same index with the same responder cert, alternated the same way.
#       `openssl ocsp -port` speaks HTTP/1.0 and closes the connection after each answer (wrk
#       cannot count such answers), so both sides are driven the same way: ApacheBench (`ab`,
#       no -k: a new TCP connection per request, OCONNS at once, SECS seconds);
#   (c) hapki's OCSP responses/s with keep-alive (wrk), which openssl's responder has no
#       counterpart of: reported, not compared;
#   (d) hapki's p99 latency (wrk --latency for the keep-alive runs, ab's for (b); ab's
#       percentiles are whole milliseconds).
# and prints a Markdown report on stdout (progress on stderr).
# The OCSP request carries no nonce, as the JDK's revocation checker sends it: hapki answers a
# repeat of it with the answer it signed before while that is still true (docs/serve.md), and
# openssl's responder signs every answer. PROFILE picks the tree: the ECDSA profile (default;
# P-256 responder keys) or `builtin`, the default profile with its RSA-2048 responders, where
# openssl's responder answers about 4.5 times fewer requests a second than with P-256.
#
# Usage: benches/serve.sh                 # ROUNDS=3 SECS=10 CONNS=32 THREADS=2 OCONNS=8
#        PROFILE=builtin benches/serve.sh # the default profile (RSA)
#        ROUNDS=5 SECS=20 benches/serve.sh
#        HAPKI=target/release/hapki ROUNDS=1 SECS=2 benches/serve.sh   # an existing build, a smoke run
# Needs: wrk (apt-get install -y wrk), ab (apt-get install -y apache2-utils), nginx, openssl 3,
# curl, ss (iproute2), cargo (unless HAPKI names an existing build).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
OCONNS=${OCONNS:-8}
PROFILE=${PROFILE:-profiles/canton-ha-ecdsa.toml}
if [[ $PROFILE == builtin ]]; then prof=(); else prof=(--profile "$PROFILE"); fi
for t in wrk ab nginx openssl curl ss; do
  pkg=$t; [[ $t == ab ]] && pkg=apache2-utils; [[ $t == ss ]] && pkg=iproute2
  command -v "$t" >/dev/null || { echo "benches/serve.sh needs $t (apt-get install -y $pkg)" >&2; exit 2; }
done
if [[ -n ${HAPKI:-} ]]; then
  H=$HAPKI
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
  cargo build --release -q
  H="$CARGO_TARGET_DIR/release/hapki"
fi
[[ -x $H ]] || { echo "benches/serve.sh: $H is not an executable hapki" >&2; exit 2; }
W=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$H" init "${prof[@]}" --out "$W/t" --at "$(( $(date +%s) - 3600 ))" >/dev/null
O="$W/t/participant1"; D=customer1.com
HS=$(port); HH=$(port); NS=$(port); OS=$(port)
"$H" serve --org participant1 "${prof[@]}" --out "$W/t" \
  --listen "127.0.0.1:$HS" --http "127.0.0.1:$HH" 2>"$W/serve.log" & pids+=($!)
HPID=$!
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
die() { echo "benches/serve.sh: $*" >&2; exit 2; }
# openssl's responder: the intermediate's index, its delegated responder cert. It serves one
# connection at a time, and a connection closed before its request was complete (what an
# `ab -t` run leaves when its time is up, or a bare TCP connect) wedges it for good: every later
# ab run then timed out after 30 s (the bare exit 1 of round 2). So each ab run against it gets
# a fresh responder (start_ossl), and readiness is seen in the listening sockets, not by a
# connect.
OPID=
start_ossl() {
  if [[ -n $OPID ]]; then kill "$OPID" 2>/dev/null || true; wait "$OPID" 2>/dev/null || true; fi
  openssl ocsp -index "$O/intermediate/index.txt" -port "$OS" \
    -rsigner "$O/intermediate/certs/ocsp.$D.cert.pem" -rkey "$O/intermediate/private/ocsp.$D.key.pem" \
    -CA "$O/intermediate/certs/intermediate.cert.pem" -nmin 60 >/dev/null 2>&1 & pids+=($!)
  OPID=$!
  for _ in $(seq 100); do
    ss -Hltn "sport = :$OS" | grep -q . && return 0
    sleep 0.05
  done
  die "openssl ocsp -port $OS did not start"
}
start_ossl
# One OCSP request for participant1's server cert (no nonce, so both responders may answer it the same way).
openssl ocsp -issuer "$O/intermediate/certs/intermediate.cert.pem" \
  -cert "$O/participant1/certs/participant1.$D.cert.pem" -reqout "$W/req.der" -no_nonce >/dev/null
for u in "https://127.0.0.1:$HS/.well-known/jwks.json" "https://127.0.0.1:$NS/.well-known/jwks.json"; do
  for _ in $(seq 50); do curl -sf -o /dev/null --cacert "$O/root/certs/ca.cert.pem" "$u" && break; sleep 0.2; done
  curl -s --cacert "$O/root/certs/ca.cert.pem" "$u" > "$W/got.json"; cmp -s "$W/got.json" "$O/jwt/jwks.json" \
    || { echo "$u does not serve the JWKS" >&2; tail -n 3 "$W/serve.log" "$W/nginx/logs/error.log" >&2; exit 2; }
done
for u in "http://127.0.0.1:$HH/ocsp" "http://127.0.0.1:$OS/"; do
  curl -s --max-time 10 -H 'Content-Type: application/ocsp-request' --data-binary @"$W/req.der" "$u" > "$W/resp.der" || true
  openssl ocsp -respin "$W/resp.der" -resp_text -noverify 2>/dev/null | grep -q "Cert Status: good" \
    || { echo "$u does not answer the OCSP request with good" >&2; exit 2; }
done
cat > "$W/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/ocsp-request"
local f = io.open("$W/req.der", "rb"); wrk.body = f:read("*a"); f:close()
LUA

# run CONNS URL [script]: wrk; sets RPS (requests/s) and P99 (ms). Run in this shell, not in a
# process substitution, so a failed wrk stops the bench with its output instead of a bare exit 1.
RPS= P99=
run() {
  local out t=$THREADS rc=0
  (( $1 < t )) && t=$1  # wrk needs at least one connection per thread
  out=$(wrk -t"$t" -c"$1" -d"${SECS}s" --latency ${3:+-s "$3"} "$2" 2>&1) || rc=$?
  (( rc == 0 )) || die "wrk $2 failed (exit $rc): $(tail -n 3 <<<"$out")"
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } print v }' <<<"$out")
  RPS=${rps:-0} P99=${p99:-0}
}
# CPU time (user + system, clock ticks) a process has used so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# runab URL: ab; sets RPS (responses/s) and P99 (ms): one new connection per request, OCONNS
# at a time, SECS seconds. Answers of another length than the first count as "failed" in ab's summary (ECDSA
# signatures vary by a byte or two) but are complete answers; non-2xx and exceptions are not.
runab() {
  local out rc=0
  out=$(ab -q -t "$SECS" -n 100000000 -c "$OCONNS" -p "$W/req.der" -T application/ocsp-request "$1" 2>&1) || rc=$?
  (( rc == 0 )) || die "ab $1 failed (exit $rc): $(tail -n 1 <<<"$out")"
  local rps p99 bad
  rps=$(awk '/^Requests per second/ { print $4 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  bad=$(awk '/^Non-2xx responses/ { n += $3 }
    /\(Connect:/ { gsub(/[(),]/, ""); for (i = 1; i < NF; i++) if ($i != "Length:" && $(i+1) ~ /^[0-9]+$/ && $i ~ /:$/) n += $(i+1) }
    END { print n + 0 }' <<<"$out")
  (( bad == 0 )) || { echo "ab $1: $bad failed requests" >&2; rps=0; }
  RPS=${rps:-0} P99=${p99:-0}
}
declare -a hj nj hjp njp ho oo hop hk hkp hc oc
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  if (( r % 2 )); then
    run "$CONNS" "https://127.0.0.1:$HS/.well-known/jwks.json"; hj+=("$RPS"); hjp+=("$P99")
    run "$CONNS" "https://127.0.0.1:$NS/.well-known/jwks.json"; nj+=("$RPS"); njp+=("$P99")
    t0=$(ticks "$HPID"); runab "http://127.0.0.1:$HH/ocsp"; ho+=("$RPS"); hop+=("$P99"); hc+=($(( $(ticks "$HPID") - t0 )))
    start_ossl; t0=$(ticks "$OPID"); runab "http://127.0.0.1:$OS/"; oo+=("$RPS"); oc+=($(( $(ticks "$OPID") - t0 )))
  else
    run "$CONNS" "https://127.0.0.1:$NS/.well-known/jwks.json"; nj+=("$RPS"); njp+=("$P99")
    run "$CONNS" "https://127.0.0.1:$HS/.well-known/jwks.json"; hj+=("$RPS"); hjp+=("$P99")
    start_ossl; t0=$(ticks "$OPID"); runab "http://127.0.0.1:$OS/"; oo+=("$RPS"); oc+=($(( $(ticks "$OPID") - t0 )))
    t0=$(ticks "$HPID"); runab "http://127.0.0.1:$HH/ocsp"; ho+=("$RPS"); hop+=("$P99"); hc+=($(( $(ticks "$HPID") - t0 )))
  fi
  run "$CONNS" "http://127.0.0.1:$HH/ocsp" "$W/post.lua"; hk+=("$RPS"); hkp+=("$P99")
done
sum() { awk '{ s += $1 } END { printf "%.0f", s }' < <(printf '%s\n' "$@"); }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ok() { case "$1" in n/a*) echo "-" ;; *) awk "BEGIN { exit !($1) }" && echo yes || echo "**no**" ;; esac; }
jr=$(ratio "$(sum "${hj[@]}")" "$(sum "${nj[@]}")")
or=$(ratio "$(sum "${ho[@]}")" "$(sum "${oo[@]}")")
jp=$(max "${hjp[@]}"); njpm=$(max "${njp[@]}"); op=$(max "${hop[@]}"); kp=$(max "${hkp[@]}")
# Responses per CPU-second of the responder process: what each costs the server, apart from the
# client's and other processes' share of the cores (ab cannot open connections fast enough to
# saturate either responder on a small machine).
tck=$(getconf CLK_TCK)
hcs=$(awk -v r="$(sum "${ho[@]}")" -v s="$SECS" -v t="$(sum "${hc[@]}")" -v k="$tck" 'BEGIN { if (t > 0) printf "%.0f", r * s / (t / k); else print 0 }')
ocs=$(awk -v r="$(sum "${oo[@]}")" -v s="$SECS" -v t="$(sum "${oc[@]}")" -v k="$tck" 'BEGIN { if (t > 0) printf "%.0f", r * s / (t / k); else print 0 }')
cr=$(ratio "$hcs" "$ocs")
# hapki with keep-alive (what the JDK's client uses when the server keeps the connection)
# against openssl with a connection per request (the only way it serves): each at its best.
kr=$(ratio "$(sum "${hk[@]}")" "$(sum "${oo[@]}")")
rkey=$(openssl x509 -in "$O/intermediate/certs/ocsp.$D.cert.pem" -noout -text | awk '/Public Key Algorithm/ { print $4; exit }')
cat <<MD
### hapki serve ($ROUNDS alternated rounds of ${SECS}s, wrk -t$THREADS -c$CONNS, ab -c$OCONNS, $(nproc) cores; profile ${PROFILE}, OCSP responder key $rkey)

| measure | result | target | met |
| --- | --- | --- | --- |
| JWKS over TLS keep-alive: hapki serve req/s (rounds) | ${hj[*]} | | |
| JWKS over TLS keep-alive: NGINX req/s (rounds) | ${nj[*]} | | |
| JWKS: hapki / NGINX (ratio of sums) | $jr | ≥ 1 | $(ok "$jr >= 1") |
| OCSP POST, a connection per request: hapki serve responses/s (rounds) | ${ho[*]} | | |
| OCSP POST, a connection per request: openssl ocsp -index responses/s (rounds) | ${oo[*]} | | |
| OCSP: hapki / openssl (ratio of sums) | $or | ≥ 20 | $(ok "$or >= 20") |
| OCSP, a connection per request: responses per CPU-second of the responder, hapki / openssl | $hcs / $ocs = $cr | | |
| OCSP POST, keep-alive: hapki serve responses/s (rounds) | ${hk[*]} | | |
| OCSP, each at its best: hapki keep-alive / openssl a connection per request (ratio of sums) | $kr | ≥ 20 | $(ok "$kr >= 20") |
| hapki p99, JWKS keep-alive (worst round) | $jp ms | < 5 ms | $(ok "$jp < 5") |
| NGINX p99, JWKS keep-alive (worst round), the same load: for reference | $njpm ms | | |
| hapki p99, OCSP keep-alive (worst round) | $kp ms | < 5 ms | $(ok "$kp < 5") |
| hapki p99, OCSP a connection per request (worst round, whole ms) | $op ms | < 5 ms | $(ok "$op < 5") |
MD
