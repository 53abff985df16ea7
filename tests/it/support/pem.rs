//! PEM and X.509 read by x509-parser, not by the code under test.

use std::path::Path;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The (label, DER) of every PEM block in a file.
pub fn pem_blocks(p: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    x509_parser::pem::Pem::iter_from_buffer(&bytes)
        .map(|b| {
            let b = b.unwrap_or_else(|e| panic!("{}: bad PEM: {e:?}", p.display()));
            (b.label, b.contents)
        })
        .collect()
}

/// The DER of the one certificate in a PEM file.
pub fn cert_der(p: &Path) -> Vec<u8> {
    let blocks = pem_blocks(p);
    assert_eq!(blocks.len(), 1, "{} holds one PEM block", p.display());
    assert_eq!(blocks[0].0, "CERTIFICATE", "{}", p.display());
    blocks.into_iter().next().unwrap().1
}

/// The DER of each certificate in a chain or bundle file, in file order.
pub fn chain_ders(p: &Path) -> Vec<Vec<u8>> {
    pem_blocks(p)
        .into_iter()
        .map(|(label, der)| {
            assert_eq!(label, "CERTIFICATE", "{}", p.display());
            der
        })
        .collect()
}

pub fn parse_cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, c) = X509Certificate::from_der(der).expect("a valid X.509 certificate");
    assert!(rest.is_empty(), "trailing bytes after the certificate");
    c
}
