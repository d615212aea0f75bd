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
pub mod eval;
mod scrub;

pub use detect::{Entity, Span};
pub use scrub::Scrub;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use tokpulse_core::RecordKind;

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
    /// What the guard replaced, per entity type and action; empty for a clean record.
    audit: Vec<AuditCount>,
}

impl<R> Guarded<R> {
    /// The redacted record.
    pub fn get(&self) -> &R {
        &self.record
    }

    /// How many values the guard replaced in this record.
    pub fn redactions(&self) -> u32 {
        self.audit.iter().map(|c| c.count).sum()
    }

    /// What the guard replaced, per entity type and action (never the values); empty when the
    /// record held nothing to redact. The store keeps these counts as the privacy audit.
    pub fn audit(&self) -> &[AuditCount] {
        &self.audit
    }
}

/// What the guard did with a value, as the privacy audit counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Replaced by a mask or a partial mask.
    Redacted,
    /// Replaced by a keyed-hash token.
    Hashed,
    /// The record was refused.
    Blocked,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 3] = [
        AuditAction::Redacted,
        AuditAction::Hashed,
        AuditAction::Blocked,
    ];

    /// The stored name: `redacted`, `hashed`, `blocked`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Redacted => "redacted",
            AuditAction::Hashed => "hashed",
            AuditAction::Blocked => "blocked",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many values of one entity type the guard treated one way in one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCount {
    /// The entity type.
    pub entity: Entity,
    /// What was done.
    pub action: AuditAction,
    /// How many values.
    pub count: u32,
}

fn add_count(audit: &mut Vec<AuditCount>, entity: Entity, action: AuditAction) {
    match audit
        .iter_mut()
        .find(|c| c.entity == entity && c.action == action)
    {
        Some(c) => c.count += 1,
        None => audit.push(AuditCount {
            entity,
            action,
            count: 1,
        }),
    }
}

impl<R> std::ops::Deref for Guarded<R> {
    type Target = R;
    fn deref(&self) -> &R {
        &self.record
    }
}

/// What the guard does with an entity type it finds (the coarse `secrets` / `emails` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace the value with a mask such as `[EMAIL]`.
    #[default]
    Redact,
    /// Refuse the whole record.
    Block,
}

/// The policy for one entity type or field (`[guard.entities]`, `[guard.fields]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Replace the value with its type: `[EMAIL]`.
    Mask,
    /// Keep the end, mask the rest: `**** **** **** 4242`, `j***@corp.io`, `***-**-6789`.
    /// Types without a meaningful partial form are masked.
    Partial,
    /// A keyed hash (HMAC-SHA256 with `TOKPULSE_GUARD_HMAC_SECRET`): `[EMAIL:3f2a9c1d5e6b7a80]`.
    /// The same value always becomes the same token, so people stay countable.
    Hash,
    /// Refuse the record, naming the field and the type, never the value.
    Block,
    /// Leave the value as it is.
    Allow,
}

/// The environment variable holding the key for [`Policy::Hash`] tokens.
pub const ENV_HMAC_SECRET: &str = "TOKPULSE_GUARD_HMAC_SECRET";

/// The key for [`Policy::Hash`]. Read from the environment, never from the file; its `Debug`
/// never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HmacSecret(Vec<u8>);

impl HmacSecret {
    /// Wraps a key.
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        HmacSecret(key.into())
    }

    /// The token the guard writes for `value` of type `entity` under the `hash` policy
    /// (`[EMAIL:3f2a9c1d5e6b7a80]`), after the same normalisation: emails lower-cased (and
    /// `%40` read as `@`), phone, card and SSN numbers reduced to their digits, IBANs without
    /// spaces in upper case, anything else trimmed. `tokpulse privacy forget` finds a person's
    /// rows with it.
    pub fn token(&self, entity: Entity, value: &str) -> String {
        hash_token(&self.0, value, entity)
    }
}

impl fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSecret(***)")
    }
}

