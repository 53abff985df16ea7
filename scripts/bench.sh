#!/usr/bin/env bash
# scripts/bench.sh: the speed of hapki on the machine it runs on (issue 6; docs/performance.md).
#
# Builds `cargo build --release` and the keygen_floor bench, then measures:
#   (a) `hapki init` on the default profile into a fresh dir: wall time, median of RUNS runs;
#   (b) benches/openssl-procedure.sh and `hapki init` run alternately in PAIRS pairs (who goes
#       first alternates too, so drift in the machine's load hits both): median ratio;
#   (c) the key-generation floor and `hapki init` run alternately in FLOOR_PAIRS pairs (at
#       least 5): the floor is the wall time of generating exactly the keys a fresh init of the
#       default profile generates, on every core with init's own scheduler, and nothing else
#       (benches/keygen_floor.rs); init / floor as the ratio of the sums, with its standard error;
#   (d) `hapki jwt mint --count TOKENS` in one call against `openssl speed -multi <cores> rsa2048`;
#   (e) `hapki verify` on the default tree and on a tree of LEAVES client leaves (ECDSA);
#   (f) `hapki init` on profiles/canton-ha-ecdsa.toml, alternately into the bench folder and
#       into a tmpfs (/dev/shm), where flushing costs nothing: the share of flushing in init.
#       With BEFORE_BIN=/path/to/an/older/hapki the older binary runs in the same loop too.
# and prints a Markdown report on stdout (progress goes to stderr).
#
# Usage: scripts/bench.sh                   # the full run, about 4 to 5 minutes on 2 cores
#        RUNS=3 PAIRS=3 scripts/bench.sh    # shorter (RUNS, PAIRS, FLOOR_PAIRS, TOKENS, LEAVES,
#                                           # ECDSA_RUNS)
#        SUBS=0 scripts/bench.sh            # the main report only, not the benches/*.sh after it
#        BENCH_DIR=/path scripts/bench.sh   # where the trees go (default: a temp dir, removed);
#                                           # fsync costs depend on that filesystem
#
# Needs: bash >= 5 (for $EPOCHREALTIME), cargo, OpenSSL 3 and xxd (for the baseline), awk.
# No hyperfine: the timings are plain loops, because (b) must interleave two commands pair by
# pair, which hyperfine does not do. Timing numbers from a busy machine are noise: the script
# warns when the load average is above 0.7 before it starts, reports next to the numbers how
# much CPU other processes took during each step, and warns when that is above 10 %; wait for
# a quiet machine and rerun then.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
PAIRS=${PAIRS:-5}
FLOOR_PAIRS=${FLOOR_PAIRS:-10}
TOKENS=${TOKENS:-10000}
LEAVES=${LEAVES:-1000}
ECDSA_RUNS=${ECDSA_RUNS:-$((RUNS * 2))}

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
say() { printf 'bench: %s\n' "$*" >&2; }

((BASH_VERSINFO[0] >= 5)) || die "needs bash 5 or later (for \$EPOCHREALTIME)"
((FLOOR_PAIRS >= 5)) || die "FLOOR_PAIRS must be at least 5: init / floor is a ratio of sums over at least 5 alternated runs"
[ -z "${BEFORE_BIN:-}" ] || [ -x "$BEFORE_BIN" ] || die "BEFORE_BIN=$BEFORE_BIN is not an executable"
for c in cargo openssl xxd awk; do
    command -v "$c" >/dev/null || die "$c not found (openssl and xxd: apt-get install -y openssl xxd)"
done

