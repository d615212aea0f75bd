//! `tokpulse cost …`: the cost commands. The arithmetic lives in `tokpulse-cost`, the month's
//! summary and the cost run in `cost_run.rs`; this module only checks flags and prints.

use crate::Exit;
use crate::cli::{CostCommand, OutputFormat};
use crate::config::Config;
use crate::cost_run::{self, CostSummary};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use tokpulse_cost::Method;
use tokpulse_cost::backtest::{self, Report};
use tokpulse_store::StoreTarget;

/// Runs a `tokpulse cost` subcommand; returns the exit code.
pub async fn run(
    config: &Config,
    target: &StoreTarget,
    cmd: CostCommand,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<u8> {
    let now = chrono::Utc::now();
    match cmd {
        CostCommand::Backtest {
            seed,
            histories,
            months,
            coverage,
            format,
        } => backtest_command(seed, histories, months, coverage, format),
        CostCommand::Report { month, format } => {
            let as_of = report_day(month.as_deref(), now)?;
            let store = crate::app::open_store(target).await?;
            let inputs = cost_run::load(store.as_ref(), as_of).await?;
            let summary = cost_run::summarize(&config.cost, &inputs, as_of);
            store.close().await;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
                OutputFormat::Table => print_report(&summary),
            }
            Ok(0)
        }
        CostCommand::Forecast { format } => {
            let as_of = cost_run::last_complete_day(now);
            let store = crate::app::open_store(target).await?;
            let inputs = cost_run::load(store.as_ref(), as_of).await?;
            let summary = cost_run::summarize(&config.cost, &inputs, as_of);
            store.close().await;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "month": summary.month,
                        "as_of": summary.as_of,
                        "spend_to_date_usd": summary.spend_to_date_usd,
                        "forecasts": summary.forecasts,
                        "budgets": summary.budgets,
                    }))?
                ),
                OutputFormat::Table => print_forecast(&summary),
            }
            Ok(0)
        }
        CostCommand::Pull { format } => {
            let client = crate::vercel_usage::VercelUsage::new(&config.vercel, env)?;
            let store = crate::app::open_store(target).await?;
            let pulled = client.pull(store.as_ref(), now).await;
            store.close().await;
            let report = pulled?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                OutputFormat::Table => print_pull(&report),
            }
            Ok(if report.problems.is_empty() { 0 } else { 1 })
        }
        CostCommand::Run { format } => {
            let app = crate::app::App::new(config, crate::app::open_store(target).await?);
            let run = cost_run::run(&app.engine, &config.cost, now).await?;
            app.store.close().await;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "summary": run.summary,
                        "predictions": run.predictions,
                        "findings": run.seen,
                        "resolved": run.resolved,
                        "queued": run.queued,
                    }))?
                ),
                OutputFormat::Table => {
                    print_forecast(&run.summary);
                    println!(
                        "stored {} predictions; {} cost findings open, {} resolved, {} actions queued",
                        run.predictions,
                        run.seen.len(),
                        run.resolved.len(),
                        run.queued
                    );
                    if !run.seen.is_empty() {
                        println!("{}", crate::commands::findings_table(&run.seen));
                    }
                }
            }
            Ok(0)
        }
    }
}

fn print_pull(r: &crate::vercel_usage::PullReport) {
    let range = match (r.from, r.to) {
        (Some(from), Some(to)) => format!("{from} to {to} (exclusive)"),
        _ => String::new(),
    };
    println!(
        "vercel {range}: {} rows, {} usage records: {} stored, {} already stored",
        r.rows, r.records, r.stored, r.duplicates
    );
    for (what, n) in &r.left_out {
        println!("  left out: {what} ({n} rows)");
    }
    for p in &r.problems {
        println!("  problem: {p}");
    }
}

/// The last day a report of `month` (YYYY-MM) counts: the month's last day, or the last
/// complete day for the current month.
fn report_day(
    month: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<NaiveDate> {
    let today = cost_run::last_complete_day(now);
    let Some(month) = month else {
        return Ok(today);
    };
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        Exit(
            2,
            format!("error: --month: expected YYYY-MM, got {month:?}"),
        )
    })?;
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    Ok(last.min(today).max(first))
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

