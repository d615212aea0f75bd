//! The GitHub issue TokPulse files for a finding, rendered as a title, labels and Markdown.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use tokpulse_core::{Evidence, FindingStatus, Fingerprint, StoredFinding, Timestamp};

/// GitHub refuses issue titles longer than this.
const MAX_TITLE_CHARS: usize = 256;

/// An issue ready to file: what a GitHub sink sends and what the outbox writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueDraft {
    /// One line, at most 256 characters.
    pub title: String,
    /// `tokpulse`, `severity:<severity>`, `kind:<kind>`.
    pub labels: Vec<String>,
    /// GitHub-flavoured Markdown, ending with the [fingerprint marker](fingerprint_marker).
    pub body: String,
}

/// The hidden line that ties an issue to its finding: `<!-- tokpulse:fingerprint=<fp> -->`.
/// A sink that finds an issue carrying it updates that issue instead of filing another.
pub fn fingerprint_marker(fingerprint: &Fingerprint) -> String {
    format!("<!-- tokpulse:fingerprint={fingerprint} -->")
}

/// The issue TokPulse would file for `f`: title, labels `["tokpulse", "severity:<s>",
/// "kind:<k>"]`, and a Markdown body with a summary line, an evidence table (metric | current |
/// baseline | threshold), the window, the likely cause (deploy version, commit, author) when
/// known, the suggested next step, the history (status, occurrences, first and last seen) and
/// the hidden [`fingerprint_marker`].
///
/// Text that came from clients (routes, authors…) has passed the privacy guard; it is escaped
/// here so that it cannot change the issue's layout or forge a marker.
pub fn render_issue(f: &StoredFinding) -> IssueDraft {
    let finding = &f.finding;
    let mut body = String::new();

    // Summary.
    let kind = finding.kind.as_str().replace('_', " ");
    let _ = write!(
        body,
        "**{}** {kind} on {}",
        capitalize(finding.severity.as_str()),
        md(&finding.service)
    );
    if let Some(route) = &finding.route {
        let _ = write!(body, ", {}", md(route));
    }
    let _ = writeln!(body, ": {}.\n", md(&one_line(&finding.title)));

    // Evidence.
    if !finding.evidence.is_empty() {
        body.push_str("| metric | current | baseline | threshold |\n");
        body.push_str("| --- | ---: | ---: | ---: |\n");
        for e in &finding.evidence {
            let _ = writeln!(
                body,
                "| {} | {} | {} | {} |",
                md(&e.metric),
                value(e.current, e),
                e.baseline.map_or_else(|| "—".to_owned(), |v| value(v, e)),
                e.threshold.map_or_else(|| "—".to_owned(), |v| value(v, e)),
            );
        }
        body.push('\n');
    }
    let w = &finding.window;
    let _ = writeln!(
        body,
        "**Window:** {} → {} ({} min)\n",
        time(w.start),
        time(w.end),
        (w.end - w.start).num_minutes()
    );

    // Cause.
    if let Some(c) = &finding.cause {
        body.push_str("### Likely cause\n\n");
        let _ = write!(
            body,
            "Deploy `{}` of {} at {}",
            code(&c.version),
            md(&finding.service),
            time(c.deployed_at)
        );
        if let Some(sha) = &c.commit_sha {
            let _ = write!(body, ", commit `{}`", code(sha));
        }
        if let Some(author) = &c.author {
            let _ = write!(body, ", by {}", md(&one_line(author)));
        }
        let _ = writeln!(body, " (deployment {}).\n", md(&c.deployment_id));
    }

    // Next step.
    if !finding.suggestion.is_empty() {
        let _ = writeln!(
            body,
            "### Suggested next step\n\n{}\n",
            md(&one_line(&finding.suggestion))
        );
    }

    // History.
    body.push_str("### History\n\n");
    match (f.status, f.resolved_at) {
        (FindingStatus::Resolved, Some(at)) => {
            let _ = writeln!(body, "- Status: resolved at {}", time(at));
        }
        (status, _) => {
            let _ = writeln!(body, "- Status: {}", status.as_str());
        }
    }
    let _ = writeln!(body, "- Occurrences: {}", f.occurrences);
    let _ = writeln!(body, "- First seen: {}", time(f.first_seen));
    let _ = writeln!(body, "- Last seen: {}\n", time(f.last_seen));
    body.push_str(
        "<sub>Filed by TokPulse, which closes it when the problem stops and reopens it if the \
         problem comes back.</sub>\n",
    );
    body.push_str(&fingerprint_marker(&finding.fingerprint));
    body.push('\n');

    IssueDraft {
        title: truncate(&one_line(&finding.title), MAX_TITLE_CHARS),
        labels: vec![
            "tokpulse".to_owned(),
            format!("severity:{}", finding.severity.as_str()),
            format!("kind:{}", finding.kind.as_str()),
        ],
        body,
    }
}

