//! Helpers shared by the integration tests. `ha` starts NGINX, HAProxy, Postgres and curl,
//! bounded and stopped by pid, on configs rendered from `tests/ha/*.tmpl`. `pki` runs the binary on temp folders, snapshots
//! trees, reads PEM and drives openssl and bounded child processes; `jwt` builds a
//! two-participant JWT fixture on top and decodes, signs and compares tokens.

#![allow(dead_code)] // each test crate uses its own subset

pub mod ha;
pub mod jwt;
pub mod pki;
