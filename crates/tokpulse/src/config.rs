//! `tokpulse.toml`: parsed in two stages. The file (plus `TOKPULSE_*` overrides) becomes a
//! [`Config`] through serde with `deny_unknown_fields`; then [`Config::validate`] reports every
//! problem at once, each with its key path. Secrets are never read from the file: they come from
//! the environment only (`TOKPULSE_DATABASE_URL`, and the variables later sinks name).
//!
//! The environment is passed in as a map so that tests never touch the process environment.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokpulse_analyze::AnalyzersConfig;
use tokpulse_guard::GuardConfig;

/// The default config file name, looked for in the working directory.
pub const DEFAULT_FILE: &str = "tokpulse.toml";

/// Environment variables that carry secrets; never read from the file.
pub const ENV_DATABASE_URL: &str = "TOKPULSE_DATABASE_URL";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite file and the outbox live.
    pub data_dir: PathBuf,
    /// The HTTP API.
    pub server: ServerConfig,
    /// Connection settings (the URL itself comes from the environment).
    pub database: DatabaseConfig,
    /// The privacy guard's policy.
    pub guard: GuardConfig,
    /// When diagnosis runs in `serve`.
    pub diagnosis: DiagnosisConfig,
    /// Each analyzer's settings.
    pub analyzers: AnalyzersConfig,
    /// The local outbox sink.
    pub outbox: OutboxConfig,
    /// The GitHub issues sink.
    pub github: GithubConfig,
    /// The Slack sink.
    pub slack: SlackConfig,
    /// Pulling usage from Vercel's billing API.
    pub vercel: crate::vercel_usage::VercelConfig,
    /// Which findings go to which sinks.
    pub routing: tokpulse_act::Routing,
    /// Pricing overrides, the budget and forecast settings.
    pub cost: tokpulse_cost::CostConfig,
    /// How many days each table keeps its rows.
    pub retention: RetentionConfig,
    /// When `serve` runs its jobs (`[scheduler]`).
    pub scheduler: crate::scheduler::SchedulerConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./tokpulse-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            guard: GuardConfig::default(),
            diagnosis: DiagnosisConfig::default(),
            analyzers: AnalyzersConfig::default(),
            outbox: OutboxConfig::default(),
            github: GithubConfig::default(),
            slack: SlackConfig::default(),
            vercel: crate::vercel_usage::VercelConfig::default(),
            routing: tokpulse_act::Routing::default(),
            cost: tokpulse_cost::CostConfig::default(),
            retention: RetentionConfig::default(),
            scheduler: crate::scheduler::SchedulerConfig::default(),
        }
    }
}

/// `[retention]`: days each table keeps its rows, by the rows' own time (a request's timestamp,
/// a finding's last sighting, an audit row's day); 0 keeps them forever. A key left out keeps
/// its default. `tokpulse privacy retention` applies it now; `serve` applies it daily.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Requests (raw telemetry).
    pub performance_metrics: u32,
    /// Application logs: the most likely to hold personal data.
    pub application_logs: u32,
    /// LLM calls one by one (the cost run's recommendations and cost regressions read the last
    /// 30 days). A call not yet added to `ai_usage_daily` is never deleted.
    pub ai_usage_metrics: u32,
    /// LLM calls summed per day, service, feature, model and route: the cost history that
    /// spend per day, the month's report, forecasts and budgets read.
    pub ai_usage_daily: u32,
    /// Deployments (causes of findings).
    pub deployments: u32,
    /// Rollups per model and window.
    pub ai_health_metrics: u32,
    /// Month-end forecasts.
    pub cost_predictions: u32,
    /// Embeddings of redacted text.
    pub ai_embeddings: u32,
    /// Resolved findings, by last sighting (open findings are never deleted).
    pub findings: u32,
    /// Delivered and parked actions (pending ones are never deleted).
    pub actions: u32,
    /// The privacy audit (counts per day) and its ledger of blocked records.
    pub privacy_audit: u32,
    /// Forget and export requests: the record that they were carried out.
    pub privacy_requests: u32,
    /// Latency rollups per service, route and minute/hour/day (small; baselines read weeks).
    pub request_rollups: u32,
    /// CI workflow runs.
    pub ci_runs: u32,
    /// CI jobs (failure patterns read the last week).
    pub ci_jobs: u32,
    /// Infrastructure usage (Vercel, Supabase), by period start.
    pub infra_usage: u32,
    /// Scheduler runs that have finished (a running one is never deleted).
    pub job_runs: u32,
    /// Webhook delivery ids already taken (redeliveries older than this are taken again).
    pub webhook_deliveries: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            performance_metrics: 30,
            application_logs: 14,
            ai_usage_metrics: 90,
            ai_usage_daily: 400,
            deployments: 365,
            ai_health_metrics: 90,
            cost_predictions: 365,
            ai_embeddings: 90,
            findings: 365,
            actions: 365,
            privacy_audit: 730,
            privacy_requests: 0,
            request_rollups: 400,
            ci_runs: 90,
            ci_jobs: 90,
            infra_usage: 400,
            job_runs: 90,
            webhook_deliveries: 30,
        }
    }
}

