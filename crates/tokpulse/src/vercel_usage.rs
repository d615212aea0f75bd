//! Pulls Vercel usage from its billing API (`GET /v1/billing/charges`, FOCUS rows as JSONL) into
//! `infra_usage`, so a team on Vercel does not have to send the figures itself.
//!
//! Each pull asks for the last `[vercel] days` complete days (UTC; a day still running would be
//! stored half counted, and a record is stored once per id). The rows of a day are summed per
//! project and metric (regions, resources) and stored as one usage record each:
//!
//! | FOCUS `ServiceName` | unit | metric |
//! | --- | --- | --- |
//! | Edge Requests | Requests | `requests` |
//! | Fast Data Transfer | GB (MB, TB converted) | `bandwidth_gb` |
//! | Function Duration | GB-Hours | `function_gb_hours` |
//!
//! Other services (function invocations, image optimisation…) and rows that are not usage (the
//! plan's fee, taxes, credits: the fee comes from `[cost.infra.vercel]`) are counted and left
//! out. The id is `vercel-<project>-<day>-<metric>`: pulling a day again stores nothing twice.
//! A line that is not a FOCUS usage row is reported with its line number; the others are
//! stored. A 429 is retried after its `Retry-After` (up to [`MAX_RETRY_AFTER`]), a 5xx or a
//! timeout after 1, 2 and 4 seconds; a 401 or 403 says which roles may read billing.

use anyhow::Context;
use chrono::{Days, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokpulse_core::{InfraProvider, InfraUsageRecord, Label, RecordId, Timestamp};
use tokpulse_store::Store;

/// The longest `Retry-After` waited for; a longer one fails the pull (the next one catches up).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Attempts per pull (the first and three retries).
const ATTEMPTS: u32 = 4;

/// `[vercel]`: pulling usage from Vercel's billing API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VercelConfig {
    /// Whether the cost job pulls usage before each run.
    pub enabled: bool,
    /// The environment variable holding the access token (a team role that can read billing).
    pub token_env: String,
    /// The team (`team_…`), sent as `teamId`; empty: the token's own scope.
    pub team_id: String,
    /// The API's base URL.
    pub api_url: String,
    /// Complete days asked for by each pull (1–366).
    pub days: u32,
    /// The plan stored with each record (`pro`…); empty when not known.
    pub plan: String,
    /// Seconds a request may take.
    pub timeout_secs: u64,
}

impl Default for VercelConfig {
    fn default() -> Self {
        VercelConfig {
            enabled: false,
            token_env: "TOKPULSE_VERCEL_TOKEN".into(),
            team_id: String::new(),
            api_url: "https://api.vercel.com".into(),
            days: 3,
            plan: String::new(),
            timeout_secs: 30,
        }
    }
}

impl VercelConfig {
    /// The token, from the variable [`token_env`](Self::token_env) names in `env`.
    pub fn token<'a>(&self, env: &'a BTreeMap<String, String>) -> anyhow::Result<&'a str> {
        let var = &self.token_env;
        env.get(var)
            .map(String::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "vercel.enabled is true but ${var} is not set: export a Vercel token there"
                )
            })
    }

    /// Every problem with the values, each as `vercel.key: reason`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.enabled && self.token_env.is_empty() {
            errors.push("vercel.token_env: must name an environment variable".to_string());
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://")) {
            errors.push(format!(
                "vercel.api_url: expected an http(s) URL, got {:?}",
                self.api_url
            ));
        }
        if !(1..=366).contains(&self.days) {
            errors.push(format!(
                "vercel.days: must be between 1 and 366, got {}",
                self.days
            ));
        }
        if !self.plan.is_empty()
            && let Err(e) = Label::parse(&self.plan)
        {
            errors.push(format!("vercel.plan: {}", e.0));
        }
        if self.timeout_secs == 0 {
            errors.push("vercel.timeout_secs: must be > 0, got 0".to_string());
        }
        errors
    }
}

/// What one pull did.
#[derive(Debug, Default, Serialize)]
pub struct PullReport {
    /// First day asked for.
    pub from: Option<NaiveDate>,
    /// Day after the last one asked for.
    pub to: Option<NaiveDate>,
    /// FOCUS rows received.
    pub rows: usize,
    /// Usage records made of them.
    pub records: usize,
    /// Records stored by this pull.
    pub stored: u64,
    /// Records already stored by an earlier pull.
    pub duplicates: u64,
    /// Rows left out, by service (or `non-usage: <category>`).
    pub left_out: BTreeMap<String, u64>,
    /// Lines that are not FOCUS usage rows: `line N: what is wrong`.
    pub problems: Vec<String>,
}

