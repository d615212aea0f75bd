//! Log templates: error messages grouped by their constant text, in the manner of the Drain
//! log parser (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree",
//! ICWS 2017).
//!
//! - [`TemplateMiner`]: online, one message at a time. A message is cut into tokens (its first
//!   line, split on whitespace); variable parts (numbers, hex, UUIDs, IP addresses, ids that mix
//!   letters and digits, the value of `key=value`, numeric path segments) are masked as `<*>`
//!   ([`mask`]). The tokens then descend a fixed-depth tree (by token count, then by the first
//!   [`DrainConfig::depth`] − 2 tokens) to a leaf of candidate templates; the most similar one
//!   (share of positions holding the same constant token) takes the message if the similarity
//!   is at least [`DrainConfig::similarity`], and the positions that differ become `<*>`.
//!   Otherwise the message starts a new template.
//! - [`mine`]: every message of a slice in one pass; [`Mined::top`] counts templates in a window
//!   (the top patterns), [`Mined::new_since`] lists templates first seen at or after a time (the
//!   last deploy) with the count of history they are compared against.
//! - [`NewErrorPatterns`]: findings ([`FindingKind::NewErrorPattern`]) for error templates of a
//!   service that appeared since its last deploy.
//!
//! ```
//! use tokpulse_analyze::templates::{DrainConfig, TemplateMiner};
//!
//! let mut miner = TemplateMiner::new(DrainConfig::default());
//! let a = miner.add("connection to 10.0.0.7:5432 refused after 3012 ms");
//! let b = miner.add("connection to 10.0.0.9:5432 refused after 87 ms");
//! let c = miner.add("user 8812 not found");
//! assert_eq!(a, b);
//! assert_ne!(a, c);
//! assert_eq!(miner.template(a), "connection to <*> refused after <*> ms");
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use tokpulse_core::{
    Cause, DeployEvent, Evidence, Finding, FindingKind, Fingerprint, LogLevel, LogRecord, Severity,
    Timestamp, Window,
};

/// The placeholder for a variable token.
pub const WILDCARD: &str = "<*>";

/// Messages are cut to this many bytes before tokenising (whole characters kept).
const MAX_MESSAGE_BYTES: usize = 2000;

/// The settings of [`TemplateMiner`]. The defaults are Drain3's (depth 4, similarity 0.4,
/// 100 children).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrainConfig {
    /// Depth of the parse tree, root and leaf included: `depth − 2` leading tokens pick the leaf.
    /// At least 3.
    pub depth: usize,
    /// Share (0 to 1) of positions that must hold the same constant token for a message to join
    /// a template.
    pub similarity: f64,
    /// Children per tree node; further tokens share the wildcard child.
    pub max_children: usize,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            depth: 4,
            similarity: 0.4,
            max_children: 100,
        }
    }
}

/// A template's index in its [`TemplateMiner`] (stable for the miner's life; the template's
/// text may still generalise as messages arrive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TemplateId(pub u32);

#[derive(Debug, Clone, Default)]
struct Node {
    children: HashMap<String, Node>,
    templates: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Template {
    tokens: Vec<String>,
    count: u64,
}

/// Drain's online template miner. See the module docs.
#[derive(Debug, Clone)]
pub struct TemplateMiner {
    config: DrainConfig,
    /// By token count.
    roots: HashMap<usize, Node>,
    templates: Vec<Template>,
}

impl TemplateMiner {
    /// An empty miner. A `depth` below 3 is taken as 3, a `max_children` of 0 as 1.
    pub fn new(config: DrainConfig) -> Self {
        TemplateMiner {
            config: DrainConfig {
                depth: config.depth.max(3),
                max_children: config.max_children.max(1),
                similarity: config.similarity,
            },
            roots: HashMap::new(),
            templates: Vec::new(),
        }
    }

    /// Files `message` under its template, creating or generalising one, and returns it.
    pub fn add(&mut self, message: &str) -> TemplateId {
        let tokens = tokens(message);
        let prefix = self.config.depth - 2;
        let max_children = self.config.max_children;
        let mut node = self.roots.entry(tokens.len()).or_default();
        for tok in tokens.iter().take(prefix) {
            let key = if has_digit(tok) || tok == WILDCARD {
                WILDCARD.to_owned()
            } else if node.children.contains_key(tok.as_str())
                || node.children.len() + usize::from(!node.children.contains_key(WILDCARD))
                    < max_children
            {
                tok.clone()
            } else {
                WILDCARD.to_owned()
            };
            node = node.children.entry(key).or_default();
        }
        if let Some(id) = best_match(&self.templates, &node.templates, &tokens, &self.config) {
            let t = &mut self.templates[id as usize];
            for (have, new) in t.tokens.iter_mut().zip(&tokens) {
                if have != new {
                    *have = WILDCARD.to_owned();
                }
            }
            t.count += 1;
            return TemplateId(id);
        }
        let id = self.templates.len() as u32;
        self.templates.push(Template { tokens, count: 1 });
        node.templates.push(id);
        TemplateId(id)
    }