impl RetentionConfig {
    /// The longest retention accepted: a hundred years (0 is forever).
    pub const MAX_DAYS: u32 = 36_500;

    /// `(table, days)` for every table, in the order retention runs.
    pub fn tables(&self) -> [(&'static str, u32); 18] {
        [
            ("performance_metrics", self.performance_metrics),
            ("application_logs", self.application_logs),
            ("ai_usage_metrics", self.ai_usage_metrics),
            ("ai_usage_daily", self.ai_usage_daily),
            ("deployments", self.deployments),
            ("ai_health_metrics", self.ai_health_metrics),
            ("cost_predictions", self.cost_predictions),
            ("ai_embeddings", self.ai_embeddings),
            ("findings", self.findings),
            ("actions", self.actions),
            ("privacy_audit", self.privacy_audit),
            ("privacy_requests", self.privacy_requests),
            ("request_rollups", self.request_rollups),
            ("ci_runs", self.ci_runs),
            ("ci_jobs", self.ci_jobs),
            ("infra_usage", self.infra_usage),
            ("job_runs", self.job_runs),
            ("webhook_deliveries", self.webhook_deliveries),
        ]
    }

    /// Every problem, as `retention.key: reason`.
    pub fn validate(&self) -> Vec<String> {
        self.tables()
            .iter()
            .filter(|(_, days)| *days > Self::MAX_DAYS)
            .map(|(table, days)| {
                format!(
                    "retention.{table}: at most {} days (0 keeps rows forever), got {days}",
                    Self::MAX_DAYS
                )
            })
            .collect()
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Largest request body accepted, before and after gzip decompression.
    pub max_body_bytes: usize,
    /// A request taking longer is answered with 503.
    pub request_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout_secs: 30,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL pool size.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { max_connections: 8 }
    }
}

/// `[diagnosis]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosisConfig {
    /// Seconds between diagnosis runs in `serve`.
    pub interval_secs: u64,
    /// Deliveries are given up (parked) after this many failed attempts.
    pub max_delivery_attempts: u32,
    /// A finding still happening adds its latest evidence to its issue at most this often
    /// (minutes; 0 never).
    pub update_interval_minutes: u32,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        DiagnosisConfig {
            interval_secs: 60,
            max_delivery_attempts: 8,
            update_interval_minutes: 360,
        }
    }
}

/// `[outbox]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Whether findings are written to the outbox.
    pub enabled: bool,
    /// Its folder; relative paths are under `data_dir`.
    pub dir: PathBuf,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            enabled: true,
            dir: PathBuf::from("outbox"),
        }
    }
}

/// `[github]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubConfig {
    /// Whether findings are filed as GitHub issues.
    pub enabled: bool,
    /// `owner/name` of the repository issues are filed in.
    pub repo: String,
    /// The REST API: `https://api.github.com`, or `https://HOST/api/v3` on GitHub Enterprise
    /// Server.
    pub api_url: String,
    /// How TokPulse authenticates: `token` (the variable named by `token_env`) or `app` (a
    /// GitHub App: its id and private key from the variables named below).
    pub auth: GithubAuthKind,
    /// The environment variable holding the token (never the token itself).
    pub token_env: String,
    /// The variable holding the GitHub App's id (or client id).
    pub app_id_env: String,
    /// The variable holding the app's private key (PEM).
    pub app_private_key_env: String,
    /// The variable holding the path of the app's private key file, when the key itself is not
    /// in the environment.
    pub app_private_key_path_env: String,
    /// The app's installation on `repo`; looked up when absent.
    pub installation_id: Option<u64>,
    /// Whether findings about a pull request keep a sticky comment on it (sink `github_pr`).
    pub pr_comments: bool,
    /// The Discussions category findings routed to `github_discussions` are opened in, by
    /// name or slug; empty turns that sink off.
    pub discussions_category: String,
}

