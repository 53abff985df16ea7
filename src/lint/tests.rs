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

#[test]
fn a_bad_cert_hapki_built_is_reported_as_a_bug_naming_the_code() {
    // rcgen's default string type for the country is UTF8String, which RFC 5280 does not allow.
    let mut p = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
    p.distinguished_name.push(rcgen::DnType::CountryName, "US");
    let der = p.self_signed(&key()).unwrap().der().to_vec();
    let e = check_new(
        &der,
        None,
        Expect::Leaf(Kind::Client),
        "the new client cert a",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("internal error (a bug in hapki"), "{e}");
    assert!(
        e.contains("the new client cert a fails the pre-issuance lint: error"),
        "{e}"
    );
    assert!(e.contains("-string-type: "), "{e}");
}

#[test]
fn a_date_before_2050_as_generalized_time_is_flagged() {
    let mut p = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
    p.not_after = time::macros::datetime!(2049-01-01 0:00 UTC);
    let mut der = p.self_signed(&key()).unwrap().der().to_vec();
    let before = codes(&der);
    assert!(!before.contains(&"validity-encoding"), "{before:?}");
    // Re-encode notAfter as the GeneralizedTime `20490101000000Z` (2 bytes longer) and fix the
    // lengths of the validity, tbsCertificate and certificate SEQUENCEs (the lint does not check
    // the signature).
    let utc = b"\x17\x0d490101000000Z";
    let i = der.windows(utc.len()).position(|w| w == utc).unwrap();
    der.splice(i..i + utc.len(), b"\x18\x0f20490101000000Z".iter().copied());
    let validity = i - 15 - 2;
    assert_eq!(der[validity], 0x30);
    der[validity + 1] += 2;
    for at in [0, 4] {
        assert_eq!(&der[at..at + 2], &[0x30, 0x82]);
        let n = u16::from_be_bytes([der[at + 2], der[at + 3]]) + 2;
        der[at + 2..at + 4].copy_from_slice(&n.to_be_bytes());
    }
    let mut after = codes(&der);
    after.retain(|c| !before.contains(c));
    assert_eq!(after, ["validity-encoding"]);
}

#[test]
fn a_leaf_under_a_ca_with_other_string_types_is_no_bug() {
    // A CA of an older hapki (rcgen's defaults: the country as UTF8String, its own SKI method):
    // a new leaf copies its name as issuer name, which is the CA's choice, not the leaf's.
    let ca_key = key();
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(rcgen::DnType::CountryName, "US");
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "old-root-ca.example.com");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_der = ca.self_signed(&ca_key).unwrap().der().to_vec();
    assert!(check_new(&ca_der, Some(&ca_der), Expect::Ca, "a root").is_err());

    let mut leaf = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name.push(
        rcgen::DnType::CommonName,
        rcgen::DnValue::Utf8String("a.example.com".into()),
    );
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    let issuer = rcgen::Issuer::from_ca_cert_der(&ca_der.clone().into(), &ca_key).unwrap();
    let leaf_der = leaf.signed_by(&key(), &issuer).unwrap().der().to_vec();
    let all: Vec<_> = lint(&leaf_der, Some(&ca_der), None)
        .unwrap()
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    assert!(all.contains(&"issuer-string-type"), "{all:?}");
    check_new(
        &leaf_der,
        Some(&ca_der),
        Expect::Leaf(Kind::Client),
        "the new client cert a",
    )
    .unwrap();
}

#[test]
fn name_constraints_are_checked_for_a_ca_and_for_directory_names() {
    use rcgen::{GeneralSubtree, NameConstraints};
    let ca = |subtrees: Vec<GeneralSubtree>| {
        let mut p = CertificateParams::default();
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: subtrees,
            excluded_subtrees: vec![],
        });
        p.self_signed(&key()).unwrap().der().to_vec()
    };
    let nc_codes = |der: &[u8]| -> Vec<&'static str> {
        codes(der)
            .into_iter()
            .filter(|c| c.starts_with("name-constraints"))
            .collect()
    };
    let good = ca(vec![GeneralSubtree::DnsName("customer1.com".into())]);
    assert!(nc_codes(&good).is_empty(), "{:?}", nc_codes(&good));
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "O");
    let dir = ca(vec![GeneralSubtree::DirectoryName(dn)]);
    assert_eq!(nc_codes(&dir), ["name-constraints-directory-name"]);
}
