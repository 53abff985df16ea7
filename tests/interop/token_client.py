"""The token endpoint of `hapki serve` as OAuth2 clients see it (tests/it/token_endpoint.rs).

Python `requests` asks for tokens the ways client libraries do (client_secret_basic: HTTP Basic;
client_secret_post: a form body; the seed's form and JSON bodies to /auth; an mTLS client cert),
fetches the JWKS from the same server and has PyJWT verify every token against it. Prints one
JSON object: what each request got back and the verified claims.

usage: token_client.py BASE_URL CA_FILE CLIENT SECRET AUD [CERT KEY]
"""

import base64
import hashlib
import json
import ssl
import sys

import jwt
import requests
from requests.auth import HTTPBasicAuth


def verify(session, base, token, aud):
    jwks = session.get(base + "/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    options = {"require": ["exp", "iat", "iss"]}
    if aud == "-":
        return jwt.decode(token, key.key, algorithms=[key.algorithm_name],
                          options={**options, "verify_aud": False})
    return jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=aud,
                      options=options)


def main():
    base, ca, client, secret, aud = sys.argv[1:6]
    cert = sys.argv[6:8]
    s = requests.Session()  # one keep-alive connection for all requests
    # The org root alone, not REQUESTS_CA_BUNDLE or a proxy from the environment.
    s.trust_env = False
    s.verify = ca
    out = {}
    data = {"grant_type": "client_credentials"}

    r = s.post(base + "/oauth/token", data=data, auth=HTTPBasicAuth(client, secret))
    out["basic"] = {"status": r.status_code, "cache": r.headers.get("Cache-Control"),
                    "body": r.json()}
    out["basic"]["claims"] = verify(s, base, r.json()["access_token"], aud)

    r = s.post(base + "/oauth/token",
               data={**data, "client_id": client, "client_secret": secret})
    out["post"] = {"status": r.status_code, "claims": verify(s, base, r.json()["access_token"], aud)}

    seed = {**data, "client_id": client, "client_secret": secret,
            "audience": "https://daml.com/ledger-api"}
    r = s.post(base + "/auth", data=seed,
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    out["seed_form"] = {"status": r.status_code,
                        "claims": verify(s, base, r.json()["access_token"], aud)}
    r = s.post(base + "/auth", data=json.dumps(seed),
               headers={"Content-Type": "application/json"})
    out["seed_json"] = {"status": r.status_code, "body": r.json(),
                        "claims": verify(s, base, r.json()["access_token"], aud)}

    r = s.post(base + "/oauth/token", data=data, auth=HTTPBasicAuth(client, secret + "x"))
    out["wrong"] = {"status": r.status_code, "body": r.json(),
                    "www": r.headers.get("WWW-Authenticate")}

    if cert:
        m = requests.Session()
        m.trust_env = False
        m.verify = ca
        m.cert = (cert[0], cert[1])
        r = m.post(base + "/oauth/token", data=data)
        body = r.json()
        out["mtls"] = {"status": r.status_code, "body": body}
        if r.status_code == 200:
            claims = verify(m, base, body["access_token"], "-")
            der = ssl.PEM_cert_to_DER_cert(open(cert[0]).read())
            thumb = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
            out["mtls"]["claims"] = claims
            out["mtls"]["thumbprint"] = thumb
    print(json.dumps(out))


if __name__ == "__main__":
    main()
