//! CI failure patterns over [`CiJob`]s: jobs that keep failing, flaky jobs, and one finding per
//! root cause.
//!
//! [`CiPatterns::findings`] reads the completed jobs it is given (the engine passes the last
//! days of them; any order) and reports:
//!
//! - **Failing jobs** ([`FindingKind::CiFailure`]). For each repository, workflow, job and
//!   branch, the jobs are ordered by time and the *current streak* is the run of failures
//!   (`failure`, `timed_out`, `startup_failure`) since the last success; cancelled, skipped and
//!   neutral jobs neither extend nor break it. Streaks are then grouped by the template of their
//!   latest failure message ([`crate::templates`], all failure messages mined together), so a
//!   root cause that breaks several jobs is one finding: a group is reported when its streaks
//!   hold at least `min_consecutive_failures` failures in total (default 4: "more than 3 times
//!   in a row", the seed's rule). A streak without a failure message is a group of its own, so
//!   for a single job this is exactly the seed's rule.
//! - **Flaky jobs** ([`FindingKind::FlakyJob`]): a workflow and job that both failed and passed
//!   on the same commit (a re-run that passed, or a pass then a failure) on at least
//!   `min_flaky_commits` commits. One finding per job, whatever the branch.
//!
//! Fingerprints: a failing job `Fingerprint::of(CiFailure, &[repository, workflow, job,
//! branch])`; a root cause across jobs `Fingerprint::of(CiFailure, &[repository, "template",
//! template])`; a flaky job `Fingerprint::of(FlakyJob, &[repository, workflow, job])`. The
//! finding's `service` is the repository (`ci` when the jobs do not name one) and its `route`
//! is `workflow / job` when it is about one job. Findings are ordered by kind, then service and
//! title.
//!
//! ```
//! use chrono::{DateTime, Duration};
//! use tokpulse_analyze::ci::CiPatterns;
//! use tokpulse_core::{CiConclusion, CiJob, CiStatus, FindingKind, Window};
//!
//! let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! let job = |i: u64, conclusion| CiJob {
//!     id: i,
//!     run_id: 100 + i,
//!     run_attempt: 1,
//!     workflow_name: Some("CI".into()),
//!     name: "test".into(),
//!     head_branch: Some("main".into()),
//!     head_sha: format!("sha{i}"),
//!     status: CiStatus::Completed,
//!     conclusion: Some(conclusion),
//!     created_at: None,
//!     started_at: None,
//!     completed_at: Some(t0 + Duration::minutes(i as i64)),
//!     html_url: None,
//!     repository: Some("acme/shop".into()),
//!     failure_message: Some(format!("test_checkout failed: expected 200, got 50{i}")),
//! };
//! let jobs: Vec<CiJob> = (0..5)
//!     .map(|i| job(i, if i == 0 { CiConclusion::Success } else { CiConclusion::Failure }))
//!     .collect();
//! let window = Window { start: t0, end: t0 + Duration::hours(1) };
//! let findings = CiPatterns::default().findings(&jobs, window);
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].kind, FindingKind::CiFailure);
//! assert_eq!(findings[0].title, "CI / test failing 4 times in a row on main");
//! ```

use crate::templates::{DrainConfig, TemplateId, TemplateMiner, shorten};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tokpulse_core::{
    CiConclusion, CiJob, Evidence, Finding, FindingKind, Fingerprint, Severity, Timestamp, Window,
};

/// `[analyzers.ci_patterns]`-style settings of the CI failure patterns. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CiPatterns {
    /// Failures in a row (summed over the jobs of one root cause) that make a finding.
    /// Default 4: more than 3 in a row.
    pub min_consecutive_failures: u32,
    /// Commits on which a job both failed and passed before it is called flaky. Default 1.
    pub min_flaky_commits: u32,
    /// Failures in a row from which a failing job is *high* rather than *warning*. Default 4.
    pub high_after: u32,
    /// The template miner for failure messages.
    pub drain: DrainConfig,
}

