//! Helpers shared by the integration tests. `pki` runs the binary on temp folders, snapshots
//! trees, reads PEM and drives openssl and bounded child processes; `jwt` builds a
//! two-participant JWT fixture on top and decodes, signs and compares tokens.

#![allow(dead_code)] // each test crate uses its own subset

pub mod jwt;
pub mod pki;
