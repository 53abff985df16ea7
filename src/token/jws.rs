//! The compact JWS (RFC 7515 §7.1), written and read in one place: the writer halves that
//! `Signer::sign` puts a token together with (hand-written so that minting runs at the speed
//! of the signature: the header is encoded once per key, the claims straight into the token),
//! and `split`, their inverse, which `verify_token` and `inspect` read every token with. The
//! signature is not checked here.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::fmt;

/// base64url without padding, the encoding of every JOSE member and JWS part (RFC 7515 §2).
pub(super) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---- writing ----

/// The base64url of the header hapki writes for a key: `alg`, `typ`, `kid`, in the member order
/// SPEC.md shows (Canton refuses a token without kid).
pub(super) fn encode_header(alg: Algorithm, kid: &str) -> Result<String, String> {
    let alg_name = serde_json::to_value(alg).map_err(|e| format!("cannot name {alg:?} ({e})"))?;
    let header = serde_json::to_vec(&json!({"alg": alg_name, "typ": "JWT", "kid": kid}))
        .map_err(|e| format!("cannot encode the header ({e})"))?;
    Ok(b64url(&header))
}

/// The signing input `header_b64.base64url(payload)`, with room for the signature after it.
pub(super) fn signing_input(header_b64: &str, payload: &[u8]) -> String {
    let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 700);
    token.push_str(header_b64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    token
}

/// Completes the signing input into the compact JWS: `.base64url(signature)`.
pub(super) fn append_signature(token: &mut String, signature: &[u8]) {
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, token);
}

// ---- reading ----

/// One of the three parts of a compact JWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        }
    }
}

/// A compact JWS, split and decoded.
#[derive(Debug)]
pub struct Jws<'a> {
    pub header_b64: &'a str,
    pub payload_b64: &'a str,
    pub signature_b64: &'a str,
    /// The JOSE header, a JSON object.
    pub header: Value,
    /// The payload as JSON: a JWT's claims.
    pub claims: Value,
    /// The signature bytes; empty for an unsecured JWS.
    pub sig: Vec<u8>,
    /// `header_b64.payload_b64`, what the signature is over.
    signing_input: &'a str,
}

impl<'a> Jws<'a> {
    /// What the signature is computed over: `header_b64.payload_b64`, as it stands in the token.
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }
}

/// Why a text is not a compact JWS. Its `Display` is a sentence fragment with the token as its
/// subject (`the token {…}`), as `jwt verify` prints it.
#[derive(Debug)]
pub enum JwsError {
    /// Not three dot-separated parts, or an empty header or payload.
    Shape,
    /// A part holds a character base64url does not have.
    Alphabet { part: Part, found: char },
    /// A part of base64url characters that does not decode (its length or last character).
    Base64 {
        part: Part,
        error: base64::DecodeError,
    },
    /// The header or payload is not JSON.
    Json {
        part: Part,
        error: serde_json::Error,
    },
    /// The header is JSON but not an object (RFC 7515 §4).
    HeaderNotObject,
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwsError::Shape => f.write_str("is not a JWT (expected header.payload.signature)"),
            JwsError::Alphabet { part, found } => write!(
                f,
                "has a {} that is not base64url (it holds `{found}`); re-mint it with hapki jwt mint",
                part.name()
            ),
            JwsError::Base64 {
                part: Part::Header, ..
            }
            | JwsError::Json {
                part: Part::Header, ..
            } => f.write_str("has a header that is not base64url JSON"),
            // The words `jwt verify` has always given (they were jsonwebtoken's).
            JwsError::Base64 { error, .. } => write!(f, "cannot be decoded (Base64 error: {error})"),
            JwsError::Json { error, .. } => write!(f, "cannot be decoded (JSON error: {error})"),
            JwsError::HeaderNotObject => f.write_str("has a header that is not a JSON object"),
        }
    }
}

impl std::error::Error for JwsError {}

