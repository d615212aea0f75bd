//! Detectors: each finds one entity type in text. A literal prefilter (Aho-Corasick over the
//! trigger strings every detector needs, such as `@` or `ghp_`) decides which regexes run, so
//! text without anything suspicious costs one linear pass.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind of personal data or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Entity {
    /// An email address.
    Email,
    /// An OpenAI API key (`sk-…`, `sk-proj-…`).
    OpenaiKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKey,
    /// A JSON Web Token.
    Jwt,
    /// A Slack token (`xoxb-`…).
    SlackToken,
    /// A bearer token in an `Authorization` header.
    BearerToken,
    /// A password or secret in `key=value`, JSON or header context.
    Secret,
}

impl Entity {
    /// The mask that replaces a redacted value.
    pub fn mask(self) -> &'static str {
        match self {
            Entity::Email => "[EMAIL]",
            Entity::OpenaiKey => "[OPENAI_KEY]",
            Entity::GithubToken => "[GITHUB_TOKEN]",
            Entity::AwsAccessKey => "[AWS_ACCESS_KEY]",
            Entity::Jwt => "[JWT]",
            Entity::SlackToken => "[SLACK_TOKEN]",
            Entity::BearerToken => "[BEARER_TOKEN]",
            Entity::Secret => "[SECRET]",
        }
    }

    /// The upper-case name (`EMAIL`).
    pub fn as_str(self) -> &'static str {
        let m = self.mask();
        &m[1..m.len() - 1]
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an entity was found: byte offsets into the text, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What it is.
    pub entity: Entity,
}

struct Rule {
    entity: Entity,
    re: Regex,
    /// Capture group holding the value (0 = whole match).
    group: usize,
}

#[derive(Clone)]
pub(crate) struct Detector {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    triggers: AhoCorasick,
    /// For each trigger pattern, the rules it wakes.
    trigger_rules: Vec<Vec<usize>>,
    rules: Vec<Rule>,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

/// JSON keys and header names whose whole value is a secret.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "setcookie",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "privatekey",
    "sessionid",
    "xapikey",
];

/// `key` lower-cased with everything but ASCII letters and digits dropped (`X-Api-Key` →
/// `xapikey`), in a stack buffer; `None` when it is too long to be a secret's name.
fn normalised_key(key: &str, buf: &mut [u8; 48]) -> Option<usize> {
    let mut n = 0;
    for b in key.bytes().filter(u8::is_ascii_alphanumeric) {
        *buf.get_mut(n)? = b.to_ascii_lowercase();
        n += 1;
    }
    Some(n)
}

fn key_is_secret(key: &str) -> bool {
    let mut buf = [0u8; 48];
    let Some(n) = normalised_key(key, &mut buf) else {
        return false;
    };
    let k = &buf[..n];
    SECRET_KEYS.iter().any(|s| k == s.as_bytes())
        || k.ends_with(b"password")
        || k.ends_with(b"secret")
        || k.ends_with(b"apikey")
        || (k.ends_with(b"token") && !k.ends_with(b"tokens"))
}

fn key_is_email(key: &str) -> bool {
    let mut buf = [0u8; 48];
    let Some(n) = normalised_key(key, &mut buf) else {
        return false;
    };
    let k = &buf[..n];
    k.ends_with(b"email") || k == b"mail"
}

impl Detector {
    pub(crate) fn new() -> Self {
        let rule = |entity, pattern: &str, group| Rule {
            entity,
            re: Regex::new(pattern).expect("built-in detector patterns are valid"),
            group,
        };
        let rules = vec![
            rule(
                Entity::Email,
                r"[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}",
                0,
            ),
            rule(
                Entity::OpenaiKey,
                r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
                0,
            ),
            rule(
                Entity::GithubToken,
                r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
                0,
            ),
            rule(
                Entity::AwsAccessKey,
                r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
                0,
            ),
            rule(
                Entity::Jwt,
                r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
                0,
            ),
            rule(Entity::SlackToken, r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0),
            rule(
                Entity::BearerToken,
                r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{8,})",
                1,
            ),
            rule(
                Entity::Secret,
                r#"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|token)\b"?\s*[:=]\s*"?([^\s"',;&}\]]+)"#,
                1,
            ),
        ];
        // Trigger literals, matched case-insensitively; each wakes the rules listed.
        let triggers: &[(&str, &[Entity])] = &[
            ("@", &[Entity::Email]),
            ("sk-", &[Entity::OpenaiKey]),
            ("ghp_", &[Entity::GithubToken]),
            ("gho_", &[Entity::GithubToken]),
            ("ghu_", &[Entity::GithubToken]),
            ("ghs_", &[Entity::GithubToken]),
            ("ghr_", &[Entity::GithubToken]),
            ("github_pat_", &[Entity::GithubToken]),
            ("akia", &[Entity::AwsAccessKey]),
            ("asia", &[Entity::AwsAccessKey]),
            ("abia", &[Entity::AwsAccessKey]),
            ("acca", &[Entity::AwsAccessKey]),
            ("eyj", &[Entity::Jwt]),
            ("xox", &[Entity::SlackToken]),
            ("bearer", &[Entity::BearerToken]),
            ("passw", &[Entity::Secret]),
            ("pwd", &[Entity::Secret]),
            ("secret", &[Entity::Secret]),
            ("key", &[Entity::Secret]),
            ("token", &[Entity::Secret]),
        ];
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(triggers.iter().map(|(t, _)| t))
            .expect("built-in trigger literals are valid");
        debug_assert!(rules.len() < 64, "scan keeps one bit per rule in a u64");
        let trigger_rules = triggers
            .iter()
            .map(|(_, ents)| {
                rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| ents.contains(&r.entity))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        Detector {
            inner: std::sync::Arc::new(Inner {
                triggers: ac,
                trigger_rules,
                rules,
            }),
        }
    }

