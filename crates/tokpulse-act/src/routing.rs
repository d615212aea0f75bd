//! `[routing]`: which sinks a finding goes to, by kind and severity, quiet hours, and the
//! dry-run switch.

use crate::quiet::QuietHours;
use serde::{Deserialize, Serialize};
use tokpulse_core::{FindingKind, Severity};

/// Finding kinds a rule may name besides [`FindingKind::ALL`]: kinds the seed's rules route
/// that nothing raises yet, so that a config naming them keeps working when they arrive. (The
/// budget tiers' `budget_overrun` is raised by the cost run now.)
pub const PLANNED_KINDS: [&str; 0] = [];

/// One rule: findings of these kinds (all when empty) at or above this severity go to these
/// sinks. A finding goes to the union of the sinks of every rule it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Finding kinds (`latency_regression`, `error_spike`, `budget_overrun`…); empty matches
    /// every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// The least severity that matches.
    #[serde(default = "lowest")]
    pub min_severity: Severity,
    /// Sink names: see [`SINKS`].
    pub sinks: Vec<String>,
}

fn lowest() -> Severity {
    Severity::Info
}

/// The routing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Send everything to the outbox only, whatever the rules say: to try TokPulse on a real
    /// repository without filing anything.
    pub dry_run: bool,
    /// The rules, in any order.
    pub rules: Vec<Rule>,
    /// When notifications wait (Slack by default); none when absent.
    pub quiet_hours: Option<QuietHours>,
}

/// Sink names a rule may name.
pub const SINKS: [&str; 5] = [
    "outbox",
    "github",
    "github_pr",
    "github_discussions",
    "slack",
];

impl Default for Routing {
    /// Every finding is written to the outbox and filed as a GitHub issue; high and critical
    /// ones are also posted to Slack; a budget overrun from 20% (high) opens a Discussion.
    /// (Sinks that are not enabled are skipped.)
    fn default() -> Self {
        Routing {
            dry_run: false,
            quiet_hours: None,
            rules: vec![
                Rule {
                    kinds: Vec::new(),
                    min_severity: Severity::Info,
                    sinks: vec!["outbox".into(), "github".into()],
                },
                Rule {
                    kinds: Vec::new(),
                    min_severity: Severity::High,
                    sinks: vec!["slack".into()],
                },
                Rule {
                    kinds: vec!["budget_overrun".into()],
                    min_severity: Severity::High,
                    sinks: vec!["github_discussions".into()],
                },
            ],
        }
    }
}

impl Routing {
    /// Every problem, as `routing.rules[N].field: reason`.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if r.sinks.is_empty() {
                problems.push(format!(
                    "routing.rules[{i}].sinks: must name at least one sink"
                ));
            }
            for s in &r.sinks {
                if !SINKS.contains(&s.as_str()) {
                    problems.push(format!(
                        "routing.rules[{i}].sinks: unknown sink {s:?}; expected one of {}",
                        SINKS.join(", ")
                    ));
                }
            }
            for k in &r.kinds {
                if k.parse::<FindingKind>().is_err() && !PLANNED_KINDS.contains(&k.as_str()) {
                    let known: Vec<&str> = FindingKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .chain(PLANNED_KINDS)
                        .collect();
                    problems.push(format!(
                        "routing.rules[{i}].kinds: unknown finding kind {k:?}; expected one of {}",
                        known.join(", ")
                    ));
                }
            }
        }
        if let Some(q) = &self.quiet_hours {
            problems.extend(q.validate());
        }
        problems
    }

    /// The sinks, among `available`, that a finding of `kind` and `severity` goes to, in the
    /// order of `available`.
    pub fn sinks_for<'a>(
        &self,
        kind: FindingKind,
        severity: Severity,
        available: &[&'a str],
    ) -> Vec<&'a str> {
        if self.dry_run {
            return available
                .iter()
                .copied()
                .filter(|s| *s == "outbox")
                .collect();
        }
        available
            .iter()
            .copied()
            .filter(|sink| {
                self.rules.iter().any(|r| {
                    (r.kinds.is_empty() || r.kinds.iter().any(|k| k == kind.as_str()))
                        && severity >= r.min_severity
                        && r.sinks.iter().any(|s| s == sink)
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 5] = SINKS;

    #[test]
    fn defaults_file_everything_and_page_on_high() {
        let r = Routing::default();
        assert!(r.validate().is_empty());
        let warn = r.sinks_for(FindingKind::ErrorSpike, Severity::Warning, &ALL);
        assert_eq!(warn, ["outbox", "github"]);
        let high = r.sinks_for(FindingKind::ErrorSpike, Severity::High, &ALL);
        assert_eq!(high, ["outbox", "github", "slack"]);
        // Sinks that are not enabled are skipped.
        assert_eq!(
            r.sinks_for(FindingKind::ErrorSpike, Severity::Critical, &["outbox"]),
            ["outbox"]
        );
    }

    #[test]
    fn rules_match_kind_and_severity() {
        let r: Routing = toml::from_str(
            r#"
            [[rules]]
            kinds = ["latency_regression"]
            min_severity = "high"
            sinks = ["slack"]
            "#,
        )
        .unwrap();
        assert_eq!(
            r.sinks_for(FindingKind::LatencyRegression, Severity::High, &ALL),
            ["slack"]
        );
        assert!(
            r.sinks_for(FindingKind::LatencyRegression, Severity::Warning, &ALL)
                .is_empty()
        );
        assert!(
            r.sinks_for(FindingKind::ErrorSpike, Severity::Critical, &ALL)
                .is_empty()
        );
    }

    #[test]
    fn dry_run_sends_everything_to_the_outbox_only() {
        let r = Routing {
            dry_run: true,
            ..Routing::default()
        };
        assert_eq!(
            r.sinks_for(FindingKind::ErrorSpike, Severity::Critical, &ALL),
            ["outbox"]
        );
    }

    #[test]
    fn unknown_sinks_are_named() {
        let r: Routing = toml::from_str("[[rules]]\nsinks = [\"pagerduty\"]\n").unwrap();
        assert_eq!(
            r.validate(),
            [
                "routing.rules[0].sinks: unknown sink \"pagerduty\"; expected one of outbox, github, github_pr, github_discussions, slack"
            ]
        );
        assert!(
            toml::from_str::<Routing>("[[rules]]\nsinks = []\nmin_severity = \"huge\"\n").is_err()
        );
        let r: Routing = toml::from_str(
            "[[rules]]\nkinds = [\"budget_overrun\", \"nope\"]\nsinks = [\"outbox\"]\n",
        )
        .unwrap();
        let problems = r.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("routing.rules[0].kinds: unknown finding kind \"nope\""));
    }
}
