//! `hapki jwt client add | remove`: the clients of `hapki serve`'s token endpoint. A client is a
//! JWT user of the org's profile; `NS/jwt/clients.json` (0600) keeps only an argon2id hash of
//! its secret, and a generated secret is printed once, never stored.

use super::{preflight, EXIT_OK};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::profile::{user_name, Topology};
use crate::store::{Mode, OrgLayout, Plan};
use crate::token::clients::{self, Client, Clients};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Let a JWT user of the profile fetch tokens from `hapki serve` with a secret.
    #[command(after_help = ADD_HELP)]
    Add(ClientAddArgs),
    /// Take a client's secret away (its tokens already issued stay valid until they expire).
    #[command(after_help = REMOVE_HELP)]
    Remove(ClientRemoveArgs),
}

const ADD_HELP: &str = "EXAMPLES:\n  hapki jwt client add alice --org participant1                 # prints a new secret once\n  hapki jwt client add alice --org participant1 --secret-file alice.secret\n\nThe secret's argon2id hash goes to NS/jwt/clients.json (mode 0600); the secret itself is never stored. A running `hapki serve` sees the change at once. Adding a client that exists replaces its secret.\n\nEXIT CODES:\n  0  success\n  2  bad input (a user not in the profile, an unusable secret), or a file could not be read or written";

const REMOVE_HELP: &str = "EXAMPLES:\n  hapki jwt client remove alice --org participant1\n\nEXIT CODES:\n  0  success\n  2  bad input (no such client), or a file could not be read or written";

#[derive(Args, Debug)]
pub struct ClientAddArgs {
    /// The JWT user (a `users` entry of the org's `[org.jwt]`); it is the OAuth client_id.
    pub user: String,
    /// The org whose server issues the user's tokens.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// Read the secret from this file (first line) instead of generating one: 16 to 512
    /// letters, digits, `-`, `.`, `_` or `~`.
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct ClientRemoveArgs {
    /// The client to remove.
    pub user: String,
    /// The org whose clients file holds it.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(c: &ClientCommand) -> Result<i32> {
    match c {
        ClientCommand::Add(a) => add(a),
        ClientCommand::Remove(a) => remove(a),
    }
}

/// The org's layout, after checking that `user` is one of its profile's JWT users.
fn user_of(common: &Common, org: &str, user: &str) -> Result<(OrgLayout, String)> {
    let topo = Topology::load(common.profile.as_deref())?;
    let org = topo.org(org)?;
    let name = user_name(user)?;
    let known = org
        .jwt
        .as_ref()
        .is_some_and(|j| j.users.iter().any(|u| u.name == name));
    if !known {
        return Err(Error::input(format!(
            "`{name}` is not a JWT user of org `{}` in the profile {}; add it to the org's [org.jwt] users first (the token endpoint issues the token of the user's profile shape)",
            org.name, topo.source
        )));
    }
    Ok((
        OrgLayout::new(&common.out, org.name.as_str(), &org.dns),
        name,
    ))
}

fn load(layout: &OrgLayout) -> Result<Clients> {
    let path = layout.clients();
    if !path.exists() {
        return Ok(Clients::default());
    }
    let bytes = crate::store::read(&path)?;
    Clients::parse(&bytes).map_err(|m| {
        Error::input(format!(
            "{} {m}; restore it, or delete it and add the clients again",
            path.display()
        ))
    })
}

fn read_secret(path: &std::path::Path) -> Result<String> {
    let text = crate::store::read_text(path)?;
    let secret = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if let Some(why) = clients::secret_error(secret) {
        return Err(Error::input(format!(
            "the secret in {} {why}",
            path.display()
        )));
    }
    Ok(secret.to_string())
}

fn add(a: &ClientAddArgs) -> Result<i32> {
    let (layout, name) = user_of(&a.common, &a.org, &a.user)?;
    let given = a.secret_file.as_deref().map(read_secret).transpose()?;
    let now = a.common.now()?;
    preflight(&a.common.out)?;
    let lock = a.common.lock()?;
    let mut all = load(&layout)?;
    let generated = given.is_none();
    let secret = match given {
        Some(s) => s,
        None => clients::generate_secret().map_err(Error::bug)?,
    };
    let hash = clients::hash_secret(secret.as_bytes()).map_err(Error::bug)?;
    let replaced = all
        .clients
        .insert(
            name.clone(),
            Client {
                hash,
                added: crate::model::fmt_time(now),
            },
        )
        .is_some();
    let mut plan = Plan::new();
    plan.add(layout.clients(), all.to_json(), Mode::Secret);
    plan.commit(&lock)?;
    if generated {
        // The one time the secret is shown: stdout alone, so `> alice.secret` keeps it.
        crate::outln!("{secret}");
    }
    eprintln!(
        "{} client `{name}` in {}{}",
        if replaced {
            "replaced the secret of"
        } else {
            "added"
        },
        layout.clients().display(),
        if generated {
            "; its secret is printed above, once (it is not stored)"
        } else {
            ""
        }
    );
    Ok(EXIT_OK)
}

fn remove(a: &ClientRemoveArgs) -> Result<i32> {
    let topo = Topology::load(a.common.profile.as_deref())?;
    let org = topo.org(&a.org)?;
    let name = user_name(&a.user)?;
    let layout = OrgLayout::new(&a.common.out, org.name.as_str(), &org.dns);
    preflight(&a.common.out)?;
    let lock = a.common.lock()?;
    let mut all = load(&layout)?;
    if all.clients.remove(&name).is_none() {
        return Err(Error::input(format!(
            "`{name}` is not a client of org `{}` ({} does not list it); `hapki jwt client add {name} --org {}` adds it",
            org.name,
            layout.clients().display(),
            org.name
        )));
    }
    let mut plan = Plan::new();
    plan.add(layout.clients(), all.to_json(), Mode::Secret);
    plan.commit(&lock)?;
    crate::outln!(
        "removed client `{name}` from {}",
        layout.clients().display()
    );
    Ok(EXIT_OK)
}
