//! `hapki export p12|bundle`: the tree's files in the forms Java and deployments take (see
//! `crate::export`). Nothing in the tree changes; the one file named by `--to` is written.

use super::EXIT_OK;
use crate::cli::Tree;
use crate::error::Error;
use crate::error::Result;
use crate::export::{self, p12};
use crate::model::Kind;
use crate::profile::Topology;
use crate::store::OrgLayout;
use clap::Args;
use std::path::PathBuf;

pub const EXPORT_BUNDLE_HELP: &str = "EXAMPLES:\n  hapki export bundle participant1b --to participant1b.tar\n  tar -xpf participant1b.tar -C /etc/canton/certs        # the tree's paths and modes\n  hapki export bundle lb-participant1 --format k8s --to lb.yaml && kubectl apply -f lb.yaml\n\nA server gets its cert, chain and key, the org's trust bundle, the client certs named after its\nservice (and admin-api), and, for the participant of a JWT section, the JWKS and signing cert; a\nproxy gets its backend cert and the fronted primary's chain and key. No other key is in it.\n\nEXIT CODES:\n  0  success\n  2  bad input (not a node of the profile), a missing file, or a file could not be written";

#[derive(Args, Debug)]
pub struct ExportBundleArgs {
    /// The node: a server, replica or proxy (with a backend cert) of the profile.
    pub node: String,
    /// The org of the node (default: the one org that has it).
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// tar (default) or k8s (Secret and ConfigMap manifests).
    #[arg(long, value_name = "FORMAT", default_value = "tar")]
    pub format: String,
    /// The file to write (a tar, or a YAML manifest file).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    #[command(flatten)]
    pub tree: Tree,
}

pub const EXPORT_P12_HELP: &str = "EXAMPLES:\n  hapki export p12 participant1b --password-file pw.txt --to participant1b.p12\n  hapki export p12 participant1 --kind client --org participant1 --password-file pw.txt --to client.p12\n  keytool -list -storetype PKCS12 -keystore participant1b.p12 -storepass \"$(cat pw.txt)\"\n\nThe store password is the first line of --password-file (never on the command line); the key\nentry's alias is NAME and its password the store's. Encryption: PBKDF2-HMAC-SHA256 with\nAES-256-CBC, MAC HMAC-SHA256 (what Java writes by default). The file is written with mode 0600.\nEach org's CA certs are also in NS/intermediate/certs/truststore.p12 (password changeit), written\nby hapki init.\n\nEXIT CODES:\n  0  success\n  2  bad input (unknown leaf, an empty password), or a file could not be read or written";

#[derive(Args, Debug)]
pub struct ExportP12Args {
    /// The leaf: a server, replica, proxy or client of the profile.
    pub name: String,
    /// The org of the leaf (default: the one org that has it).
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// server, client or proxy-backend, when NAME is several (participant1 is a server and a client).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// A file whose first line is the store password.
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
    /// The PKCS#12 file to write.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    #[command(flatten)]
    pub tree: Tree,
}

pub fn p12(args: &ExportP12Args) -> Result<i32> {
    let topo = Topology::load(args.tree.profile.as_deref())?;
    let kind = args.kind.as_deref().map(Kind::parse).transpose()?;
    let password = export::read_password(&args.password_file)?;
    let (org, kind) = export::find_leaf(&topo, &args.name, args.org.as_deref(), kind)?;
    let layout = OrgLayout::new(&args.tree.out, org.name.as_str(), &org.dns);
    let leaf = export::load_leaf(&layout, kind, &args.name)?;
    let chain: Vec<&[u8]> = leaf.chain.iter().map(|c| c.as_ref()).collect();
    let bytes = p12::keystore(&args.name, &leaf.key_pkcs8, &chain, &password)?;
    export::write_to(&args.to, &bytes, 0o600)?;
    crate::outln!(
        "wrote {} ({} {} of org {}: key, cert and {} CA certs; alias `{}`)",
        args.to.display(),
        kind.name(),
        args.name,
        org.name,
        leaf.chain.len() - 1,
        args.name
    );
    Ok(EXIT_OK)
}

pub fn bundle(args: &ExportBundleArgs) -> Result<i32> {
    let topo = Topology::load(args.tree.profile.as_deref())?;
    let k8s = match args.format.as_str() {
        "tar" => false,
        "k8s" => true,
        other => {
            return Err(Error::input(format!(
                "--format `{other}` is not known; use tar or k8s"
            )))
        }
    };
    let owners: Vec<_> = (topo.orgs.iter())
        .filter(|o| args.org.as_deref().is_none_or(|w| w == o.name.as_str()))
        .filter(|o| !o.leaves_named(&args.node).is_empty())
        .collect();
    if let Some(o) = &args.org {
        topo.org(o)?;
    }
    let org = match owners.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::input(format!(
                "`{}` is no node{} of the profile {}; name a server, replica or proxy",
                args.node,
                args.org
                    .as_deref()
                    .map_or(String::new(), |o| format!(" of org `{o}`")),
                topo.source
            )))
        }
        many => {
            let n: Vec<&str> = many.iter().map(|o| o.name.as_str()).collect();
            return Err(Error::input(format!(
                "`{}` is a node of several orgs ({}); choose one with --org",
                args.node,
                n.join(", ")
            )));
        }
    };
    let b = export::bundle::plan(&args.tree.out, org, &args.node)?;
    let (bytes, mode) = if k8s {
        (export::bundle::k8s(&b)?.into_bytes(), 0o600)
    } else {
        (export::bundle::tar(&b)?, 0o600)
    };
    export::write_to(&args.to, &bytes, mode)?;
    crate::outln!(
        "wrote {} for {} of org {}: {} files, {} key pairs ({})",
        args.to.display(),
        args.node,
        org.name,
        b.items.len(),
        b.pairs.len(),
        b.pairs
            .iter()
            .map(|p| format!("{} {}", p.kind.name(), p.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(EXIT_OK)
}
