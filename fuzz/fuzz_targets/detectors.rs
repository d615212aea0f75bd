//! Arbitrary bytes through the guard's detectors: as text (lossy UTF-8), as a value under a
//! key (`key=value` / `key: value`, or a known key), and as a one-field JSON object.
//!
//! Invariants: no panic; spans are non-empty, in bounds, on char boundaries, sorted and not
//! overlapping; a redacted text never holds a detected secret verbatim.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tokpulse_guard::{Entity, Guard, GuardConfig, Span};

static GUARD: LazyLock<Guard> = LazyLock::new(|| Guard::new(&GuardConfig::default()));

/// Keys that make the detectors read a whole value as one thing.
const KEYS: &[&str] = &[
    "password",
    "email",
    "name",
    "dob",
    "ssn",
    "phone",
    "address",
    "Authorization",
    "message",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_spans(&text, &GUARD.scan(&text));
    check_redaction(&text);

    let (key, value) = match data.iter().position(|&c| c == b'=' || c == b':') {
        Some(p) => (
            String::from_utf8_lossy(&data[..p]).into_owned(),
            String::from_utf8_lossy(&data[p + 1..]).into_owned(),
        ),
        None => (
            KEYS[usize::from(data.first().copied().unwrap_or(0)) % KEYS.len()].to_string(),
            text.clone().into_owned(),
        ),
    };
    check_spans(&value, &GUARD.scan_field(&value, Some(&key)));

    let json = format!(
        "{{\"{}\": \"{}\"}}",
        key.escape_default(),
        value.escape_default()
    );
    check_spans(&json, &GUARD.scan(&json));
    check_redaction(&json);
});

fn check_spans(text: &str, spans: &[Span]) {
    let mut last_end = 0;
    for s in spans {
        assert!(s.start < s.end, "empty span {s:?}");
        assert!(
            s.end <= text.len(),
            "span {s:?} past the end ({})",
            text.len()
        );
        assert!(
            text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
            "span {s:?} inside a char"
        );
        assert!(
            s.start >= last_end,
            "span {s:?} overlaps or precedes the one before"
        );
        last_end = s.end;
    }
}

/// A detected secret that occurs once in `text` is gone from the redacted text (values that
/// a mask itself could spell, such as `WORD` inside `[PASSWORD]`, are left out).
fn check_redaction(text: &str) {
    let Ok(redacted) = GUARD.redact_text(text, "message") else {
        return;
    };
    let out = redacted.as_str();
    for s in GUARD.scan(text) {
        if !s.entity.is_secret() {
            continue;
        }
        let v = &text[s.start..s.end];
        let distinctive = text.matches(v).count() == 1
            && !v.contains(['[', ']'])
            && !Entity::ALL.iter().any(|e| e.mask().contains(v));
        assert!(
            !distinctive || !out.contains(v),
            "secret {:?} ({}) left in {out:?}",
            v,
            s.entity
        );
    }
}
