//! `hapki export p12|bundle`: the tree's files in the forms Java and deployments take (see
//! `crate::export`). Nothing in the tree changes; the one file named by `--to` is written.

use super::EXIT_OK;
use crate::cli::{ExportBundleArgs, ExportP12Args};
use crate::error::Error;
use crate::error::Result;
use crate::export::{self, p12};
use crate::model::Kind;
use crate::profile::Topology;
use crate::store::OrgLayout;

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
