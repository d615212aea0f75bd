//! The privacy guard: the only way text gets into the store or to a model.
//!
//! The store's write methods take [`Guarded<R>`] records and model clients take [`Redacted`]
//! text. Neither type has a public constructor: the only way to make one is to pass the raw
//! value through a [`Guard`], which finds personal data and secrets, replaces them with masks
//! (`[EMAIL]`, `[GITHUB_TOKEN]`…), or refuses the record with a [`Blocked`] error that names the
//! field and the entity type, never the value.
//!
//! ```
//! use tokpulse_guard::{Guard, GuardConfig};
//!
//! let guard = Guard::new(&GuardConfig::default());
//! let clean = guard.redact_text("login failed for jane.doe@corp.io", "message").unwrap();
//! assert_eq!(clean.as_str(), "login failed for [EMAIL]");
//! ```
#![warn(missing_docs)]

mod detect;
mod scrub;

pub use detect::{Entity, Span};
pub use scrub::Scrub;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Text that has passed the guard. Only this crate can make one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl Redacted {
    /// The redacted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The redacted text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record whose every free-text field has passed the guard. Only this crate can make one, so
/// a function that takes `Guarded<R>` can be sure it never sees unredacted text.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded<R> {
    record: R,
    redactions: u32,
}

impl<R> Guarded<R> {
    /// The redacted record.
    pub fn get(&self) -> &R {
        &self.record
    }

    /// How many values the guard replaced in this record.
    pub fn redactions(&self) -> u32 {
        self.redactions
    }
}

impl<R> std::ops::Deref for Guarded<R> {
    type Target = R;
    fn deref(&self) -> &R {
        &self.record
    }
}

/// What the guard does with an entity type it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace the value with a mask such as `[EMAIL]`.
    #[default]
    Redact,
    /// Refuse the whole record.
    Block,
}

/// The guard's settings (`[guard]` in `tokpulse.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// What to do with secrets (API keys, tokens, passwords). Default: redact.
    pub secrets: Action,
    /// What to do with email addresses. Default: redact.
    pub emails: Action,
    /// Email domains left as they are (`example.com`).
    pub allow_email_domains: Vec<String>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            secrets: Action::Redact,
            emails: Action::Redact,
            allow_email_domains: Vec::new(),
        }
    }
}

/// A record refused because a field holds something the policy blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: contains {entity}, which the privacy policy blocks")]
pub struct Blocked {
    /// The field, as a dotted path (`attributes.user.email`).
    pub field: String,
    /// What was found there.
    pub entity: Entity,
}

/// Finds and removes personal data and secrets.
#[derive(Debug, Clone)]
pub struct Guard {
    detector: detect::Detector,
    config: GuardConfig,
}

impl Guard {
    /// Builds a guard with `config`'s policy.
    pub fn new(config: &GuardConfig) -> Self {
        Guard {
            detector: detect::Detector::new(),
            config: config.clone(),
        }
    }

    /// The spans of personal data and secrets in `text`, in order, not overlapping.
    pub fn scan(&self, text: &str) -> Vec<Span> {
        self.detector
            .scan(text, None)
            .into_iter()
            .filter(|s| !self.allowed(text, s))
            .collect()
    }

    /// Redacts one piece of text found in `field`.
    pub fn redact_text(&self, text: &str, field: &str) -> Result<Redacted, Blocked> {
        let mut s = text.to_owned();
        self.redact_in_place(&mut s, field, None)?;
        Ok(Redacted(s))
    }

    /// Passes every free-text field of `record` through the guard.
    pub fn guard<R: Scrub>(&self, mut record: R) -> Result<Guarded<R>, Blocked> {
        let mut redactions = 0u32;
        record.scrub(&mut |field, key, value| {
            redactions += self.redact_in_place(value, field, key)?;
            Ok(())
        })?;
        Ok(Guarded { record, redactions })
    }

    fn allowed(&self, text: &str, span: &Span) -> bool {
        span.entity == Entity::Email
            && text[span.start..span.end]
                .rsplit_once('@')
                .is_some_and(|(_, domain)| {
                    self.config
                        .allow_email_domains
                        .iter()
                        .any(|d| domain.eq_ignore_ascii_case(d))
                })
    }

    fn action(&self, entity: Entity) -> Action {
        match entity {
            Entity::Email => self.config.emails,
            _ => self.config.secrets,
        }
    }

    /// Redacts `value` in place; `key` is the JSON key the value sits under, if any. Returns the
    /// number of replacements.
    fn redact_in_place(
        &self,
        value: &mut String,
        field: &str,
        key: Option<&str>,
    ) -> Result<u32, Blocked> {
        let spans: Vec<Span> = self
            .detector
            .scan(value, key)
            .into_iter()
            .filter(|s| !self.allowed(value, s))
            .collect();
        if spans.is_empty() {
            return Ok(0);
        }
        if let Some(s) = spans
            .iter()
            .find(|s| self.action(s.entity) == Action::Block)
        {
            return Err(Blocked {
                field: field.to_owned(),
                entity: s.entity,
            });
        }
        let mut out = String::with_capacity(value.len());
        let mut last = 0;
        for s in &spans {
            out.push_str(&value[last..s.start]);
            out.push_str(s.entity.mask());
            last = s.end;
        }
        out.push_str(&value[last..]);
        *value = out;
        Ok(spans.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_names_field_and_type_never_the_value() {
        let guard = Guard::new(&GuardConfig {
            emails: Action::Block,
            ..GuardConfig::default()
        });
        let err = guard
            .redact_text("mail bob@corp.io now", "message")
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "field `message`: contains EMAIL, which the privacy policy blocks"
        );
        assert!(!msg.contains("bob"));
    }

    #[test]
    fn allowed_domains_stay() {
        let guard = Guard::new(&GuardConfig {
            allow_email_domains: vec!["example.com".into()],
            ..GuardConfig::default()
        });
        let r = guard.redact_text("a@example.com b@corp.io", "m").unwrap();
        assert_eq!(r.as_str(), "a@example.com [EMAIL]");
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        let guard = Guard::new(&GuardConfig::default());
        let once = guard
            .redact_text("key sk-proj-abcdefghijklmnopqrstuvwxyz0123 for a@b.io", "m")
            .unwrap();
        let twice = guard.redact_text(once.as_str(), "m").unwrap();
        assert_eq!(once, twice);
    }
}
