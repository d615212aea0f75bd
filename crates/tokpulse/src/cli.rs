//! Every command and flag, in one place.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// TokPulse: watches your web app, API and AI features, keeps personal data out of everything
/// it stores, finds what is going wrong, and writes the issue it would file.
#[derive(Debug, Parser)]
#[command(name = "tokpulse", version, propagate_version = true)]
pub struct Cli {
    /// Config file (default: ./tokpulse.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for the SQLite database and the outbox (overrides `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL; default: $TOKPULSE_DATABASE_URL, else SQLite in the data directory.
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log filter (`info`, `debug`, `tokpulse=debug,sqlx=warn`…); $TOKPULSE_LOG wins.
    #[arg(long, global = true, default_value = "warn")]
    pub log_level: String,
    /// Logs as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output shape for commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// A table for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a realistic day of traffic with a bad deploy, ingest it, diagnose it, and write
    /// the issues TokPulse would file to the outbox. Uses a fresh `demo` folder in the data dir.
    Demo(DemoArgs),
    /// Serve the HTTP API and run diagnosis on an interval.
    Serve(ServeArgs),
    /// Ingest NDJSON, JSON or CSV files through the same validation as the API.
    Ingest(IngestArgs),
    /// Run diagnosis now and print the findings.
    Diagnose(DiagnoseArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Write a commented default tokpulse.toml.
    Init(InitArgs),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show queued and delivered actions.
    #[command(subcommand)]
    Actions(ActionsCommand),
    /// Mute or unmute a finding's notifications.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// Measure TokPulse's hot paths.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the privacy guard as a filter: stdin to stdout, line by line (`--format json` gives
    /// the spans). Exit code 3 when a line was blocked by the policy.
    Redact(RedactArgs),
    /// AI cost: pricing, month-end forecasts, budgets.
    #[command(subcommand)]
    Cost(CostCommand),
    /// Privacy duties: the guard's audit, a person's data (forget, export), retention.
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// The scheduler's jobs: their schedules and runs; run one now.
    #[command(subcommand)]
    Jobs(JobsCommand),
}

/// `tokpulse demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Requests per day to generate.
    #[arg(long, default_value_t = 200_000)]
    pub requests: u64,
    /// Random seed; the same seed gives the same day.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run the automated flows instead, on a simulated clock: a deploy, a failing CI job, a
    /// night, a week and a pull request, through the webhook receivers and the scheduler.
    #[arg(long)]
    pub flows: bool,
    /// Output format for the findings.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `tokpulse serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides `server.listen`; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `tokpulse ingest`
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files to ingest: .ndjson/.jsonl, .json or .csv, optionally .gz.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// What the files hold.
    #[arg(long, default_value = "performance", value_parser = ["performance", "ai-usage", "logs", "deploys"])]
    pub kind: String,
    /// Records per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch_size: u64,
    /// Output format for the summary.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `tokpulse diagnose`
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Diagnose as of this instant (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Also list findings resolved since then: a duration before `--at` (`90m`, `6h`, `7d`)
    /// or an RFC 3339 time. Default: open findings only.
    #[arg(long, value_name = "DURATION|TIMESTAMP")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Exit with code 4 when findings are open.
    #[arg(long)]
    pub fail_on_findings: bool,
}

/// `tokpulse init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, default_value = "tokpulse.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `tokpulse config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the config (file + environment) and print the result.
    Check,
}

/// `tokpulse keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// What the key may do: service (everything), authenticated (read embeddings), anon.
        #[arg(long, value_parser = ["service", "authenticated", "anon"])]
        role: String,
        /// A name to recognise it by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (never the keys themselves).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Revoke a key by id.
    Revoke {
        /// The id from `tokpulse keys list`.
        id: i64,
    },
}

/// `tokpulse findings …`
#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// Stop a finding's recurrence comments and Slack messages (its issue is still filed,
    /// reopened, and closed with a "resolved" comment).
    Mute {
        /// The finding's fingerprint (`tokpulse diagnose` and the hidden marker show it).
        fingerprint: String,
        /// For this long (`90m`, `6h`, `7d`); for good without it.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
    },
    /// Lift a finding's mute.
    Unmute {
        /// The finding's fingerprint.
        fingerprint: String,
    },
}

/// `tokpulse actions …`
#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Make a parked action pending again (after fixing what parked it).
    Retry {
        /// The id from `tokpulse actions list`.
        id: i64,
    },
    /// List actions, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Send a clearly marked test message through each configured sink (or one) and report
    /// success or failure per sink; exits 1 if any failed. A GitHub test issue is closed at once.
    Test {
        /// Only this sink (`outbox`, `github`, `github_pr`, `github_discussions`, `slack`).
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
        /// The pull request the `github_pr` sink comments on (skipped without it).
        #[arg(long, value_name = "NUMBER")]
        pull_request: Option<u64>,
    },
}

