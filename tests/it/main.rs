//! hapki's integration tests: one test binary (`cargo test --test it`), so the helpers and the
//! test code are compiled and linked once. Each module is one subject; the shared helpers are
//! in `support/` (see its doc), the config templates in `tests/ha/` and the Python interop
//! script in `tests/interop/`.
//!
//! Run one module, or one test, with a name filter:
//!     cargo test --test it cli_core::
//!     cargo test --test it jwt::verify_refuses_an_expired_token
//!
//! To add a module: create `tests/it/NAME.rs`, add `mod NAME;` below (sorted), and take what it
//! needs from `crate::support` (`use crate::support::fixture::{Fixture, AT};`). Build fixtures
//! with `Fixture` (never a temp folder and profile of your own), pin every time (`--at AT`, and
//! `.at(AT)` for a fixture whose certs must be valid at that time), and report a test that this
//! machine cannot run with `support::skip::skipped`, never with a silent `return`. A tree that
//! several tests only read is built once (`.shared()` in a `static OnceLock`); a test that
//! changes it works on its own `fx.copy()`. An unused helper is a compile warning (and CI
//! denies warnings): delete it.

mod support;

mod broken_pipe;
mod ca_offline;
mod cli_core;
mod fitin_bundle;
mod fitin_client_chain;
mod fitin_docs;
mod fitin_init_json;
mod fitin_p12;
mod fitin_shell;
mod ha_docs;
mod ha_failover;
mod ha_jwt;
mod ha_postgres;
mod ha_proxy;
mod haproxy_pem;
mod help;
mod inspect;
mod interop_openssl;
mod jwt;
mod jwt_count;
mod jwt_interop;
mod keys_encrypted;
mod keys_pkcs11;
mod killed_init;
mod lifecycle_consumers;
mod lifecycle_openssl;
mod lifecycle_renew;
mod lint_cmd;
mod lint_limits;
mod lint_pkilint;
mod mtls;
mod name_constraints;
mod rotate_cli;
mod rotate_e2e;
mod rotate_h2_idle;
mod safety_init_repair;
mod safety_journal;
mod safety_jwt;
mod safety_links;
mod safety_lock;
mod safety_reads;
mod serve_online;
mod token_endpoint;
mod trust_foreign;
mod verify;
mod verify_codes;
