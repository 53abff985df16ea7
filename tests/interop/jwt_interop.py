#!/usr/bin/env python3
"""Checks hapki's JWKS and tokens (RS256 or ES256) with PyJWT and jwcrypto.

Run by the JWT tests of tests/it/ (tests/it/support/interop.rs; they make the tokens with the
real hapki binary):

    jwt_interop.py --jwks NS/jwt/jwks.json --cert NS/signing/jwt-sign.D.cert.pem \
        --issuer local-jwt-provider --now 1795694410 \
        --accept alice.token participant1 --refuse bad.token participant1

--accept TOKEN AUD        both libraries must accept TOKEN for audience AUD ("-": the token has
                          no aud)
--refuse TOKEN AUD        both libraries must refuse it
--accept-lines FILE AUD   both libraries must accept every token of FILE, one per line
--now UNIX                the clock both libraries check exp, nbf and iat against (default:
                          the real one), so tokens minted at a pinned time are judged at it
--libs NAME,...           judge with these libraries only (PyJWT, jwcrypto; default both)

The JWKS is also checked on its own: kid = jwcrypto's RFC 7638 thumbprint, x5t / x5t#S256 =
base64url of the SHA-1 / SHA-256 digest of x5c[0]'s DER (computed here with hashlib), x5c[0]
is the signing cert and holds the JWK's public key, and each x5c cert is signed by the next.
Prints one line per check; exits 1 when any check fails.
"""

import argparse
import base64
import hashlib
import json
import sys
import types
from datetime import datetime, timezone

import jwt  # PyJWT
import jwt.api_jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto import jwk as jc_jwk
from jwcrypto import jwt as jc_jwt

failures = []


def pin_clock(now):
    """Both libraries read the clock at decode time: PyJWT with datetime.now in jwt.api_jwt,
    jwcrypto with time.time in jwcrypto.jwt. Pins both to the Unix time `now`."""
    pinned = datetime.fromtimestamp(now, tz=timezone.utc)

    class PinnedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return pinned if tz is not None else pinned.replace(tzinfo=None)

    jwt.api_jwt.datetime = PinnedDatetime
    jc_jwt.time = types.SimpleNamespace(time=lambda: float(now))


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception as err:  # noqa: BLE001 - any failure is the finding
        print(f"      {err!r}")
        return False


def check_jwks(text, cert_pem):
    raw = json.loads(text)
    keys = raw["keys"]
    check(len(keys) == 1, f"the JWKS holds one key (it holds {len(keys)})")
    pyjwt_set = jwt.PyJWKSet.from_json(text)
    jc_set = jc_jwk.JWKSet.from_json(text)
    signing = x509.load_pem_x509_certificate(cert_pem)
    for k in keys:
        kid = k["kid"]
        thumb = jc_jwk.JWK(**k).thumbprint()
        check(kid == thumb, f"kid {kid} is jwcrypto's RFC 7638 thumbprint {thumb}")
        check(pyjwt_set[kid].key_id == kid, f"PyJWT finds key {kid}")
        check(jc_set.get_key(kid) is not None, f"jwcrypto finds key {kid}")
        want_alg = {"RSA": "RS256", "EC": "ES256"}.get(k["kty"])
        check(k.get("use") == "sig", f"use is sig ({k.get('use')})")
        check(k.get("alg") == want_alg, f"alg of a {k['kty']} key is {want_alg} ({k.get('alg')})")

        x5c = [base64.b64decode(c, validate=True) for c in k["x5c"]]
        check(len(x5c) == 3, f"x5c holds signing cert, intermediate and root ({len(x5c)})")
        sha1 = b64url(hashlib.sha1(x5c[0]).digest())
        sha256 = b64url(hashlib.sha256(x5c[0]).digest())
        check(k["x5t"] == sha1, f"x5t {k['x5t']} is base64url(SHA-1(x5c[0])) {sha1}")
        check(
            k["x5t#S256"] == sha256,
            f"x5t#S256 {k['x5t#S256']} is base64url(SHA-256(x5c[0])) {sha256}",
        )
        check(x5c[0] == signing.public_bytes(Encoding.DER), "x5c[0] is the signing cert")

        certs = [x509.load_der_x509_certificate(d) for d in x5c]
        numbers = certs[0].public_key().public_numbers()
        if k["kty"] == "RSA":
            n, e = unb64url(k["n"]), unb64url(k["e"])
            check(n[0] != 0 and e[0] != 0, "n and e have no leading zero octet")
            check(
                int.from_bytes(n, "big") == numbers.n and int.from_bytes(e, "big") == numbers.e,
                "n and e are the public key of x5c[0]",
            )
        else:
            x, y = unb64url(k["x"]), unb64url(k["y"])
            check(len(x) == len(y) == 32 and k["crv"] == "P-256", "x and y are 32 octets of P-256")
            check(
                int.from_bytes(x, "big") == numbers.x and int.from_bytes(y, "big") == numbers.y,
                "x and y are the public key of x5c[0]",
            )
        for i in range(len(certs) - 1):
            check(
                issued_by(certs[i], certs[i + 1]),
                f"x5c[{i}] is issued and signed by x5c[{i + 1}]",
            )
        check(issued_by(certs[-1], certs[-1]), "the last x5c cert is a self-signed root")
    return pyjwt_set, jc_set