    /// Finds entities in `text`. `key` is the JSON key or header name the text sits under.
    pub(crate) fn scan(&self, text: &str, key: Option<&str>) -> Vec<Span> {
        if let Some(key) = key {
            let whole = |entity: Entity| {
                if text.is_empty() || text == entity.mask() {
                    Vec::new()
                } else {
                    vec![Span {
                        start: 0,
                        end: text.len(),
                        entity,
                    }]
                }
            };
            if key_is_secret(key) {
                return whole(Entity::Secret);
            }
            if key_is_email(key) && !text.contains('@') {
                return whole(Entity::Email);
            }
        }
        let inner = &*self.inner;
        // One bit per rule (there are fewer than 64).
        let mut wake = 0u64;
        for m in inner.triggers.find_overlapping_iter(text) {
            for &r in &inner.trigger_rules[m.pattern().as_usize()] {
                wake |= 1 << r;
            }
        }
        if wake == 0 {
            return Vec::new();
        }
        let mut spans = Vec::new();
        for (_, rule) in inner
            .rules
            .iter()
            .enumerate()
            .filter(|(i, _)| wake & (1 << i) != 0)
        {
            for caps in rule.re.captures_iter(text) {
                if let Some(m) = caps.get(rule.group) {
                    if text[m.start()..m.end()] == *rule.entity.mask()
                        || m.as_str().starts_with('[')
                    {
                        continue;
                    }
                    spans.push(Span {
                        start: m.start(),
                        end: m.end(),
                        entity: rule.entity,
                    });
                }
            }
        }
        resolve_overlaps(spans)
    }
}

/// Sorts spans and drops those overlapping an earlier, longer one.
fn resolve_overlaps(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start < last.end => {
                if s.end - s.start > last.end - last.start {
                    *last = s;
                }
            }
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(Entity, &str)> {
        Detector::new()
            .scan(text, None)
            .into_iter()
            .map(|s| (s.entity, &text[s.start..s.end]))
            .collect()
    }

    #[test]
    fn finds_each_entity() {
        assert_eq!(
            found("to: Zoë.Ünal@exämple.de."),
            vec![(Entity::Email, "Zoë.Ünal@exämple.de")]
        );
        let gh = format!("ghp_{}", "a1B2".repeat(9));
        assert_eq!(found(&format!("token={gh}")).len(), 1);
        assert_eq!(found(&gh), vec![(Entity::GithubToken, gh.as_str())]);
        let pat = format!("github_pat_{}", "x".repeat(60));
        assert_eq!(found(&pat), vec![(Entity::GithubToken, pat.as_str())]);
        assert_eq!(
            found("AWS AKIAIOSFODNN7EXAMPLE used"),
            vec![(Entity::AwsAccessKey, "AKIAIOSFODNN7EXAMPLE")]
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(found(jwt), vec![(Entity::Jwt, jwt)]);
        assert_eq!(
            found("Authorization: Bearer abc.def-123456"),
            vec![(Entity::BearerToken, "abc.def-123456")]
        );
        assert_eq!(
            found("db password=hunter22 ok"),
            vec![(Entity::Secret, "hunter22")]
        );
        assert_eq!(
            found(r#"{"api_key": "zzzzzzzz"}"#),
            vec![(Entity::Secret, "zzzzzzzz")]
        );
        assert_eq!(
            found("sk-proj-abcdefghijklmnopqrstuvwxyz012345"),
            vec![(
                Entity::OpenaiKey,
                "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
            )]
        );
    }

    #[test]
    fn leaves_look_alikes() {
        assert!(found("GET /v1/users/42 took 120ms").is_empty());
        assert!(found("version 1.2.3 build@2024").is_empty());
        assert!(found("max_tokens=512 completion_tokens: 12").is_empty());
        assert!(found("ghp_short").is_empty());
        assert!(found("task-sk-1").is_empty());
    }

    #[test]
    fn key_context_decides() {
        let d = Detector::new();
        assert_eq!(d.scan("hunter2", Some("password")).len(), 1);
        assert_eq!(d.scan("hunter2", Some("X-Api-Key")).len(), 1);
        assert_eq!(d.scan("42", Some("prompt_tokens")).len(), 0);
        assert_eq!(d.scan("jane", Some("user_email")).len(), 1);
        assert_eq!(d.scan("[SECRET]", Some("password")).len(), 0);
    }

    #[test]
    fn never_panics_on_odd_text() {
        let d = Detector::new();
        for t in [
            "",
            "@",
            "@@@.",
            "é@é.éé",
            "\u{0}\u{ffff}",
            "sk-",
            "bearer ",
            "password=",
        ] {
            let _ = d.scan(t, None);
        }
    }
}