impl Default for CiPatterns {
    fn default() -> Self {
        CiPatterns {
            min_consecutive_failures: 4,
            min_flaky_commits: 1,
            high_after: 4,
            drain: DrainConfig::default(),
        }
    }
}

/// One job's identity across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct JobKey<'a> {
    repository: &'a str,
    workflow: &'a str,
    job: &'a str,
    branch: &'a str,
}

/// The failures since the last success of one job on one branch.
struct Streak<'a> {
    key: JobKey<'a>,
    /// Oldest first.
    failures: Vec<&'a CiJob>,
    /// The success that ended the previous streak, if any.
    last_success: Option<&'a CiJob>,
    /// The template of the latest failure that has a message.
    template: Option<TemplateId>,
}

impl CiPatterns {
    /// Every problem in the settings, as `field: reason, got value`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.min_consecutive_failures == 0 {
            problems.push("min_consecutive_failures: must be at least 1, got 0".to_owned());
        }
        if self.min_flaky_commits == 0 {
            problems.push("min_flaky_commits: must be at least 1, got 0".to_owned());
        }
        if !(0.0..=1.0).contains(&self.drain.similarity) {
            problems.push(format!(
                "drain.similarity: must be in [0, 1], got {}",
                self.drain.similarity
            ));
        }
        problems
    }

    /// The findings over `jobs` (see the module docs); `window` is the findings' window.
    pub fn findings(&self, jobs: &[CiJob], window: Window) -> Vec<Finding> {
        let mut done: Vec<(&CiJob, Timestamp, CiConclusion)> = jobs
            .iter()
            .filter_map(|j| Some((j, j.time()?, j.conclusion?)))
            .collect();
        done.sort_by(|a, b| {
            a.1.cmp(&b.1)
                .then_with(|| a.0.run_id.cmp(&b.0.run_id))
                .then_with(|| a.0.run_attempt.cmp(&b.0.run_attempt))
                .then_with(|| a.0.id.cmp(&b.0.id))
        });

        // Every failure message, mined in time order.
        let mut miner = TemplateMiner::new(self.drain);
        let mut template_of: BTreeMap<u64, TemplateId> = BTreeMap::new();
        for (j, _, c) in &done {
            if c.is_failure()
                && let Some(m) = &j.failure_message
            {
                template_of.insert(j.id, miner.add(m));
            }
        }

        let mut findings = self.failing(&done, &template_of, &miner, window);
        findings.extend(self.flaky(&done, window));
        findings.sort_by(|a, b| {
            a.kind
                .cmp(&b.kind)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.title.cmp(&b.title))
        });
        findings
    }

    fn failing(
        &self,
        done: &[(&CiJob, Timestamp, CiConclusion)],
        template_of: &BTreeMap<u64, TemplateId>,
        miner: &TemplateMiner,
        window: Window,
    ) -> Vec<Finding> {
        let mut streaks: BTreeMap<JobKey<'_>, Streak<'_>> = BTreeMap::new();
        for &(j, _, c) in done {
            let key = key_of(j);
            let s = streaks.entry(key.clone()).or_insert_with(|| Streak {
                key,
                failures: Vec::new(),
                last_success: None,
                template: None,
            });
            if c == CiConclusion::Success {
                s.failures.clear();
                s.last_success = Some(j);
            } else if c.is_failure() {
                s.failures.push(j);
            }
        }
        // Group the current streaks by root cause: the latest failure's template.
        let mut groups: BTreeMap<Option<TemplateId>, Vec<Streak<'_>>> = BTreeMap::new();
        let mut alone: Vec<Streak<'_>> = Vec::new();
        for mut s in streaks.into_values().filter(|s| !s.failures.is_empty()) {
            s.template = s
                .failures
                .iter()
                .rev()
                .find_map(|j| template_of.get(&j.id).copied());
            if s.template.is_some() {
                groups.entry(s.template).or_default().push(s);
            } else {
                alone.push(s);
            }
        }
        let min = self.min_consecutive_failures as usize;
        let mut findings = Vec::new();
        for s in alone {
            if s.failures.len() >= min {
                findings.push(self.job_finding(&s, None, window));
            }
        }
        for (template, group) in groups {
            let total: usize = group.iter().map(|s| s.failures.len()).sum();
            if total < min {
                continue;
            }
            let text = template.map(|t| miner.template(t));
            if let [s] = group.as_slice() {
                findings.push(self.job_finding(s, text.as_deref(), window));
            } else {
                findings.push(self.root_cause_finding(&group, text.as_deref(), window));
            }
        }
        findings
    }

    fn job_finding(&self, s: &Streak<'_>, template: Option<&str>, window: Window) -> Finding {
        let k = &s.key;
        let n = s.failures.len();
        let kind = FindingKind::CiFailure;
        let first = s.failures[0];
        let latest = s.failures[n - 1];
        let mut suggestion = format!(
            "{} / {} has failed {n} times in a row on {} since commit {}",
            k.workflow,
            k.job,
            k.branch,
            short_sha(&first.head_sha)
        );
        match s.last_success {
            Some(ok) => suggestion.push_str(&format!(
                "; it last passed on commit {}, so the change is between the two",
                short_sha(&ok.head_sha)
            )),
            None => suggestion.push_str("; no passing run is on record"),
        }
        suggestion.push('.');
        if let Some(t) = template {
            suggestion.push_str(&format!(" Failure: \"{}\".", shorten(t, 300)));
        }
        if let Some(url) = &latest.html_url {
            suggestion.push_str(&format!(" Latest run: {url}"));
        }
        Finding {
            kind,
            severity: if n >= self.high_after as usize {
                Severity::High
            } else {
                Severity::Warning
            },
            fingerprint: Fingerprint::of(kind, &[k.repository, k.workflow, k.job, k.branch]),
            title: format!(
                "{} / {} failing {n} times in a row on {}",
                k.workflow, k.job, k.branch
            ),
            service: service_of(k.repository),
            route: Some(format!("{} / {}", k.workflow, k.job)),
            window,
            evidence: vec![Evidence {
                metric: "failures in a row".into(),
                current: n as f64,
                baseline: None,
                threshold: Some(f64::from(self.min_consecutive_failures)),
                unit: "runs".into(),
            }],
            cause: None,
            suggestion,
        }
    }

    fn root_cause_finding(
        &self,
        group: &[Streak<'_>],
        template: Option<&str>,
        window: Window,
    ) -> Finding {
        let kind = FindingKind::CiFailure;
        let template = template.unwrap_or("");
        let total: usize = group.iter().map(|s| s.failures.len()).sum();
        let repository = group[0].key.repository;
        let names: BTreeSet<String> = group
            .iter()
            .map(|s| format!("{} / {} on {}", s.key.workflow, s.key.job, s.key.branch))
            .collect();
        let list: Vec<String> = group
            .iter()
            .map(|s| {
                format!(
                    "{} / {} on {} ({} in a row)",
                    s.key.workflow,
                    s.key.job,
                    s.key.branch,
                    s.failures.len()
                )
            })
            .collect();
        Finding {
            kind,
            severity: Severity::High,
            fingerprint: Fingerprint::of(kind, &[repository, "template", template]),
            title: format!(
                "{} CI jobs failing with \"{}\"",
                names.len(),
                shorten(template, 80)
            ),
            service: service_of(repository),
            route: None,
            window,
            evidence: vec![
                Evidence {
                    metric: "failures in a row".into(),
                    current: total as f64,
                    baseline: None,
                    threshold: Some(f64::from(self.min_consecutive_failures)),
                    unit: "runs".into(),
                },
                Evidence {
                    metric: "jobs failing".into(),
                    current: names.len() as f64,
                    baseline: None,
                    threshold: None,
                    unit: "jobs".into(),
                },
            ],
            cause: None,
            suggestion: format!(
                "One failure message across several jobs is usually one cause (a shared \
                 dependency, a service the tests call, the runner image, a secret). Failing: {}. \
                 Failure: \"{}\".",
                list.join("; "),
                shorten(template, 300)
            ),
        }
    }

    fn flaky(&self, done: &[(&CiJob, Timestamp, CiConclusion)], window: Window) -> Vec<Finding> {
        // (repository, workflow, job) → commit → (failed, passed); plus runs and failures.
        type Outcomes<'a> = BTreeMap<&'a str, (bool, bool)>;
        let mut by_job: BTreeMap<(&str, &str, &str), (Outcomes<'_>, usize, usize)> =
            BTreeMap::new();
        for &(j, _, c) in done {
            let passed = c == CiConclusion::Success;
            if !(passed || c.is_failure()) {
                continue;
            }
            let k = key_of(j);
            let e = by_job
                .entry((k.repository, k.workflow, k.job))
                .or_insert_with(|| (BTreeMap::new(), 0, 0));
            let o = e.0.entry(j.head_sha.as_str()).or_insert((false, false));
            o.0 |= !passed;
            o.1 |= passed;
            e.1 += 1;
            e.2 += usize::from(!passed);
        }
        let kind = FindingKind::FlakyJob;
        by_job
            .into_iter()
            .filter_map(|((repository, workflow, job), (commits, runs, failures))| {
                let flaky: Vec<&str> = commits
                    .iter()
                    .filter(|(_, (f, p))| *f && *p)
                    .map(|(sha, _)| *sha)
                    .collect();
                if flaky.len() < self.min_flaky_commits as usize {
                    return None;
                }
                let shas: Vec<&str> = flaky.iter().take(5).map(|s| short_sha(s)).collect();
                Some(Finding {
                    kind,
                    severity: Severity::Warning,
                    fingerprint: Fingerprint::of(kind, &[repository, workflow, job]),
                    title: format!(
                        "{workflow} / {job} is flaky: failed and passed on the same commit ({} \
                         of {} commits)",
                        flaky.len(),
                        commits.len()
                    ),
                    service: service_of(repository),
                    route: Some(format!("{workflow} / {job}")),
                    window,
                    evidence: vec![
                        Evidence {
                            metric: "commits with a failure and a pass".into(),
                            current: flaky.len() as f64,
                            baseline: None,
                            threshold: Some(f64::from(self.min_flaky_commits)),
                            unit: "commits".into(),
                        },
                        Evidence {
                            metric: "failure rate".into(),
                            current: 100.0 * failures as f64 / runs as f64,
                            baseline: None,
                            threshold: None,
                            unit: "%".into(),
                        },
                    ],
                    cause: None,
                    suggestion: format!(
                        "{workflow} / {job} failed and then passed without a code change on \
                         commit{} {}. Look for timing-dependent tests, shared state between \
                         tests, network calls and resource limits on the runner; quarantine the \
                         test if it blocks merges.",
                        if flaky.len() == 1 { "" } else { "s" },
                        shas.join(", ")
                    ),
                })
            })
            .collect()
    }
}

fn key_of(j: &CiJob) -> JobKey<'_> {
    JobKey {
        repository: j.repository.as_deref().unwrap_or(""),
        workflow: j.workflow(),
        job: &j.name,
        branch: j.head_branch.as_deref().unwrap_or(""),
    }
}