/// The metric a FOCUS service is stored as, and the factor from its unit to the metric's.
fn metric_of(service: &str, unit: &str) -> Option<Result<(&'static str, f64), String>> {
    let metric = match service {
        "Edge Requests" => "requests",
        "Fast Data Transfer" => "bandwidth_gb",
        "Function Duration" => "function_gb_hours",
        _ => return None,
    };
    let factor = match (metric, unit) {
        ("requests", "Requests") => 1.0,
        ("bandwidth_gb", "GB") => 1.0,
        ("bandwidth_gb", "MB") => 1e-3,
        ("bandwidth_gb", "TB") => 1e3,
        ("function_gb_hours", "GB-Hours") => 1.0,
        _ => {
            return Some(Err(format!(
                "ConsumedUnit {unit:?} is not a unit of {service:?}"
            )));
        }
    };
    Some(Ok((metric, factor)))
}

fn field<'a>(row: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match row.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("{name} is missing")),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn instant(row: &serde_json::Map<String, Value>, name: &str) -> Result<Timestamp, String> {
    let s = field(row, name)?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|_| format!("{name} must be an RFC 3339 time, got {s:?}"))
}

/// The project a row is billed to: its sub-account (the Vercel project) by name, else by id,
/// else the billing account (the team).
fn project_of(row: &serde_json::Map<String, Value>) -> Result<Label, String> {
    ["SubAccountName", "SubAccountId", "BillingAccountName"]
        .iter()
        .filter_map(|k| field(row, k).ok())
        .find_map(|name| Label::parse(name).ok())
        .ok_or_else(|| {
            "no SubAccountName, SubAccountId or BillingAccountName to name the project".into()
        })
}

/// One usage row: `(project, metric, period start, period end, quantity)`, `Ok(None)` for a
/// row that is left out (its reason added to `left_out`).
type Usage = (Label, &'static str, Timestamp, Timestamp, f64);

fn usage_of(line: &str, left_out: &mut BTreeMap<String, u64>) -> Result<Option<Usage>, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let row = v.as_object().ok_or("must be a JSON object")?;
    let category = field(row, "ChargeCategory")?;
    if category != "Usage" {
        *left_out
            .entry(format!("non-usage: {category}"))
            .or_default() += 1;
        return Ok(None);
    }
    let service = field(row, "ServiceName")?;
    let unit = field(row, "ConsumedUnit").unwrap_or("");
    let Some(metric) = metric_of(service, unit) else {
        *left_out.entry(service.to_owned()).or_default() += 1;
        return Ok(None);
    };
    let (metric, factor) = metric?;
    let quantity = match row.get("ConsumedQuantity") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        None | Some(Value::Null) => return Err("ConsumedQuantity is missing".into()),
        Some(_) => return Err("ConsumedQuantity must be a number".into()),
    };
    if !(quantity.is_finite() && quantity >= 0.0) {
        return Err(format!("ConsumedQuantity must be >= 0, got {quantity}"));
    }
    let start = instant(row, "ChargePeriodStart")?;
    let end = instant(row, "ChargePeriodEnd")?;
    if end <= start {
        return Err("ChargePeriodEnd must be after ChargePeriodStart".into());
    }
    Ok(Some((
        project_of(row)?,
        metric,
        start,
        end,
        quantity * factor,
    )))
}

/// The usage records in a `GET /v1/billing/charges` answer (JSONL), summed per project, metric
/// and charge period; the problems and left-out rows go to `report`.
pub fn records_from_charges(
    body: &str,
    plan: Option<&Label>,
    report: &mut PullReport,
) -> Vec<InfraUsageRecord> {
    let mut sums: BTreeMap<(Label, &'static str, Timestamp, Timestamp), f64> = BTreeMap::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        report.rows += 1;
        match usage_of(line, &mut report.left_out) {
            Ok(Some((project, metric, start, end, q))) => {
                *sums.entry((project, metric, start, end)).or_default() += q;
            }
            Ok(None) => {}
            Err(e) => report.problems.push(format!("line {}: {e}", i + 1)),
        }
    }
    let mut out = Vec::with_capacity(sums.len());
    for ((project, metric, start, end), quantity) in sums {
        let id = format!(
            "vercel-{}-{}-{metric}",
            project.as_str(),
            start.format("%Y-%m-%dT%H%M")
        );
        let id = match RecordId::parse(&id) {
            Ok(id) => id,
            Err(e) => {
                report.problems.push(format!("record {id}: {}", e.0));
                continue;
            }
        };
        out.push(InfraUsageRecord {
            id,
            provider: InfraProvider::Vercel,
            project,
            metric: Label::parse(metric).expect("metric names are labels"),
            quantity,
            period_start: start,
            period_end: end,
            plan: plan.cloned(),
        });
    }
    out
}

