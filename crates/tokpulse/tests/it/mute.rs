//! `tokpulse findings mute|unmute`. See: #6.

use crate::common::TestCommand;
use tokpulse_store::{SqliteStore, Store};

#[tokio::test]
async fn a_mute_is_stored_until_it_ends_or_is_lifted() {
    let t = TestCommand::new();
    let (out, _) = t.expect(&["findings", "mute", "fp-a", "--for", "2h"], 0);
    assert!(out.contains("fp-a muted until"), "{out}");
    t.expect(&["findings", "mute", "fp-b"], 0);
    let (_, err) = t.expect(&["findings", "mute", "fp-c", "--for", "soon"], 2);
    assert!(err.contains("--for"), "{err}");

    let data = t.path().join("tokpulse-data");
    let now = chrono::Utc::now();
    let store = SqliteStore::open(&data).await.unwrap();
    let muted = tokpulse::mute::muted(&store, now).await.unwrap();
    assert!(
        muted.contains("fp-a") && muted.contains("fp-b"),
        "{muted:?}"
    );
    assert!(!muted.contains("fp-c"));
    // fp-a's mute ends after two hours; fp-b's does not.
    let later = tokpulse::mute::muted(&store, now + chrono::Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(later, ["fp-b".to_string()].into());
    store.close().await;

    t.expect(&["findings", "unmute", "fp-b"], 0);
    let store = SqliteStore::open(&data).await.unwrap();
    let muted = tokpulse::mute::muted(&store, now).await.unwrap();
    assert_eq!(muted, ["fp-a".to_string()].into());
    store.close().await;
}