/// `github.auth`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GithubAuthKind {
    /// A personal access token or `GITHUB_TOKEN`.
    Token,
    /// A GitHub App installation.
    App,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            enabled: false,
            repo: String::new(),
            api_url: "https://api.github.com".into(),
            auth: GithubAuthKind::Token,
            token_env: "GITHUB_TOKEN".into(),
            app_id_env: "TOKPULSE_GITHUB_APP_ID".into(),
            app_private_key_env: "TOKPULSE_GITHUB_APP_PRIVATE_KEY".into(),
            app_private_key_path_env: "TOKPULSE_GITHUB_APP_PRIVATE_KEY_PATH".into(),
            installation_id: None,
            pr_comments: true,
            discussions_category: String::new(),
        }
    }
}

/// `[slack]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Whether findings are posted to Slack.
    pub enabled: bool,
    /// The environment variable holding the incoming-webhook URL (it is the credential).
    pub webhook_url_env: String,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            enabled: false,
            webhook_url_env: "TOKPULSE_SLACK_WEBHOOK_URL".into(),
        }
    }
}

impl Config {
    /// Every problem with the values, each as `key.path: reason`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.data_dir.as_os_str().is_empty() {
            errors.push("data_dir: must not be empty".to_string());
        }
        if let Err(e) = self.server.listen.parse::<SocketAddr>() {
            errors.push(format!(
                "server.listen: expected an address such as \"127.0.0.1:8080\", got {:?} ({e})",
                self.server.listen
            ));
        }
        if self.server.max_body_bytes < 1024 {
            errors.push(format!(
                "server.max_body_bytes: must be at least 1024, got {}",
                self.server.max_body_bytes
            ));
        }
        if self.server.request_timeout_secs == 0 {
            errors.push("server.request_timeout_secs: must be > 0, got 0".to_string());
        }
        if self.database.max_connections == 0 {
            errors.push("database.max_connections: must be > 0, got 0".to_string());
        }
        if self.diagnosis.interval_secs == 0 {
            errors.push("diagnosis.interval_secs: must be > 0, got 0".to_string());
        }
        if self.diagnosis.max_delivery_attempts == 0 {
            errors.push("diagnosis.max_delivery_attempts: must be > 0, got 0".to_string());
        }
        if self.github.enabled {
            if let Err(e) = tokpulse_act::GithubTarget::parse(&self.github.repo) {
                errors.push(format!("github.repo: {e}"));
            }
            if !(self.github.api_url.starts_with("https://")
                || self.github.api_url.starts_with("http://"))
            {
                errors.push(format!(
                    "github.api_url: expected an http(s) URL, got {:?}",
                    self.github.api_url
                ));
            }
            let g = &self.github;
            let vars: &[(&str, &str)] = match g.auth {
                GithubAuthKind::Token => &[("token_env", &g.token_env)],
                GithubAuthKind::App => &[
                    ("app_id_env", &g.app_id_env),
                    ("app_private_key_env", &g.app_private_key_env),
                    ("app_private_key_path_env", &g.app_private_key_path_env),
                ],
            };
            for (key, var) in vars {
                if var.is_empty() {
                    errors.push(format!("github.{key}: must name an environment variable"));
                }
            }
            if g.installation_id == Some(0) {
                errors.push("github.installation_id: must be > 0, got 0".to_string());
            }
        }
        if self.slack.enabled && self.slack.webhook_url_env.is_empty() {
            errors.push("slack.webhook_url_env: must name an environment variable".to_string());
        }
        errors.extend(self.vercel.validate());
        errors.extend(self.routing.validate());
        errors.extend(self.cost.validate());
        errors.extend(self.analyzers.validate());
        errors.extend(self.guard.validate());
        errors.extend(self.retention.validate());
        errors.extend(self.scheduler.validate(&crate::scheduler::jobs::NAMES));
        errors
    }

    /// The outbox folder, resolved against `data_dir`.
    pub fn outbox_dir(&self) -> PathBuf {
        if self.outbox.dir.is_absolute() {
            self.outbox.dir.clone()
        } else {
            self.data_dir.join(&self.outbox.dir)
        }
    }
}

/// A config that could not be loaded: the file, then every problem.
#[derive(Debug)]
pub struct ConfigError {
    /// The file (or `defaults` when there was none).
    pub source_name: String,
    /// Each problem, `key.path: reason`.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration in {}:", self.source_name)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Loads the config: `path` if given (it must exist), else `tokpulse.toml` in the working
/// directory if present, else the defaults; then applies `TOKPULSE_*` overrides from `env`.
pub fn load(path: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
    let (name, text) = match path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                return Err(ConfigError {
                    source_name: p.display().to_string(),
                    problems: vec![format!("cannot read the file: {e}")],
                });
            }
        },
        None if Path::new(DEFAULT_FILE).exists() => {
            let t = std::fs::read_to_string(DEFAULT_FILE).map_err(|e| ConfigError {
                source_name: DEFAULT_FILE.into(),
                problems: vec![format!("cannot read the file: {e}")],
            })?;
            (DEFAULT_FILE.to_string(), t)
        }
        None => ("defaults".to_string(), String::new()),
    };
    parse(&name, &text, env)
}

