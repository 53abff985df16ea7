#!/usr/bin/env bash
# openssl-procedure.sh OUT_DIR
#
# The BASELINE hapki's speed is compared against (issue 6): the work the legacy
# shell procedure (make-certs.sh + make-jwt.sh + make-jwks.py) does for the default
# Canton HA topology (profiles/canton-ha.toml, SPEC.md), redone with the openssl CLI,
# one process per step, sequentially, the way that procedure runs. It is not a
# reference implementation: it only has to do equivalent work per step, honestly
# (real keys, real signatures, real base64url). It needs bash (3.2 is enough),
# coreutils, OpenSSL 3 and xxd; no python, no jq.
#
# What it makes, exactly:
#   RSA-4096 keys:  6  = 3 orgs x (root CA + intermediate CA)
#   RSA-2048 keys: 27  = 25 TLS leaves + 2 JWT signing keys
#     domain (acme.com)            servers: domain-manager sequencer mediator db
#                                           sequencer2 mediator2 (HA replicas)      6
#                                  clients: admin-api sequencer mediator domain
#                                           remote-admin                            5
#     participant1 (customer1.com) servers: participant1 auth db json
#                                           participant1b (HA replica)             5
#                                  clients: admin-api participant1                 2
#                                  proxy-backend: lb-participant1                  1
#     participant2 (customer2.com) servers: participant2 auth db json              4
#                                  clients: admin-api participant2                 2
#                                                                   TLS leaves    25
#     JWT signing keys: participant1, participant2                                 2
#   => 33 files named *.key.pem (6 + 25 + 2), 9 client *.key.der (PKCS#8 DER).
#   (The issue's list said 23 TLS leaves; SPEC.md's canton-ha table also gives
#   participant2 the clients admin-api and participant2, so they are made here: 25.)
#   Per CA: key, cert (root self-signed; intermediate via CSR signed by the root),
#   trust bundle, root copy, openssl verify of the intermediate.
#   Per leaf: key, CSR, cert signed by the org intermediate with a temp extfile,
#   chain file (servers, proxy-backend) or DER cert + PKCS#8 DER key (clients),
#   and `openssl verify -x509_strict -CAfile root -untrusted intermediate`.
#   Per participant: JWT signing key + cert + public key, a JWKS (n, e, kid =
#   RFC 7638 thumbprint, x5c, x5t, x5t#S256) and tokens, each signed with
#   `openssl dgst -sha256 -sign`: participant1 participant_admin alice navigator,
#   participant2 participant_admin bob bank george (7 tokens).
#
# Paths follow SPEC.md "Files on disk". Quiet on success; on failure it prints the
# failing command's stderr and exits non-zero. Refuses an OUT_DIR that exists and
# is not empty.

set -euo pipefail
umask 077   # keys 0600 in 0700 folders without a chmod per file

die() { printf 'openssl-procedure: %s\n' "$*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: $0 OUT_DIR (created; must not exist or be empty)"
out=$1
if [ -e "$out" ]; then
    [ -d "$out" ] || die "$out exists and is not a directory"
    [ -z "$(ls -A "$out")" ] || die "$out exists and is not empty; give a new or empty directory"
fi
command -v openssl >/dev/null || die "openssl not found"
command -v xxd >/dev/null || die "xxd not found"
case "$(openssl version)" in
    "OpenSSL 3"*) ;;
    *) die "needs OpenSSL 3 (random serials from 'x509 -req'); found: $(openssl version)" ;;
esac
mkdir -p "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
err=$tmp/stderr

# run CMD...: one process, its chatter thrown away unless it fails.
run() {
    if ! "$@" >/dev/null 2>"$err"; then
        cat "$err" >&2
        printf 'openssl-procedure: failed: %s\n' "$*" >&2
        exit 1
    fi
}

# stdin bytes -> base64url without padding
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# A minimal req config so CSRs and the self-signed roots do not depend on the
# system openssl.cnf; the subject always comes from -subj.
req_cnf=$tmp/req.cnf
printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=unused\n' >"$req_cnf"
root_cnf=$tmp/root.cnf
printf '%s\n' '[req]' 'distinguished_name=dn' 'prompt=no' 'x509_extensions=v3_root' \
    '[dn]' 'CN=unused' '[v3_root]' \
    'basicConstraints=critical,CA:true' \
    'keyUsage=critical,keyCertSign,cRLSign' \
    'subjectKeyIdentifier=hash' >"$root_cnf"
int_ext=$tmp/intermediate.ext
printf '%s\n' 'basicConstraints=critical,CA:true,pathlen:0' \
    'keyUsage=critical,keyCertSign,cRLSign' \
    'subjectKeyIdentifier=hash' \
    'authorityKeyIdentifier=keyid:always' >"$int_ext"

