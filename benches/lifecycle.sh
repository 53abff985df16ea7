#!/usr/bin/env bash
# benches/lifecycle.sh: the cost of day two at scale (issue 11; docs/performance.md, "Revocation
# and the CA index at 100,000 certs").
#
# Two trees of the shipped ECDSA profile (`hapki init`):
#   - BIG: participant1's issuing CA has an index of ENTRIES revoked certs (written straight into
#     index.txt in the `openssl ca` format by awk, as `openssl ca` would have left them: issuing
#     and revoking 100,000 certs through hapki would take the bench an hour and prove nothing
#     more, the index being only lines), plus ROUNDS valid serials to revoke, and a CRL signed
#     from it (`hapki crl`, so the CRL on disk lists all of them);
#   - EMPTY: the same CA with an empty index.txt.
# Then, alternated ROUNDS times:
#   - `hapki revoke --serial S --org participant1` on BIG: one index line changed, the CRL of
#     ENTRIES+ entries and the bundle signed again, in one run. Target: < 1 s (the median);
#   - `hapki crl --org participant1` on BIG (every CRL of the org signed again), reported;
#   - `hapki issue bN --kind client` into BIG and into EMPTY, in alternating order: the ratio of
#     sums (BIG seconds / EMPTY seconds). Target: <= 1.10 (issuing appends one line; it never
#     reads the whole index).
#
# Usage: benches/lifecycle.sh                         # builds --release; a minute or two
#        ROUNDS=9 ENTRIES=100000 benches/lifecycle.sh
#        HAPKI=target/release/hapki benches/lifecycle.sh   # an existing build
# Needs: bash >= 5, cargo (unless HAPKI is given), awk.
# Prints a Markdown report on stdout (progress on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-7}
ENTRIES=${ENTRIES:-100000}
PROFILE=profiles/canton-ha-ecdsa.toml

die() { printf 'lifecycle bench: %s\n' "$*" >&2; exit 2; }
say() { printf 'lifecycle bench: %s\n' "$*" >&2; }
((BASH_VERSINFO[0] >= 5)) || die "needs bash 5 or later (for \$EPOCHREALTIME)"
command -v awk >/dev/null || die "awk not found"

if [[ -z ${HAPKI:-} ]]; then
    say "cargo build --release"
    cargo build --release -q
    HAPKI="${CARGO_TARGET_DIR:-target}/release/hapki"
fi
[[ -x $HAPKI ]] || die "$HAPKI is not an executable hapki"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
big=$work/big/certs
empty=$work/empty/certs
h() { local out=$1; shift; "$HAPKI" "$@" --profile "$PROFILE" --out "$out"; }

say "hapki init (ECDSA profile) twice into $work"
h "$big" init >/dev/null
h "$empty" init >/dev/null
: >"$empty/participant1/intermediate/index.txt"

# ENTRIES revoked lines and ROUNDS valid ones, as `openssl ca` writes them: status, expiry,
# revocation date and reason, serial (uppercase hex, even length, high bit clear), `unknown`,
# subject.
say "writing $ENTRIES revoked index lines"
idx=$big/participant1/intermediate/index.txt
awk -v n="$ENTRIES" -v r="$ROUNDS" 'BEGIN {
    for (i = 1; i <= n; i++)
        printf "R\t271201000000Z\t261101000000Z,keyCompromise\t7E%030X\tunknown\t/C=US/ST=New York/O=Customer1 LLC/CN=gone-%d.customer1.com\n", i, i
    for (i = 1; i <= r; i++)
        printf "V\t271201000000Z\t\t7F%030X\tunknown\t/C=US/ST=New York/O=Customer1 LLC/CN=victim-%d.customer1.com\n", i, i
}' >>"$idx"
h "$big" crl --org participant1 >/dev/null
crl=$big/participant1/intermediate/crl/intermediate.crl.der
say "index: $(wc -l <"$idx") lines, $(($(wc -c <"$idx") / 1024)) KiB; CRL: $(($(wc -c <"$crl") / 1024)) KiB"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
timed() { local t0=$EPOCHREALTIME; "$@" >/dev/null; secs "$t0" "$EPOCHREALTIME"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.4f", s }'; }

rev=(); crls=(); ibig=(); iempty=()
for r in $(seq "$ROUNDS"); do
    rev+=("$(timed h "$big" revoke --serial "$(printf '7F%030X' "$r")" --org participant1 --reason key-compromise)")
    crls+=("$(timed h "$big" crl --org participant1)")
    # Alternate which tree goes first, so neither always meets a warmer cache.
    if ((r % 2)); then
        ibig+=("$(timed h "$big" issue "b$r" --org participant1 --kind client)")
        iempty+=("$(timed h "$empty" issue "b$r" --org participant1 --kind client)")
    else
        iempty+=("$(timed h "$empty" issue "b$r" --org participant1 --kind client)")
        ibig+=("$(timed h "$big" issue "b$r" --org participant1 --kind client)")
    fi
    say "round $r: revoke ${rev[-1]} s, crl ${crls[-1]} s, issue big ${ibig[-1]} s, empty ${iempty[-1]} s"
done
grep -q "^R.*7F$(printf '%030X' "$ROUNDS")" "$idx" || die "the last revoke left no R line"
[[ $(wc -l <"$empty/participant1/intermediate/index.txt") == "$ROUNDS" ]] || die "the empty index did not get one line per issue"

rev_med=$(median "${rev[@]}")
crl_med=$(median "${crls[@]}")
ratio=$(awk -v a="$(sum "${ibig[@]}")" -v b="$(sum "${iempty[@]}")" 'BEGIN { printf "%.3f", a / b }')
ok() { awk "BEGIN { if ($1) print \"met\"; else print \"**not met**\" }"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f ms", 1000 * s }'; }
cat <<EOF
### Revocation and the CA index at $ENTRIES certs, $(date -u +%Y-%m-%dT%H:%MZ) ($(git describe --always --dirty 2>/dev/null || echo '?'))

$(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); load average $(cut -d' ' -f1 /proc/loadavg) after the run.
Index: $(wc -l <"$idx") lines ($(($(wc -c <"$idx") / 1024)) KiB); CRL: $(($(wc -c <"$crl") / 1024)) KiB DER.

| measurement | result | target | |
| --- | --- | --- | --- |
| \`revoke --serial\` (index rewritten, CRL of $ENTRIES+ entries and bundle signed), median of $ROUNDS | $(ms "$rev_med") | < 1 s | $(ok "$rev_med < 1") |
| \`crl --org participant1\` (root and issuing CA CRLs, bundle), median of $ROUNDS | $(ms "$crl_med") | | |
| \`issue\` of one client: $ENTRIES-line index ÷ empty index, ratio of sums of $ROUNDS alternated runs | $ratio | ≤ 1.10 | $(ok "$ratio <= 1.10") |

Runs (s): revoke ${rev[*]}; crl ${crls[*]}; issue big ${ibig[*]}; issue empty ${iempty[*]}.
EOF
