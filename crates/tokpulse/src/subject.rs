//! Data-subject duties (GDPR articles 15 and 17, CCPA access and deletion): finding a person's
//! rows through the token the guard wrote for them, then erasing or exporting them. Shared by
//! `tokpulse privacy forget|export` and `POST /v1/privacy/forget|export`.
//!
//! The guard stores no value it hashes, only `[EMAIL:3f2a9c1d5e6b7a80]`; the same key and the
//! same normalisation ([`tokpulse_guard::HmacSecret::token`]) turn the address a person gives
//! into that token again, and the store looks for it in every table.

use serde::Serialize;
use std::fmt;
use tokpulse_core::Timestamp;
use tokpulse_guard::{ENV_HMAC_SECRET, Entity, GuardConfig};
use tokpulse_store::{ForgetOutcome, Store, StoreError, SubjectRows, TableOutcome};

/// Who a request is about: an entity type and the value the person gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The type (`EMAIL`, `PHONE`…).
    pub entity: Entity,
    /// The value, as given; normalised when hashed.
    pub value: String,
}

/// Why a request cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Not a usable identifier.
    #[error("{0}")]
    Invalid(String),
    /// No hashing key: tokens cannot be computed.
    #[error(
        "{ENV_HMAC_SECRET} is not set: a person's rows are found through the hash tokens the \
         guard wrote with that key; set it to the same key `tokpulse serve` uses"
    )]
    NoSecret,
    /// No policy hashes this type: its values were masked, nothing is tied to a person.
    #[error(
        "no policy hashes {0}: its values were masked ([{0}]) before they were stored, so no \
         stored row is tied to this person and there is nothing to forget or export; only types \
         with the \"hash\" policy can be traced to a person"
    )]
    NotHashed(Entity),
}

impl Subject {
    /// An email address.
    pub fn email(value: &str) -> Result<Subject, SubjectError> {
        let v = value.trim();
        let valid = v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !v.contains(char::is_whitespace)
        });
        if !valid {
            return Err(SubjectError::Invalid(format!(
                "expected an email address such as jane@corp.io, got {value:?}"
            )));
        }
        Ok(Subject {
            entity: Entity::Email,
            value: v.to_owned(),
        })
    }

    /// A value of the type named `entity` (`PHONE`, `us_ssn`…).
    pub fn of_type(entity: &str, value: &str) -> Result<Subject, SubjectError> {
        let entity = Entity::parse(entity.trim()).ok_or_else(|| {
            let all: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
            SubjectError::Invalid(format!(
                "unknown entity type {entity:?}; expected one of {}",
                all.join(", ")
            ))
        })?;
        if entity == Entity::Email {
            return Subject::email(value);
        }
        if value.trim().is_empty() {
            return Err(SubjectError::Invalid(format!(
                "the {entity} value must not be empty"
            )));
        }
        Ok(Subject {
            entity,
            value: value.to_owned(),
        })
    }

    /// `TYPE=VALUE`, as `--id` takes it.
    pub fn parse_id(arg: &str) -> Result<Subject, SubjectError> {
        let (entity, value) = arg.split_once('=').ok_or_else(|| {
            SubjectError::Invalid(format!(
                "expected TYPE=VALUE such as PHONE=+14155550100, got {arg:?}"
            ))
        })?;
        Subject::of_type(entity, value)
    }

    /// The token the guard wrote for this person under `config`'s key, if any policy hashes
    /// the type.
    pub fn token(&self, config: &GuardConfig) -> Result<String, SubjectError> {
        let secret = config.hmac_secret.as_ref().ok_or(SubjectError::NoSecret)?;
        if !config.may_hash(self.entity) {
            return Err(SubjectError::NotHashed(self.entity));
        }
        Ok(secret.token(self.entity, &self.value))
    }
}

impl fmt::Display for Subject {
    // Never the value: it is what the request is about and must not reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} value", self.entity)
    }
}

/// What a forget request did: the receipt printed and returned. The token, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgetReceipt {
    /// `forget`.
    pub request: &'static str,
    /// The person's token.
    pub token: String,
    /// When it was carried out.
    pub at: Timestamp,
    /// Per table: rows deleted and anonymised.
    pub tables: Vec<TableOutcome>,
    /// Rows deleted in all.
    pub deleted: u64,
    /// Rows anonymised in all.
    pub anonymised: u64,
    /// What the store cannot reach.
    pub note: &'static str,
}