/// A timestamp as shown in issues and notes.
pub(crate) fn time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Escapes Markdown and HTML so that `s` shows as the text it is.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Text for inside a single-backtick code span: backticks, pipes and line breaks cannot appear.
fn code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '`' | '|' | '\n' | '\r' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max_chars - 1).collect();
    t.push('…');
    t
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|first| first.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `750 ms`, `12.5 ms`, `18.2%`, `1200`.
fn value(v: f64, e: &Evidence) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    match e.unit.as_str() {
        "ms" if v.abs() >= 100.0 => format!("{v:.0} ms"),
        "ms" => format!("{v:.1} ms"),
        "%" if v == 0.0 => "0%".to_owned(),
        "%" if v.abs() < 0.1 => format!("{v:.2}%"),
        "%" => format!("{v:.1}%"),
        "requests" => format!("{v:.0}"),
        unit if v.fract() == 0.0 => format!("{v:.0} {}", md(unit)),
        unit => format!("{v:.2} {}", md(unit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::stored_finding;
    use tokpulse_core::{FindingKind, Severity};

    #[test]
    fn renders_title_labels_table_cause_and_marker() {
        let f = stored_finding();
        let issue = render_issue(&f);
        assert_eq!(
            issue.title,
            "p95 latency of GET /api/search on search-api up 142% (310 ms → 750 ms)"
        );
        assert_eq!(
            issue.labels,
            ["tokpulse", "severity:high", "kind:latency_regression"]
        );
        let body = &issue.body;
        assert!(
            body.starts_with(
                "**High** latency regression on search-api, GET /api/search: p95 latency of GET \
                 /api/search on search-api up 142% (310 ms → 750 ms).\n"
            ),
            "{body}"
        );
        assert!(body.contains(
            "| metric | current | baseline | threshold |\n| --- | ---: | ---: | ---: |\n\
             | p95 latency | 750 ms | 310 ms | 1500 ms |\n\
             | error rate | 0.4% | 0.3% | 5.0% |\n\
             | requests | 1200 | 1100 | — |\n"
        ));
        assert!(
            body.contains("**Window:** 2023-11-14 21:43:20 UTC → 2023-11-14 22:13:20 UTC (30 min)")
        );
        assert!(body.contains(
            "### Likely cause\n\nDeploy `v3` of search-api at 2023-11-14 21:47:20 UTC, commit \
             `d30123456789abcdef`, by alice (deployment d3).\n"
        ));
        assert!(body.contains("### Suggested next step\n\nRoll back v3 or bisect.\n"));
        assert!(body.contains("- Status: open\n- Occurrences: 3\n"));
        assert!(body.contains("- First seen: 2023-11-14 21:13:20 UTC\n"));
        assert!(body.ends_with(&format!("{}\n", fingerprint_marker(&f.finding.fingerprint))));
        assert_eq!(body.matches("<!--").count(), 1);
    }

    #[test]
    fn no_cause_section_without_a_cause_and_resolved_status() {
        let mut f = stored_finding();
        f.finding.cause = None;
        f.finding.kind = FindingKind::ErrorSpike;
        f.finding.severity = Severity::Critical;
        f.status = FindingStatus::Resolved;
        f.resolved_at = Some(f.last_seen);
        let issue = render_issue(&f);
        assert!(!issue.body.contains("Likely cause"));
        assert!(issue.body.starts_with("**Critical** error spike on"));
        assert!(
            issue
                .body
                .contains("- Status: resolved at 2023-11-14 22:13:20 UTC\n")
        );
        assert_eq!(issue.labels[1..], ["severity:critical", "kind:error_spike"]);
    }

    #[test]
    fn client_text_cannot_break_the_layout_or_forge_a_marker() {
        let mut f = stored_finding();
        f.finding.route = Some("GET /a|b <!-- tokpulse:fingerprint=x -->\n# hi".into());
        f.finding.title = format!("{}\nsecond line", "x".repeat(300));
        f.finding.cause.as_mut().unwrap().author = Some("**eve**\n| a |".into());
        let issue = render_issue(&f);
        assert_eq!(issue.body.matches("<!--").count(), 1);
        assert!(
            issue
                .body
                .contains(r"GET /a\|b \<\!-- tokpulse:fingerprint=x --\> \# hi")
        );
        assert!(issue.body.contains(r"by \*\*eve\*\* \| a \|"));
        assert_eq!(issue.title.chars().count(), 256);
        assert!(issue.title.ends_with('…') && !issue.title.contains('\n'));
    }
}