fn print_forecast(s: &CostSummary) {
    println!(
        "{}: ${:.2} spent to {} (AI ${:.2}, infrastructure ${:.2})",
        s.month, s.spend_to_date_usd, s.as_of, s.ai_usd, s.infra_usd
    );
    let mut t = crate::commands::table(&[
        "budget",
        "method",
        "projection",
        "interval",
        "budget $",
        "deviation",
        "tier",
    ]);
    let mut rows = 0;
    for b in &s.budgets {
        for f in &b.forecasts {
            let st = tokpulse_cost::BudgetStatus::new(f.projection, b.status.budget_usd);
            t.add_row(vec![
                b.scope.clone(),
                f.method.as_str().to_owned(),
                usd(f.projection),
                format!(
                    "{} – {} ({:.0}%)",
                    usd(f.lower),
                    usd(f.upper),
                    f.coverage * 100.0
                ),
                usd(st.budget_usd),
                format!("{:+.1}%", st.deviation * 100.0),
                st.tier.as_str().to_owned(),
            ]);
            rows += 1;
        }
    }
    if s.budgets.is_empty() {
        for f in &s.forecasts {
            t.add_row(vec![
                "(none)".to_owned(),
                f.method.as_str().to_owned(),
                usd(f.projection),
                format!(
                    "{} – {} ({:.0}%)",
                    usd(f.lower),
                    usd(f.upper),
                    f.coverage * 100.0
                ),
                String::new(),
                String::new(),
                String::new(),
            ]);
            rows += 1;
        }
    }
    if rows == 0 {
        println!("not enough days of spend for a forecast yet");
    } else {
        println!("{t}");
    }
    if let Some(b) = s.budgets.first() {
        println!(
            "budget status ({}): {} — projected {} against {} ({:+.1}%)",
            b.scope,
            b.status.tier.as_str(),
            usd(b.status.projection_usd),
            usd(b.status.budget_usd),
            b.status.deviation * 100.0
        );
    }
}

/// What `tokpulse demo` shows of the month: forecasts and tier, recommendations, cost
/// regressions.
pub fn print_demo(s: &CostSummary) {
    print_forecast(s);
    if !s.recommendations.is_empty() {
        let mut t = crate::commands::table(&["saving / month", "recommendation"]);
        for r in &s.recommendations {
            t.add_row(vec![usd(r.monthly_saving_usd), r.title.clone()]);
        }
        println!("recommendations\n{t}");
    }
}

fn print_report(s: &CostSummary) {
    print_forecast(s);
    let mut t = crate::commands::table(&["day", "AI", "infrastructure", "total"]);
    for d in &s.daily {
        t.add_row(vec![
            d.day.to_string(),
            usd(d.ai_usd),
            usd(d.infra_usd),
            usd(d.ai_usd + d.infra_usd),
        ]);
    }
    println!("\nper day\n{t}");
    for (title, lines) in [
        ("per feature", &s.by_feature),
        ("per model", &s.by_model),
        ("per service", &s.by_service),
        ("per route", &s.by_route),
    ] {
        let mut t = crate::commands::table(&[
            "name",
            "calls",
            "failed",
            "prompt tokens",
            "completion tokens",
            "cost",
            "unpriced calls",
        ]);
        for l in lines {
            t.add_row(vec![
                l.name.clone(),
                l.calls.to_string(),
                l.failed_calls.to_string(),
                l.input_tokens.to_string(),
                l.output_tokens.to_string(),
                usd(l.cost_usd),
                l.unpriced_calls.to_string(),
            ]);
        }
        println!("\n{title}\n{t}");
    }
    if !s.infra.is_empty() {
        let mut t = crate::commands::table(&["provider", "project", "plan", "usage", "cost"]);
        for l in &s.infra {
            let usage: Vec<String> = l.usage.iter().map(|(m, q)| format!("{m} {q:.1}")).collect();
            t.add_row(vec![
                l.provider.clone(),
                l.project.clone(),
                l.plan.clone(),
                usage.join(", "),
                usd(l.cost_usd),
            ]);
        }
        println!("\ninfrastructure\n{t}");
    }
    if !s.unknown_models.is_empty() {
        let mut t = crate::commands::table(&[
            "model",
            "services",
            "calls",
            "prompt tokens",
            "completion tokens",
        ]);
        for u in &s.unknown_models {
            t.add_row(vec![
                u.model.clone(),
                u.services.join(", "),
                u.calls.to_string(),
                u.input_tokens.to_string(),
                u.output_tokens.to_string(),
            ]);
        }
        println!("\nunpriced: models the catalog does not know\n{t}");
    }
    if !s.recommendations.is_empty() {
        let mut t = crate::commands::table(&["saving / month", "recommendation"]);
        for r in &s.recommendations {
            t.add_row(vec![usd(r.monthly_saving_usd), r.title.clone()]);
        }
        println!("\nrecommendations\n{t}");
    }
    if !s.regressions.is_empty() {
        let mut t = crate::commands::table(&[
            "service",
            "scope",
            "per request before → after",
            "deploy",
            "impact / month",
        ]);
        for r in &s.regressions {
            t.add_row(vec![
                r.service.clone(),
                r.scope(),
                format!("{} {:.4} → {:.4}", r.metric, r.before, r.after),
                r.deploy.version.as_str().to_owned(),
                usd(r.monthly_impact_usd),
            ]);
        }
        println!("\ncost regressions at deploys\n{t}");
    }
}