# Current org, set by `org NS D O`.
NS= D= O= dir= root_cert= root_key= int_cert= int_key=
org() {
    NS=$1 D=$2 O=$3
    dir=$out/$NS
    root_cert=$dir/root/certs/ca.cert.pem
    root_key=$dir/root/private/ca.key.pem
    int_cert=$dir/intermediate/certs/intermediate.cert.pem
    int_key=$dir/intermediate/private/intermediate.key.pem
}

subj() { printf '/C=US/ST=New York/O=%s/CN=%s' "$O" "$1"; }

# Root CA + intermediate CA of the current org.
make_cas() {
    mkdir -p "$dir/root/certs" "$dir/root/private" \
        "$dir/intermediate/certs" "$dir/intermediate/private" "$dir/intermediate/csr"
    local csr=$dir/intermediate/csr/intermediate.csr.pem
    run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$root_key"
    run openssl req -new -x509 -config "$root_cnf" -key "$root_key" -sha256 -days 7300 \
        -subj "$(subj "$NS-root-ca.$D")" -out "$root_cert"
    run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$int_key"
    run openssl req -new -config "$req_cnf" -key "$int_key" -sha256 \
        -subj "$(subj "intermediate-ca.$D")" -out "$csr"
    run openssl x509 -req -in "$csr" -CA "$root_cert" -CAkey "$root_key" -sha256 -days 3650 \
        -extfile "$int_ext" -out "$int_cert"
    cat "$int_cert" "$root_cert" >"$dir/intermediate/certs/ca-chain.cert.pem"
    cp "$root_cert" "$dir/intermediate/certs/root-ca.cert.pem"
    run openssl verify -x509_strict -CAfile "$root_cert" "$int_cert"
}

# issue KIND NAME [EXTRA_SAN...]: one leaf of the current org, signed by its intermediate.
# KIND is server | client | proxy-backend | jwt. EXTRA_SAN are host names (DNS:H.D added).
issue() {
    local kind=$1 name=$2; shift 2
    local fqdn=$name.$D key csr cert chain= purpose= ext=$tmp/leaf.ext san h
    case $kind in
        server | proxy-backend)
            mkdir -p "$dir/$name/certs" "$dir/$name/private" "$dir/$name/csr"
            key=$dir/$name/private/$fqdn.key.pem
            csr=$dir/$name/csr/$fqdn.csr.pem
            cert=$dir/$name/certs/$fqdn.cert.pem
            chain=$dir/$name/certs/$name-chain.$D.cert.pem ;;
        client)
            mkdir -p "$dir/client"
            key=$dir/client/$fqdn.key.pem
            csr=$dir/client/$fqdn.csr.pem
            cert=$dir/client/$fqdn.cert.pem ;;
        jwt)
            mkdir -p "$dir/signing"
            fqdn=jwt-sign.$D
            key=$dir/signing/$fqdn.key.pem
            csr=$tmp/$fqdn.csr.pem
            cert=$dir/signing/$fqdn.cert.pem ;;
    esac
    case $kind in
        server)
            san="DNS:$fqdn"
            for h in "$@"; do san="$san,DNS:$h.$D"; done
            san="$san,DNS:localhost,IP:127.0.0.1,IP:::1"
            purpose=sslserver
            printf '%s\n' 'basicConstraints=CA:FALSE' \
                'keyUsage=critical,digitalSignature,keyEncipherment' \
                'extendedKeyUsage=serverAuth' "subjectAltName=$san" \
                'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' >"$ext" ;;
        client | proxy-backend)
            purpose=sslclient
            printf '%s\n' 'basicConstraints=CA:FALSE' \
                'keyUsage=critical,digitalSignature,keyEncipherment' \
                'extendedKeyUsage=clientAuth' "subjectAltName=DNS:$fqdn" \
                'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' >"$ext" ;;
        jwt)
            printf '%s\n' 'basicConstraints=CA:FALSE' \
                'keyUsage=critical,digitalSignature' \
                'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' >"$ext" ;;
    esac
    run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key"
    run openssl req -new -config "$req_cnf" -key "$key" -sha256 -subj "$(subj "$fqdn")" -out "$csr"
    run openssl x509 -req -in "$csr" -CA "$int_cert" -CAkey "$int_key" -sha256 -days 365 \
        -extfile "$ext" -out "$cert"
    case $kind in
        server | proxy-backend)
            cat "$cert" "$int_cert" "$root_cert" >"$chain" ;;
        client)
            run openssl x509 -in "$cert" -outform DER -out "$dir/client/$fqdn.cert.der"
            run openssl pkcs8 -topk8 -nocrypt -in "$key" -outform DER -out "$dir/client/$fqdn.key.der" ;;
        jwt)
            run openssl pkey -in "$key" -pubout -out "$dir/signing/$fqdn.pub.pem" ;;
    esac
    if [ -n "$purpose" ]; then
        run openssl verify -x509_strict -purpose "$purpose" -CAfile "$root_cert" -untrusted "$int_cert" "$cert"
    else
        run openssl verify -x509_strict -CAfile "$root_cert" -untrusted "$int_cert" "$cert"
    fi
}

