//! The weekly insights report: rule-based (until a model writes it) from the week's findings,
//! cost findings included, and the scheduler's own runs. Written to the outbox as
//! `insights/<year>-W<week>.md`, one file per ISO week (a rerun rewrites it), and, with the
//! `github_discussions` sink configured (and no dry run), opened as a Discussion in its
//! category: one per week, found again by its marker, so a rerun opens no second one. If
//! GitHub fails, the run fails with the error (the outbox file is written) and
//! `tokpulse jobs run insights` posts it.

use super::{Job, JobContext};
use chrono::{Datelike, TimeDelta};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tokpulse_core::{FindingStatus, StoredFinding, Timestamp};
use tokpulse_store::{JobRunRow, JobStatus};

/// The weekly job.
pub struct Insights;

#[async_trait::async_trait]
impl Job for Insights {
    fn name(&self) -> &'static str {
        "insights"
    }
    fn default_cron(&self) -> &'static str {
        "0 9 * * MON"
    }
    fn about(&self) -> &'static str {
        "insights: the week's findings, cost and runs as a report in the outbox"
    }
    async fn run(&self, ctx: &JobContext, now: Timestamp) -> anyhow::Result<String> {
        let findings = ctx.store.findings(None, 100_000).await?;
        let runs = ctx.store.job_runs(None, 10_000).await?;
        let report = report(&findings, &runs, now);
        let week = now.iso_week();
        let dir = ctx.config.outbox_dir().join("insights");
        tokio::fs::create_dir_all(&dir).await?;
        let key = format!("{}-W{:02}", week.year(), week.week());
        let path = dir.join(format!("{key}.md"));
        tokio::fs::write(&path, &report.markdown).await?;
        let mut summary = format!(
            "{} findings this week ({} new, {} resolved); report {}",
            report.active,
            report.new,
            report.resolved,
            path.display()
        );
        if let Some(discussions) = ctx.engine.sinks().iter().find_map(|s| s.as_discussions()) {
            let url = discussions
                .publish(&format!("insights-{key}"), &report.title, &report.markdown)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the report is in {}, but opening its Discussion failed: {e}",
                        path.display()
                    )
                })?;
            summary.push_str(&format!("; discussion {url}"));
        }
        Ok(summary)
    }
}

/// A rendered report and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Findings seen in the week.
    pub active: usize,
    /// First seen in the week.
    pub new: usize,
    /// Resolved in the week.
    pub resolved: usize,
    /// Its title (the Markdown's heading, and the Discussion's title).
    pub title: String,
    /// The Markdown.
    pub markdown: String,
}

/// The report of the seven days before `now`. Pure: same input, same report.
pub fn report(findings: &[StoredFinding], runs: &[JobRunRow], now: Timestamp) -> Report {
    let start = now - TimeDelta::days(7);
    let in_week = |t: Timestamp| t >= start && t < now;
    let active: Vec<&StoredFinding> = findings.iter().filter(|f| in_week(f.last_seen)).collect();
    let new = active.iter().filter(|f| in_week(f.first_seen)).count();
    let resolved = findings
        .iter()
        .filter(|f| f.resolved_at.is_some_and(in_week))
        .count();
    let open = findings
        .iter()
        .filter(|f| f.status == FindingStatus::Open)
        .count();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &active {
        *by_kind.entry(f.finding.kind.as_str()).or_default() += 1;
    }
    let mut md = String::new();
    let title = format!(
        "TokPulse weekly insights: {} to {}",
        start.format("%Y-%m-%d"),
        now.format("%Y-%m-%d")
    );
    let _ = writeln!(md, "# {title}\n");
    let _ = writeln!(
        md,
        "{} findings were active this week: {new} new, {resolved} resolved; {open} open now.\n",
        active.len()
    );
    if !by_kind.is_empty() {
        let _ = writeln!(md, "| kind | findings |\n| --- | ---: |");
        for (k, n) in &by_kind {
            let _ = writeln!(md, "| {k} | {n} |");
        }
        md.push('\n');
    }
    let mut top: Vec<&&StoredFinding> = active.iter().collect();
    top.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then(b.occurrences.cmp(&a.occurrences))
            .then(a.finding.title.cmp(&b.finding.title))
    });
    if !top.is_empty() {
        let _ = writeln!(md, "## What mattered most\n");
        for f in top.iter().take(5) {
            let _ = writeln!(
                md,
                "- **{}** ({}, {:?}, seen {} times{})",
                f.finding.title,
                f.finding.kind.as_str(),
                f.finding.severity,
                f.occurrences,
                if f.status == FindingStatus::Resolved {
                    ", resolved"
                } else {
                    ""
                }
            );
        }
        md.push('\n');
    }
    let cost: Vec<&&StoredFinding> = active
        .iter()
        .filter(|f| {
            let k = f.finding.kind.as_str();
            k.contains("budget") || k.contains("cost") || k.contains("model")
        })
        .collect();
    let _ = writeln!(md, "## Cost\n");
    if cost.is_empty() {
        let _ = writeln!(md, "No budget or cost findings this week.\n");
    } else {
        for f in cost {
            let _ = writeln!(md, "- {}", f.finding.title);
        }
        md.push('\n');
    }
    let week_runs: Vec<&JobRunRow> = runs.iter().filter(|r| in_week(r.scheduled_for)).collect();
    let failed: Vec<&&JobRunRow> = week_runs
        .iter()
        .filter(|r| r.status == JobStatus::Failed)
        .collect();
    let _ = writeln!(
        md,
        "## TokPulse itself\n\n{} scheduled runs, {} failed.",
        week_runs.len(),
        failed.len()
    );
    for r in failed.iter().take(5) {
        let _ = writeln!(
            md,
            "- {} at {}: {}",
            r.job,
            r.scheduled_for.format("%Y-%m-%d %H:%M"),
            r.error.as_deref().unwrap_or("")
        );
    }
    Report {
        active: active.len(),
        new,
        resolved,
        title,
        markdown: md,
    }
}
