//! The outbox: a sink that files issues as local Markdown files, for teams without GitHub
//! access, for the demo, and to see what TokPulse would file before connecting it.
//!
//! Layout under its directory:
//!
//! - `issues/<fingerprint>.md`: the rendered issue, written once (temporary file, fsync,
//!   rename); `reopen` and `resolve` append their note to it.
//! - `actions.jsonl`: one [`OutboxEntry`] per delivered action, fsynced.
//!
//! Delivering the same action again (after a crash between delivering and the store recording
//! it) changes nothing: the issue file is never rewritten, a note carries a hidden marker with
//! the action's idempotency key and is not appended twice, and a key already in
//! `actions.jsonl` is not logged twice.

use crate::{ActionKind, ActionPayload, Delivered, DeliveryError, Sink};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use tokpulse_core::{FindingKind, Severity, Timestamp};
use tokpulse_store::ActionRow;

/// The outbox sink (`outbox`). See the [module docs](self) for its layout.
///
/// Its file operations are small and local, so they run inline; one outbox serializes its own
/// deliveries. Two processes should not share an outbox directory.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// One line of `actions.jsonl`: a delivered action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The action's idempotency key; appears once in the file.
    pub idempotency_key: String,
    /// The action's row id.
    pub action_id: i64,
    /// `open`, `reopen` or `resolve`.
    pub kind: ActionKind,
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// The finding's kind.
    pub finding_kind: FindingKind,
    /// The issue title.
    pub title: String,
    /// The issue labels.
    pub labels: Vec<String>,
    /// The finding's severity.
    pub severity: Severity,
    /// The finding's row id.
    pub finding_id: i64,
    /// When the change behind the action happened.
    pub at: Timestamp,
    /// The issue file, relative to the outbox directory (`issues/<fingerprint>.md`).
    pub path: String,
}

impl Outbox {
    /// The name actions for the outbox are queued under.
    pub const NAME: &'static str = "outbox";

    /// An outbox writing under `dir`, which is created on first delivery.
    pub fn new(dir: PathBuf) -> Self {
        Outbox {
            dir,
            lock: Mutex::new(()),
        }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The issue file for a fingerprint: `<dir>/issues/<fingerprint>.md`.
    pub fn issue_path(&self, fingerprint: &str) -> PathBuf {
        self.dir.join(issue_rel_path(fingerprint))
    }

    /// The log of delivered actions: `<dir>/actions.jsonl`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("actions.jsonl")
    }