/// Copies delivered before the request lie outside the store.
pub const OUTSIDE_THE_STORE: &str = "issues already delivered (outbox files, GitHub issues, Slack \
     messages) are outside the store; search them for the token";

/// Erases `subject`'s rows: deletes telemetry, the request rollups and daily AI usage keyed by
/// a route (or feature) holding the token, and embeddings; anonymises findings and actions;
/// records the request; one transaction.
pub async fn forget(
    store: &dyn Store,
    config: &GuardConfig,
    subject: &Subject,
    now: Timestamp,
) -> Result<ForgetReceipt, RequestError> {
    let token = subject.token(config)?;
    let outcome: ForgetOutcome = store.forget_subject(&token, now).await?;
    Ok(ForgetReceipt {
        request: "forget",
        deleted: outcome.deleted(),
        anonymised: outcome.anonymised(),
        tables: outcome.tables,
        token,
        at: now,
        note: OUTSIDE_THE_STORE,
    })
}

/// Every row about `subject`, grouped by table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    /// `export`.
    pub request: &'static str,
    /// The person's token.
    pub token: String,
    /// When it was made.
    pub at: Timestamp,
    /// Rows per table.
    pub tables: SubjectRows,
}

/// Collects `subject`'s rows and records the request.
pub async fn export(
    store: &dyn Store,
    config: &GuardConfig,
    subject: &Subject,
    now: Timestamp,
) -> Result<Export, RequestError> {
    let token = subject.token(config)?;
    let tables = store.export_subject(&token, now).await?;
    Ok(Export {
        request: "export",
        token,
        at: now,
        tables,
    })
}

/// A request that failed: the subject, or the store.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The subject or the configuration.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokpulse_guard::{HmacSecret, Policy};

    fn config(hash: &[&str]) -> GuardConfig {
        let mut c = GuardConfig::default();
        for e in hash {
            c.entities.insert((*e).into(), Policy::Hash);
        }
        c.hmac_secret = Some(HmacSecret::new("k"));
        c
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(Subject::email("jane@corp.io").is_ok());
        for bad in ["jane", "@corp.io", "jane@corp", "ja ne@corp.io", ""] {
            assert!(Subject::email(bad).is_err(), "{bad}");
        }
        let phone = Subject::parse_id("phone=+1 415 555 0100").unwrap();
        assert_eq!(phone.entity, Entity::Phone);
        let e = Subject::parse_id("NAME=Jane").unwrap_err().to_string();
        assert!(
            e.contains("unknown entity type \"NAME\"") && e.contains("PHONE"),
            "{e}"
        );
        assert!(Subject::parse_id("PHONE").is_err());
        assert!(Subject::parse_id("PHONE= ").is_err());
        assert_eq!(
            Subject::parse_id("EMAIL=Jane@corp.io").unwrap(),
            Subject::email("Jane@corp.io").unwrap()
        );
        assert!(!format!("{phone}").contains("415"));
    }

    #[test]
    fn the_token_is_the_guards_and_needs_a_hash_policy_and_a_key() {
        let c = config(&["EMAIL"]);
        let token = Subject::email("Jane@Corp.io").unwrap().token(&c).unwrap();
        let guard = tokpulse_guard::Guard::new(&c);
        assert_eq!(
            guard
                .redact_text("from jane@corp.io", "m")
                .unwrap()
                .as_str(),
            format!("from {token}")
        );
        let phone = Subject::parse_id("PHONE=+14155550100").unwrap();
        assert_eq!(phone.token(&c), Err(SubjectError::NotHashed(Entity::Phone)));
        let mut no_key = c.clone();
        no_key.hmac_secret = None;
        assert_eq!(
            Subject::email("jane@corp.io").unwrap().token(&no_key),
            Err(SubjectError::NoSecret)
        );
        // A field hashed whatever it holds may hold any type.
        let mut by_field = config(&[]);
        by_field
            .fields
            .insert("attributes.user.*".into(), Policy::Hash);
        assert!(phone.token(&by_field).is_ok());
    }
}