cores=$(nproc)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
# Noise: the load average counts the bench's own work too, so each step also measures how much
# CPU the machine's *other* processes took while it ran: all busy time in /proc/stat minus the
# CPU of this script's children (cutime + cstime of /proc/$$/stat), as a share of every core.
hz=$(getconf CLK_TCK)
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
ours() { sed 's/^.*) //' "/proc/$$/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }
load0=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load0" 'BEGIN { exit !(l > 0.7) }'; then
    say "load average $load0 is above 0.7: other work will make the numbers noisy"
fi
step_name= step_busy= step_ours= step_t0=
others=()
step() {
    step_end
    step_name=$1 step_busy=$(busy) step_ours=$(ours) step_t0=$EPOCHREALTIME
    say "$1"
}
step_end() {
    [ -n "$step_name" ] || return 0
    local pct
    pct=$(awk -v b="$(busy)" -v b0="$step_busy" -v o="$(ours)" -v o0="$step_ours" \
        -v t="$EPOCHREALTIME" -v t0="$step_t0" -v n="$cores" -v hz="$hz" \
        'BEGIN { f = ((b - b0) - (o - o0)) / ((t - t0) * n * hz); printf "%.0f", 100 * (f < 0 ? 0 : f) }')
    others+=("${step_name%% *} $pct %")
    if ((pct > 10)); then
        say "other processes took $pct % of the CPU during ${step_name%% *}: its numbers are noisy"
    fi
    step_name=
}

# ---- build -------------------------------------------------------------------------------
say "building (cargo build --release, cargo bench --no-run)"
cargo build --release --quiet
hapki=${CARGO_TARGET_DIR:-$PWD/target}/release/hapki
floor_bin=$(cargo bench --bench keygen_floor --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*keygen_floor-[0-9a-f]*\)).*/\1/p' | tail -1)
[ -x "$floor_bin" ] || die "could not find the keygen_floor bench binary"
ecdsa_profile=$PWD/profiles/canton-ha-ecdsa.toml
procedure=$PWD/benches/openssl-procedure.sh

if [ -n "${BENCH_DIR:-}" ]; then
    mkdir -p "$BENCH_DIR"
    work=$(mktemp -d "$BENCH_DIR/hapki-bench.XXXXXX")
else
    work=$(mktemp -d)
fi
# A tmpfs for (f): flushing there is free, so the difference is what flushing costs.
shm=
if [ "$(df -T /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }')" = tmpfs ]; then
    shm=$(mktemp -d /dev/shm/hapki-bench.XXXXXX)
fi
trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT

# ---- timing helpers ----------------------------------------------------------------------
# timed CMD...: runs CMD with its output discarded; sets WALL (s), CPU (user+sys s) and RC.
# Fails the bench when CMD exits with a code not in ALLOW (default 0).
WALL= CPU= RC=
timed() {
    local out u s
    RC=0
    out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>"$work/stderr"; } 2>&1 ) || RC=$?
    if [[ " ${ALLOW:-0} " != *" $RC "* ]]; then
        cat "$work/stderr" >&2
        die "failed (exit $RC): $*"
    fi
    read -r WALL u s <<<"${out##*$'\n'}"
    CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
int() { awk "BEGIN { printf \"%.0f\", $1 }"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }'; }
# A new output dir per run, all removed at the end: deleting a tree just before the next run
# makes ext4 (without a journal, as on the machine of docs/performance.md) scan the inode table
# for recently deleted inodes on every create, which would charge the previous run to this one.
n_dirs=0
DIR=
fresh() { n_dirs=$((n_dirs + 1)); DIR=$work/$1.$n_dirs; }

# ---- (a) hapki init, default profile -----------------------------------------------------
step "(a) hapki init on the default profile, $RUNS runs"
init_wall=() init_par=()
for ((i = 1; i <= RUNS; i++)); do
    fresh init
    tree=$DIR
    timed "$hapki" init --out "$tree"
    init_wall+=("$WALL")
    init_par+=("$(calc "$CPU / $WALL")")
done
init_med=$(median "${init_wall[@]}")
init_par_med=$(median "${init_par[@]}")

# ---- (b) alternated pairs with the openssl procedure ------------------------------------
step "(b) openssl procedure and hapki init alternately, $PAIRS pairs"
pair_ratio=() pair_ossl=() pair_hapki=()
for ((i = 1; i <= PAIRS; i++)); do
    if ((i % 2)); then order="ossl hapki"; else order="hapki ossl"; fi
    for who in $order; do
        if [ "$who" = ossl ]; then
            fresh ossl
            timed "$procedure" "$DIR"
            o=$WALL
        else
            fresh pair
            timed "$hapki" init --out "$DIR"
            h=$WALL
        fi
    done
    pair_ossl+=("$o") pair_hapki+=("$h")
    pair_ratio+=("$(calc "$h / $o")")
    say "    pair $i: openssl $o s, hapki $h s"