/// An encoding `split_lenient` forgave in a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lapse {
    /// Padded with `=`, which JWS forbids (RFC 7515 §2).
    Padded,
    /// Standard base64 (`+`, `/`), not base64url.
    StandardBase64,
    /// Not base64 at all (the signature only: the header and payload must decode).
    Undecodable,
}

/// Reads a compact JWS as hapki writes it: three parts of unpadded base64url (the signature may
/// be empty), a JSON object header and a JSON payload.
pub fn split(compact: &str) -> Result<Jws<'_>, JwsError> {
    read(compact, false).map(|(jws, _)| jws)
}

/// `split` for showing a token rather than trusting it: padded and standard-base64 parts are
/// decoded too, each such lapse named, and a signature that does not decode is a lapse, not an
/// error.
pub fn split_lenient(compact: &str) -> Result<(Jws<'_>, Vec<(Part, Lapse)>), JwsError> {
    read(compact, true)
}

/// Three dot-separated parts of base64 text with a header and a payload: the shape of a compact
/// JWS. Standard-base64 characters and padding are let through, as `split_lenient` reads them.
pub fn looks_compact(text: &str) -> bool {
    parts(text, true).is_ok()
}

/// The three parts, each of the alphabet allowed.
fn parts(compact: &str, lenient: bool) -> Result<[&str; 3], JwsError> {
    let mut it = compact.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwsError::Shape);
    };
    if h.is_empty() || p.is_empty() {
        return Err(JwsError::Shape);
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_' || (lenient && "+/=".contains(c))
    };
    for (text, part) in [(h, Part::Header), (p, Part::Payload), (s, Part::Signature)] {
        if let Some(found) = text.chars().find(|c| !allowed(*c)) {
            return Err(JwsError::Alphabet { part, found });
        }
    }
    Ok([h, p, s])
}

