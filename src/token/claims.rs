//! The claims of the three token shapes Canton accepts (scope, audience, custom), in the field
//! order of SPEC.md.

use crate::profile::{JwtSpec, TokenFormat, UserSpec};
use serde_json::{json, Map, Value};

/// The audience prefix of Canton 3.x audience-based tokens.
pub const AUD_PREFIX: &str = "https://daml.com/jwt/aud/participant/";

/// What one token says, before it is signed.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    pub user: String,
    pub format: TokenFormat,
    /// `None`: no `aud` claim (participant_admin's scope token).
    pub aud: Option<String>,
    pub scope: String,
    pub participant_id: String,
    pub ledger_id: String,
    pub application_id: String,
    pub admin: bool,
    pub act_as: Vec<String>,
    pub read_as: Vec<String>,
    pub issuer: String,
    pub iat: i64,
    pub ttl: i64,
}

impl TokenSpec {
    /// The token of a profile user, at `iat`.
    pub fn for_user(jwt: &JwtSpec, u: &UserSpec, iat: i64) -> TokenSpec {
        let aud = match (u.format, u.audience) {
            (_, false) => None,
            (TokenFormat::Audience, true) => Some(format!("{AUD_PREFIX}{}", jwt.participant_id)),
            (_, true) => Some(jwt.participant_id.clone()),
        };
        TokenSpec {
            user: u.name.clone(),
            format: u.format,
            aud,
            scope: u.scope.clone().unwrap_or_else(|| "daml_ledger_api".into()),
            participant_id: jwt.participant_id.clone(),
            ledger_id: jwt.ledger_id.clone(),
            application_id: u.application_id.clone().unwrap_or_else(|| u.name.clone()),
            admin: u.admin,
            act_as: u.act_as.clone(),
            read_as: u.read_as.clone(),
            issuer: jwt.issuer.clone(),
            iat,
            ttl: jwt.ttl.0,
        }
    }

    /// The claims of the token, in the field order of SPEC.md.
    pub fn claims(&self) -> Value {
        let mut m = Map::new();
        match self.format {
            TokenFormat::Scope => {
                m.insert("sub".into(), json!(self.user));
                m.insert("scope".into(), json!(self.scope));
            }
            TokenFormat::Audience => {
                m.insert("sub".into(), json!(self.user));
            }
            TokenFormat::Custom => {
                m.insert(
                    "https://daml.com/ledger-api".into(),
                    json!({
                        "ledgerId": self.ledger_id,
                        "participantId": self.participant_id,
                        "applicationId": self.application_id,
                        "admin": self.admin,
                        "actAs": self.act_as,
                        "readAs": self.read_as,
                    }),
                );
            }
        }
        if let Some(aud) = &self.aud {
            m.insert("aud".into(), json!(aud));
        }
        m.insert("iat".into(), json!(self.iat));
        m.insert("exp".into(), json!(self.iat + self.ttl));
        m.insert("iss".into(), json!(self.issuer));
        Value::Object(m)
    }
}