/// A client for the billing API.
pub struct VercelUsage {
    config: VercelConfig,
    token: String,
    plan: Option<Label>,
    client: reqwest::Client,
}

impl VercelUsage {
    /// A client from `[vercel]` and the environment (the token's variable must be set).
    pub fn new(config: &VercelConfig, env: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let token = config.token(env)?;
        // The binary installs it at start; a library user may not have.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("tokpulse/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(VercelUsage {
            config: config.clone(),
            token: token.to_owned(),
            plan: (!config.plan.is_empty())
                .then(|| Label::parse(&config.plan))
                .transpose()?,
            client,
        })
    }

    /// The charges of `[from, to)` as the API answers them (JSONL), with retries.
    pub async fn charges(&self, from: NaiveDate, to: NaiveDate) -> anyhow::Result<String> {
        let url = format!(
            "{}/v1/billing/charges",
            self.config.api_url.trim_end_matches('/')
        );
        let mut query = vec![
            ("from", format!("{from}T00:00:00Z")),
            ("to", format!("{to}T00:00:00Z")),
        ];
        if !self.config.team_id.is_empty() {
            query.push(("teamId", self.config.team_id.clone()));
        }
        let url = reqwest::Url::parse_with_params(&url, &query)
            .with_context(|| format!("vercel.api_url: {:?}", self.config.api_url))?;
        let mut backoff = Duration::from_secs(1);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .client
                .get(url.clone())
                .bearer_auth(&self.token)
                .header(reqwest::header::ACCEPT, "application/jsonl")
                .send()
                .await;
            let wait = match sent {
                Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                    last = format!("{e}");
                    backoff
                }
                Err(e) => return Err(e).context("calling Vercel's billing API"),
                Ok(r) if r.status().is_success() => {
                    return r.text().await.context("reading Vercel's billing charges");
                }
                Ok(r) => {
                    let status = r.status();
                    let retry_after = tokpulse_act::retry_after(r.headers());
                    let body = r.text().await.unwrap_or_default();
                    let message = api_message(&body);
                    match status.as_u16() {
                        401 | 403 => anyhow::bail!(
                            "Vercel refused the token ({status}: {message}): it needs a role of \
                             the team that may read billing (Owner, Member, Developer, Security, \
                             Billing or Enterprise Viewer){}",
                            if self.config.team_id.is_empty() {
                                String::new()
                            } else {
                                format!(" of {}", self.config.team_id)
                            }
                        ),
                        429 => {
                            let wait = retry_after.unwrap_or(backoff);
                            if wait > MAX_RETRY_AFTER {
                                anyhow::bail!(
                                    "Vercel's billing API is rate limited for {} s more; the next \
                                     pull will catch up",
                                    wait.as_secs()
                                );
                            }
                            last = format!("{status}: {message}");
                            wait
                        }
                        500..=599 => {
                            last = format!("{status}: {message}");
                            backoff
                        }
                        _ => anyhow::bail!("Vercel's billing API answered {status}: {message}"),
                    }
                }
            };
            if attempt == ATTEMPTS {
                break;
            }
            tracing::warn!(attempt, wait_secs = wait.as_secs(), error = %last, "retrying Vercel's billing API");
            tokio::time::sleep(wait).await;
            backoff *= 2;
        }
        anyhow::bail!("Vercel's billing API failed {ATTEMPTS} times; the last: {last}")
    }

    /// Pulls the last `days` complete days before `now` into `store`.
    pub async fn pull(&self, store: &dyn Store, now: Timestamp) -> anyhow::Result<PullReport> {
        let to = now.date_naive();
        let from = to
            .checked_sub_days(Days::new(u64::from(self.config.days)))
            .unwrap_or(to);
        let body = self.charges(from, to).await?;
        let mut report = PullReport {
            from: Some(from),
            to: Some(to),
            ..PullReport::default()
        };
        let mut records = records_from_charges(&body, self.plan.as_ref(), &mut report);
        // A row of a day that has not ended (or a later one) would be stored half counted.
        let complete = to.and_time(chrono::NaiveTime::MIN).and_utc();
        records.retain(|r| {
            let keep =
                r.period_end <= complete && r.period_end - r.period_start <= TimeDelta::days(31);
            if !keep {
                *report
                    .left_out
                    .entry("period not complete".into())
                    .or_default() += 1;
            }
            keep
        });
        report.records = records.len();
        if !records.is_empty() {
            let outcome = store.insert_infra_usage(&records, now).await?;
            report.stored = outcome.inserted;
            report.duplicates = outcome.duplicates;
        }
        Ok(report)
    }
}

