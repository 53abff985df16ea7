#!/usr/bin/env bash
# benches/token.sh: tokens/s from `hapki serve`'s token endpoint against the signing rate
# (issue 15; docs/performance.md, "The token endpoint").
#
# On a fresh tree of the default profile (RS256 JWT keys, as Canton's jwt-rs-256 auth wants) with
# client `alice`, it alternates ROUNDS times:
#   - `hapki jwt mint --user alice --count TOKENS` (the signing rate: one key, every core);
#   - wrk for DURATION s against `POST /oauth/token` over HTTPS keep-alive (CONNS connections,
#     HTTP Basic client_secret_basic, a form body, as OAuth client libraries send it), with
#     `hapki serve` logging every request as it does in production;
# and reports the ratio of sums: (endpoint tokens / endpoint seconds) / (minted / mint seconds).
# Target: >= 70 %. wrk runs on the same machine and takes a share of its cores, which the
# endpoint's number pays for; the CPU it took is reported next to the result.
#
# Usage: benches/token.sh                        # builds --release, about a minute on 2 cores
#        ROUNDS=3 DURATION=10 CONNS=8 TOKENS=20000 benches/token.sh
#        HAPKI=target/release/hapki benches/token.sh   # an existing build
# Needs: bash >= 5, cargo (unless HAPKI is given), wrk (apt-get install -y wrk), curl, awk.
# Prints a Markdown report on stdout (progress on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
TOKENS=${TOKENS:-20000}
PORT=${PORT:-19543}

die() { printf 'token bench: %s\n' "$*" >&2; exit 2; }
say() { printf 'token bench: %s\n' "$*" >&2; }
((BASH_VERSINFO[0] >= 5)) || die "needs bash 5 or later (for \$EPOCHREALTIME)"
for c in wrk curl awk; do
    command -v "$c" >/dev/null || die "$c not found (wrk: apt-get install -y wrk)"
done

if [[ -z ${HAPKI:-} ]]; then
    say "cargo build --release"
    cargo build --release -q
    HAPKI="${CARGO_TARGET_DIR:-target}/release/hapki"
fi
[[ -x $HAPKI ]] || die "$HAPKI is not an executable hapki"

work=$(mktemp -d)
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

say "hapki init (default profile) into $work"
"$HAPKI" init --out "$work/certs" >/dev/null
secret=$("$HAPKI" jwt client add alice --org participant1 --out "$work/certs" 2>/dev/null)
"$HAPKI" serve --org participant1 --out "$work/certs" --listen "127.0.0.1:$PORT" --http off \
    2>/dev/null &
server=$!
for _ in $(seq 100); do
    curl -sf --cacert "$work/certs/participant1/root/certs/ca.cert.pem" \
        "https://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.1
done
# The first request pays the slow (argon2id) check once; the rest take the verified-secret path.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/certs/participant1/root/certs/ca.cert.pem" \
    -u "alice:$secret" -d grant_type=client_credentials "https://127.0.0.1:$PORT/oauth/token")
[[ $code == 200 ]] || die "the endpoint answered $code to alice's first request"

basic=$(printf 'alice:%s' "$secret" | base64 -w0)
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
EOF

# CPU seconds (user + system) of a pid, from /proc.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

mint_n=0; mint_s=0; ep_n=0; ep_s=0; rounds=()
for r in $(seq "$ROUNDS"); do
    t0=$EPOCHREALTIME
    "$HAPKI" jwt mint --user alice --org participant1 --count "$TOKENS" --out "$work/certs" >/dev/null 2>&1
    t1=$EPOCHREALTIME
    m=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    s0=$(cpu_of "$server")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$work/post.lua" "https://127.0.0.1:$PORT/oauth/token")
    s1=$(cpu_of "$server")
    grep -q 'Non-2xx' <<<"$out" && die "the endpoint refused requests under load: $out"
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    secs=$(awk '/requests in/ { sub(/s,/, "", $4); print $4 }' <<<"$out")
    mint_n=$((mint_n + TOKENS)); ep_n=$((ep_n + n))
    mint_s=$(awk -v a="$mint_s" -v b="$m" 'BEGIN { print a + b }')
    ep_s=$(awk -v a="$ep_s" -v b="$secs" 'BEGIN { print a + b }')
    rounds+=("mint $TOKENS in ${m}s, endpoint $n in ${secs}s (server CPU $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s)")
    say "round $r: ${rounds[-1]}"
done

mint_rate=$(awk -v n="$mint_n" -v s="$mint_s" 'BEGIN { printf "%.0f", n / s }')
ep_rate=$(awk -v n="$ep_n" -v s="$ep_s" 'BEGIN { printf "%.0f", n / s }')
share=$(awk -v a="$ep_rate" -v b="$mint_rate" 'BEGIN { printf "%.1f", 100 * a / b }')
met=$(awk -v x="$share" 'BEGIN { if (x >= 70) print "met"; else print "**not met**" }')
cat <<EOF
### Token endpoint, $(date -u +%Y-%m-%dT%H:%MZ) ($(git describe --always --dirty 2>/dev/null || echo '?'))

$(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); load average $(cut -d' ' -f1 /proc/loadavg) after the run.

| measurement | result | target | |
| --- | --- | --- | --- |
| \`jwt mint --count $TOKENS\` (RS256), $ROUNDS runs | $mint_rate tokens/s | | |
| \`POST /oauth/token\`, HTTPS keep-alive, $CONNS connections, wrk -t1, $ROUNDS × ${DURATION}s | $ep_rate tokens/s | | |
| endpoint ÷ signing rate | $share % | ≥ 70 % | $met |

Rounds: $(printf '%s; ' "${rounds[@]}" | sed 's/; $//').
EOF