    /// The delivered actions, oldest first. A missing log is empty; a line that does not parse
    /// (a write torn by a crash) is skipped.
    pub fn entries(&self) -> io::Result<Vec<OutboxEntry>> {
        Ok(read_optional(&self.log_path())?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    fn deliver_now(
        &self,
        action: &ActionRow,
        kind: ActionKind,
        payload: &ActionPayload,
    ) -> io::Result<PathBuf> {
        let _serial = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let issue = self.issue_path(&payload.fingerprint);
        let issues_dir = self.dir.join("issues");
        fs::create_dir_all(&issues_dir).map_err(at(&issues_dir))?;

        // The issue file: written once per fingerprint. A reopen or resolve whose open never
        // landed writes it too, so the note always has an issue to go with.
        if !issue.exists() {
            write_new(&issue, issue_file(&payload.issue).as_bytes())?;
        }
        if kind != ActionKind::Open
            && let Some(note) = &payload.note
        {
            append_note_once(&issue, &action.idempotency_key, note)?;
        }

        let entry = OutboxEntry {
            idempotency_key: action.idempotency_key.clone(),
            action_id: action.id,
            kind,
            fingerprint: payload.fingerprint.clone(),
            finding_kind: payload.finding_kind,
            title: payload.issue.title.clone(),
            labels: payload.issue.labels.clone(),
            severity: payload.severity,
            finding_id: action.finding_id,
            at: payload.at,
            path: issue_rel_path(&payload.fingerprint),
        };
        append_entry_once(&self.log_path(), &entry)?;
        Ok(issue)
    }
}

#[async_trait]
impl Sink for Outbox {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn deliver(&self, action: &ActionRow) -> Result<Delivered, DeliveryError> {
        let (kind, payload) = ActionPayload::read(action)?;
        if !is_safe_file_stem(&payload.fingerprint) {
            return Err(DeliveryError::Permanent(format!(
                "action {}: fingerprint {:?} is not a valid file name",
                action.id, payload.fingerprint
            )));
        }
        let path = self
            .deliver_now(action, kind, &payload)
            .map_err(|e| DeliveryError::retryable(format!("outbox: {e}")))?;
        Ok(Delivered {
            external_ref: path.display().to_string(),
        })
    }
}

fn issue_rel_path(fingerprint: &str) -> String {
    format!("issues/{fingerprint}.md")
}

/// Fingerprints are hex, but one read back from the store could hold anything: keep it to
/// characters that cannot leave the `issues` folder.
fn is_safe_file_stem(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Adds the path to an I/O error's message.
fn at(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn read_optional(path: &Path) -> io::Result<String> {
    match File::open(path) {
        Ok(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s).map_err(at(path))?;
            Ok(s)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(at(path)(e)),
    }
}

/// Writes `path` all at once: a temporary file beside it, fsynced, renamed into place, and the
/// folder fsynced, so a crash leaves either no file or the whole file.
/// The issue as a Markdown file: the title as a heading, the labels, then the body that would be
/// posted.
fn issue_file(issue: &crate::IssueDraft) -> String {
    let labels: Vec<String> = issue.labels.iter().map(|l| format!("`{l}`")).collect();
    format!(
        "# {}\n\n**Labels:** {}\n\n---\n\n{}",
        issue.title,
        labels.join(" "),
        issue.body
    )
}

fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(at(path)(e));
    }
    sync_dir(dir)
}

/// Appends `note` to the issue file unless a note with this key is already there.
fn append_note_once(issue: &Path, key: &str, note: &str) -> io::Result<()> {
    let marker = format!("<!-- tokpulse:action={key} -->");
    let existing = read_optional(issue)?;
    if existing.contains(&marker) {
        return Ok(());
    }
    let sep = if existing.ends_with('\n') { "" } else { "\n" };
    append(
        issue,
        format!("{sep}\n---\n\n{note}\n{marker}\n").as_bytes(),
    )
}

/// Appends `entry` to the log unless a line with its idempotency key is already there.
fn append_entry_once(log: &Path, entry: &OutboxEntry) -> io::Result<()> {
    let existing = read_optional(log)?;
    let already = existing.lines().any(|line| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| {
                v.get("idempotency_key")
                    .and_then(|k| k.as_str())
                    .map(|k| k == entry.idempotency_key)
            })
            .unwrap_or(false)
    });
    if already {
        return Ok(());
    }
    let mut line = serde_json::to_string(entry).map_err(|e| io::Error::other(e.to_string()))?;
    line.push('\n');
    // A line torn by a crash has no newline: start on a fresh line.
    if !existing.is_empty() && !existing.ends_with('\n') {
        line.insert(0, '\n');
    }
    let created = existing.is_empty() && !log.exists();
    append(log, line.as_bytes())?;
    if created {
        sync_dir(log.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(at(path))?;
    f.write_all(bytes).map_err(at(path))?;
    f.sync_all().map_err(at(path))
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(at(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{row, stored_finding};
    use crate::{plan_for_change, plan_for_resolution};
    use tokpulse_store::FindingChange;

    fn open_action() -> ActionRow {
        let f = stored_finding();
        row(&plan_for_change(
            FindingChange::New { id: f.id },
            &f,
            &["outbox"],
            f.last_seen,
        )[0])
    }

    fn resolve_action() -> ActionRow {
        let mut f = stored_finding();
        f.status = tokpulse_core::FindingStatus::Resolved;
        let at = f.last_seen + chrono::Duration::minutes(30);
        f.resolved_at = Some(at);
        let mut a = row(&plan_for_resolution(&f, &["outbox"], at)[0]);
        a.id = 2;
        a
    }

    fn issue_files(outbox: &Outbox) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(outbox.dir().join("issues"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn delivering_twice_writes_one_file_and_one_line() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(tmp.path().join("outbox"));
        let action = open_action();
        let fp = stored_finding().finding.fingerprint.to_string();

        let first = outbox.deliver(&action).await.unwrap();
        let body = fs::read_to_string(outbox.issue_path(&fp)).unwrap();
        let second = outbox.deliver(&action).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first.external_ref,
            outbox.issue_path(&fp).display().to_string()
        );
        assert_eq!(issue_files(&outbox), [format!("{fp}.md")]);
        assert_eq!(fs::read_to_string(outbox.issue_path(&fp)).unwrap(), body);
        assert!(body.contains(&format!("<!-- tokpulse:fingerprint={fp} -->")));
        assert!(body.starts_with("# "), "the title heads the file: {body}");
        assert!(body.contains("**Labels:** `tokpulse`"), "{body}");

        let entries = outbox.entries().unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.idempotency_key, format!("outbox:{fp}:open"));
        assert_eq!(e.kind, ActionKind::Open);
        assert_eq!(e.path, format!("issues/{fp}.md"));
        assert_eq!(e.severity, Severity::High);
        assert_eq!(e.finding_id, 7);
        assert_eq!(
            e.labels,
            ["tokpulse", "severity:high", "kind:latency_regression"]
        );
        assert_eq!(
            fs::read_to_string(outbox.log_path())
                .unwrap()
                .lines()
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn resolve_appends_to_the_issue_once() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(tmp.path().to_path_buf());
        let fp = stored_finding().finding.fingerprint.to_string();
        outbox.deliver(&open_action()).await.unwrap();
        let opened = fs::read_to_string(outbox.issue_path(&fp)).unwrap();
        let resolve = resolve_action();
        outbox.deliver(&resolve).await.unwrap();
        outbox.deliver(&resolve).await.unwrap();

        assert_eq!(issue_files(&outbox), [format!("{fp}.md")]);
        let body = fs::read_to_string(outbox.issue_path(&fp)).unwrap();
        let added = body.strip_prefix(&opened).expect("the note is appended");
        assert_eq!(
            added,
            format!(
                "\n---\n\n**Resolved** at 2023-11-14 22:43:20 UTC: no longer found by the \
                 check that raised it (last seen 2023-11-14 22:13:20 UTC; 3 occurrences since \
                 2023-11-14 21:13:20 UTC).\n<!-- tokpulse:action=outbox:{fp}:resolve:3 -->\n"
            )
        );
        let kinds: Vec<ActionKind> = outbox.entries().unwrap().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [ActionKind::Open, ActionKind::Resolve]);
    }

    #[tokio::test]
    async fn a_resolve_without_its_open_still_leaves_an_issue() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(tmp.path().to_path_buf());
        let fp = stored_finding().finding.fingerprint.to_string();
        outbox.deliver(&resolve_action()).await.unwrap();
        let body = fs::read_to_string(outbox.issue_path(&fp)).unwrap();
        assert!(body.contains("| metric | current | baseline | threshold |"));
        assert!(body.contains("**Resolved** at"));
        // The open arriving later does not rewrite it.
        outbox.deliver(&open_action()).await.unwrap();
        assert_eq!(fs::read_to_string(outbox.issue_path(&fp)).unwrap(), body);
    }

    #[tokio::test]
    async fn recovers_from_a_crash_between_the_file_and_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(tmp.path().to_path_buf());
        outbox.deliver(&open_action()).await.unwrap();
        // The log line was torn by a crash.
        let line = fs::read_to_string(outbox.log_path()).unwrap();
        fs::write(outbox.log_path(), &line[..line.len() / 2]).unwrap();
        outbox.deliver(&open_action()).await.unwrap();
        assert_eq!(outbox.entries().unwrap().len(), 1);
        let text = fs::read_to_string(outbox.log_path()).unwrap();
        assert_eq!(
            text.lines().count(),
            2,
            "the torn line stays, on its own line"
        );
        assert!(text.ends_with(&line));
    }

    #[tokio::test]
    async fn bad_actions_are_permanent_failures() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(tmp.path().to_path_buf());
        let mut a = open_action();
        a.kind = "explode".into();
        let err = outbox.deliver(&a).await.unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Permanent(m) if m.contains("\"explode\"")),
            "{err}"
        );

        let mut a = open_action();
        a.payload["fingerprint"] = "../../etc/passwd".into();
        let err = outbox.deliver(&a).await.unwrap_err();
        assert!(matches!(&err, DeliveryError::Permanent(m) if m.contains("not a valid file name")));

        let mut a = open_action();
        a.payload = serde_json::json!([]);
        assert!(!outbox.deliver(&a).await.unwrap_err().is_retryable());
        assert!(!outbox.log_path().exists());
    }

    #[tokio::test]
    async fn io_failures_are_retryable() {
        let tmp = tempfile::tempdir().unwrap();
        // The outbox directory is a file: nothing can be created under it.
        let not_a_dir = tmp.path().join("file");
        fs::write(&not_a_dir, "x").unwrap();
        let outbox = Outbox::new(not_a_dir);
        let err = outbox.deliver(&open_action()).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().contains("outbox: "), "{err}");
    }
}
