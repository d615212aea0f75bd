//! Small validated value types.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a value was refused; the caller adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// A short identifier: a service, environment, model or provider name.
///
/// Labels are stored and shown as they are, without passing the privacy guard, so they are kept
/// to a character set that cannot hold an email address or a sentence: ASCII letters, digits and
/// `. _ - : / +`, 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// The longest label accepted.
    pub const MAX_LEN: usize = 128;

    /// Checks `s` and makes a label of it.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if s.is_empty() {
            return Err(ValueError("must not be empty".into()));
        }
        if s.len() > Self::MAX_LEN {
            return Err(ValueError(format!(
                "must be at most {} characters, got {}",
                Self::MAX_LEN,
                s.len()
            )));
        }
        if let Some(c) = s.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '+'))
        }) {
            return Err(ValueError(format!(
                "{c:?} is not allowed: use ASCII letters, digits and . _ - : / +, got {s:?}"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Label {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        Label::parse(&s)
    }
}

impl From<Label> for String {
    fn from(l: Label) -> String {
        l.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id a client gives each record so that a retried batch is not counted twice.
///
/// 1 to 128 visible ASCII characters (no spaces); a UUID is the usual choice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 128;

    /// Checks `s` and makes an id of it.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if s.is_empty() {
            return Err(ValueError("must not be empty".into()));
        }
        if s.len() > Self::MAX_LEN {
            return Err(ValueError(format!(
                "must be at most {} characters, got {}",
                Self::MAX_LEN,
                s.len()
            )));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValueError(format!(
                "must be visible ASCII characters without spaces, got {s:?}"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RecordId {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        RecordId::parse(&s)
    }
}

impl From<RecordId> for String {
    fn from(l: RecordId) -> String {
        l.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an API key (or a database role) acts as. The same three roles exist in PostgreSQL, so an
/// API key means what the matching database role means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Full access: ingest, read, administer (PostgreSQL `service_role`).
    Service,
    /// Read-only access to embeddings (PostgreSQL `authenticated`).
    Authenticated,
    /// No access to data (PostgreSQL `anon`).
    Anon,
}

impl Role {
    /// The name used in config, the CLI and the `api_keys` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Authenticated => "authenticated",
            Role::Anon => "anon",
        }
    }

    /// The PostgreSQL role with the same rights.
    pub fn database_role(self) -> &'static str {
        match self {
            Role::Service => "service_role",
            Role::Authenticated => "authenticated",
            Role::Anon => "anon",
        }
    }
}

impl FromStr for Role {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        match s {
            "service" | "service_role" => Ok(Role::Service),
            "authenticated" => Ok(Role::Authenticated),
            "anon" => Ok(Role::Anon),
            other => Err(ValueError(format!(
                "unknown role {other:?}: expected service, authenticated or anon"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refuse_what_could_hold_personal_data() {
        assert!(Label::parse("checkout-api").is_ok());
        assert!(Label::parse("gpt-4o-mini").is_ok());
        assert!(Label::parse("").is_err());
        let err = Label::parse("jane@example.com").unwrap_err();
        assert!(err.0.contains("'@'"), "{err}");
        assert!(Label::parse("two words").is_err());
        assert!(Label::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn record_ids_are_visible_ascii() {
        assert!(RecordId::parse("0b7c2d3e-1").is_ok());
        assert!(RecordId::parse("a b").is_err());
        assert!(RecordId::parse("é").is_err());
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Service, Role::Authenticated, Role::Anon] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
