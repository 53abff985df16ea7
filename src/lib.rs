//! hapki: the PKI and token set of a secure, highly available Canton (Daml) deployment.
//!
//! One module per concept, from the bottom up:
//! - `model`: names, SANs, key algorithms, leaf kinds and CA levels, times (no I/O);
//! - `profile`: the TOML profile checked into a `Topology` (the one place for defaults);
//! - `store`: the file layout and the atomic `Plan` that writes it;
//! - `keys`: key generation and loading;
//! - `pki`: CA hierarchies, leaves and the checks every cert passes;
//! - `lint`: the RFC 5280 rules behind the pre-issuance lint and `hapki lint`;
//! - `cadb`: each CA's index, crlnumber and newcerts, in `openssl ca`'s format;
//! - `crl`: the CRLs signed from the indexes, and the chain bundle;
//! - `issue`: what a tree needs (triage) and the engine that issues it;
//! - `token`: JWKs, the JWKS, claims, signing and verifying tokens;
//! - `verify`: the whole-tree check behind `hapki verify`;
//! - `inspect`: the report behind `hapki inspect`;
//! - `export`: PKCS#12 keystores and truststores, and per-node bundles (tar, Kubernetes);
//! - `serve`: the HTTPS/HTTP server behind `hapki serve` (JWKS, CRLs, OCSP);
//! - `cmd` and `cli`: one thin verb per subcommand and its flags.
//!
//! The `hapki` binary only parses the command line and prints the error.

#![forbid(unsafe_code)]

pub mod cadb;
pub mod cli;
pub mod cmd;
pub mod crl;
pub mod error;
pub mod export;
pub mod inspect;
pub mod issue;
pub mod keys;
pub mod lint;
pub mod model;
pub mod out;
pub mod pki;
pub mod profile;
pub mod serve;
pub mod store;
pub mod token;
pub mod verify;

pub use error::{Error, Result};