fn read(compact: &str, lenient: bool) -> Result<(Jws<'_>, Vec<(Part, Lapse)>), JwsError> {
    let [h, p, s] = parts(compact, lenient)?;
    let mut lapses = Vec::new();
    let mut decode = |text: &str, part: Part| -> Result<Vec<u8>, JwsError> {
        let (bytes, lapse) = if lenient {
            decode_lenient(text)
        } else {
            (URL_SAFE_NO_PAD.decode(text), None)
        };
        let bytes = bytes.map_err(|error| JwsError::Base64 { part, error })?;
        lapses.extend(lapse.map(|l| (part, l)));
        Ok(bytes)
    };
    let json = |bytes: &[u8], part: Part| {
        serde_json::from_slice::<Value>(bytes).map_err(|error| JwsError::Json { part, error })
    };
    let header = json(&decode(h, Part::Header)?, Part::Header)?;
    let claims = json(&decode(p, Part::Payload)?, Part::Payload)?;
    if !header.is_object() {
        return Err(JwsError::HeaderNotObject);
    }
    let sig = match decode(s, Part::Signature) {
        Ok(sig) => sig,
        Err(_) if lenient => {
            lapses.push((Part::Signature, Lapse::Undecodable));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let jws = Jws {
        header_b64: h,
        payload_b64: p,
        signature_b64: s,
        header,
        claims,
        sig,
        signing_input: &compact[..h.len() + 1 + p.len()],
    };
    Ok((jws, lapses))
}

/// base64url, else with its padding, else standard base64, saying which it took.
fn decode_lenient(text: &str) -> (Result<Vec<u8>, base64::DecodeError>, Option<Lapse>) {
    let bare = text.trim_end_matches('=');
    let padded = bare.len() != text.len();
    match URL_SAFE_NO_PAD.decode(bare) {
        Ok(b) => (Ok(b), padded.then_some(Lapse::Padded)),
        Err(e) => match STANDARD_NO_PAD.decode(bare) {
            Ok(b) => (Ok(b), Some(Lapse::StandardBase64)),
            Err(_) => (Err(e), None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &[u8], payload: &[u8], sig: &[u8]) -> String {
        let mut t = signing_input(&b64url(header), payload);
        append_signature(&mut t, sig);
        t
    }

    #[test]
    fn split_is_the_inverse_of_the_writer() {
        let header = encode_header(Algorithm::ES256, "kid-1").unwrap();
        let claims = json!({"sub": "alice", "scope": "daml_ledger_api", "exp": 1});
        let payload = serde_json::to_vec(&claims).unwrap();
        let input = signing_input(&header, &payload);
        let mut t = input.clone();
        append_signature(&mut t, b"\xff\x00sig");
        let jws = split(&t).unwrap();
        assert_eq!(
            jws.header,
            json!({"alg": "ES256", "typ": "JWT", "kid": "kid-1"})
        );
        // The member order of SPEC.md survives the trip.
        let keys: Vec<&String> = jws.header.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["alg", "typ", "kid"]);
        assert_eq!(jws.claims, claims);
        assert_eq!(jws.sig, b"\xff\x00sig");
        assert_eq!(jws.signing_input(), input);
        assert_eq!(jws.header_b64, header);
        assert_eq!(
            format!(
                "{}.{}.{}",
                jws.header_b64, jws.payload_b64, jws.signature_b64
            ),
            t
        );
        // An unsecured JWS has an empty signature.
        assert!(split(&format!("{input}.")).unwrap().sig.is_empty());
    }

    #[test]
    fn malformed_tokens_are_named() {
        let t = token(br#"{"alg":"RS256"}"#, br#"{"sub":"a"}"#, b"s");
        let (h, rest) = t.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let err = |t: &str| split(t).unwrap_err().to_string();

        let shape = "is not a JWT (expected header.payload.signature)";
        assert_eq!(err(&format!("{h}.{p}")), shape);
        assert_eq!(err(&format!("{h}.{p}.{s}.x")), shape);
        assert_eq!(err(&format!(".{p}.{s}")), shape);

        assert_eq!(
            err(&format!("{h}.{p}.{s}=")),
            "has a signature that is not base64url (it holds `=`); re-mint it with hapki jwt mint"
        );
        assert!(matches!(
            split(&format!("{h}.ab{p}.{s}")),
            Err(JwsError::Base64 {
                part: Part::Payload,
                ..
            })
        ));
        assert!(err(&format!("{h}.ab{p}.{s}")).starts_with("cannot be decoded (Base64 error: "));

        let not_json = b64url(b"alg: RS256");
        assert_eq!(
            err(&format!("{not_json}.{p}.{s}")),
            "has a header that is not base64url JSON"
        );
        assert!(matches!(
            split(&format!("{h}.{not_json}.{s}")),
            Err(JwsError::Json {
                part: Part::Payload,
                ..
            })
        ));
        assert_eq!(
            err(&format!("{}.{p}.{s}", b64url(b"[1]"))),
            "has a header that is not a JSON object"
        );
    }

    #[test]
    fn lenient_split_names_what_it_forgave() {
        // `??>` encodes with `+`/`/` in standard base64 and `-`/`_` in base64url.
        let header = br#"{"a":"??>"}"#;
        let std = STANDARD_NO_PAD.encode(header);
        let payload = base64::engine::general_purpose::URL_SAFE.encode(b"{}");
        assert!(payload.ends_with('='));
        let t = format!("{std}.{payload}.!");
        assert!(!looks_compact(&t));
        let t = format!("{std}.{payload}.a");
        assert!(looks_compact(&t));
        assert!(split(&t).is_err());
        let (jws, lapses) = split_lenient(&t).unwrap();
        assert_eq!(jws.header, json!({"a": "??>"}));
        assert_eq!(
            lapses,
            [
                (Part::Header, Lapse::StandardBase64),
                (Part::Payload, Lapse::Padded),
                (Part::Signature, Lapse::Undecodable)
            ]
        );
        assert!(split_lenient("!!.e30.").is_err());
        assert!(looks_compact("eyJh.eyJi."));
        assert!(!looks_compact("eyJh.eyJi"));
        assert!(!looks_compact("a.b.c.d.e"));
        assert!(!looks_compact("not a token.at.all"));
    }
}