    /// The template `message` would join, without changing anything.
    pub fn matching(&self, message: &str) -> Option<TemplateId> {
        let tokens = tokens(message);
        let mut node = self.roots.get(&tokens.len())?;
        for tok in tokens.iter().take(self.config.depth - 2) {
            node = match node.children.get(tok.as_str()) {
                Some(n) if !has_digit(tok) => n,
                _ => node.children.get(WILDCARD)?,
            };
        }
        best_match(&self.templates, &node.templates, &tokens, &self.config).map(TemplateId)
    }

    /// A template's text: its tokens joined by spaces, variable ones as `<*>`.
    pub fn template(&self, id: TemplateId) -> String {
        self.templates
            .get(id.0 as usize)
            .map(|t| t.tokens.join(" "))
            .unwrap_or_default()
    }

    /// Messages filed under a template.
    pub fn count(&self, id: TemplateId) -> u64 {
        self.templates.get(id.0 as usize).map_or(0, |t| t.count)
    }

    /// Templates so far.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether no message was added.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

/// The candidate most similar to `tokens` if similar enough; ties go to the template with more
/// constant tokens, then the older one.
fn best_match(
    templates: &[Template],
    candidates: &[u32],
    tokens: &[String],
    config: &DrainConfig,
) -> Option<u32> {
    let mut best: Option<(f64, usize, u32)> = None;
    for &id in candidates {
        let t = &templates[id as usize];
        if t.tokens.len() != tokens.len() {
            continue;
        }
        let (mut same, mut constants) = (0usize, 0usize);
        for (a, b) in t.tokens.iter().zip(tokens) {
            if a == WILDCARD {
                continue;
            }
            constants += 1;
            same += usize::from(a == b);
        }
        let sim = if tokens.is_empty() {
            1.0
        } else {
            same as f64 / tokens.len() as f64
        };
        if best.is_none_or(|(s, c, _)| sim > s || (sim == s && constants > c)) {
            best = Some((sim, constants, id));
        }
    }
    best.filter(|&(sim, _, _)| sim >= config.similarity)
        .map(|(_, _, id)| id)
}

/// The masked tokens of a message's first non-empty line.
fn tokens(message: &str) -> Vec<String> {
    let line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut end = line.len().min(MAX_MESSAGE_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].split_whitespace().map(mask).collect()
}

/// A token with its variable parts as `<*>`: split on `/ : = , ; & ? # @ ( ) [ ] { } " '`,
/// each piece masked when it is a number (with an optional unit: `12ms`, `3.5s`, `80%`), hex
/// (`0x1f`, or 8 or more hex digits with a digit among them), a UUID, an IPv4 address, or an id
/// mixing letters and digits; pieces after `=` are masked when they hold any digit. A token that
/// is nothing but placeholders and delimiters becomes one `<*>`.
///
/// ```
/// use tokpulse_analyze::templates::mask;
///
/// assert_eq!(mask("took=1532ms"), "took=<*>");
/// assert_eq!(mask("/api/v1/orders/98231/items"), "/api/v1/orders/<*>/items");
/// assert_eq!(mask("10.2.0.14:5432"), "<*>");
/// assert_eq!(mask("req-7f3a9c2e41"), "<*>");
/// assert_eq!(mask("(pid"), "(pid");
/// assert_eq!(mask("timeout"), "timeout");
/// ```
pub fn mask(token: &str) -> String {
    const DELIMS: &[char] = &[
        '/', ':', '=', ',', ';', '&', '?', '#', '@', '(', ')', '[', ']', '{', '}', '"', '\'',
    ];
    let mut out = String::with_capacity(token.len());
    let mut after_eq = false;
    let mut any_constant = false;
    let mut any_wildcard = false;
    let mut piece_start = 0;
    let flush = |piece: &str, after_eq: bool, out: &mut String, c: &mut bool, w: &mut bool| {
        if piece.is_empty() {
            return;
        }
        if is_variable(piece) || (after_eq && has_digit(piece)) {
            out.push_str(WILDCARD);
            *w = true;
        } else {
            out.push_str(piece);
            *c = true;
        }
    };
    for (i, ch) in token.char_indices() {
        if DELIMS.contains(&ch) {
            flush(
                &token[piece_start..i],
                after_eq,
                &mut out,
                &mut any_constant,
                &mut any_wildcard,
            );
            out.push(ch);
            after_eq = ch == '=';
            piece_start = i + ch.len_utf8();
        }
    }
    flush(
        &token[piece_start..],
        after_eq,
        &mut out,
        &mut any_constant,
        &mut any_wildcard,
    );
    if any_wildcard && !any_constant {
        WILDCARD.to_owned()
    } else {
        out
    }
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// Whether one piece (no delimiters) of a token is a variable.
fn is_variable(piece: &str) -> bool {
    // Trailing sentence punctuation and quotes are not part of the value.
    let p = piece.trim_end_matches(['.', '!']);
    if p.is_empty() || p == WILDCARD {
        return p == WILDCARD;
    }
    let digits = p.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    // Numbers, with a sign, decimals, exponents, a unit.
    let body = p.trim_start_matches(['-', '+']);
    let unitless = body.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
    let unit = &body[unitless.len()..];
    if !unitless.is_empty()
        && unitless
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
        && unit.len() <= 3
    {
        return true;
    }
    // 0x-prefixed hex, long hex runs, UUIDs, dotted quads, version-like and dashed ids.
    if let Some(hex) = p.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return true;
    }
    if p.len() >= 8 && p.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return true;
    }
    // An id: letters, digits, `-`, `_` or `.`, with digits in it (`user42`, `v1.2.3`,
    // `req-7f3a9c`, `2024-05-01T10`, `ORD-2026-654203`). Short words with a digit (`utf8`,
    // `s3`, `h2`) stay constant unless they are mostly digits.
    let id_like = p
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    id_like && (p.len() >= 6 || digits * 2 > p.len())
}

/// Every message of a slice filed under its template: see [`mine`].
#[derive(Debug, Clone)]
pub struct Mined {
    /// The miner after the last message.
    pub miner: TemplateMiner,
    /// For each message, in the slice's order, its template.
    pub assignments: Vec<TemplateId>,
}

/// How often a template occurred, with an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternCount {
    /// The template within its miner.
    pub id: TemplateId,
    /// Its text, `<*>` for variables.
    pub template: String,
    /// Messages in the window asked for.
    pub count: u64,
    /// Messages before the window (for [`Mined::new_since`]: always 0).
    pub before: u64,
    /// The first and last time it was seen in the window.
    pub first_seen: Timestamp,
    /// See `first_seen`.
    pub last_seen: Timestamp,
    /// The first message of the window with this template.
    pub example: String,
}

