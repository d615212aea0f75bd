//! Property tests: the guard never panics, never lets a detected value through, and redacting
//! twice changes nothing.

use proptest::prelude::*;
use tokpulse_guard::{Guard, GuardConfig};

fn guard() -> &'static Guard {
    static GUARD: std::sync::LazyLock<Guard> =
        std::sync::LazyLock::new(|| Guard::new(&GuardConfig::default()));
    &GUARD
}

/// Text mixing arbitrary Unicode with fragments that wake every detector.
fn mixed() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        any::<String>(),
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|io|de)",
        "\\+?[0-9 ().-]{1,20}",
        "(sk-|ghp_|AKIA|eyJ|bc1|0x|xoxb-)[A-Za-z0-9_.-]{0,50}",
        "[A-Z]{2}[0-9]{2}[ A-Z0-9]{0,30}",
        "[0-9a-f:.]{1,40}",
        "(password|dob|ssn|name|phone|address|Dear|my name is|born on|Name:)[ :=\"']{0,3}",
        "[A-ZÀ-Ý][a-zà-ÿ]{1,8} [A-ZÀ-Ý][a-zà-ÿ]{1,8}",
        "[\\p{Han}\\p{Hangul}\\p{Cyrillic}\\p{Arabic}]{1,6}",
        "(,|;|\\||\\n|\\t| |, )",
        "[0-9]{1,5} [A-Z][a-z]{2,8} (Street|Road|Way), [A-Z][a-z]{3,8}, [A-Z]{2} [0-9]{5}",
        "(postgres|https)://[a-z]{1,6}:[a-z0-9]{1,8}@[a-z.]{1,12}",
    ];
    // Fragments are joined by a space, as words are in logs and prose: a value glued to the
    // next one (`a@b.com0 Main St`) may legitimately be read differently once its neighbour is
    // masked.
    prop::collection::vec(fragment, 0..12).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_unicode(text in any::<String>(), key in any::<String>()) {
        let g = guard();
        let spans = g.scan_field(&text, Some(&key));
        for s in &spans {
            prop_assert!(s.start < s.end && s.end <= text.len());
            prop_assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        }
        let _ = g.redact_text(&text, "message");
    }

    #[test]
    fn spans_are_sorted_disjoint_and_redacted(text in mixed()) {
        let g = guard();
        let spans = g.scan(&text);
        for w in spans.windows(2) {
            prop_assert!(w[0].end <= w[1].start, "{:?}", spans);
        }
        let once = g.redact_text(&text, "m").unwrap();
        // No detected value survives redaction.
        for s in &spans {
            let value = &text[s.start..s.end];
            // (A value that also occurs outside any span, such as `password: password`, is
            // legitimately still there.)
            if value.len() >= 6 && text.matches(value).count() == 1 {
                prop_assert!(!once.as_str().contains(value), "{value:?} left in {once}");
            }
        }
        // Redacting twice changes nothing.
        let twice = g.redact_text(once.as_str(), "m").unwrap();
        prop_assert_eq!(once, twice);
    }
}

/// Generated PII of the kinds the guard must always catch, with a check-digit where the type
/// has one.
fn pii() -> impl Strategy<Value = String> {
    let luhn_card = "4[0-9]{14}".prop_map(|body: String| {
        let digits: Vec<u32> = body.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                if i % 2 == 0 {
                    let x = d * 2;
                    if x > 9 { x - 9 } else { x }
                } else {
                    d
                }
            })
            .sum();
        format!("{body}{}", (10 - sum % 10) % 10)
    });
    prop_oneof![
        "[a-z]{2,8}\\.[a-z]{2,8}@[a-z]{3,8}\\.(com|io|de|org)",
        "\\+44 20 [0-9]{4} [0-9]{4}",
        "\\([2-9][0-9]{2}\\) [0-9]{3}-[0-9]{4}",
        "[1-5][0-9]{2}-[1-9][0-9]-[1-9][0-9]{3}",
        "ghp_[A-Za-z0-9]{36}",
        "AKIA[A-Z0-9]{16}",
        "sk-proj-[A-Za-z0-9]{40}",
        "(10|172|192)\\.[1-9][0-9]?\\.[1-9][0-9]?\\.[1-9][0-9]?",
        luhn_card,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Records with generated PII in every text field: no PII value is left in the stored form.
    #[test]
    fn no_pii_value_survives_a_guarded_record(
        values in prop::collection::vec(pii(), 1..6),
        filler in "[a-z ]{0,20}",
    ) {
        use tokpulse_core::{Attributes, Label, LogLevel, LogRecord, RecordId};
        let mut attributes = Attributes::new();
        for (i, v) in values.iter().enumerate() {
            attributes.insert(format!("field{i}"), serde_json::json!(format!("{filler} {v}")));
            attributes.insert(format!("list{i}"), serde_json::json!([v]));
        }
        let record = LogRecord {
            id: RecordId::parse("r1").expect("valid id"),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("valid time"),
            service: Label::parse("web").expect("valid label"),
            level: LogLevel::Error,
            message: format!("{filler} {} {filler}", values.join(" and ")),
            route: Some(format!("/u/{}", values[0])),
            trace_id: None,
            attributes,
        };
        let guarded = guard().guard(record).expect("the default policy never blocks");
        let stored = serde_json::to_string(guarded.get()).expect("serializes");
        for v in &values {
            prop_assert!(!stored.contains(v.as_str()), "{v:?} stored in {stored}");
        }
    }
}

/// Found by the fuzz target: a JSON `password` value that runs into replacement characters
/// (invalid UTF-8 read lossily) ended inside a character.
#[test]
fn a_secret_value_ending_in_replacement_characters_does_not_panic() {
    let bytes = include_bytes!("../../../fuzz/seeds/detectors/password-value-before-invalid-utf8");
    let text = String::from_utf8_lossy(bytes);
    let guard = Guard::new(&GuardConfig::default());
    for s in guard.scan(&text) {
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
    }
    let _ = guard.redact_text(&text, "message");
    let _ = guard.scan_field(&text, Some("password"));
}