def pyjwt_decode(token, pyjwt_set, aud, issuer, alg):
    kid = jwt.get_unverified_header(token)["kid"]
    options = {"require": ["exp", "iat", "iss"]}
    kwargs = {"algorithms": [alg], "issuer": issuer, "options": options}
    if aud is not None:
        kwargs["audience"] = aud
    return jwt.decode(token, pyjwt_set[kid], **kwargs)


def jwcrypto_decode(token, jc_set, aud, issuer, alg):
    claims = {"exp": None, "iat": None, "iss": issuer}
    if aud is not None:
        claims["aud"] = aud
    t = jc_jwt.JWT(jwt=token, key=jc_set, algs=[alg], check_claims=claims)
    return json.loads(t.claims)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jwks", required=True)
    ap.add_argument("--cert", required=True, help="the signing cert (PEM)")
    ap.add_argument("--issuer", default="local-jwt-provider")
    ap.add_argument("--accept", nargs=2, action="append", default=[], metavar=("TOKEN", "AUD"))
    ap.add_argument("--refuse", nargs=2, action="append", default=[], metavar=("TOKEN", "AUD"))
    ap.add_argument(
        "--accept-lines", nargs=2, action="append", default=[], metavar=("FILE", "AUD")
    )
    ap.add_argument("--now", type=int, help="Unix time to judge the tokens at")
    ap.add_argument("--libs", default="PyJWT,jwcrypto")
    a = ap.parse_args()
    libs = a.libs.split(",")
    unknown = set(libs) - {"PyJWT", "jwcrypto"}
    if unknown:
        ap.error(f"unknown libraries {sorted(unknown)}")
    if a.now is not None:
        pin_clock(a.now)
        print(f"clock pinned at {a.now}")

    with open(a.jwks) as f:
        text = f.read()
    with open(a.cert, "rb") as f:
        cert_pem = f.read()
    print(f"PyJWT {jwt.__version__}")
    pyjwt_set, jc_set = check_jwks(text, cert_pem)
    # The one algorithm a token may use is the JWKS key's, never the token header's.
    alg = json.loads(text)["keys"][0]["alg"]

    cases = [(path, aud, True) for path, aud in a.accept]
    cases += [(path, aud, False) for path, aud in a.refuse]
    for path, aud in a.accept_lines:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
        cases += [((path, i + 1, t), aud, True) for i, t in enumerate(lines)]
    for path, aud, want in cases:
        aud = None if aud == "-" else aud
        if isinstance(path, tuple):
            path, line, token = path
            path = f"{path}:{line}"
        else:
            with open(path) as f:
                token = f.read().strip()
        for lib, decode, key_set in (
            ("PyJWT", pyjwt_decode, pyjwt_set),
            ("jwcrypto", jwcrypto_decode, jc_set),
        ):
            if lib not in libs:
                continue
            try:
                claims = decode(token, key_set, aud, a.issuer, alg)
                daml = claims.get("https://daml.com/ledger-api", {})
                who = claims.get("sub") or daml.get("applicationId")
                got, why = True, f"for {who}"
            except Exception as err:  # noqa: BLE001 - the refusal is the finding
                got, why = False, f"{type(err).__name__}: {err}"
            verb = "accepts" if want else "refuses"
            check(got == want, f"{lib} {verb} {path} (aud {aud}): {why}")

    print(f"{len(failures)} failed" if failures else "all interop checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