/// The guard's settings (`[guard]` in `tokpulse.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// What to do with secrets (API keys, tokens, passwords). Default: redact.
    pub secrets: Action,
    /// What to do with email addresses. Default: redact.
    pub emails: Action,
    /// Email domains left as they are (`example.com`; subdomains too).
    pub allow_email_domains: Vec<String>,
    /// IP ranges left as they are, in CIDR form (`10.0.0.0/8`, `fd00::/8`).
    pub allow_ip_ranges: Vec<String>,
    /// Values never redacted (compared without case): product names that look like people.
    pub allow_terms: Vec<String>,
    /// Policy per entity type (`CREDIT_CARD = "partial"`); wins over `secrets` / `emails`.
    pub entities: BTreeMap<String, Policy>,
    /// Policy per field path (`"attributes.user.email" = "hash"`, `"attributes.debug.*" =
    /// "block"`); wins over everything else for what is found in that field.
    pub fields: BTreeMap<String, Policy>,
    /// Policies for one source only (`[guard.sources.logs.entities]`), keyed by record kind
    /// (`performance`, `ai-usage`, `logs`, `deploys`); each wins over its global counterpart
    /// for records of that source.
    pub sources: BTreeMap<String, SourcePolicy>,
    /// The key for `hash`, from [`ENV_HMAC_SECRET`]; never in the file.
    #[serde(skip)]
    pub hmac_secret: Option<HmacSecret>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            secrets: Action::Redact,
            emails: Action::Redact,
            allow_email_domains: Vec::new(),
            allow_ip_ranges: Vec::new(),
            allow_terms: Vec::new(),
            entities: BTreeMap::new(),
            fields: BTreeMap::new(),
            sources: BTreeMap::new(),
            hmac_secret: None,
        }
    }
}

/// The policies of one source (`[guard.sources.<kind>]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcePolicy {
    /// Policy per entity type for this source; wins over `[guard.entities]`.
    pub entities: BTreeMap<String, Policy>,
    /// Policy per field path for this source; wins over `[guard.fields]`.
    pub fields: BTreeMap<String, Policy>,
}

impl GuardConfig {
    /// Every problem with the values, each as `guard.key.path: reason`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (i, d) in self.allow_email_domains.iter().enumerate() {
            if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
                errors.push(format!(
                    "guard.allow_email_domains[{i}]: expected a domain such as \"example.com\", got {d:?}"
                ));
            }
        }
        for (i, r) in self.allow_ip_ranges.iter().enumerate() {
            if IpRange::parse(r).is_none() {
                errors.push(format!(
                    "guard.allow_ip_ranges[{i}]: expected a CIDR range such as \"10.0.0.0/8\", got {r:?}"
                ));
            }
        }
        for (i, t) in self.allow_terms.iter().enumerate() {
            if t.trim().is_empty() {
                errors.push(format!("guard.allow_terms[{i}]: must not be empty"));
            }
        }
        check_policies("guard", &self.entities, &self.fields, &mut errors);
        let sources: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        for (name, policy) in &self.sources {
            if RecordKind::ALL.iter().all(|k| k.as_str() != name) {
                errors.push(format!(
                    "guard.sources.{name}: unknown source; expected one of {}",
                    sources.join(", ")
                ));
            }
            let prefix = format!("guard.sources.{name}");
            check_policies(&prefix, &policy.entities, &policy.fields, &mut errors);
        }
        if self.hmac_secret.is_none() {
            for (prefix, entities, fields) in self.policy_tables() {
                let hashed = entities
                    .iter()
                    .filter(|(_, p)| **p == Policy::Hash)
                    .map(|(k, _)| format!("{prefix}.entities.{k}"))
                    .chain(
                        fields
                            .iter()
                            .filter(|(_, p)| **p == Policy::Hash)
                            .map(|(k, _)| format!("{prefix}.fields.{k:?}")),
                    );
                for path in hashed {
                    errors.push(format!(
                        "{path}: \"hash\" needs a key in the environment variable {ENV_HMAC_SECRET}"
                    ));
                }
            }
        }
        errors
    }
}

impl GuardConfig {
    /// `(key prefix, entities, fields)` of the global policies, then of each source's.
    fn policy_tables(
        &self,
    ) -> impl Iterator<Item = (String, &BTreeMap<String, Policy>, &BTreeMap<String, Policy>)> {
        std::iter::once(("guard".to_string(), &self.entities, &self.fields)).chain(
            self.sources
                .iter()
                .map(|(name, p)| (format!("guard.sources.{name}"), &p.entities, &p.fields)),
        )
    }

