//! The key algorithms hapki generates.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The key algorithms hapki generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum KeyAlg {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl KeyAlg {
    pub const NAMES: &'static str = "rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384, ed25519";

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096)
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Rsa2048 => "rsa2048",
            KeyAlg::Rsa3072 => "rsa3072",
            KeyAlg::Rsa4096 => "rsa4096",
            KeyAlg::EcdsaP256 => "ecdsa-p256",
            KeyAlg::EcdsaP384 => "ecdsa-p384",
            KeyAlg::Ed25519 => "ed25519",
        }
    }
}

impl FromStr for KeyAlg {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "rsa2048" | "rsa-2048" => KeyAlg::Rsa2048,
            "rsa3072" | "rsa-3072" => KeyAlg::Rsa3072,
            "rsa4096" | "rsa-4096" => KeyAlg::Rsa4096,
            "ecdsa-p256" | "p256" | "p-256" | "ec256" => KeyAlg::EcdsaP256,
            "ecdsa-p384" | "p384" | "p-384" | "ec384" => KeyAlg::EcdsaP384,
            "ed25519" => KeyAlg::Ed25519,
            _ => {
                return Err(Error::input(format!(
                    "the key algorithm `{s}` is not one hapki knows; use one of {}",
                    KeyAlg::NAMES
                )))
            }
        })
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
