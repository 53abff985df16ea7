//! Helpers shared by the integration tests, one module per concern:
//!
//! - `fixture`: the one fixture (`Fixture::ecdsa().at(AT).init()` and friends), the pinned time
//!   `AT`, the one ECDSA profile source, and the `hapki` binary;
//! - `tree`: snapshots of a folder (nothing changed), file listings and modes;
//! - `pem`: PEM and X.509 read by x509-parser;
//! - `openssl`: openssl, the independent implementation;
//! - `jwt`: compact JWTs taken apart and signed here; the JWT signing key files of an org;
//! - `interop`: tokens and JWKS judged by PyJWT and jwcrypto;
//! - `proc`: bounded child processes and free loopback ports;
//! - `ha`: NGINX, HAProxy, PostgreSQL and curl for the HA tests, and the `Proxy` they run for;
//! - `skip`: what a test does when this machine cannot run its subject.

pub mod fixture;
pub mod ha;
pub mod interop;
pub mod jwt;
pub mod openssl;
pub mod pem;
pub mod proc;
pub mod skip;
pub mod tree;
