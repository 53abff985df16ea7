//! `hapki export p12|bundle`: the tree's files in the forms Java and deployments take (see
//! `crate::export`). Nothing in the tree changes; the one file named by `--to` is written.

use super::EXIT_OK;
use crate::cli::ExportP12Args;
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
