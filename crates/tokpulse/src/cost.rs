//! `tokpulse cost …`: the cost commands. The arithmetic lives in `tokpulse-cost`; this module
//! only checks flags and prints.

use crate::Exit;
use crate::cli::{CostCommand, OutputFormat};
use tokpulse_cost::Method;
use tokpulse_cost::backtest::{self, Report};

/// Runs a `tokpulse cost` subcommand; returns the exit code.
pub fn run(cmd: CostCommand) -> anyhow::Result<u8> {
    match cmd {
        CostCommand::Backtest {
            seed,
            histories,
            months,
            coverage,
            format,
        } => {
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
    }
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
        } = cmd;
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
        assert_eq!(run(small).unwrap(), 0);
        assert!(parse(&["tokpulse", "cost", "backtest", "--months", "3"]).is_err());
    }

    #[test]
    fn a_bad_coverage_is_a_usage_error() {
        let cmd = parse(&["tokpulse", "cost", "backtest", "--coverage", "1.5"]).unwrap();
        let err = run(cmd).unwrap_err();
        let exit = err.downcast_ref::<Exit>().unwrap();
        assert_eq!(exit.0, 2);
        assert!(exit.1.contains("--coverage"), "{}", exit.1);
    }
}