/// Files every message (`(time, text)`, in any order; they are mined in time order, ties kept
/// in slice order) under its template.
pub fn mine(messages: &[(Timestamp, &str)], config: DrainConfig) -> Mined {
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by_key(|&i| messages[i].0);
    let mut miner = TemplateMiner::new(config);
    let mut assignments = vec![TemplateId(0); messages.len()];
    for i in order {
        assignments[i] = miner.add(messages[i].1);
    }
    Mined { miner, assignments }
}

impl Mined {
    /// The `n` templates with the most messages inside `window`, most first (ties by template
    /// text), each with its count before the window.
    pub fn top(
        &self,
        messages: &[(Timestamp, &str)],
        window: Window,
        n: usize,
    ) -> Vec<PatternCount> {
        let mut out = self.counts(messages, |t| window.contains(t), |t| t < window.start);
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.template.cmp(&b.template))
        });
        out.truncate(n);
        out
    }

    /// Templates whose first message is at or after `since` (none before it), most messages
    /// first. Only meaningful when `messages` reach back before `since`.
    pub fn new_since(&self, messages: &[(Timestamp, &str)], since: Timestamp) -> Vec<PatternCount> {
        let mut out: Vec<PatternCount> = self
            .counts(messages, |t| t >= since, |t| t < since)
            .into_iter()
            .filter(|p| p.before == 0)
            .collect();
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.template.cmp(&b.template))
        });
        out
    }

    fn counts(
        &self,
        messages: &[(Timestamp, &str)],
        inside: impl Fn(Timestamp) -> bool,
        before: impl Fn(Timestamp) -> bool,
    ) -> Vec<PatternCount> {
        let mut by_id: BTreeMap<TemplateId, PatternCount> = BTreeMap::new();
        let mut before_counts: HashMap<TemplateId, u64> = HashMap::new();
        for (&(t, text), &id) in messages.iter().zip(&self.assignments) {
            if before(t) {
                *before_counts.entry(id).or_default() += 1;
            }
            if !inside(t) {
                continue;
            }
            let p = by_id.entry(id).or_insert_with(|| PatternCount {
                id,
                template: self.miner.template(id),
                count: 0,
                before: 0,
                first_seen: t,
                last_seen: t,
                example: text.to_owned(),
            });
            p.count += 1;
            if t < p.first_seen {
                p.first_seen = t;
                text.clone_into(&mut p.example);
            }
            p.last_seen = p.last_seen.max(t);
        }
        by_id
            .into_values()
            .map(|mut p| {
                p.before = before_counts.get(&p.id).copied().unwrap_or(0);
                p
            })
            .collect()
    }
}