/// Parses config text named `name`, applying overrides from `env`.
pub fn parse(
    name: &str,
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    let err = |problems: Vec<String>| ConfigError {
        source_name: name.to_string(),
        problems,
    };
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(vec![e.to_string().trim_end().replace('\n', "\n  ")]))?;
    let overridden = apply_env(&mut table, env).map_err(|p| err(vec![p]))?;
    let config: Config = serde_path_to_error::deserialize(table).map_err(|e| {
        let path = e.path().to_string();
        let via = overridden
            .iter()
            .find(|(k, _)| *k == path)
            .map(|(_, var)| format!(" (from {var})"))
            .unwrap_or_default();
        let reason = e.into_inner().to_string();
        if path == "." {
            err(vec![reason])
        } else {
            err(vec![format!("{path}{via}: {reason}")])
        }
    })?;
    let mut config = config;
    // The guard's hashing key is a secret: from the environment only.
    config.guard.hmac_secret = env
        .get(tokpulse_guard::ENV_HMAC_SECRET)
        .filter(|k| !k.is_empty())
        .map(|k| tokpulse_guard::HmacSecret::new(k.as_bytes()));
    let problems = config.validate();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(err(problems))
    }
}

/// Every leaf key of the default config, as dotted paths (`server.listen`).
fn known_keys() -> Vec<String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let v = toml::Value::try_from(Config::default()).expect("the default config serializes");
    let mut out = Vec::new();
    walk("", &v, &mut out);
    out
}