    /// Whether some policy may turn values of `entity` into hash tokens: a `hash` entity
    /// policy for it (global or per source) or any `hash` field policy. When none does, values
    /// of that type were masked and nothing stored is tied to a person.
    pub fn may_hash(&self, entity: Entity) -> bool {
        self.policy_tables().any(|(_, entities, fields)| {
            entities
                .iter()
                .any(|(k, p)| *p == Policy::Hash && Entity::parse(k) == Some(entity))
                || fields.values().any(|p| *p == Policy::Hash)
        })
    }
}

/// Checks one set of entity and field policies, naming keys under `prefix`.
fn check_policies(
    prefix: &str,
    entities: &BTreeMap<String, Policy>,
    fields: &BTreeMap<String, Policy>,
    errors: &mut Vec<String>,
) {
    for name in entities.keys() {
        if Entity::parse(name).is_none() {
            let all: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
            errors.push(format!(
                "{prefix}.entities.{name}: unknown entity type; expected one of {}",
                all.join(", ")
            ));
        }
    }
    for field in fields.keys() {
        if field.is_empty() || field.starts_with('.') || field.ends_with('.') {
            errors.push(format!(
                "{prefix}.fields.{field:?}: expected a field path such as \"attributes.user.email\""
            ));
        }
    }
}

/// A CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    fn parse(s: &str) -> Option<IpRange> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpRange { base: addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, bits) = match (self.base, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(u32::from(a)), u128::from(u32::from(b)), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
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

/// One finding with what the policy made of it, for `tokpulse redact --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Where and what.
    #[serde(flatten)]
    pub span: Span,
    /// The policy applied.
    pub policy: Policy,
    /// What replaced the value (equal to it under `allow`).
    pub replacement: String,
}

/// Entity and field policies, ready for lookups: the global ones or one source's.
#[derive(Debug, Clone, Default)]
struct PolicySet {
    fields: BTreeMap<String, Policy>,
    /// Per-field policies ending in `*`: (prefix, policy).
    field_prefixes: Vec<(String, Policy)>,
    entities: BTreeMap<Entity, Policy>,
}

impl PolicySet {
    fn new(entities: &BTreeMap<String, Policy>, fields: &BTreeMap<String, Policy>) -> Self {
        PolicySet {
            fields: fields.clone(),
            field_prefixes: fields
                .iter()
                .filter_map(|(k, p)| k.strip_suffix('*').map(|k| (k.to_string(), *p)))
                .collect(),
            entities: entities
                .iter()
                .filter_map(|(k, p)| Entity::parse(k).map(|e| (e, *p)))
                .collect(),
        }
    }

    fn field(&self, field: &str) -> Option<Policy> {
        if let Some(p) = self.fields.get(field) {
            return Some(*p);
        }
        self.field_prefixes
            .iter()
            .filter(|(prefix, _)| field.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| *p)
    }
}

/// Finds and removes personal data and secrets.
#[derive(Debug, Clone)]
pub struct Guard {
    detector: detect::Detector,
    config: GuardConfig,
    ip_ranges: Vec<IpRange>,
    global: PolicySet,
    /// `[guard.sources.<kind>]`, in [`RecordKind::ALL`]'s order (`None`: no section).
    sources: [Option<PolicySet>; 4],
}

impl Guard {
    /// Builds a guard with `config`'s policy. Invalid entries (which
    /// [`GuardConfig::validate`] reports) are ignored; `hash` without a key masks.
    pub fn new(config: &GuardConfig) -> Self {
        Guard {
            detector: detect::Detector::new(),
            ip_ranges: config
                .allow_ip_ranges
                .iter()
                .filter_map(|r| IpRange::parse(r))
                .collect(),
            global: PolicySet::new(&config.entities, &config.fields),
            sources: RecordKind::ALL.map(|k| {
                config
                    .sources
                    .get(k.as_str())
                    .map(|p| PolicySet::new(&p.entities, &p.fields))
            }),
            config: config.clone(),
        }
    }

    /// The token `value` of type `entity` becomes under the `hash` policy, or `None` without
    /// a key. See [`HmacSecret::token`].
    pub fn token(&self, entity: Entity, value: &str) -> Option<String> {
        self.config
            .hmac_secret
            .as_ref()
            .map(|k| k.token(entity, value))
    }