/// `tokpulse redact`
#[derive(Debug, Args)]
pub struct RedactArgs {
    /// `table` prints the redacted text; `json` prints one object per line with the spans.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// The field name that `[guard.fields]` policies see for this input.
    #[arg(long, default_value = "stdin")]
    pub field: String,
    /// Apply the `[guard.sources.<SOURCE>]` policies too, as for records of that kind.
    #[arg(long, value_parser = ["performance", "ai-usage", "logs", "deploys"])]
    pub source: Option<String>,
}

/// `tokpulse bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput of NDJSON performance records (parse, validate, guard, SQLite) against
    /// a plain batched INSERT of the same rows, measured in the same run.
    Ingest {
        /// Records to ingest.
        #[arg(long, default_value_t = 200_000)]
        records: usize,
        /// Records per batch (one request, one transaction).
        #[arg(long, default_value_t = 5000)]
        batch_size: usize,
        /// Repetitions; the best of each is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Concurrent clients for the second ingest measurement.
        #[arg(long, default_value_t = 2)]
        clients: usize,
    },
    /// Scores the privacy guard on a labelled JSONL file (`shared/datasets/pii` format):
    /// precision, recall and F1 per type and overall (a span counts if it overlaps a gold span
    /// of its type), leak rate, over-redaction, and single-thread throughput.
    Privacy {
        /// The labelled file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Also write the predicted spans (byte offsets) in the format `score.py` reads.
        #[arg(long, value_name = "OUT")]
        predictions: Option<PathBuf>,
        /// Timed passes over the file; the best is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// The p95 latency of every route over 30 days from hour rollups (mergeable sketches)
    /// against the exact value from the raw rows, in the same run: relative error and speed.
    Rollups {
        /// Days in the window.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Requests per day (all routes).
        #[arg(long, default_value_t = 1_000_000)]
        per_day: u32,
        /// Routes.
        #[arg(long, default_value_t = 50)]
        routes: u16,
        /// Repetitions of each query; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seed of the generated requests.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// The Numenta Anomaly Benchmark: streams every series under DIR/data through the anomaly
    /// detector and prints NAB's normalised score for the standard, low-FP and low-FN profiles
    /// (one threshold per profile for all files, optimised over the corpus as NAB does).
    Nab {
        /// A folder in NAB's layout: data/<family>/<file>.csv and labels/combined_windows.json.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Also write per-row scores in NAB's results layout:
        /// OUT/tokpulse/<family>/tokpulse_<file>.csv.
        #[arg(long, value_name = "OUT")]
        results: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

/// `tokpulse privacy …`
#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// What the guard redacted, hashed and blocked: counts per day, source and entity type,
    /// never values.
    Report {
        /// The first day shown: a number of days back (`30`: the last 30 days, today included)
        /// or a date (`2026-11-01`).
        #[arg(long, default_value = "30", value_name = "DAYS|DATE")]
        since: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Erase a person: delete every stored row that holds their hash token, anonymise it in
    /// findings and actions, and print a receipt. Needs TOKPULSE_GUARD_HMAC_SECRET and a "hash"
    /// policy for the type.
    Forget {
        /// Who.
        #[command(flatten)]
        subject: SubjectArgs,
        /// Output format of the receipt.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Write every stored row that holds a person's hash token, as JSON grouped by table.
    Export {
        /// Who.
        #[command(flatten)]
        subject: SubjectArgs,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Delete rows older than `[retention]` allows, table by table, in chunks.
    Retention {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

/// Who a forget or export request is about.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SubjectArgs {
    /// The person's email address.
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
    /// Another identifier, as TYPE=VALUE (`PHONE=+14155550100`, `US_SSN=…`).
    #[arg(long, value_name = "TYPE=VALUE")]
    pub id: Option<String>,
}

/// `tokpulse cost …`
#[derive(Debug, Subcommand)]
pub enum CostCommand {
    /// The month's spend per day, feature, model and service, infrastructure, budget status and
    /// recommendations, from the stored usage (read only).
    Report {
        /// The month, as YYYY-MM; the current one by default (up to the last complete day).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// The current month's month-end projection by the linear and the robust seasonal method,
    /// with their intervals and budget tiers (read only).
    Forecast {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// One cost run now: stores the forecasts in `cost_predictions`, raises budget,
    /// unknown-model and cost-regression findings and queues their actions.
    Run {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Pulls the last `[vercel] days` complete days of usage from Vercel's billing API into the
    /// infrastructure usage (the cost job does it before each run when `vercel.enabled`).
    Pull {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Score the month-end forecast methods on generated spend histories (weekly pattern,
    /// growth, a launch, holiday weeks, retry storms): error of the projection made on days 7,
    /// 14 and 21, and how often the real month end fell inside each method's interval.
    Backtest {
        /// Random seed; the same seed gives the same histories.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Histories to generate.
        #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        histories: u64,
        /// Months per history; the first 3 are history only, the rest are scored.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(4..=120))]
        months: u64,
        /// Nominal coverage of the prediction intervals.
        #[arg(long, default_value_t = 0.8)]
        coverage: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

/// `tokpulse jobs …`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Every job with its cron expression, last run and next run.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Run a job now, through the same claim and record as a scheduled run.
    Run {
        /// The job: diagnosis, cost, watchers, insights or retention.
        name: String,
    },
}
