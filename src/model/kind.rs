//! What a certificate is for: the leaf kinds and the CA levels.

use crate::error::{Error, Result};

/// What a leaf certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Server,
    Client,
    ProxyBackend,
    JwtSigning,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::ProxyBackend => "proxy-backend",
            Kind::JwtSigning => "jwt-signing",
        }
    }

    pub fn parse(s: &str) -> Result<Kind> {
        Ok(match s {
            "server" => Kind::Server,
            "client" => Kind::Client,
            "proxy-backend" => Kind::ProxyBackend,
            "jwt-signing" => Kind::JwtSigning,
            _ => {
                return Err(Error::input(format!(
                    "the kind `{s}` is not one hapki knows; use server, client, proxy-backend or jwt-signing"
                )))
            }
        })
    }
}

/// CA levels, from the top.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaLevel {
    Root,
    /// The middle CA of a three-tier hierarchy.
    Policy,
    /// The CA that signs leaves in a two- or three-tier hierarchy (it keeps the `intermediate`
    /// paths, so configs written for two tiers keep working with three).
    Intermediate,
}

impl CaLevel {
    pub fn name(self) -> &'static str {
        match self {
            CaLevel::Root => "root",
            CaLevel::Policy => "policy",
            CaLevel::Intermediate => "intermediate",
        }
    }

    /// The levels of a hierarchy of `tier` CAs, from the root down.
    pub fn for_tier(tier: u8) -> &'static [CaLevel] {
        match tier {
            1 => &[CaLevel::Root],
            3 => &[CaLevel::Root, CaLevel::Policy, CaLevel::Intermediate],
            _ => &[CaLevel::Root, CaLevel::Intermediate],
        }
    }
}