    /// The spans of personal data and secrets in `text`, in order, not overlapping, without
    /// the allowed ones.
    pub fn scan(&self, text: &str) -> Vec<Span> {
        self.scan_field(text, None)
    }

    /// [`Guard::scan`] for a value under a JSON key or header name, which is used as context
    /// (`"dob": "1990-01-02"`).
    pub fn scan_field(&self, text: &str, key: Option<&str>) -> Vec<Span> {
        let mut spans = self.detector.scan(text, key);
        if self.has_allow_lists() {
            spans.retain(|s| !self.allowed(text, s));
        }
        spans
    }

    /// Redacts one piece of text found in `field`.
    pub fn redact_text(&self, text: &str, field: &str) -> Result<Redacted, Blocked> {
        let mut s = text.to_owned();
        self.redact_in_place(&mut s, field, None, None, &mut Vec::new())?;
        Ok(Redacted(s))
    }

    /// Redacts `text` and reports each finding with its policy and replacement.
    pub fn redact_with_findings(
        &self,
        text: &str,
        field: &str,
    ) -> Result<(Redacted, Vec<Finding>), Blocked> {
        self.redact_with_findings_in(text, field, None)
    }

    /// [`Guard::redact_with_findings`] with the policies of `source` (`[guard.sources.<kind>]`)
    /// as well, as for a record of that kind.
    pub fn redact_with_findings_in(
        &self,
        text: &str,
        field: &str,
        source: Option<RecordKind>,
    ) -> Result<(Redacted, Vec<Finding>), Blocked> {
        let source = source.and_then(|k| self.source_policies(k));
        let spans = self.scan(text);
        let mut findings = Vec::with_capacity(spans.len());
        for s in spans {
            let policy = self.policy_in(s.entity, field, source);
            if policy == Policy::Block {
                return Err(Blocked {
                    field: field.to_owned(),
                    entity: s.entity,
                });
            }
            let replacement = self.replacement(&text[s.start..s.end], s.entity, policy);
            findings.push(Finding {
                span: s,
                policy,
                replacement,
            });
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for f in &findings {
            out.push_str(&text[last..f.span.start]);
            out.push_str(&f.replacement);
            last = f.span.end;
        }
        out.push_str(&text[last..]);
        Ok((Redacted(out), findings))
    }

    /// Passes every free-text field of `record` through the guard, with the policies of its
    /// source ([`Scrub::SOURCE`]).
    pub fn guard<R: Scrub>(&self, mut record: R) -> Result<Guarded<R>, Blocked> {
        let mut audit = Vec::new();
        let source = R::SOURCE.and_then(|k| self.source_policies(k));
        record.scrub(&mut |field, key, value| {
            self.redact_in_place(value, field, key, source, &mut audit)
        })?;
        Ok(Guarded { record, audit })
    }

    fn source_policies(&self, kind: RecordKind) -> Option<&PolicySet> {
        let i = RecordKind::ALL.iter().position(|k| *k == kind)?;
        self.sources[i].as_ref()
    }

    fn has_allow_lists(&self) -> bool {
        !self.config.allow_email_domains.is_empty()
            || !self.ip_ranges.is_empty()
            || !self.config.allow_terms.is_empty()
    }

    fn allowed(&self, text: &str, span: &Span) -> bool {
        let v = &text[span.start..span.end];
        if self
            .config
            .allow_terms
            .iter()
            .any(|t| v.eq_ignore_ascii_case(t.trim()))
        {
            return true;
        }
        match span.entity {
            Entity::Email => v
                .rsplit_once('@')
                .or_else(|| v.rsplit_once("%40"))
                .is_some_and(|(_, domain)| {
                    self.config.allow_email_domains.iter().any(|d| {
                        domain.eq_ignore_ascii_case(d)
                            || (domain.len() > d.len()
                                && domain.is_char_boundary(domain.len() - d.len() - 1)
                                && domain[domain.len() - d.len() - 1..].starts_with('.')
                                && domain[domain.len() - d.len()..].eq_ignore_ascii_case(d))
                    })
                }),
            Entity::Ipv4 | Entity::Ipv6 => v
                .parse::<IpAddr>()
                .is_ok_and(|ip| self.ip_ranges.iter().any(|r| r.contains(ip))),
            _ => false,
        }
    }

    /// The policy for `entity` found in `field`, for text of no particular source.
    pub fn policy(&self, entity: Entity, field: &str) -> Policy {
        self.policy_in(entity, field, None)
    }

    /// The policy for `entity` found in `field` of a record of source `kind`.
    pub fn source_policy(&self, entity: Entity, field: &str, kind: RecordKind) -> Policy {
        self.policy_in(entity, field, self.source_policies(kind))
    }

    /// Field policies win over entity policies; at each level the source's win over the global
    /// ones: source field, global field, source entity, global entity, then `secrets` /
    /// `emails`.
    fn policy_in(&self, entity: Entity, field: &str, source: Option<&PolicySet>) -> Policy {
        if let Some(p) = source.and_then(|s| s.field(field)) {
            return p;
        }
        if let Some(p) = self.global.field(field) {
            return p;
        }
        if let Some(p) = source.and_then(|s| s.entities.get(&entity)) {
            return *p;
        }
        if let Some(p) = self.global.entities.get(&entity) {
            return *p;
        }
        let coarse = if entity == Entity::Email {
            self.config.emails
        } else if entity.is_secret() {
            self.config.secrets
        } else {
            Action::Redact
        };
        match coarse {
            Action::Redact => Policy::Mask,
            Action::Block => Policy::Block,
        }
    }

    fn replacement(&self, value: &str, entity: Entity, policy: Policy) -> String {
        match policy {
            Policy::Allow => value.to_string(),
            Policy::Partial => partial(value, entity),
            Policy::Hash => match &self.config.hmac_secret {
                Some(key) => hash_token(&key.0, value, entity),
                None => entity.mask().to_string(),
            },
            Policy::Mask | Policy::Block => entity.mask().to_string(),
        }
    }

    /// Redacts `value` in place; `key` is the JSON key the value sits under, if any. Adds what
    /// it replaced to `audit`.
    fn redact_in_place(
        &self,
        value: &mut String,
        field: &str,
        key: Option<&str>,
        source: Option<&PolicySet>,
        audit: &mut Vec<AuditCount>,
    ) -> Result<(), Blocked> {
        let spans = self.scan_field(value, key);
        if spans.is_empty() {
            return Ok(());
        }
        let mut out = String::with_capacity(value.len());
        let mut last = 0;
        for s in &spans {
            let policy = self.policy_in(s.entity, field, source);
            if policy == Policy::Block {
                return Err(Blocked {
                    field: field.to_owned(),
                    entity: s.entity,
                });
            }
            out.push_str(&value[last..s.start]);
            out.push_str(&self.replacement(&value[s.start..s.end], s.entity, policy));
            last = s.end;
            match policy {
                Policy::Allow | Policy::Block => {}
                Policy::Hash if self.config.hmac_secret.is_some() => {
                    add_count(audit, s.entity, AuditAction::Hashed)
                }
                Policy::Hash | Policy::Mask | Policy::Partial => {
                    add_count(audit, s.entity, AuditAction::Redacted)
                }
            }
        }
        out.push_str(&value[last..]);
        *value = out;
        Ok(())
    }
}

/// The partial form of a value: the end kept, the rest masked.
fn partial(value: &str, entity: Entity) -> String {
    match entity {
        Entity::Email => match value.split_once('@') {
            Some((local, domain)) => {
                let first = local.chars().next().map(String::from).unwrap_or_default();
                format!("{first}***@{domain}")
            }
            None => entity.mask().to_string(),
        },
        Entity::CreditCard | Entity::Phone | Entity::UsSsn | Entity::Iban => {
            // Keep the last four digits and every separator: `**** **** **** 4242`.
            let total = value.chars().filter(char::is_ascii_alphanumeric).count();
            let mut seen = 0;
            value
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        seen += 1;
                        if seen + 4 > total { c } else { '*' }
                    } else {
                        c
                    }
                })
                .collect()
        }
        _ => entity.mask().to_string(),
    }
}

