//! hapki: the PKI and token set of a secure, highly available Canton (Daml) deployment.
//!
//! The library owns everything: profiles, the file layout, key generation, certificate building
//! and checking, JWKS and tokens, and one module per subcommand under `cmd`. The `hapki` binary
//! only parses the command line and prints the error.

#![forbid(unsafe_code)]

pub mod check;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod fsio;
pub mod jwt;
pub mod keys;
pub mod layout;
pub mod out;
pub mod pki;
pub mod profile;
pub mod types;
pub mod verify;

pub use error::{Error, Result};