# JWKS of the current org's JWT signing key; sets KID.
KID=
make_jwks() {
    local pub=$dir/signing/jwt-sign.$D.pub.pem cert=$dir/signing/jwt-sign.$D.cert.pem
    local modulus text e_dec e_hex n e x5c_leaf x5c_int x5c_root x5t x5t256
    mkdir -p "$dir/jwt"
    modulus=$(openssl rsa -pubin -in "$pub" -noout -modulus)
    n=$(printf '%s' "${modulus#Modulus=}" | xxd -r -p | b64url)
    text=$(openssl pkey -pubin -in "$pub" -noout -text)
    [[ $text =~ Exponent:\ ([0-9]+) ]] || die "no RSA exponent in $pub"
    e_dec=${BASH_REMATCH[1]}
    e_hex=$(printf '%x' "$e_dec")
    [ $((${#e_hex} % 2)) -eq 0 ] || e_hex=0$e_hex
    e=$(printf '%s' "$e_hex" | xxd -r -p | b64url)
    # RFC 7638: required members, lexicographic order, no whitespace.
    KID=$(printf '{"e":"%s","kty":"RSA","n":"%s"}' "$e" "$n" | openssl dgst -sha256 -binary | b64url)
    x5c_leaf=$(openssl x509 -in "$cert" -outform DER | openssl base64 -A)
    x5c_int=$(openssl x509 -in "$int_cert" -outform DER | openssl base64 -A)
    x5c_root=$(openssl x509 -in "$root_cert" -outform DER | openssl base64 -A)
    x5t=$(openssl x509 -in "$cert" -outform DER | openssl dgst -sha1 -binary | b64url)
    x5t256=$(openssl x509 -in "$cert" -outform DER | openssl dgst -sha256 -binary | b64url)
    printf '{"keys":[{"kty":"RSA","n":"%s","e":"%s","kid":"%s","alg":"RS256","use":"sig","x5c":["%s","%s","%s"],"x5t":"%s","x5t#S256":"%s"}]}\n' \
        "$n" "$e" "$KID" "$x5c_leaf" "$x5c_int" "$x5c_root" "$x5t" "$x5t256" >"$dir/jwt/jwks.json"
}

# token USER PAYLOAD_JSON: an RS256 JWT signed with the current org's JWT key.
token() {
    local user=$1 payload=$2 h p s
    h=$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$KID" | b64url)
    p=$(printf '%s' "$payload" | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$dir/signing/jwt-sign.$D.key.pem" -binary | b64url)
    printf '%s.%s.%s\n' "$h" "$p" "$s" >"$dir/jwt/$user.token"
}

iss=local-jwt-provider
scope_token() { # USER [AUD]
    local aud=
    [ $# -lt 2 ] || aud=",\"aud\":\"$2\""
    token "$1" "$(printf '{"sub":"%s","scope":"daml_ledger_api"%s,"iat":%d,"exp":%d,"iss":"%s"}' \
        "$1" "$aud" "$iat" "$exp" "$iss")"
}
custom_token() { # USER PARTICIPANT ADMIN
    token "$1" "$(printf '{"https://daml.com/ledger-api":{"ledgerId":"%s","participantId":"%s","applicationId":"%s","admin":%s,"actAs":["%s"],"readAs":["%s"]},"aud":"%s","iat":%d,"exp":%d,"iss":"%s"}' \
        "$2" "$2" "$1" "$3" "$1" "$1" "$2" "$iat" "$exp" "$iss")"
}

# ---- domain ---------------------------------------------------------------
org domain acme.com "ACME Corp LLC"
make_cas
issue server domain-manager
issue server sequencer sequencer2 lb-sequencer
issue server sequencer2 sequencer lb-sequencer
issue server mediator mediator2
issue server mediator2 mediator
issue server db
for c in admin-api sequencer mediator domain remote-admin; do issue client "$c"; done

# ---- participant1 ---------------------------------------------------------
org participant1 customer1.com "Customer1 LLC"
make_cas
issue server participant1 participant1b lb-participant1
issue server participant1b participant1 lb-participant1
issue server auth
issue server db
issue server json
for c in admin-api participant1; do issue client "$c"; done
issue proxy-backend lb-participant1
issue jwt jwt-sign

# ---- participant2 ---------------------------------------------------------
org participant2 customer2.com "Customer2 LLC"
make_cas
issue server participant2
issue server auth
issue server db
issue server json
for c in admin-api participant2; do issue client "$c"; done
issue jwt jwt-sign

# ---- JWKS and tokens ------------------------------------------------------
iat=$(date +%s)
exp=$((iat + 86400))

org participant1 customer1.com "Customer1 LLC"
make_jwks
scope_token participant_admin
scope_token alice participant1
custom_token navigator participant1 true

org participant2 customer2.com "Customer2 LLC"
make_jwks
scope_token participant_admin
scope_token bob participant2
scope_token bank participant2
scope_token george participant2