fn backtest_command(
    seed: u64,
    histories: u64,
    months: u64,
    coverage: f64,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    if !(coverage > 0.5 && coverage <= 0.99) {
        return Err(Exit(
            2,
            format!("error: --coverage: must be in (0.5, 0.99], got {coverage}"),
        )
        .into());
    }
    let report = backtest::run(seed, histories as usize, months as usize, coverage);
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Table => print_table(&report),
    }
    Ok(0)
}

/// Mean MAPE of `method` over the checkpoints, if it was scored.
fn mean_mape(report: &Report, method: Method) -> Option<f64> {
    report
        .methods
        .iter()
        .find(|m| m.method == method)
        .map(|m| m.mean_mape_pct)
}

fn print_table(report: &Report) {
    let scored = report
        .methods
        .first()
        .and_then(|m| m.checkpoints.first())
        .map_or(0, |c| c.months);
    println!(
        "{} generated histories (seed {}), {} months each, {} months scored per checkpoint; \
         intervals at {:.0}% nominal coverage",
        report.histories,
        report.seed,
        report.months_per_history,
        scored,
        report.coverage * 100.0
    );
    let mut t = crate::commands::table(&[
        "method",
        "MAPE day 7",
        "day 14",
        "day 21",
        "mean",
        "median APE 7/14/21",
        "inside day 7",
        "day 14",
        "day 21",
        "all",
        "mean width",
    ]);
    for m in &report.methods {
        let mut row = vec![m.method.as_str().to_owned()];
        row.extend(m.checkpoints.iter().map(|c| format!("{:.1}%", c.mape_pct)));
        row.push(format!("{:.1}%", m.mean_mape_pct));
        let medians: Vec<String> = m
            .checkpoints
            .iter()
            .map(|c| format!("{:.1}", c.median_ape_pct))
            .collect();
        row.push(format!("{}%", medians.join(" / ")));
        row.extend(
            m.checkpoints
                .iter()
                .map(|c| format!("{:.0}%", c.inside_pct)),
        );
        row.push(format!("{:.0}%", m.inside_pct));
        let width = m.checkpoints.iter().map(|c| c.mean_width_pct).sum::<f64>()
            / m.checkpoints.len().max(1) as f64;
        row.push(format!("{width:.0}%"));
        t.add_row(row);
    }
    println!("{t}");
    if let (Some(seed), Some(robust)) = (
        mean_mape(report, Method::Linear),
        mean_mape(report, Method::RobustSeasonal),
    ) && seed > 0.0
    {
        println!(
            "robust_seasonal's error is {:.0}% of the seed's linear regression's",
            robust / seed * 100.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<CostCommand, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Cost(c) => Ok(c),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn backtest_flags_parse_and_a_small_run_succeeds() {
        let cmd = parse(&["tokpulse", "cost", "backtest", "--format", "json"]).unwrap();
        let CostCommand::Backtest {
            seed,
            histories,
            months,
            coverage,
            format,
        } = cmd
        else {
            panic!("parsed as {cmd:?}");
        };
        assert_eq!((seed, histories, months), (42, 40, 15));
        assert_eq!((coverage, format), (0.8, OutputFormat::Json));
        let small = parse(&[
            "tokpulse",
            "cost",
            "backtest",
            "--histories",
            "1",
            "--months",
            "4",
        ])
        .unwrap();
        let CostCommand::Backtest {
            seed,
            histories,
            months,
            coverage,
            format,
        } = small
        else {
            panic!("parsed as {small:?}");
        };
        assert_eq!(
            backtest_command(seed, histories, months, coverage, format).unwrap(),
            0
        );
        assert!(parse(&["tokpulse", "cost", "backtest", "--months", "3"]).is_err());
    }

    #[test]
    fn a_bad_coverage_is_a_usage_error() {
        let cmd = parse(&["tokpulse", "cost", "backtest", "--coverage", "1.5"]).unwrap();
        let CostCommand::Backtest { coverage, .. } = cmd else {
            panic!("parsed as {cmd:?}");
        };
        let err = backtest_command(42, 1, 4, coverage, OutputFormat::Table).unwrap_err();
        let exit = err.downcast_ref::<Exit>().unwrap();
        assert_eq!(exit.0, 2);
        assert!(exit.1.contains("--coverage"), "{}", exit.1);
    }

    #[test]
    fn report_month_is_checked_and_capped_at_the_last_complete_day() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-15T10:00:00Z")
            .unwrap()
            .to_utc();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(report_day(None, now).unwrap(), day("2026-03-14"));
        assert_eq!(report_day(Some("2026-02"), now).unwrap(), day("2026-02-28"));
        assert_eq!(report_day(Some("2026-03"), now).unwrap(), day("2026-03-14"));
        let err = report_day(Some("2026-13"), now).unwrap_err();
        assert_eq!(err.downcast_ref::<Exit>().unwrap().0, 2);
    }
}
