//! Certificates: CA hierarchies and leaves with the contents the file layout's consumers expect
//! (subject, random serial, key usages, EKUs, SANs, AKI/SKI, optional CRL distribution point and
//! OCSP URL), and the checks every cert passes before it is written: a TLS stack's (`check`,
//! rustls-webpki) and RFC 5280's (`crate::lint`).

mod ca;
pub mod check;
mod ext;
mod leaf;
pub mod responder;

pub use ca::{build_ca, ca_plan, ca_repair_plan, detect_tier, offline_error, Ca, OrgCa};
pub(crate) use ca::{ca_request, ca_request_for};
pub(crate) use ext::{add_revocation_info, csr_pem, serial, validity};
pub use ext::{ca_common_name, ca_domain, check_permitted, Permitted, BACKDATE};
pub use leaf::{adhoc_spec, issue_leaf, leaf_from_disk, leaf_plan, Leaf};

use crate::error::{Error, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::Path;

/// Whether the file at `path` holds a certificate request for the key of `cert` (what `verify`
/// accepts of a CSR); a missing, garbled or foreign one is made again from the key.
pub fn csr_fits(path: &Path, cert: &CertificateDer<'_>) -> bool {
    use x509_parser::certification_request::X509CertificationRequest;
    let Ok(bytes) = crate::store::read(path) else {
        return false;
    };
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&bytes) else {
        return false;
    };
    if pem.label != "CERTIFICATE REQUEST" {
        return false;
    }
    use x509_parser::prelude::FromDer;
    let (Ok((_, req)), Ok(c)) = (
        X509CertificationRequest::from_der(&pem.contents),
        check::parse(cert),
    ) else {
        return false;
    };
    req.certification_request_info.subject_pki.raw == c.public_key().raw
}

/// Reads a PEM certificate file (the first certificate in it).
pub fn read_cert(path: &Path) -> Result<(CertificateDer<'static>, String)> {
    let bytes = crate::store::read(path)?;
    let der = CertificateDer::from_pem_slice(&bytes).map_err(|_| {
        Error::input(format!(
            "{} holds no readable PEM certificate (it may be truncated or of another kind); restore it or re-issue with --force",
            path.display()
        ))
    })?;
    let pem = String::from_utf8_lossy(&bytes).into_owned();
    Ok((der, pem))
}
