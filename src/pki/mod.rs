//! Certificates: CA hierarchies and leaves with the contents the file layout's consumers expect
//! (subject, random serial, key usages, EKUs, SANs, AKI/SKI, optional CRL distribution point and
//! OCSP URL), and the checks every cert passes before it is written.

mod ca;
pub mod check;
mod ext;
mod leaf;
pub mod responder;

pub use ca::{build_ca, ca_plan, detect_tier, Ca, OrgCa};
pub use ext::{ca_common_name, BACKDATE};
pub use leaf::{adhoc_spec, issue_leaf, leaf_from_disk, leaf_plan, Leaf};

use crate::error::{Error, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::Path;

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