fn service_of(repository: &str) -> String {
    if repository.is_empty() {
        "ci".to_owned()
    } else {
        repository.to_owned()
    }
}

fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};
    use tokpulse_core::CiStatus;

    fn t(min: i64) -> Timestamp {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + TimeDelta::minutes(min)
    }

    fn window() -> Window {
        Window {
            start: t(0),
            end: t(10_000),
        }
    }

    struct Jobs(Vec<CiJob>);

    impl Jobs {
        fn add(
            &mut self,
            job: &str,
            branch: &str,
            sha: &str,
            conclusion: CiConclusion,
            message: Option<&str>,
        ) -> &mut Self {
            let i = self.0.len() as u64;
            self.0.push(CiJob {
                id: 1000 + i,
                run_id: 500 + i,
                run_attempt: 1,
                workflow_name: Some("CI".into()),
                name: job.into(),
                head_branch: Some(branch.into()),
                head_sha: sha.into(),
                status: CiStatus::Completed,
                conclusion: Some(conclusion),
                created_at: None,
                started_at: None,
                completed_at: Some(t(i as i64 * 10)),
                html_url: Some(format!(
                    "https://github.com/acme/shop/actions/runs/{}",
                    500 + i
                )),
                repository: Some("acme/shop".into()),
                failure_message: message.map(str::to_owned),
            });
            self
        }
    }

    use CiConclusion::{Cancelled, Failure, Skipped, Success, TimedOut};

    #[test]
    fn four_failures_in_a_row_on_a_branch_is_a_finding_three_is_not() {
        let mut j = Jobs(Vec::new());
        j.add("test", "main", "aaaaaaa1", Success, None);
        for i in 0..3 {
            j.add("test", "main", &format!("bbbbbbb{i}"), Failure, None);
        }
        // Cancelled and skipped runs neither break nor extend the streak.
        j.add("test", "main", "ccccccc0", Cancelled, None);
        j.add("test", "main", "ccccccc1", Skipped, None);
        // Another branch's failures are another streak.
        j.add("test", "feature", "ddddddd0", Failure, None);
        assert!(CiPatterns::default().findings(&j.0, window()).is_empty());

        j.add("test", "main", "eeeeeee0", TimedOut, None);
        let f = CiPatterns::default().findings(&j.0, window());
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.kind, FindingKind::CiFailure);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.title, "CI / test failing 4 times in a row on main");
        assert_eq!(f.service, "acme/shop");
        assert_eq!(f.route.as_deref(), Some("CI / test"));
        assert_eq!(
            f.fingerprint,
            Fingerprint::of(FindingKind::CiFailure, &["acme/shop", "CI", "test", "main"])
        );
        assert!(
            f.suggestion.contains("since commit bbbbbbb"),
            "{}",
            f.suggestion
        );
        assert!(
            f.suggestion.contains("last passed on commit aaaaaaa"),
            "{}",
            f.suggestion
        );
        assert!(f.suggestion.contains("/runs/"), "{}", f.suggestion);
        assert_eq!(f.evidence[0].current, 4.0);

        // A pass ends it.
        j.add("test", "main", "fffffff0", Success, None);
        assert!(CiPatterns::default().findings(&j.0, window()).is_empty());
    }

    #[test]
    fn order_is_by_time_not_by_input() {
        let mut j = Jobs(Vec::new());
        for i in 0..4 {
            j.add("lint", "main", &format!("a{i}"), Failure, None);
        }
        j.add("lint", "main", "a9", Success, None);
        let mut reversed = j.0.clone();
        reversed.reverse();
        assert!(
            CiPatterns::default()
                .findings(&reversed, window())
                .is_empty()
        );
        // With the pass first in time, the four failures are the current streak.
        reversed[0].completed_at = Some(t(-10));
        assert_eq!(CiPatterns::default().findings(&reversed, window()).len(), 1);
    }

    #[test]
    fn failing_and_passing_on_one_commit_is_flaky() {
        let mut j = Jobs(Vec::new());
        j.add("e2e", "main", "1111111", Success, None);
        j.add(
            "e2e",
            "main",
            "2222222",
            Failure,
            Some("timeout waiting for selector #cart"),
        );
        j.add("e2e", "main", "2222222", Success, None); // the re-run passed
        j.add("e2e", "pr-7", "3333333", Success, None);
        // A failure fixed by a new commit is not flaky.
        j.add("unit", "main", "4444444", Failure, None);
        j.add("unit", "main", "5555555", Success, None);
        let f = CiPatterns::default().findings(&j.0, window());
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.kind, FindingKind::FlakyJob);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "CI / e2e is flaky: failed and passed on the same commit (1 of 3 commits)"
        );
        assert_eq!(
            f.fingerprint,
            Fingerprint::of(FindingKind::FlakyJob, &["acme/shop", "CI", "e2e"])
        );
        assert!(f.suggestion.contains("2222222"));
        assert_eq!(f.evidence[1].current, 25.0);
        let two = CiPatterns {
            min_flaky_commits: 2,
            ..CiPatterns::default()
        };
        assert!(two.findings(&j.0, window()).is_empty());
    }

    #[test]
    fn one_root_cause_across_jobs_is_one_finding() {
        let mut j = Jobs(Vec::new());
        for job in ["build", "test", "lint"] {
            j.add(job, "main", "0000000", Success, None);
        }
        // The registry is down: three jobs fail twice each with the same message (other
        // numbers), which no job alone would report.
        for (i, job) in ["build", "test", "lint", "build", "test", "lint"]
            .iter()
            .enumerate()
        {
            j.add(
                job,
                "main",
                &format!("bad{i}"),
                Failure,
                Some(&format!(
                    "npm ERR! 503 Service Unavailable - GET https://registry.npmjs.org/react-{i}.tgz ({}ms)",
                    900 + i
                )),
            );
        }
        // A job failing 4 times for its own reason stays its own finding.
        for i in 0..4 {
            j.add(
                "migrate",
                "main",
                &format!("m{i}"),
                Failure,
                Some(&format!("relation \"orders_{i}\" does not exist")),
            );
        }
        let f = CiPatterns::default().findings(&j.0, window());
        assert_eq!(f.len(), 2, "{f:#?}");
        let root = f.iter().find(|f| f.route.is_none()).unwrap();
        assert_eq!(root.kind, FindingKind::CiFailure);
        assert!(
            root.title
                .starts_with("3 CI jobs failing with \"npm ERR! <*> Service Unavailable"),
            "{}",
            root.title
        );
        assert_eq!(root.evidence[0].current, 6.0);
        assert_eq!(root.evidence[1].current, 3.0);
        assert!(root.suggestion.contains("CI / build on main (2 in a row)"));
        let own = f.iter().find(|f| f.route.is_some()).unwrap();
        assert_eq!(own.title, "CI / migrate failing 4 times in a row on main");
        assert!(
            own.suggestion.contains("relation <*> does not exist"),
            "{}",
            own.suggestion
        );
    }

    #[test]
    fn githubs_own_failure_payload_four_times_is_a_finding() {
        let path = format!(
            "{}/../../../shared/datasets/github/webhooks/workflow_job.completed.failure.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {path} is not here");
            return;
        };
        let payload: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut object = payload["workflow_job"].clone();
        object["repository"] = payload["repository"].clone();
        let job: CiJob = serde_json::from_value(object).unwrap();
        // The same job failing on four commits in a row, one hour apart.
        let jobs: Vec<CiJob> = (0..4)
            .map(|i| CiJob {
                id: job.id + i,
                run_id: job.run_id + i,
                head_sha: format!("{}{i}", &job.head_sha[..39]),
                completed_at: job.completed_at.map(|t| t + TimeDelta::hours(i as i64)),
                ..job.clone()
            })
            .collect();
        let f = CiPatterns::default().findings(&jobs, window());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].title,
            "CodeQL / linters failing 4 times in a row on main"
        );
        assert_eq!(f[0].service, "Codertocat/Hello-World");
        assert!(
            f[0].suggestion
                .contains("https://github.com/octo-org/octo-repo/runs/")
        );
    }

    #[test]
    fn settings_are_validated() {
        assert!(CiPatterns::default().validate().is_empty());
        let bad = CiPatterns {
            min_consecutive_failures: 0,
            min_flaky_commits: 0,
            drain: DrainConfig {
                similarity: 2.0,
                ..DrainConfig::default()
            },
            ..CiPatterns::default()
        };
        assert_eq!(bad.validate().len(), 3);
        // Jobs still running, or without a time, are left out.
        let mut j = Jobs(Vec::new());
        for i in 0..5 {
            j.add("x", "main", &format!("s{i}"), Failure, None);
        }
        for job in &mut j.0 {
            job.completed_at = None;
        }
        assert!(CiPatterns::default().findings(&j.0, window()).is_empty());
    }
}