/// The variable that overrides a key: `server.listen` → `TOKPULSE_SERVER_LISTEN`.
pub fn env_name(key: &str) -> String {
    format!("TOKPULSE_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Applies `TOKPULSE_*` overrides; returns `(key, variable)` for each one applied.
fn apply_env(
    table: &mut toml::Table,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let mut applied = Vec::new();
    for key in known_keys() {
        let var = env_name(&key);
        let Some(raw) = env.get(&var) else { continue };
        // A value that parses as TOML (number, boolean, array, quoted string) is taken as
        // such; anything else is a plain string.
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().expect("keys are not empty");
        let mut t = &mut *table;
        for p in parts {
            let entry = t
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            t = entry
                .as_table_mut()
                .ok_or_else(|| format!("{key} (from {var}): `{p}` is not a table in the file"))?;
        }
        t.insert(last.to_string(), value);
        applied.push((key, var));
    }
    Ok(applied)
}

/// The commented default file `tokpulse init` writes.
pub fn default_file() -> String {
    let a = AnalyzersConfig::default();
    let rh = &a.route_health;
    let d = Config::default();
    let opt = |v: Option<f64>| {
        v.map(|x| format!("{x}"))
            .unwrap_or_else(|| "\"off\"".into())
    };
    format!(
        r#"# TokPulse configuration.
#
# Every key can be overridden by an environment variable named after it:
# server.listen -> TOKPULSE_SERVER_LISTEN, analyzers.route_health.min_requests ->
# TOKPULSE_ANALYZERS_ROUTE_HEALTH_MIN_REQUESTS.
#
# Secrets never go in this file. They come from the environment only:
#   TOKPULSE_DATABASE_URL   PostgreSQL URL (postgres://user:pass@host/db); unset = SQLite
#   TOKPULSE_GUARD_HMAC_SECRET  key for the guard's "hash" tokens (see [guard.entities]); also
#                           what `tokpulse privacy forget/export` find a person's rows with
#   GITHUB_TOKEN            a token for [github] (the variable github.token_env names)
#   TOKPULSE_GITHUB_APP_ID, TOKPULSE_GITHUB_APP_PRIVATE_KEY or _PRIVATE_KEY_PATH
#                           a GitHub App instead (github.auth = "app")
#   TOKPULSE_SLACK_WEBHOOK_URL  the Slack incoming webhook (slack.webhook_url_env)
#   TOKPULSE_VERCEL_TOKEN   a Vercel token that can read the team's billing (vercel.token_env)

# Where the SQLite database (tokpulse.db) and the outbox live.
data_dir = "{data_dir}"

[server]
# Address of the HTTP API (`tokpulse serve`).
listen = "{listen}"
# Largest request body, before and after gzip decompression (bytes).
max_body_bytes = {max_body}
# Requests taking longer are answered with 503.
request_timeout_secs = {timeout}

[database]
# PostgreSQL connection pool size (SQLite manages its own).
max_connections = {max_conn}

[guard]
# The privacy guard finds EMAIL, PHONE, CREDIT_CARD, US_SSN, IPV4, IPV6, IBAN, PERSON,
# STREET_ADDRESS, DATE_OF_BIRTH, URL_WITH_CREDENTIALS, OPENAI_KEY, GITHUB_TOKEN, AWS_ACCESS_KEY,
# JWT, PASSWORD, CRYPTO_WALLET and SLACK_TOKEN in every free-text field before it is stored.
# What it does with secrets (API keys, tokens, passwords) and with email addresses:
# "redact" (replace with [EMAIL], [GITHUB_TOKEN]...) or "block" (refuse the record).
secrets = "redact"
emails = "redact"
# Email domains kept as they are (subdomains too), e.g. ["example.com"].
allow_email_domains = []
# IP ranges kept as they are, in CIDR form, e.g. ["10.0.0.0/8", "fd00::/8"].
allow_ip_ranges = []
# Values never redacted (compared without case), e.g. product names that look like people.
allow_terms = []

[guard.entities]
# Policy per entity type; wins over `secrets` and `emails`:
#   "mask"    replace with the type: [EMAIL]
#   "partial" keep the end: **** **** **** 4242, j***@corp.io, ***-**-6789
#   "hash"    keyed token [EMAIL:3f2a9c1d5e6b7a80], the same for the same value; the key comes
#             from TOKPULSE_GUARD_HMAC_SECRET in the environment, never from this file
#   "block"   refuse the record (the error names the field and the type, never the value)
#   "allow"   keep the value
# CREDIT_CARD = "partial"
# EMAIL = "hash"

[guard.fields]
# Policy per field path, for everything found in that field; wins over [guard.entities].
# A trailing `*` matches every field under a prefix.
# "attributes.user.email" = "hash"
# "attributes.debug.*" = "block"

# Policies for one source only: performance, ai-usage, logs or deploys. Each wins over its global
# counterpart for records of that source (order: source field, field, source entity, entity).
# [guard.sources.logs.entities]
# PERSON = "hash"
# [guard.sources.logs.fields]
# "attributes.request.body" = "block"

[diagnosis]
# Seconds between diagnosis runs in `tokpulse serve`.
interval_secs = {interval}
# A delivery is parked after this many failed attempts (`tokpulse actions` shows them).
max_delivery_attempts = {attempts}
# A finding that is still happening adds its latest evidence to its issue at most this often
# (minutes; 0 never).
update_interval_minutes = {update}

[analyzers.route_health]
# p95 latency and error rate per service and route, over the latest window, against the
# thresholds below and against the window before it.
window_minutes = {window}
# Routes with fewer requests in a window are not judged: three slow requests page nobody.
min_requests = {min_requests}
# Relative change from the previous window that counts (0.2 = more than 20%).
max_deviation = {max_dev}
# Absolute limits (p95 in ms; error rate 0.05 = 5%); "off" turns one off.
p95_threshold_ms = {p95}
error_rate_threshold = {err}
# An error rate below this is never a spike, however much it grew.
min_error_rate = {min_err}
# A p95 increase smaller than this many milliseconds is never a regression.
min_p95_increase_ms = {min_inc}
# How unlikely, at the previous window's error rate, a rise in errors must be to count
# (one-sided Poisson probability): a few unlucky errors page nobody.
significance = {significance}

[outbox]
# Every new finding becomes a Markdown issue draft plus a JSONL record here.
enabled = true
dir = "outbox"

[github]
# File findings as GitHub issues (one per finding, closed when it resolves, reopened if it
# comes back). Credentials are read from the variables named here, never from this file.
enabled = false
repo = ""
# https://HOST/api/v3 on GitHub Enterprise Server.
api_url = "https://api.github.com"
# "token": a token in token_env. "app": a GitHub App, its id in app_id_env and its private key
# (PEM) in app_private_key_env or in the file named by app_private_key_path_env;
# installation_id = N skips looking the installation up.
auth = "token"
token_env = "GITHUB_TOKEN"
app_id_env = "TOKPULSE_GITHUB_APP_ID"
app_private_key_env = "TOKPULSE_GITHUB_APP_PRIVATE_KEY"
app_private_key_path_env = "TOKPULSE_GITHUB_APP_PRIVATE_KEY_PATH"
# Findings about a pull request keep one comment per kind on it, edited in place (sink github_pr).
pr_comments = true
# The Discussions category (name or slug) for sink github_discussions; "" turns it off.
discussions_category = ""

[slack]
# Post findings to a channel through an incoming webhook, at most one message a second. The
# webhook URL is a credential: it is read from the variable named here.
enabled = false
webhook_url_env = "TOKPULSE_SLACK_WEBHOOK_URL"

[vercel]
# Pull usage (edge requests, data transfer, function GB-hours) from Vercel's billing API before
# each cost run: the last `days` complete days, stored once per project, day and metric.
enabled = false
token_env = "TOKPULSE_VERCEL_TOKEN"
# The team (team_...); "" is the token's own scope.
team_id = ""
api_url = "https://api.vercel.com"
days = 3
# The plan stored with the usage ("pro"...), if you want it on the records.
plan = ""
timeout_secs = 30

[routing]
# true: every action goes to the outbox only (GitHub and Slack are left alone), to try
# TokPulse on a real repository without filing anything.
dry_run = false

# A finding goes to the sinks of every rule it matches (sinks that are not enabled are skipped).
# kinds: finding kinds, [] for all; min_severity: info, warning, high or critical.
[[routing.rules]]
kinds = []
min_severity = "info"
sinks = ["outbox", "github"]

[[routing.rules]]
kinds = []
min_severity = "high"
sinks = ["slack"]

# The seed's budget tiers: 20-30% over budget (high) opens a Discussion.
[[routing.rules]]
kinds = ["budget_overrun"]
min_severity = "high"
sinks = ["github_discussions"]

# Sinks: outbox, github (issues), github_pr (sticky PR comments), github_discussions, slack.
# Quiet hours hold notifications (Slack by default) until the window ends; findings at or above
# min_severity_to_break go out anyway, and GitHub issues are always filed.
# [routing.quiet_hours]
# start = "22:00"
# end = "07:00"
# tz = "Europe/Paris"
# min_severity_to_break = "critical"
# sinks = ["slack"]

[cost]
# The month's budget for AI and infrastructure in US dollars (the budget tiers use it).
monthly_budget_usd = 500.0
# Nominal coverage of the forecast's prediction intervals.
interval_coverage = 0.8
# Start from the built-in, dated price catalog; [[cost.prices]] entries override or extend it:
#   [[cost.prices]]
#   model = "gpt-4"
#   effective_from = "2023-03-14"
#   unit = "1k"          # or "1m" (the default)
#   input = 0.01
#   output = 0.01
builtin_catalog = true
# Optional budgets per feature and per model (dollars a month), beside the project's:
#   [cost.feature_budgets_usd]
#   "support-chat" = 300.0
#   [cost.model_budgets_usd]
#   "gpt-4o" = 150.0
# Infrastructure plans (defaults: Vercel Pro, Supabase Pro as published): the monthly fee, what
# it includes and the price per unit beyond, per metric:
#   [cost.infra.vercel]
#   plan = "pro"
#   monthly_usd = 20.0
#   included = {{ requests = 1000000, bandwidth_gb = 1000, function_gb_hours = 1000 }}
#   overage_usd = {{ requests = 0.000002, bandwidth_gb = 0.15, function_gb_hours = 0.18 }}
# Plans each project's month is also priced on, to recommend scaling down or up (default:
# Supabase Free for Supabase):
#   [[cost.infra_alternatives.supabase]]
#   plan = "free"
#   included = {{ db_size_gb = 0.5, storage_gb = 1, egress_gb = 5 }}
# Quiet periods the robust forecast expects (default: 24 Dec to 1 Jan at half a normal day):
#   [[cost.quiet_periods]]
#   name = "year-end holidays"
#   from = "12-24"
#   to = "01-01"
#   factor = 0.5
"#,
        data_dir = d.data_dir.display(),
        listen = d.server.listen,
        max_body = d.server.max_body_bytes,
        timeout = d.server.request_timeout_secs,
        max_conn = d.database.max_connections,
        interval = d.diagnosis.interval_secs,
        attempts = d.diagnosis.max_delivery_attempts,
        update = d.diagnosis.update_interval_minutes,
        window = rh.window_minutes,
        min_requests = rh.min_requests,
        max_dev = rh.max_deviation,
        p95 = opt(rh.p95_threshold_ms),
        err = opt(rh.error_rate_threshold),
        min_err = rh.min_error_rate,
        min_inc = rh.min_p95_increase_ms,
        significance = rh.significance,
    ) + &retention_section(&d.retention)
        + SCHEDULER_SECTION
}

/// The `[scheduler]` part of [`default_file`].
const SCHEDULER_SECTION: &str = r#"
[scheduler]
# `tokpulse serve` runs these jobs on cron schedules (5 fields, or 6 with seconds first), read in
# `time_zone`; "off" turns one off (`tokpulse jobs run NAME` still runs it). Every run is kept in
# the store (`tokpulse jobs list`). Several replicas on one PostgreSQL run each slot once.
enabled = true
time_zone = "UTC"
# A run's claim; another replica takes a slot over once it expires (its runner died).
lease_minutes = 30
# A deploy received by webhook is checked for regressions this long after it went live.
deploy_check_after_minutes = 35

[scheduler.jobs]
diagnosis = "*/5 * * * *"
cost = "0 * * * *"
watchers = "0 3 * * *"
insights = "0 9 * * MON"
retention = "30 4 * * *"
"#;

/// The `[retention]` part of [`default_file`].
fn retention_section(r: &RetentionConfig) -> String {
    let mut s = String::from(
        r#"
[retention]
# Days each table keeps its rows, by the rows' own time; 0 keeps them forever. Deleted in chunks
# daily by `tokpulse serve`, or now by `tokpulse privacy retention [--dry-run]`. Open findings
# and pending actions are never deleted; deleting a finding deletes its actions. LLM calls are
# deleted only once summed into ai_usage_daily, the cost history forecasts and reports read.
"#,
    );
    for (table, days) in r.tables() {
        s.push_str(&format!("{table} = {days}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        let c = parse("tokpulse.toml", &default_file(), &env(&[])).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("x", "", &env(&[])).unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_names_file_and_path() {
        let e = parse(
            "t.toml",
            "[server]\nlisten = \"127.0.0.1:1\"\nlistn = 3\n",
            &env(&[]),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("t.toml"), "{s}");
        assert!(s.contains("server.listn") || s.contains("listn"), "{s}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = parse(
            "t.toml",
            "[diagnosis]\ninterval_secs = \"soon\"\n",
            &env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("diagnosis.interval_secs"), "{e}");
    }

    #[test]
    fn every_invalid_value_is_reported_at_once() {
        let text = "[server]\nlisten = \"nowhere\"\n[diagnosis]\ninterval_secs = 0\n";
        let e = parse("t.toml", text, &env(&[])).unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
        assert!(e.problems[0].starts_with("server.listen:"), "{e}");
        assert!(e.problems[1].starts_with("diagnosis.interval_secs:"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = parse(
            "t.toml",
            "[server]\nlisten = \"127.0.0.1:1\"\n",
            &env(&[
                ("TOKPULSE_SERVER_LISTEN", "0.0.0.0:9000"),
                ("TOKPULSE_ANALYZERS_ROUTE_HEALTH_MIN_REQUESTS", "7"),
                ("TOKPULSE_DATA_DIR", "/tmp/x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:9000");
        assert_eq!(c.analyzers.route_health.min_requests, 7);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn a_bad_override_names_its_variable() {
        let e = parse(
            "t.toml",
            "",
            &env(&[("TOKPULSE_DIAGNOSIS_INTERVAL_SECS", "often")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("TOKPULSE_DIAGNOSIS_INTERVAL_SECS"),
            "{e}"
        );
    }

    #[test]
    fn a_github_app_needs_its_variables_named() {
        let e = parse(
            "t.toml",
            "[github]\nenabled = true\nrepo = \"acme/shop\"\nauth = \"app\"\napp_id_env = \"\"\ninstallation_id = 0\n",
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(
            e.problems,
            [
                "github.app_id_env: must name an environment variable",
                "github.installation_id: must be > 0, got 0"
            ],
            "{e}"
        );
        let c = parse(
            "t.toml",
            "[github]\nenabled = true\nrepo = \"acme/shop\"\nauth = \"app\"\ninstallation_id = 42\n",
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.github.installation_id, Some(42));
        // The key comes from the environment: missing, the error says where to put it.
        let e = crate::app::sinks(&c, &env(&[("TOKPULSE_GITHUB_APP_ID", "1")]))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("TOKPULSE_GITHUB_APP_PRIVATE_KEY"), "{e}");
        let e = crate::app::sinks(
            &c,
            &env(&[
                ("TOKPULSE_GITHUB_APP_ID", "1"),
                ("TOKPULSE_GITHUB_APP_PRIVATE_KEY", "not a key"),
            ]),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("not an RSA key in PEM"), "{e}");
    }

    #[test]
    fn github_needs_a_repo_when_enabled() {
        let e = parse(
            "t.toml",
            "[github]\nenabled = true\nrepo = \"tokpulse\"\n",
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(
            e.problems,
            ["github.repo: expected \"owner/name\", got \"tokpulse\""],
            "{e}"
        );
        assert!(
            parse(
                "t.toml",
                "[github]\nenabled = true\nrepo = \"acme/shop\"\n",
                &env(&[])
            )
            .is_ok()
        );
    }

    #[test]
    fn guard_problems_have_paths_and_the_hash_key_comes_from_the_environment() {
        let text =
            "[guard]\nallow_ip_ranges = [\"10.0.0.0/99\"]\n[guard.entities]\nEMAIL = \"hash\"\n";
        let e = parse("t.toml", text, &env(&[])).unwrap_err();
        assert!(
            e.problems
                .iter()
                .any(|p| p.starts_with("guard.allow_ip_ranges[0]:")),
            "{e}"
        );
        assert!(
            e.problems
                .iter()
                .any(|p| p.starts_with("guard.entities.EMAIL:")),
            "{e}"
        );
        let text = "[guard.entities]\nEMAIL = \"hash\"\n";
        let c = parse("t.toml", text, &env(&[("TOKPULSE_GUARD_HMAC_SECRET", "k")])).unwrap();
        assert!(c.guard.hmac_secret.is_some());
        let e = parse("t.toml", "[guard]\nhmac_secret = \"k\"\n", &env(&[])).unwrap_err();
        assert!(e.to_string().contains("hmac_secret"), "{e}");
    }

    #[test]
    fn cost_settings_are_checked_with_their_paths() {
        let e = parse("t.toml", "[cost]\ninterval_coverage = 2.0\n", &env(&[])).unwrap_err();
        assert!(e.problems[0].starts_with("cost.interval_coverage:"), "{e}");
        let c = parse(
            "t.toml",
            "[[cost.prices]]\nmodel = \"gpt-4\"\neffective_from = \"2023-03-14\"\nunit = \"1k\"\ninput = 0.01\noutput = 0.01\n",
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.cost.prices.len(), 1);
    }

    #[test]
    fn retention_and_source_policies_are_checked_with_their_paths() {
        let text = "[retention]\napplication_logs = 99999\n\
                    [guard.sources.requests.entities]\nEMAIL = \"mask\"\n";
        let e = parse("t.toml", text, &env(&[])).unwrap_err();
        assert_eq!(
            e.problems,
            [
                "guard.sources.requests: unknown source; expected one of performance, ai-usage, \
                 logs, deploys",
                "retention.application_logs: at most 36500 days (0 keeps rows forever), got 99999",
            ],
            "{e}"
        );
        let e = parse("t.toml", "[retention]\nlogs = 3\n", &env(&[])).unwrap_err();
        assert!(e.to_string().contains("logs"), "{e}");
        let c = parse(
            "t.toml",
            "[guard.sources.logs.entities]\nPERSON = \"hash\"\n[retention]\nfindings = 0\n",
            &env(&[
                ("TOKPULSE_GUARD_HMAC_SECRET", "k"),
                ("TOKPULSE_RETENTION_APPLICATION_LOGS", "7"),
            ]),
        )
        .unwrap();
        assert_eq!((c.retention.findings, c.retention.application_logs), (0, 7));
        assert!(c.guard.may_hash(tokpulse_guard::Entity::Person));
    }

    #[test]
    fn the_daily_ai_usage_has_its_own_retention_key() {
        let d = Config::default();
        assert_eq!(
            (d.retention.ai_usage_daily, d.retention.ai_usage_metrics),
            (400, 90)
        );
        assert!(default_file().contains("\nai_usage_daily = 400\n"));
        let e = parse("t.toml", "[retention]\nai_usage_daily = 40000\n", &env(&[])).unwrap_err();
        assert_eq!(
            e.problems,
            ["retention.ai_usage_daily: at most 36500 days (0 keeps rows forever), got 40000"]
        );
        let c = parse(
            "t.toml",
            "[retention]\nai_usage_metrics = 7\n",
            &env(&[("TOKPULSE_RETENTION_AI_USAGE_DAILY", "0")]),
        )
        .unwrap();
        assert_eq!(
            (c.retention.ai_usage_daily, c.retention.ai_usage_metrics),
            (0, 7)
        );
    }

    #[test]
    fn secrets_are_not_keys() {
        let e = parse(
            "t.toml",
            "database_url = \"postgres://u:p@h/db\"\n",
            &env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("database_url"), "{e}");
    }
}
