//! JWT for the Ledger API, one concept a file: `jwk` (the JWK of a signing cert and its check
//! against its own `x5c`), `jwks` (the set document), `claims` (the three token shapes Canton
//! accepts), `jws` (the compact JWS codec, written and read in one place), `sign` (the
//! `Signer`), `verify` (token verification against a JWKS with a pinned clock), `stage` (the
//! JWT part of a tree, as `init`, `jwt keygen`, `jwt mint` and `verify` need it), `rotate`
//! (signing-key rollover: staged, current and retired keys, and when an old key may go) and
//! `clients` (the token endpoint's clients and their slow secret hashes).

mod claims;
pub mod clients;
mod jwk;
mod jwks;
pub mod jws;
pub mod rotate;
mod sign;
pub mod stage;
mod verify;

pub use claims::{TokenSpec, AUD_PREFIX};
pub use jwk::{check_jwk, jwk_for, x5t};
pub use jwks::{jwks_json, parse_jwks};
pub use sign::Signer;
pub use verify::{check_issuer, fmt_unix, unverified_exp, verify_token, Verified, LEEWAY};
