//! The HTTPS side asks for a client certificate and takes the connection with or without one
//! (RFC 8705 `tls_client_auth` at the token endpoint; the JWKS, CRLs and OCSP need none).
//!
//! The handshake proves only that the client holds the key of the cert it sent (the
//! CertificateVerify signature, checked here with the provider's algorithms). Whether the cert
//! is one of the org's, for a client, and not revoked is decided per request by the token
//! endpoint (`token.rs`), against the CA certs and the index as they are on disk then: a cert
//! refused there is an RFC 6749 `invalid_client` answer the client can read, where a refusal in
//! the handshake would be a bare TLS alert, and one cert revoked a second ago is refused at once.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

#[derive(Debug)]
pub struct OptionalClientCert {
    /// The org's CA subjects, sent as the acceptable issuers so a client with many certs (a
    /// Java key store) picks one of this org's.
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl OptionalClientCert {
    pub fn new(ca_certs: &[CertificateDer<'_>], algs: WebPkiSupportedAlgorithms) -> Self {
        let hints = ca_certs
            .iter()
            .filter_map(|c| {
                let (_, x) = x509_parser::parse_x509_certificate(c).ok()?;
                Some(DistinguishedName::from(x.subject().as_raw().to_vec()))
            })
            .collect();
        OptionalClientCert { hints, algs }
    }
}

impl ClientCertVerifier for OptionalClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Checked per request by the token endpoint (see the module doc); a cert here grants
        // nothing by itself.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