/// Findings for error log templates that are new since a service's last deploy.
///
/// For each service, the error (and fatal) messages of `logs` are mined together; a template
/// whose first message is at or after the service's latest deploy in `deployments` (before
/// `window.end`) and that has at least `min_count` messages inside `window` becomes a
/// [`FindingKind::NewErrorPattern`] finding naming the deploy as its cause. Services without a
/// deploy are skipped: "new" needs a line to draw. The logs should reach back at least
/// `history` before the deploy, or every template looks new; services whose logs do not are
/// skipped too.
///
/// Fingerprint: `Fingerprint::of(NewErrorPattern, &[service, template])`. Severity: *high* at
/// `high_count` messages or more, else *warning*. Ordered by service, then count (most first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewErrorPatterns {
    /// Messages of a new template inside the window before it is a finding. Default 5.
    pub min_count: u64,
    /// Messages from which a new template is *high*. Default 100.
    pub high_count: u64,
    /// How far before the deploy the logs must reach, in minutes. Default 60.
    pub history_minutes: u32,
    /// The template miner's settings.
    pub drain: DrainConfig,
}

impl Default for NewErrorPatterns {
    fn default() -> Self {
        NewErrorPatterns {
            min_count: 5,
            high_count: 100,
            history_minutes: 60,
            drain: DrainConfig::default(),
        }
    }
}

impl NewErrorPatterns {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.min_count == 0 {
            problems.push("min_count: must be at least 1, got 0".to_owned());
        }
        if !(0.0..=1.0).contains(&self.drain.similarity) {
            problems.push(format!(
                "drain.similarity: must be in [0, 1], got {}",
                self.drain.similarity
            ));
        }
        problems
    }

    /// The findings: see the type's docs.
    pub fn findings(
        &self,
        logs: &[LogRecord],
        deployments: &[DeployEvent],
        window: Window,
    ) -> Vec<Finding> {
        let mut by_service: BTreeMap<&str, Vec<(Timestamp, &str)>> = BTreeMap::new();
        for l in logs {
            if l.level >= LogLevel::Error && l.timestamp < window.end {
                by_service
                    .entry(l.service.as_str())
                    .or_default()
                    .push((l.timestamp, l.message.as_str()));
            }
        }
        let earliest_log: BTreeMap<&str, Timestamp> =
            logs.iter().fold(BTreeMap::new(), |mut m, l| {
                let e = m.entry(l.service.as_str()).or_insert(l.timestamp);
                *e = (*e).min(l.timestamp);
                m
            });
        let mut findings = Vec::new();
        for (service, messages) in by_service {
            let Some(deploy) = deployments
                .iter()
                .filter(|d| d.service.as_str() == service && d.timestamp < window.end)
                .max_by(|a, b| {
                    a.timestamp
                        .cmp(&b.timestamp)
                        .then_with(|| a.id.as_str().cmp(b.id.as_str()))
                })
            else {
                continue;
            };
            let history = chrono::TimeDelta::minutes(i64::from(self.history_minutes));
            if earliest_log
                .get(service)
                .is_none_or(|&t| t > deploy.timestamp - history)
            {
                continue;
            }
            let mined = mine(&messages, self.drain);
            let mut new = mined.new_since(&messages, deploy.timestamp);
            new.retain(|p| {
                let in_window = messages
                    .iter()
                    .zip(&mined.assignments)
                    .filter(|((t, _), id)| **id == p.id && window.contains(*t))
                    .count() as u64;
                in_window >= self.min_count
            });
            for p in new {
                findings.push(self.finding(service, &p, deploy, window));
            }
        }
        findings
    }

    fn finding(
        &self,
        service: &str,
        p: &PatternCount,
        deploy: &DeployEvent,
        window: Window,
    ) -> Finding {
        let kind = FindingKind::NewErrorPattern;
        Finding {
            kind,
            severity: if p.count >= self.high_count {
                Severity::High
            } else {
                Severity::Warning
            },
            fingerprint: Fingerprint::of(kind, &[service, &p.template]),
            title: format!(
                "New error on {service} since {} {}: \"{}\" ({} times)",
                deploy.service.as_str(),
                deploy.version.as_str(),
                shorten(&p.template, 80),
                p.count
            ),
            service: service.to_owned(),
            route: None,
            window,
            evidence: vec![
                Evidence {
                    metric: "messages with this pattern since the deploy".into(),
                    current: p.count as f64,
                    baseline: Some(0.0),
                    threshold: Some(self.min_count as f64),
                    unit: "messages".into(),
                },
                Evidence {
                    metric: "minutes from deploy to first message".into(),
                    current: (p.first_seen - deploy.timestamp).num_seconds() as f64 / 60.0,
                    baseline: None,
                    threshold: None,
                    unit: "min".into(),
                },
            ],
            cause: Some(cause_of(deploy)),
            suggestion: format!(
                "This error pattern first appeared after deploy {} of {service} and was never \
                 logged before it. Example: \"{}\". Look at what the deploy changed on that code \
                 path; roll back if it is user-facing.",
                deploy.version.as_str(),
                shorten(&p.example, 200)
            ),
        }
    }
}

