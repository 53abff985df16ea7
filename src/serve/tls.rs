//! The HTTPS side's certificate: the org's `auth` server chain and key, re-read when they change
//! (a renewed auth cert is served from the next handshake on). A pair that stops loading keeps
//! the last good one in service, because a half-written renewal must not take the JWKS down.

use super::watch::{Load, Watched};
use crate::error::{Error, Result};
use crate::model::Kind;
use crate::store::OrgLayout;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::{Arc, Mutex};

/// TLS sessions remembered for resumption by ID.
const SESSION_CACHE: usize = 4096;

/// The leaf name whose server cert the HTTPS side presents.
pub const AUTH: &str = "auth";

struct Resolver {
    files: Watched<Arc<CertifiedKey>>,
    last: Mutex<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("files", &self.files.paths())
            .finish()
    }
}

fn certified_key(files: &[Vec<u8>]) -> std::result::Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&files[0])
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| "the chain is not readable PEM".to_string())?;
    if chain.is_empty() {
        return Err("the chain holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&files[1])
        .map_err(|_| "the key is not a readable PEM private key".to_string())?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("the key cannot sign: {e}"))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match()
        .map_err(|_| "the key does not match the certificate".to_string())?;
    Ok(Arc::new(ck))
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Load::Ready(ck) = self.files.get() {
            *last = (*ck).clone();
        }
        Some(last.clone())
    }
}

/// The rustls config of the HTTPS side (ALPN h2 and http/1.1), or the sentence that says which
/// file is missing or unusable and how to make it.
/// The client certs are asked for and checked as `mtls.rs` says; `ca_certs` are the org's CAs,
/// named to clients as the acceptable issuers.
pub fn server_config(
    org: &str,
    layout: &OrgLayout,
    ca_certs: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ServerConfig>> {
    let files = layout.leaf(Kind::Server, AUTH);
    let chain = files.chain.clone().unwrap_or_else(|| files.cert.clone());
    let watched = Watched::new(vec![chain.clone(), files.key.clone()], certified_key);
    let first = match watched.get() {
        Load::Ready(ck) => (*ck).clone(),
        Load::Missing(why) => {
            return Err(Error::input(format!(
                "the `auth` server cert of org `{org}` is missing ({why}); declare a server `auth` for the org in the profile and run `hapki init`, or `hapki issue auth --org {org} --kind server`"
            )))
        }
        Load::Bad(why) => {
            return Err(Error::input(format!(
                "the `auth` server cert of org `{org}` cannot be used ({} and {}: {why}); re-issue it with `hapki issue auth --org {org} --force`",
                chain.display(),
                files.key.display()
            )))
        }
    };
    let resolver = Resolver {
        files: watched,
        last: Mutex::new(first),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        super::mtls::OptionalClientCert::new(ca_certs, provider.signature_verification_algorithms);
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::bug(format!("TLS versions: {e}")))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Resumption spares a returning client the full handshake (a signature by the auth key
    // and, with mTLS, a chain check): stateless tickets (RFC 8446 4.6.1, keys rotated by
    // rustls, 12 h life) for clients that keep them, and a session cache of a few thousand
    // entries, not rustls's 256, for those that resume by ID. A resumed client cert is the one
    // checked in the full handshake; the token endpoint still asks the index for its status.
    cfg.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    cfg.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
        .map_err(|e| Error::bug(format!("TLS session tickets: {e}")))?;
    Ok(Arc::new(cfg))
}