/// The message of an API error body (`{"error": {"code", "message"}}`), else the body.
fn api_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constructed answer beside the documentation (`shared/datasets/vercel`).
    pub fn fixture() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/datasets/vercel/billing/charges.constructed.jsonl");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn the_documented_rows_become_one_record_per_project_day_and_metric() {
        let mut report = PullReport::default();
        let records = records_from_charges(&fixture(), None, &mut report);
        let got: Vec<(&str, &str, f64)> = records
            .iter()
            .map(|r| (r.project.as_str(), r.metric.as_str(), r.quantity))
            .collect();
        assert_eq!(
            got,
            [
                ("webapp", "bandwidth_gb", 38.2),
                ("webapp", "function_gb_hours", 412.7),
                ("webapp", "requests", 2_950_112.0),
            ]
        );
        assert_eq!(
            records[0].id.as_str(),
            "vercel-webapp-2026-11-24T0000-bandwidth_gb"
        );
        assert_eq!(report.rows, 4);
        assert_eq!(report.left_out["Function Invocations"], 1);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn regions_are_summed_units_converted_and_bad_lines_reported_by_number() {
        let row = |service: &str, q: &str, unit: &str, region: &str| {
            format!(
                r#"{{"ChargeCategory":"Usage","ServiceName":"{service}","ConsumedQuantity":{q},"ConsumedUnit":"{unit}","ChargePeriodStart":"2026-11-24T00:00:00Z","ChargePeriodEnd":"2026-11-25T00:00:00Z","SubAccountName":"shop","RegionId":"{region}","ExtraVercelColumn":{{"x":1}}}}"#
            )
        };
        let body = [
            row("Fast Data Transfer", "10", "GB", "iad1"),
            row("Fast Data Transfer", "500", "MB", "fra1"),
            String::new(),
            "not json".into(),
            row("Edge Requests", "-3", "Requests", "iad1"),
            row("Function Duration", "2", "Seconds", "iad1"),
            r#"{"ChargeCategory":"Purchase","ServiceName":"Pro plan","BilledCost":20}"#.into(),
            r#"{"ChargeCategory":"Usage","ServiceName":"Edge Requests","ConsumedQuantity":5,"ConsumedUnit":"Requests","ChargePeriodStart":"2026-11-24T00:00:00Z","ChargePeriodEnd":"2026-11-25T00:00:00Z"}"#.into(),
        ]
        .join("\n");
        let mut report = PullReport::default();
        let plan = Label::parse("pro").unwrap();
        let records = records_from_charges(&body, Some(&plan), &mut report);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].metric.as_str(), "bandwidth_gb");
        assert!((records[0].quantity - 10.5).abs() < 1e-9);
        assert_eq!(records[0].plan.as_ref().map(Label::as_str), Some("pro"));
        assert_eq!(report.rows, 7, "the blank line is not a row");
        assert_eq!(report.left_out["non-usage: Purchase"], 1);
        let lines: Vec<&str> = report
            .problems
            .iter()
            .map(|p| p.split(':').next().unwrap())
            .collect();
        assert_eq!(
            lines,
            ["line 4", "line 5", "line 6", "line 8"],
            "{:?}",
            report.problems
        );
        assert!(report.problems[1].contains("ConsumedQuantity must be >= 0"));
        assert!(report.problems[2].contains("\"Seconds\" is not a unit"));
        assert!(report.problems[3].contains("no SubAccountName"));
    }

    #[test]
    fn bad_settings_are_named() {
        let c = VercelConfig {
            enabled: true,
            token_env: String::new(),
            api_url: "api.vercel.com".into(),
            days: 0,
            plan: "pro plan".into(),
            timeout_secs: 0,
            ..VercelConfig::default()
        };
        let errors = c.validate();
        for key in ["token_env", "api_url", "days", "plan", "timeout_secs"] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with(&format!("vercel.{key}:"))),
                "{key}: {errors:?}"
            );
        }
        assert!(VercelConfig::default().validate().is_empty());
    }
}
