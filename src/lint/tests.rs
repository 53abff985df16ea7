use super::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};

fn codes(der: &[u8]) -> Vec<&'static str> {
    lint(der, None, None)
        .unwrap()
        .iter()
        .filter(|f| f.severity > Severity::Notice)
        .map(|f| f.code.as_str())
        .collect()
}

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

#[test]
fn rcgen_defaults_are_flagged_where_hapki_differs() {
    // rcgen's own defaults: the SKI by a method no RFC names, country as UTF8String.
    let mut p = CertificateParams::default();
    p.distinguished_name.push(rcgen::DnType::CountryName, "US");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let der = p.self_signed(&key()).unwrap().der().to_vec();
    let all = lint(&der, None, None).unwrap();
    let c: Vec<_> = all.iter().map(|f| f.code.as_str()).collect();
    assert!(c.contains(&"subject-string-type"), "{c:?}");
    assert!(c.contains(&"issuer-string-type"), "{c:?}");
    assert!(c.contains(&"ski-method-unknown"), "{c:?}");
}

#[test]
fn a_leaf_with_key_cert_sign_and_a_bad_dns_san_is_flagged() {
    let mut p = CertificateParams::new(vec!["bad_name.example.com".to_string()]).unwrap();
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let der = p.self_signed(&key()).unwrap().der().to_vec();
    let c = codes(&der);
    assert!(c.contains(&"key-cert-sign-without-ca"), "{c:?}");
    assert!(c.contains(&"san-dns-invalid"), "{c:?}");
}

#[test]
fn garbage_is_not_a_cert_and_trailing_bytes_are_found() {
    assert!(lint(b"hello", None, None).is_err());
    let p = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
    let mut der = p.self_signed(&key()).unwrap().der().to_vec();
    der.push(0);
    assert!(codes(&der).contains(&"trailing-data"));
}

#[test]
fn dns_names() {
    for ok in ["a.b", "*.example.com", "x-1.example.com", "localhost"] {
        assert!(rules::dns_name_ok(ok), "{ok}");
    }
    for bad in ["", "a..b", "-a.b", "a_b.c", "a.b.", "*.*.b", "é.com"] {
        assert!(!rules::dns_name_ok(bad), "{bad}");
    }
}
