//! `hapki lint FILE... [--json]`: the RFC 5280 lint of `crate::lint` on any certificate, PEM (one
//! or many certificates) or DER, hapki's or not.

use super::{EXIT_OK, EXIT_PROBLEM};
use crate::error::{Error, Result};
use crate::lint::{lint, Finding, NotACert, Severity};
use clap::Args;
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde_json::json;
use std::path::Path;
use std::path::PathBuf;
use x509_parser::prelude::{FromDer, X509Certificate};

pub const LINT_HELP: &str = "Prints one line per finding, `FILE: SEVERITY code: sentence` (FILE[N] for certificate \
N of a file with several, counted from 0; the first is FILE); docs/lint.md lists every code. Notices are worth knowing but are no fault.

EXAMPLES:
  hapki lint certs/participant1/participant1/certs/participant1.customer1.com.cert.pem
  hapki lint certs/*/intermediate/certs/ca-chain.cert.pem other-ca.der
  hapki lint --json server.pem

EXIT CODES:
  0  no finding, or notices only
  1  a finding of severity error or warning
  2  a file could not be read or holds no certificate";

#[derive(Args, Debug)]
pub struct LintArgs {
    /// PEM (one or many certificates) or DER certificate files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Report as JSON: an array of {file, cert_index, subject, findings: [{code, severity, message}]}.
    #[arg(long)]
    pub json: bool,
}

/// Exit code of a file that cannot be read or holds no certificate.
const EXIT_INPUT: i32 = 2;

struct CertReport {
    index: usize,
    subject: String,
    findings: Vec<Finding>,
}

pub fn run(args: &LintArgs) -> Result<i32> {
    let mut json_files = vec![];
    let mut faults = false;
    let mut unreadable = false;
    for file in &args.files {
        let reports = match certs_of(file).and_then(|certs| lint_all(file, &certs)) {
            Ok(r) => r,
            Err(e) => {
                // The other files are still linted; the exit code says one was unreadable.
                eprintln!("error: {e}");
                unreadable = true;
                continue;
            }
        };
        for r in reports {
            faults |= r.findings.iter().any(|f| f.severity > Severity::Notice);
            if args.json {
                json_files.push(json!({
                    "file": file.display().to_string(),
                    "cert_index": r.index,
                    "subject": r.subject,
                    "findings": r.findings.iter().map(|f| json!({
                        "code": f.code.as_str(),
                        "severity": f.severity.name(),
                        "message": f.message,
                    })).collect::<Vec<_>>(),
                }));
            } else {
                let name = if r.index == 0 {
                    file.display().to_string()
                } else {
                    format!("{}[{}]", file.display(), r.index)
                };
                for f in &r.findings {
                    crate::outln!(
                        "{name}: {} {}: {}",
                        f.severity.name(),
                        f.code.as_str(),
                        f.message
                    );
                }
            }
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&json_files)
            .map_err(|e| Error::bug(format!("serializing the lint report: {e}")))?;
        crate::outln!("{text}");
    }
    Ok(if unreadable {
        EXIT_INPUT
    } else if faults {
        EXIT_PROBLEM
    } else {
        EXIT_OK
    })
}

fn lint_all(file: &Path, certs: &[Vec<u8>]) -> Result<Vec<CertReport>> {
    let parsed: Vec<X509Certificate<'_>> = certs
        .iter()
        .enumerate()
        .map(|(i, der)| {
            X509Certificate::from_der(der).map(|(_, c)| c).map_err(|_| {
                Error::input(format!(
                    "{}{} is not a readable X.509 certificate (its DER does not parse as one); pass a PEM or DER certificate",
                    file.display(),
                    if certs.len() > 1 { format!("[{i}]") } else { String::new() },
                ))
            })
        })
        .collect::<Result<_>>()?;
    let mut out = vec![];
    for (i, cert) in parsed.iter().enumerate() {
        // The issuer, when the file carries it (a chain or bundle): the AKI is then checked
        // against its SKI. A self-signed cert is its own issuer.
        let issuer = parsed
            .iter()
            .enumerate()
            .find(|(j, c)| *j != i && c.subject().as_raw() == cert.issuer().as_raw())
            .map(|(j, _)| certs[j].as_slice());
        let findings = lint(&certs[i], issuer, None).map_err(|NotACert(m)| {
            Error::input(format!(
                "{}: {m}; pass a PEM or DER certificate",
                file.display()
            ))
        })?;
        out.push(CertReport {
            index: i,
            subject: cert.subject().to_string(),
            findings,
        });
    }
    Ok(out)
}

/// The DER certificates of a file: every CERTIFICATE block of a PEM file, or the file itself
/// when it is DER.
fn certs_of(file: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = read_capped(file)?;
    let mut certs = vec![];
    let mut other = None;
    let mut pem = false;
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        pem = true;
        match item {
            Ok((SectionKind::Certificate, der)) => certs.push(der),
            Ok((kind, _)) => other = other.or(Some(pem_label(kind))),
            Err(e) => {
                return Err(Error::input(format!(
                    "{} holds a PEM block that cannot be read ({e}); pass a PEM or DER certificate",
                    file.display()
                )))
            }
        }
    }
    if !certs.is_empty() {
        return Ok(certs);
    }
    if !pem && bytes.first() == Some(&0x30) {
        return Ok(vec![bytes]);
    }
    Err(Error::input(match other {
        Some(kind) => format!(
            "{} holds no certificate (only a {kind} PEM block); pass a PEM or DER certificate",
            file.display()
        ),
        None => format!(
            "{} is not a certificate (neither PEM nor DER); pass a PEM or DER certificate",
            file.display()
        ),
    }))
}

/// Reads a certificate file through the store's one reader (a FIFO, a device or a folder is
/// refused before it is read, and the read is capped), worded for `hapki lint`.
fn read_capped(file: &Path) -> Result<Vec<u8>> {
    crate::store::read_io(file, crate::store::CAP).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => Error::input(format!(
            "{}: {e}; pass a PEM or DER certificate file",
            file.display()
        )),
        _ => Error::io("read", file, e),
    })
}

fn pem_label(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::PrivateKey => "PRIVATE KEY",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        SectionKind::PublicKey => "PUBLIC KEY",
        SectionKind::Csr => "CERTIFICATE REQUEST",
        SectionKind::Crl => "X509 CRL",
        _ => "non-certificate",
    }
}
