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
            if value.len() >= 6 {
                prop_assert!(!once.as_str().contains(value), "{value:?} left in {once}");
            }
        }
        // Redacting twice changes nothing.
        let twice = g.redact_text(once.as_str(), "m").unwrap();
        prop_assert_eq!(once, twice);
    }
}
