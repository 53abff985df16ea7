#!/usr/bin/env bash
# benches/hsm.sh: `hapki init` with the CA keys in a PKCS#11 token (SoftHSM2) against the same
# init with plain CA key files (issue 13; docs/performance.md "CA keys in a PKCS#11 token").
#
# Both sides run the default topology twice over: profiles/canton-ha-ecdsa.toml (ECDSA CA keys)
# and profiles/canton-ha.toml (RSA-4096 CA keys), each as given (key files) and with
# `ca_key_store = "pkcs11:..."` pointing at a fresh SoftHSM2 token. The runs alternate, file
# then token then token then file, ..., so drift in the machine's load hits both; the result is
# the median of each side's wall times and the ratio of their sums. Each run starts from an
# empty folder (the token keeps the keys of earlier runs: a label may then name several keys,
# which hapki tells apart by the cert they certify; the token is made anew per profile).
#
# Usage: benches/hsm.sh [HAPKI]        # HAPKI: the binary (default target/release/hapki)
#        RUNS=3 benches/hsm.sh         # runs per side (default 5 for ECDSA; RSA runs 3 at most)
# Prints a Markdown table on stdout, progress on stderr. Needs bash >= 5, softhsm2, awk.
set -euo pipefail
cd "$(dirname "$0")/.."

hapki=${1:-$PWD/target/release/hapki}
RUNS=${RUNS:-5}
RSA_RUNS=$((RUNS < 3 ? RUNS : 3))
module=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
  [[ -e $m ]] && module=$m && break
done
if [[ -z $module ]] || ! command -v softhsm2-util >/dev/null; then
  echo "benches/hsm.sh: SoftHSM2 is not installed (Debian: apt-get install softhsm2)" >&2
  exit 2
fi
[[ -x $hapki ]] || { echo "benches/hsm.sh: no hapki binary at $hapki (cargo build --release)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOFTHSM2_CONF=$work/softhsm2.conf
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" >"$SOFTHSM2_CONF"
echo 1234 >"$work/pin"

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.3f", s }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }'; }

# One timed `hapki init` of PROFILE into a fresh folder; prints its wall time in seconds.
timed_init() {
  local profile=$1 out=$2
  rm -rf "$out"
  local t0=$EPOCHREALTIME
  "$hapki" init --profile "$profile" --out "$out" >/dev/null
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

rows=()
for pair in ecdsa:profiles/canton-ha-ecdsa.toml:$RUNS rsa:profiles/canton-ha.toml:$RSA_RUNS; do
  IFS=: read -r name profile runs <<<"$pair"
  rm -rf "$work/tokens"/*
  softhsm2-util --init-token --free --label "bench-$name" --pin 1234 --so-pin 123456 >/dev/null
  hsm_profile=$work/$name-hsm.toml
  awk -v line="ca_key_store = \"pkcs11:token=bench-$name?module-path=$module&pin-source=file:$work/pin\"" \
    '{ print } /^\[defaults\]$/ && !done { print line; done = 1 }' "$profile" >"$hsm_profile"
  file_t=() hsm_t=()
  for ((i = 0; i < runs; i++)); do
    echo "benches/hsm.sh: $name run $((i + 1))/$runs" >&2
    if ((i % 2 == 0)); then
      file_t+=("$(timed_init "$profile" "$work/file")")
      hsm_t+=("$(timed_init "$hsm_profile" "$work/hsm")")
    else
      hsm_t+=("$(timed_init "$hsm_profile" "$work/hsm")")
      file_t+=("$(timed_init "$profile" "$work/file")")
    fi
  done
  # The token tree is a real one: it verifies, and holds no CA key file.
  "$hapki" verify "$work/hsm" --profile "$hsm_profile" >/dev/null
  [[ ! -e $work/hsm/domain/root/private/ca.key.pem ]]
  ratio=$(awk -v a="$(sum "${hsm_t[@]}")" -v b="$(sum "${file_t[@]}")" 'BEGIN { printf "%.2f", a / b }')
  rows+=("| \`init\`, $profile, $runs runs | $(ms "$(median "${file_t[@]}")") | $(ms "$(median "${hsm_t[@]}")") | $ratio |")
  rows+=("|  runs (s): files ${file_t[*]}; token ${hsm_t[*]} | | | |")
done

cat <<EOF
### CA keys in a PKCS#11 token (SoftHSM2) against key files

| Run | CA key files (median) | CA keys in SoftHSM2 (median) | token / files (sum of runs) |
|-----|----------------------:|-----------------------------:|----------------------------:|
$(printf '%s\n' "${rows[@]}")
EOF