done
ratio_med=$(median "${pair_ratio[@]}")

# ---- (c) key-generation floor, alternated with init ----------------------------------
step "(c) key-generation floor and hapki init alternately, $FLOOR_PAIRS pairs"
floor_w=() finit_w=() floor_keys=
for ((i = 1; i <= FLOOR_PAIRS; i++)); do
    if ((i % 2)); then order="floor init"; else order="init floor"; fi
    for who in $order; do
        if [ "$who" = floor ]; then
            # Both on the built-in default profile: the floor reads it as init does.
            line=$("$floor_bin" --run 2>"$work/stderr") || { cat "$work/stderr" >&2; die "keygen_floor failed"; }
            read -r _ k w a b c o <<<"$line"
            floor_w+=("${w#wall_s=}")
            floor_keys="${k#keys=} keys: ${a#rsa4096=} RSA-4096, ${b#rsa3072=} RSA-3072, ${c#rsa2048=} RSA-2048, ${o#other=} EC"
        else
            fresh floorinit
            timed "$hapki" init --out "$DIR"
            finit_w+=("$WALL")
        fi
    done
    say "    pair $i: floor ${floor_w[-1]} s, init ${finit_w[-1]} s"
done
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.3f", s }'; }
floor_sum=$(sum "${floor_w[@]}")
finit_sum=$(sum "${finit_w[@]}")
over_floor=$(calc "$finit_sum / $floor_sum")
# The standard error of a ratio of sums over n pairs (the ratio estimator's, by the delta
# method): sqrt(sum((I - R F)^2) / (n (n - 1))) / mean(F). RSA key generation is a random search
# for primes, so each run draws its own cost; this says how far the ratio may move by that alone.
over_se=$(paste <(printf '%s\n' "${finit_w[@]}") <(printf '%s\n' "${floor_w[@]}") |
    awk -v r="$over_floor" '{ d = $1 - r * $2; s += d * d; f += $2; n++ }
        END { printf "%.3f", sqrt(s / (n * (n - 1))) / (f / n) }')
floor_med=$(median "${floor_w[@]}")

# ---- (d) token minting -------------------------------------------------------------------
step "(d) hapki jwt mint --count $TOKENS, 3 runs; openssl speed -seconds 3 -multi $cores rsa2048"
# $tree: the last tree of (a)
mint_wall=()
for ((i = 1; i <= 3; i++)); do
    timed "$hapki" jwt mint --user alice --count "$TOKENS" --out "$tree"
    mint_wall+=("$WALL")
done
mint_med=$(median "${mint_wall[@]}")
mint_rate=$(calc "$TOKENS / $mint_med")
# The sign/s column by its header (OpenSSL 3.2 added encrypt/decrypt columns before it); the
# data line has three more leading fields ("rsa 2048 bits") than the header line.
ossl_rate=$(openssl speed -seconds 3 -multi "$cores" rsa2048 2>/dev/null |
    awk '/sign\/s/ { for (i = 1; i <= NF; i++) if ($i == "sign/s") col = i + 3 }
         /^rsa +2048 +bits/ && col { print $col }')
[ -n "$ossl_rate" ] || die "could not read sign/s from openssl speed"
mint_share=$(calc "100 * $mint_rate / $ossl_rate")

# ---- (e) verify --------------------------------------------------------------------------
step "(e) hapki verify on the default tree and on $LEAVES leaves"
big_profile=$work/leaves.toml
{
    printf '# %s client leaves under one ECDSA P-256 CA, for scripts/bench.sh.\n' "$LEAVES"
    printf '[defaults]\nca_key = "ecdsa-p256"\nleaf_key = "ecdsa-p256"\njwt_key = "ecdsa-p256"\n\n'
    printf '[[org]]\nname = "load"\ndns = "load.example.com"\norganization = "Load Test LLC"\n'
    printf 'clients = [%s]\n' "$(seq -f '"leaf%04g"' 1 "$LEAVES" | paste -sd, -)"
} >"$big_profile"
fresh big
big=$DIR
timed "$hapki" init --profile "$big_profile" --out "$big"
big_init=$WALL
verify_small=n/a verify_big=n/a verify_rc=
# Exit 0: all good; 1: a problem found (still a full run, so still timed); 2: could not run
# (or, on a branch without it, hapki verify is not built yet).
if "$hapki" verify "$tree" >/dev/null 2>&1 || [ $? -eq 1 ]; then
    v=() w=()
    for ((i = 1; i <= RUNS; i++)); do
        ALLOW="0 1" timed "$hapki" verify "$tree"
        v+=("$WALL")
    done
    verify_rc="default tree exit $RC"
    for ((i = 1; i <= RUNS; i++)); do
        ALLOW="0 1" timed "$hapki" verify "$big" --profile "$big_profile"
        w+=("$WALL")
    done
    verify_rc="$verify_rc, $LEAVES-leaf tree exit $RC"
    verify_small=$(median "${v[@]}")
    verify_big=$(median "${w[@]}")
else
    say "    hapki verify does not run on this build: $("$hapki" verify "$tree" 2>&1 | head -1)"
fi

# ---- (f) ECDSA profile init, here and on a tmpfs ------------------------------------
step "(f) hapki init on the ECDSA profile, $ECDSA_RUNS runs${shm:+ alternately here and on a tmpfs}${BEFORE_BIN:+, also $BEFORE_BIN}"
e=() es=() b=() bs=()
for ((i = 1; i <= ECDSA_RUNS; i++)); do
    fresh ecdsa
    timed "$hapki" init --profile "$ecdsa_profile" --out "$DIR"
    e+=("$WALL")
    if [ -n "$shm" ]; then
        timed "$hapki" init --profile "$ecdsa_profile" --out "$shm/ecdsa.$i"
        es+=("$WALL")
    fi
    if [ -n "${BEFORE_BIN:-}" ]; then
        fresh before
        timed "$BEFORE_BIN" init --profile "$ecdsa_profile" --out "$DIR"
        b+=("$WALL")
        if [ -n "$shm" ]; then
            timed "$BEFORE_BIN" init --profile "$ecdsa_profile" --out "$shm/before.$i"
            bs+=("$WALL")
        fi
    fi
done
ecdsa_med=$(median "${e[@]}")
flush_row() { # NAME MEDIAN-HERE TMPFS-RUNS...
    local name=$1 here=$2
    shift 2
    [ $# -gt 0 ] || return 0
    local m
    m=$(median "$@")
    printf '| (f) %s: tmpfs median %s, so flushing is %s of it | %s | | |\n' "$name" "$(ms "$m")" \
        "$(awk -v a="$here" -v b="$m" 'BEGIN { printf "%.0f %%", 100 * (a - b) / a }')" "$(ms "$(calc "$here - $m")")"
}
step_end

# ---- report ------------------------------------------------------------------------------
ok() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "**not met**"; fi; }
show() { [ "$1" = n/a ] && echo "n/a (hapki verify not built)" || ms "$1"; }
cat <<EOF
## Run of $(date -u +%Y-%m-%dT%H:%MZ) ($(git describe --always --dirty 2>/dev/null || echo '?'))

Machine: $cores cores ($(nproc --all) online), $cpu; load average $load0 (1 min) before the run.
CPU taken by other processes during each step, as a share of all cores: $(IFS=,; echo "${others[*]}" | sed 's/,/, /g').
Output filesystem: $(df -T "$work" | awk 'NR == 2 { print $2 }').

| measurement | result | target | |
| --- | --- | --- | --- |
| (a) \`hapki init\`, default profile, median of $RUNS | $(ms "$init_med") (CPU/wall $init_par_med) | | |
| (b) hapki / openssl procedure, median of $PAIRS alternated pairs | $ratio_med (openssl median $(median "${pair_ossl[@]}") s, hapki $(median "${pair_hapki[@]}") s) | ≤ 0.12 | $(ok "$ratio_med <= 0.12") |
| (c) keygen floor ($floor_keys, on $cores cores), median of $FLOOR_PAIRS | $(ms "$floor_med") (init in the same pairs: median $(ms "$(median "${finit_w[@]}")")) | | |
| (c) init / floor, ratio of the sums of $FLOOR_PAIRS alternated pairs | $over_floor (± $over_se standard error; sums $finit_sum s / $floor_sum s) | ≤ 1.05 | $(ok "$over_floor <= 1.05") |
| (b, c) floor / openssl procedure: the best (b) any init on these keys can reach | $(calc "$floor_med / $(median "${pair_ossl[@]}")") | | |
| (d) \`jwt mint --count $TOKENS\`, median of 3 | $(ms "$mint_med") = $(int "$mint_rate") tokens/s | | |
| (d) openssl speed -multi $cores rsa2048 | $ossl_rate sign/s | | |
| (d) hapki tokens/s ÷ openssl sign/s | $(awk -v x="$mint_share" 'BEGIN { printf "%.1f", x }') % | ≥ 85 % | $(ok "$mint_share >= 85") |
| (e) \`hapki verify\`, default tree, median of $RUNS | $(show "$verify_small") | < 50 ms | $([ "$verify_small" = n/a ] && echo - || ok "$verify_small < 0.05") |
| (e) \`hapki verify\`, $LEAVES leaves, median of $RUNS | $(show "$verify_big") | < 1 s | $([ "$verify_big" = n/a ] && echo - || ok "$verify_big < 1") |
| (e) \`hapki init\` of those $LEAVES ECDSA leaves (one run) | $(ms "$big_init") | | |
| (f) \`hapki init\`, ECDSA profile, median of $ECDSA_RUNS | $(ms "$ecdsa_med") | < 100 ms | $(ok "$ecdsa_med < 0.1") |
$(flush_row "this build" "$ecdsa_med" "${es[@]}")
$([ -z "${BEFORE_BIN:-}" ] || printf '| (f) BEFORE_BIN, ECDSA profile, median of %s | %s | | |' "$ECDSA_RUNS" "$(ms "$(median "${b[@]}")")")
$([ -z "${BEFORE_BIN:-}" ] || flush_row "BEFORE_BIN" "$(median "${b[@]}")" "${bs[@]}")

Runs (s): init ${init_wall[*]}; openssl ${pair_ossl[*]}; paired hapki ${pair_hapki[*]};
floor ${floor_w[*]}; init beside the floor ${finit_w[*]}; mint ${mint_wall[*]};
ECDSA init ${e[*]}${shm:+; on tmpfs ${es[*]}}${BEFORE_BIN:+; BEFORE_BIN ${b[*]}${shm:+, on tmpfs ${bs[*]}}}.
${verify_rc:+verify: $verify_rc (0: all good, 1: a problem reported).}
EOF

# ---- other benchmarks ------------------------------------------------------------------
# Each benches/NAME.sh prints a Markdown section of its own; one line each below runs it, as
# `sub NAME ...`: a sub-bench that fails is named with its exit code on stderr, the ones after
# it still run, and the bench exits 1 at the end naming every one that failed.
failed_subs=()
[[ ${SUBS:-1} != 0 ]] || { say "SUBS=0: the other benchmarks are skipped"; exit 0; }
# A sub-bench named with the PROFILE it was given, so that the two serve runs are told apart.
sub() {
    local what="${PROFILE:+PROFILE=$PROFILE }$1"
    "$@" || { local rc=$?; say "$what failed (exit $rc)"; failed_subs+=("$what (exit $rc)"); }
}
# hapki serve against NGINX and openssl ocsp (benches/serve.sh; its own usage header).
HAPKI=$hapki sub benches/serve.sh
# The same on the default profile: its OCSP responders sign with RSA-2048.
PROFILE=builtin HAPKI=$hapki sub benches/serve.sh
# The token endpoint against the signing rate (docs/performance.md, "The token endpoint").
HAPKI=$hapki sub benches/token.sh
# init with CA keys in SoftHSM2 against key files (benches/hsm.sh; it says so when SoftHSM2 is
# not installed).
sub benches/hsm.sh "$hapki"
# Revocation and the CA index at 100,000 certs (docs/performance.md, "Revocation and the CA index").
HAPKI=$hapki sub benches/lifecycle.sh
# Last line: the verdict on the sub-benches (add new ones above it).
((${#failed_subs[@]} == 0)) || { say "sub-benches failed: ${failed_subs[*]}"; exit 1; }