/// `[TYPE:16 hex]`: HMAC-SHA256 over the type and the normalised value.
fn hash_token(key: &[u8], value: &str, entity: Entity) -> String {
    use hmac::{KeyInit, Mac};
    let normalised: String = match entity {
        Entity::Email => value.replace("%40", "@").to_lowercase(),
        Entity::Phone | Entity::CreditCard | Entity::UsSsn => {
            value.chars().filter(char::is_ascii_digit).collect()
        }
        Entity::Iban => value
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase(),
        _ => value.trim().to_string(),
    };
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes keys of any length");
    mac.update(entity.as_str().as_bytes());
    mac.update(b":");
    mac.update(normalised.as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("[{}:{hex}]", entity.as_str())
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

    fn guard_with(f: impl FnOnce(&mut GuardConfig)) -> Guard {
        let mut c = GuardConfig::default();
        f(&mut c);
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        Guard::new(&c)
    }

    #[test]
    fn partial_masks_keep_the_end() {
        let g = guard_with(|c| {
            c.entities.insert("CREDIT_CARD".into(), Policy::Partial);
            c.entities.insert("email".into(), Policy::Partial);
            c.entities.insert("US_SSN".into(), Policy::Partial);
        });
        let r = g
            .redact_text(
                "card 4242 4242 4242 4242 by jane@corp.io ssn 123-45-6789",
                "m",
            )
            .unwrap();
        assert_eq!(
            r.as_str(),
            "card **** **** **** 4242 by j***@corp.io ssn ***-**-6789"
        );
        assert_eq!(g.redact_text(r.as_str(), "m").unwrap(), r);
    }

    #[test]
    fn hash_tokens_are_stable_and_keyed() {
        let g = |key: &str| {
            guard_with(|c| {
                c.entities.insert("EMAIL".into(), Policy::Hash);
                c.hmac_secret = Some(HmacSecret::new(key.as_bytes()));
            })
        };
        let a = g("k1").redact_text("from Jane@Corp.io", "m").unwrap();
        let b = g("k1").redact_text("to jane@corp.io", "m").unwrap();
        let c = g("k2").redact_text("from Jane@Corp.io", "m").unwrap();
        let token = a.as_str().strip_prefix("from ").unwrap();
        assert!(
            token.starts_with("[EMAIL:") && token.len() == "[EMAIL:]".len() + 16,
            "{a}"
        );
        assert_eq!(b.as_str(), format!("to {token}"));
        assert_ne!(c, a);
        assert_eq!(g("k1").redact_text(a.as_str(), "m").unwrap(), a);
    }

    #[test]
    fn hash_without_a_key_is_a_config_error() {
        let mut c = GuardConfig::default();
        c.entities.insert("EMAIL".into(), Policy::Hash);
        c.fields.insert("attributes.user.id".into(), Policy::Hash);
        c.entities.insert("NAMES".into(), Policy::Mask);
        c.allow_ip_ranges.push("10.0.0.0/33".into());
        let errors = c.validate();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("guard.entities.NAMES: unknown entity type"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("guard.allow_ip_ranges[0]:"))
        );
        assert!(errors.iter().any(|e| e.contains(ENV_HMAC_SECRET)));
        assert!(!format!("{:?}", HmacSecret::new("topsecret")).contains("topsecret"));
    }

    #[test]
    fn field_policies_win() {
        let g = guard_with(|c| {
            c.fields.insert("attributes.debug.*".into(), Policy::Block);
            c.fields.insert("attributes.contact".into(), Policy::Allow);
        });
        assert_eq!(
            g.redact_text("a@corp.io", "attributes.contact")
                .unwrap()
                .as_str(),
            "a@corp.io"
        );
        let err = g
            .redact_text("a@corp.io", "attributes.debug.body")
            .unwrap_err();
        assert_eq!(err.field, "attributes.debug.body");
        assert_eq!(
            g.redact_text("a@corp.io", "message").unwrap().as_str(),
            "[EMAIL]"
        );
    }

    #[test]
    fn allow_lists() {
        let g = guard_with(|c| {
            c.allow_ip_ranges = vec!["10.0.0.0/8".into(), "fd00::/8".into()];
            c.allow_terms = vec!["Acme Widget".into()];
            c.allow_email_domains = vec!["example.com".into()];
        });
        let r = g
            .redact_text(
                "10.1.2.3 11.1.2.3 fd00::1:2 2001:db8::1 a@mail.example.com, Customer: Acme Widget",
                "m",
            )
            .unwrap();
        assert_eq!(
            r.as_str(),
            "10.1.2.3 [IPV4] fd00::1:2 [IPV6] a@mail.example.com, Customer: Acme Widget"
        );
    }

    fn log_record(message: &str) -> tokpulse_core::LogRecord {
        tokpulse_core::LogRecord {
            id: tokpulse_core::RecordId::parse("l1").unwrap(),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            service: tokpulse_core::Label::parse("api").unwrap(),
            level: tokpulse_core::LogLevel::Error,
            message: message.into(),
            route: None,
            trace_id: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn the_audit_counts_per_entity_and_action_never_values() {
        let g = guard_with(|c| {
            c.entities.insert("EMAIL".into(), Policy::Hash);
            c.hmac_secret = Some(HmacSecret::new("k"));
        });
        let r = g
            .guard(log_record("a@corp.io b@corp.io from 10.1.2.3"))
            .unwrap();
        assert_eq!(r.redactions(), 3);
        let mut audit = r.audit().to_vec();
        audit.sort_by_key(|c| (c.entity, c.action));
        assert_eq!(
            audit,
            [
                AuditCount {
                    entity: Entity::Email,
                    action: AuditAction::Hashed,
                    count: 2
                },
                AuditCount {
                    entity: Entity::Ipv4,
                    action: AuditAction::Redacted,
                    count: 1
                },
            ]
        );
        assert!(g.guard(log_record("nothing")).unwrap().audit().is_empty());
    }

    #[test]
    fn the_token_helper_gives_what_the_guard_writes() {
        let key = HmacSecret::new("k");
        let g = guard_with(|c| {
            c.entities.insert("EMAIL".into(), Policy::Hash);
            c.entities.insert("PHONE".into(), Policy::Hash);
            c.hmac_secret = Some(key.clone());
        });
        let r = g
            .redact_text("mail Jane.Doe@Corp.io or call +1 415-555-0100", "m")
            .unwrap();
        let email = key.token(Entity::Email, "jane.doe@corp.io");
        let phone = key.token(Entity::Phone, "+14155550100");
        assert_eq!(r.as_str(), format!("mail {email} or call {phone}"));
        assert_eq!(g.token(Entity::Email, "JANE.DOE@corp.io"), Some(email));
    }

    #[test]
    fn source_policies_win_over_global_ones_for_their_source_only() {
        let g = guard_with(|c| {
            c.entities.insert("EMAIL".into(), Policy::Partial);
            c.fields.insert("attributes.debug.*".into(), Policy::Block);
            let logs = c.sources.entry("logs".into()).or_default();
            logs.entities.insert("EMAIL".into(), Policy::Mask);
            logs.fields.insert("route".into(), Policy::Allow);
        });
        let r = g.guard(log_record("from jane@corp.io")).unwrap();
        assert_eq!(r.message, "from [EMAIL]");
        assert_eq!(
            g.redact_text("from jane@corp.io", "message")
                .unwrap()
                .as_str(),
            "from j***@corp.io"
        );
        assert_eq!(
            g.source_policy(Entity::Email, "route", RecordKind::Logs),
            Policy::Allow
        );
        // A global field policy still wins over a source's entity policy.
        assert_eq!(
            g.source_policy(Entity::Email, "attributes.debug.x", RecordKind::Logs),
            Policy::Block
        );
        assert_eq!(
            g.source_policy(Entity::Email, "message", RecordKind::Deploys),
            Policy::Partial
        );
    }

    #[test]
    fn unknown_sources_are_named_with_the_valid_ones() {
        let mut c = GuardConfig::default();
        c.sources.entry("requests".into()).or_default();
        c.sources
            .entry("logs".into())
            .or_default()
            .entities
            .insert("PERSON".into(), Policy::Hash);
        let errors = c.validate();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            errors[0],
            "guard.sources.requests: unknown source; expected one of performance, ai-usage, logs, deploys"
        );
        assert!(
            errors[1].starts_with("guard.sources.logs.entities.PERSON: \"hash\" needs a key"),
            "{errors:?}"
        );
        assert!(c.may_hash(Entity::Person));
        assert!(!c.may_hash(Entity::Email));
    }
}