/// The [`Cause`] naming a deploy.
pub(crate) fn cause_of(d: &DeployEvent) -> Cause {
    Cause {
        deployment_id: d.id.as_str().to_owned(),
        version: d.version.as_str().to_owned(),
        commit_sha: d.commit_sha.as_ref().map(|c| c.as_str().to_owned()),
        author: d.author.clone(),
        deployed_at: d.timestamp,
    }
}

/// `s` cut to `max` characters, with `…` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};
    use tokpulse_core::{Attributes, Label, RecordId};

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len() as u64) as usize]
        }
        fn hex(&mut self, n: usize) -> String {
            (0..n)
                .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
                .collect()
        }
    }

    /// Realistic error lines from 24 templates (web services, databases, queues, CI tools,
    /// HDFS- and OpenSSH-style system logs), with their true template index.
    fn corpus(n: usize, seed: u64) -> Vec<(usize, String)> {
        let mut r = Rng(seed);
        let users = ["alice", "bob", "deploy-bot", "carol"];
        let tables = ["orders", "users", "payments", "sessions"];
        (0..n)
            .map(|i| {
                let k = i % 24;
                let line = match k {
                    0 => format!(
                        "connection to 10.0.{}.{}:5432 refused after {} ms",
                        r.below(255),
                        r.below(255),
                        r.below(5000)
                    ),
                    1 => format!(
                        "upstream timed out (110: Connection timed out) while reading response header from upstream, client: 172.16.{}.{}, request: \"GET /api/v1/orders/{} HTTP/1.1\"",
                        r.below(255),
                        r.below(255),
                        r.below(100_000)
                    ),
                    2 => format!("User {} not found", r.below(1_000_000)),
                    3 => format!(
                        "ERROR:  duplicate key value violates unique constraint \"{}_pkey\"",
                        r.pick(&tables)
                    ),
                    4 => format!(
                        "Deadlock found when trying to get lock; try restarting transaction (txid {}-{}-{}-{}-{})",
                        r.hex(8),
                        r.hex(4),
                        r.hex(4),
                        r.hex(4),
                        r.hex(12)
                    ),
                    5 => format!(
                        "Failed password for {} from 192.168.{}.{} port {} ssh2",
                        r.pick(&users),
                        r.below(255),
                        r.below(255),
                        r.below(65535)
                    ),
                    6 => format!(
                        "PacketResponder {} for block blk_{} terminating",
                        r.below(3),
                        r.next() >> 4
                    ),
                    7 => format!(
                        "Received block blk_-{} of size {} from /10.250.{}.{}",
                        r.next() >> 4,
                        r.below(67_108_864),
                        r.below(255),
                        r.below(255)
                    ),
                    8 => format!(
                        "payment provider returned 502 for charge ch_{} after {} retries",
                        r.hex(24),
                        r.below(5)
                    ),
                    9 => format!(
                        "Request failed with status code {}",
                        r.pick(&["401", "403", "500", "503"])
                    ),
                    10 => format!(
                        "OpenAI API rate limit exceeded for model gpt-4o: retry in {}s",
                        r.below(60)
                    ),
                    11 => format!(
                        "job {} exceeded visibility timeout of {}s on queue emails",
                        r.hex(16),
                        r.below(300)
                    ),
                    12 => format!(
                        "panic: runtime error: index out of range [{}] with length {}",
                        r.below(50),
                        r.below(50)
                    ),
                    13 => format!(
                        "thread 'tokio-runtime-worker' panicked at src/handlers/cart.rs:{}:{}",
                        r.below(400),
                        r.below(80)
                    ),
                    14 => format!(
                        "npm ERR! network request to https://registry.npmjs.org/{} failed, reason: socket hang up",
                        r.pick(&["react", "lodash", "axios", "typescript"])
                    ),
                    15 => format!(
                        "error[E0308]: mismatched types in crates/api/src/routes.rs:{}",
                        r.below(900)
                    ),
                    16 => format!(
                        "FAILED tests/test_checkout.py::test_apply_coupon[{}] - AssertionError: assert {} == {}",
                        r.below(20),
                        r.below(1000),
                        r.below(1000)
                    ),
                    17 => format!(
                        "Redis connection lost: read ECONNRESET on {}.cache.internal:6379",
                        r.hex(8)
                    ),
                    18 => format!(
                        "session {} expired for user_id={}",
                        r.hex(32),
                        r.below(100_000)
                    ),
                    19 => format!(
                        "disk usage on /dev/nvme0n1p{} at {}%",
                        r.below(4),
                        80 + r.below(20)
                    ),
                    20 => format!(
                        "Invalid JWT signature for token issued at {}",
                        1_700_000_000 + r.below(10_000_000)
                    ),
                    21 => format!(
                        "S3 PutObject failed for key uploads/{}/{}.png: SlowDown",
                        r.below(100_000),
                        r.hex(12)
                    ),
                    22 => format!(
                        "worker {} out of memory: killed process {} (node) total-vm:{}kB",
                        r.below(16),
                        r.below(90_000),
                        r.below(9_000_000)
                    ),
                    _ => format!(
                        "TLS handshake with api.stripe.com failed: certificate expired {} days ago",
                        r.below(30)
                    ),
                };
                (k, line)
            })
            .collect()
    }

    /// Loghub's grouping accuracy: the share of messages whose template holds exactly the
    /// messages of their true group.
    fn grouping_accuracy(truth: &[usize], got: &[TemplateId]) -> f64 {
        let mut true_groups: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut got_groups: HashMap<TemplateId, Vec<usize>> = HashMap::new();
        for (i, (&t, &g)) in truth.iter().zip(got).enumerate() {
            true_groups.entry(t).or_default().push(i);
            got_groups.entry(g).or_default().push(i);
        }
        let correct: usize = got
            .iter()
            .enumerate()
            .filter(|&(i, g)| got_groups[g] == true_groups[&truth[i]])
            .count();
        correct as f64 / truth.len() as f64
    }

    #[test]
    fn groups_realistic_error_lines_by_template() {
        let lines = corpus(2400, 11);
        let mut miner = TemplateMiner::new(DrainConfig::default());
        let got: Vec<TemplateId> = lines.iter().map(|(_, l)| miner.add(l)).collect();
        let truth: Vec<usize> = lines.iter().map(|(k, _)| *k).collect();
        let accuracy = grouping_accuracy(&truth, &got);
        eprintln!(
            "grouping accuracy {accuracy:.3} on {} lines of 24 templates, {} templates found",
            lines.len(),
            miner.len()
        );
        assert!(accuracy >= 0.95, "grouping accuracy {accuracy}");
        assert!(miner.len() <= 30, "{} templates", miner.len());
        // The templates read like the code that logged them.
        let t = |i: usize| miner.template(got[i]);
        assert_eq!(t(0), "connection to <*> refused after <*> ms");
        assert_eq!(t(2), "User <*> not found");
        assert_eq!(t(5), "Failed password for <*> from <*> port <*> ssh2");
        assert_eq!(t(18), "session <*> expired for user_id=<*>");
        // Matching files a new line without changing anything.
        let again = corpus(48, 99);
        for (k, line) in &again {
            let id = miner.matching(line).expect("known template");
            assert_eq!(id, got[*k], "{line}");
        }
        assert_eq!(miner.matching("something nobody logged before"), None);
    }

    #[test]
    fn groups_the_pii_dev_sets_log_lines_without_mixing_sources() {
        let path = format!(
            "{}/../../../shared/datasets/pii/dev.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {path} is not here");
            return;
        };
        // First lines of the SQL errors, stack traces and access logs (no labels of templates
        // there, so: a template never mixes sources, and lines fall into far fewer templates).
        let mut lines: Vec<(String, String)> = Vec::new();
        for l in text.lines() {
            let source = field(l, "\"source\": \"");
            if matches!(source.as_str(), "sql_error" | "stack_trace" | "access_log") {
                let body = field(l, "\"text\": \"");
                let first = body.split("\\n").next().unwrap_or("").to_owned();
                lines.push((source, first));
            }
        }
        assert!(lines.len() > 400, "{} lines", lines.len());
        let mut miner = TemplateMiner::new(DrainConfig::default());
        let ids: Vec<TemplateId> = lines.iter().map(|(_, l)| miner.add(l)).collect();
        let mut sources: HashMap<TemplateId, &str> = HashMap::new();
        let mut mixed = 0;
        for (id, (source, _)) in ids.iter().zip(&lines) {
            if *sources.entry(*id).or_insert(source) != source {
                mixed += 1;
            }
        }
        eprintln!(
            "pii dev set: {} lines into {} templates, {mixed} lines in a template of another source",
            lines.len(),
            miner.len()
        );
        assert_eq!(mixed, 0);
        assert!(miner.len() * 3 < lines.len());
    }

    /// The string value after `key` in a JSON line (escapes left as they are).
    fn field(line: &str, key: &str) -> String {
        let Some(start) = line.find(key) else {
            return String::new();
        };
        let rest = &line[start + key.len()..];
        let mut out = String::new();
        let mut escaped = false;
        for c in rest.chars() {
            if escaped {
                out.push('\\');
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                break;
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn masking() {
        for (token, want) in [
            ("1532", "<*>"),
            ("-3.5e", "<*>"),
            ("250ms", "<*>"),
            ("98%", "<*>"),
            ("0xdeadBEEF", "<*>"),
            ("3f2b9c0e-5a1d-4e8b-9c7d-0a1b2c3d4e5f", "<*>"),
            ("192.168.0.1", "<*>"),
            ("192.168.0.1:8080", "<*>"),
            ("user_id=42", "user_id=<*>"),
            ("retry=3,", "retry=<*>,"),
            ("ORD-2026-654203", "<*>"),
            ("v1.2.3", "<*>"),
            ("utf8", "utf8"),
            ("s3", "s3"),
            ("HTTP/1.1\"", "HTTP/<*>\""),
            ("/users/123/orders", "/users/<*>/orders"),
            ("ECONNRESET", "ECONNRESET"),
            ("failed.", "failed."),
            ("[42]", "<*>"),
            ("<*>", "<*>"),
        ] {
            assert_eq!(mask(token), want, "{token}");
        }
    }

    #[test]
    fn tree_limits_and_edge_cases() {
        // One child per node: every first token but the first shares the wildcard child, and
        // templates stay apart by similarity.
        let mut m = TemplateMiner::new(DrainConfig {
            depth: 3,
            similarity: 0.5,
            max_children: 1,
        });
        let a = m.add("alpha beta gamma");
        let b = m.add("delta beta gamma");
        let c = m.add("epsilon zeta eta");
        assert_ne!(a, c);
        assert_eq!(
            m.template(b),
            if a == b {
                "<*> beta gamma"
            } else {
                "delta beta gamma"
            }
        );
        // Empty and whitespace-only messages share the empty template; only the first line
        // counts; long messages are cut on a character boundary.
        let e = m.add("");
        assert_eq!(m.add("  \n "), e);
        assert_eq!(m.add("x y\nsecond line"), m.add("x y\nother"));
        let long = "é".repeat(5000);
        m.add(&long);
        assert!(!m.is_empty());
        assert_eq!(m.count(e), 2);
        assert_eq!(m.template(TemplateId(9999)), "");
    }

    fn t(min: i64) -> Timestamp {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + TimeDelta::minutes(min)
    }

    #[test]
    fn top_and_new_patterns_in_windows() {
        let owned: Vec<(Timestamp, String)> = (0..120)
            .map(|i| (t(i), format!("User {i} not found")))
            .chain(
                (60..120)
                    .step_by(5)
                    .map(|i| (t(i), format!("cache miss storm on shard {i}"))),
            )
            .chain((90..120).map(|i| (t(i), format!("payment 502 for charge ch_{i:08x}abcdef"))))
            .collect();
        let messages: Vec<(Timestamp, &str)> =
            owned.iter().map(|(t, s)| (*t, s.as_str())).collect();
        let mined = mine(&messages, DrainConfig::default());
        let window = Window {
            start: t(90),
            end: t(120),
        };
        let top = mined.top(&messages, window, 2);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].count, 30);
        assert_eq!(top[1].count, 30);
        assert_eq!(top[0].template, "User <*> not found");
        assert_eq!(top[0].before, 90);
        assert_eq!(top[1].template, "payment <*> for charge <*>");
        let new = mined.new_since(&messages, t(80));
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].template, "payment <*> for charge <*>");
        assert_eq!(new[0].first_seen, t(90));
        assert_eq!(new[0].example, "payment 502 for charge ch_0000005aabcdef");
        // Since t(60) the cache storm is new too.
        assert_eq!(mined.new_since(&messages, t(60)).len(), 2);
    }

    fn log(min: i64, service: &str, level: LogLevel, message: &str) -> LogRecord {
        LogRecord {
            id: RecordId::parse(&format!("log-{min}-{}", message.len())).unwrap(),
            timestamp: t(min),
            service: Label::parse(service).unwrap(),
            level,
            message: message.into(),
            route: None,
            trace_id: None,
            attributes: Attributes::new(),
        }
    }

    fn deploy(min: i64, service: &str) -> DeployEvent {
        DeployEvent {
            id: RecordId::parse("dep-1").unwrap(),
            timestamp: t(min),
            service: Label::parse(service).unwrap(),
            environment: Label::parse("production").unwrap(),
            version: Label::parse("v2.4.0").unwrap(),
            commit_sha: Some(Label::parse("abc1234").unwrap()),
            author: Some("dana".into()),
            description: None,
        }
    }

    #[test]
    fn new_error_pattern_findings_name_the_deploy() {
        let mut logs = Vec::new();
        for i in 0..180 {
            logs.push(log(
                i,
                "api",
                LogLevel::Error,
                &format!("User {i} not found"),
            ));
            logs.push(log(
                i,
                "api",
                LogLevel::Info,
                &format!("served request {i}"),
            ));
        }
        for i in 125..180 {
            logs.push(log(
                i,
                "api",
                LogLevel::Error,
                &format!("null value in column \"tax_id\" violates not-null constraint (row {i})"),
            ));
        }
        // A service without a deploy gets no finding.
        logs.push(log(
            10,
            "worker",
            LogLevel::Error,
            "queue emails stalled for 30s",
        ));
        let deployments = [deploy(120, "api")];
        let window = Window {
            start: t(150),
            end: t(180),
        };
        let findings = NewErrorPatterns::default().findings(&logs, &deployments, window);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.kind, FindingKind::NewErrorPattern);
        assert_eq!(f.service, "api");
        assert_eq!(f.severity, Severity::Warning);
        let cause = f.cause.as_ref().unwrap();
        assert_eq!(cause.version, "v2.4.0");
        assert_eq!(cause.commit_sha.as_deref(), Some("abc1234"));
        assert_eq!(cause.author.as_deref(), Some("dana"));
        assert!(f.title.contains("null value in column"), "{}", f.title);
        assert_eq!(
            f.fingerprint,
            Fingerprint::of(
                FindingKind::NewErrorPattern,
                &[
                    "api",
                    "null value in column \"tax_id\" violates not-null constraint (row <*>"
                ]
            )
        );
        assert_eq!(f.evidence[1].current, 5.0);
        // Without enough history before the deploy, nothing is called new.
        let late: Vec<LogRecord> = logs
            .iter()
            .filter(|l| l.timestamp >= t(100))
            .cloned()
            .collect();
        assert!(
            NewErrorPatterns::default()
                .findings(&late, &deployments, window)
                .is_empty()
        );
        // Without a deploy, nothing either.
        assert!(
            NewErrorPatterns::default()
                .findings(&logs, &[], window)
                .is_empty()
        );
    }
}
