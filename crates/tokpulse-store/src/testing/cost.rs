//! The conformance suite's cost part: AI usage read back with its cost (or none), the daily AI
//! usage rollup, infra usage by id, cost predictions.

#![allow(clippy::unwrap_used)]

use super::records::{ai_usage, at};
use crate::{AiUsageDay, Batch, CostPrediction, Store, Table};
use chrono::NaiveDate;
use std::sync::Arc;
use tokpulse_core::{InfraProvider, InfraUsageRecord, Label, RecordId, Window};

fn window(start_ms: i64, end_ms: i64) -> Window {
    Window {
        start: at(start_ms),
        end: at(end_ms),
    }
}

/// AI usage comes back in time order, in the window, with the stored cost; a call stored
/// without a cost (an unknown model) comes back without one, never zero.
pub async fn ai_usage_is_read_back_with_its_cost(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let priced = ai_usage("ai-1", 2_000);
    let mut unpriced = ai_usage("ai-2", 1_000).get().clone();
    unpriced.cost_usd = None;
    unpriced.model = Label::parse("mystery-7b").unwrap();
    let unpriced = super::records::guarded(unpriced);
    let outside = ai_usage("ai-3", 5_000);
    store
        .insert_batch(&Batch::AiUsage(vec![priced, unpriced, outside]))
        .await
        .unwrap();
    let rows = store.ai_usage(window(1_000, 5_000)).await.unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ai-2", "ai-1"]);
    assert_eq!(rows[0].cost_usd, None);
    assert_eq!(rows[0].model.as_str(), "mystery-7b");
    assert_eq!(
        (rows[0].prompt_tokens, rows[0].completion_tokens),
        (1200, 300)
    );
    assert_eq!(rows[1].cost_usd, Some(0.0021));
    assert_eq!(rows[1].feature.as_ref().unwrap().as_str(), "search-summary");
    assert!(!rows[1].success);
}

fn infra(id: &str, provider: InfraProvider, metric: &str, q: f64, ms: i64) -> InfraUsageRecord {
    InfraUsageRecord {
        id: RecordId::parse(id).unwrap(),
        provider,
        project: Label::parse("shop").unwrap(),
        metric: Label::parse(metric).unwrap(),
        quantity: q,
        period_start: at(ms),
        period_end: at(ms + 86_400_000),
        plan: (provider == InfraProvider::Supabase).then(|| Label::parse("pro").unwrap()),
    }
}

/// Infra usage is stored once per id (a retry adds nothing) and read by period start.
pub async fn infra_usage_is_idempotent_by_id(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let a = infra("v-1", InfraProvider::Vercel, "requests", 1200.0, 1_000);
    let b = infra("s-1", InfraProvider::Supabase, "db_size_gb", 6.5, 2_000);
    let first = store
        .insert_infra_usage(&[a.clone(), b.clone()], at(10))
        .await
        .unwrap();
    assert_eq!((first.inserted, first.duplicates), (2, 0));
    let again = store
        .insert_infra_usage(
            &[
                b.clone(),
                infra("v-2", InfraProvider::Vercel, "bandwidth_gb", 2.5, 3_000),
            ],
            at(20),
        )
        .await
        .unwrap();
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    let rows = store.infra_usage(window(0, 2_500)).await.unwrap();
    assert_eq!(rows, vec![a, b]);
    assert_eq!(store.infra_usage(window(0, 10_000)).await.unwrap().len(), 3);
    let none = store.insert_infra_usage(&[], at(30)).await.unwrap();
    assert_eq!(none.inserted, 0);
}

/// Every prediction is kept; the latest come first.
pub async fn cost_predictions_are_kept_newest_first(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let p = |ms: i64, method: &str, scope: &str| CostPrediction {
        created_at: at(ms),
        method: method.into(),
        scope: scope.into(),
        period_start: at(0),
        period_end: at(30 * 86_400_000),
        spend_to_date: 300.0,
        projected: 620.0,
        lower: Some(590.0),
        upper: Some(655.5),
        budget: Some(500.0),
        deviation_pct: Some(24.0),
        tier: Some("discussion".into()),
    };
    let a = store
        .insert_cost_prediction(&p(1_000, "linear", "project"))
        .await
        .unwrap();
    let mut no_budget = p(2_000, "robust_seasonal", "feature:chat");
    no_budget.budget = None;
    no_budget.deviation_pct = None;
    no_budget.tier = None;
    no_budget.lower = None;
    let b = store.insert_cost_prediction(&no_budget).await.unwrap();
    assert_ne!(a, b);
    let rows = store.cost_predictions(10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].id, &rows[0].prediction), (b, &no_budget));
    assert_eq!(rows[1].prediction, p(1_000, "linear", "project"));
    assert_eq!(store.cost_predictions(1).await.unwrap().len(), 1);
}

const DAY_MS: i64 = 86_400_000;

fn date(d: i64) -> NaiveDate {
    at(d * DAY_MS).date_naive()
}

/// Sums of one day, service, feature, model and route, as a caller folds them.
fn day_row(
    d: i64,
    feature: Option<&str>,
    model: &str,
    route: Option<&str>,
    sums: [u64; 5],
) -> AiUsageDay {
    let [
        calls,
        failed_calls,
        prompt_tokens,
        cached_prompt_tokens,
        completion_tokens,
    ] = sums;
    AiUsageDay {
        day: date(d),
        service: "api".into(),
        feature: feature.map(Into::into),
        model: model.into(),
        route: route.map(Into::into),
        calls,
        failed_calls,
        prompt_tokens,
        cached_prompt_tokens,
        completion_tokens,
    }
}

/// Calls are handed out for the daily rollup in row id order until committed; a commit adds
/// its sums to the stored day and marks its calls at once, and a second commit of the same
/// calls is refused and adds nothing. Calls read but not committed (the process stopped) are
/// handed out again.
pub async fn ai_usage_daily_counts_each_call_once(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let calls: Vec<_> = (0..5)
        .map(|i| ai_usage(&format!("c{i}"), DAY_MS + i))
        .collect();
    store.insert_batch(&Batch::AiUsage(calls)).await.unwrap();

    let first = store.pending_ai_usage(3).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|p| p.record.id.as_str()).collect();
    assert_eq!(ids, ["c0", "c1", "c2"]);
    assert!(first.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(first[0].record.prompt_tokens, 1200);
    // Read, then stopped before committing: the same calls come back.
    let again = store.pending_ai_usage(3).await.unwrap();
    assert_eq!(again, first);

    let ids: Vec<i64> = first.iter().map(|p| p.id).collect();
    let chat = |n: u64| {
        day_row(
            1,
            Some("chat"),
            "gpt-4o",
            Some("GET /a"),
            [2 * n, n, 10 * n, n, 3 * n],
        )
    };
    assert!(
        store
            .commit_ai_usage_daily(&ids, &[chat(2), chat(1)])
            .await
            .unwrap()
    );
    // The same calls again (a second writer, or a retry after a lost answer): refused.
    assert!(!store.commit_ai_usage_daily(&ids, &[chat(3)]).await.unwrap());
    // One new call with one already counted: refused as a whole, the new one stays pending.
    let rest = store.pending_ai_usage(10).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(
        !store
            .commit_ai_usage_daily(&[ids[0], rest[0].id], &[chat(2)])
            .await
            .unwrap()
    );
    assert_eq!(store.pending_ai_usage(10).await.unwrap(), rest);
    let stored = store.ai_usage_daily(date(0), date(5)).await.unwrap();
    assert_eq!(stored, [chat(3)], "the two rows of one key were added once");

    // The rest: added to the stored day, and a row of its own for no feature and no route.
    let rest_ids: Vec<i64> = rest.iter().map(|p| p.id).collect();
    let bare = day_row(1, None, "gpt-4o", None, [1, 0, 5, 0, 1]);
    assert!(
        store
            .commit_ai_usage_daily(&rest_ids, &[chat(1), bare.clone()])
            .await
            .unwrap()
    );
    assert!(store.pending_ai_usage(10).await.unwrap().is_empty());
    let mut stored = store.ai_usage_daily(date(0), date(5)).await.unwrap();
    stored.sort_by(|a, b| a.feature.cmp(&b.feature));
    assert_eq!(stored, [bare, chat(4)]);
    // Nothing pending: an empty commit changes nothing and succeeds.
    assert!(store.commit_ai_usage_daily(&[], &[]).await.unwrap());
    assert_eq!(store.count(Table::AiUsageDaily).await.unwrap(), 2);
}

/// The daily rows come back by day inside a half-open window of days, each group's sums as
/// committed, whatever the order they were committed in.
pub async fn ai_usage_daily_is_read_by_window(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let rows = [
        day_row(3, Some("chat"), "gpt-4o", None, [4, 0, 400, 100, 40]),
        day_row(1, Some("chat"), "gpt-4o", None, [1, 0, 100, 0, 10]),
        day_row(
            2,
            Some("chat"),
            "gpt-4o-mini",
            Some("POST /b"),
            [2, 2, 20, 0, 2],
        ),
        day_row(
            2,
            Some("tags"),
            "gpt-4o-mini",
            Some("POST /b"),
            [3, 0, 30, 30, 3],
        ),
        day_row(
            2,
            Some("chat"),
            "gpt-4o-mini",
            Some("GET /a"),
            [5, 1, 50, 5, 5],
        ),
    ];
    assert!(store.commit_ai_usage_daily(&[], &rows).await.unwrap());
    let days = |from, until| {
        let store = Arc::clone(&store);
        async move {
            store
                .ai_usage_daily(date(from), date(until))
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.day, r.feature, r.route, r.calls))
                .collect::<Vec<_>>()
        }
    };
    let middle = days(2, 3).await;
    assert_eq!(middle.len(), 3);
    assert!(middle.iter().all(|(d, ..)| *d == date(2)));
    let mut routes: Vec<_> = middle
        .iter()
        .map(|(_, f, r, n)| (f.clone().unwrap(), r.clone().unwrap(), *n))
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("chat".into(), "GET /a".into(), 5),
            ("chat".into(), "POST /b".into(), 2),
            ("tags".into(), "POST /b".into(), 3)
        ]
    );
    let all = days(0, 10).await;
    let order: Vec<NaiveDate> = all.iter().map(|(d, ..)| *d).collect();
    assert_eq!(
        order,
        [date(1), date(2), date(2), date(2), date(3)],
        "oldest day first"
    );
    assert_eq!(days(1, 2).await, [(date(1), Some("chat".into()), None, 1)]);
    assert!(days(4, 10).await.is_empty());
    assert!(days(2, 2).await.is_empty());
}

/// Retention deletes an old AI call only once it is counted in the daily rollup, and the daily
/// rows by their day.
pub async fn retention_keeps_ai_usage_not_rolled_up(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    let old: Vec<_> = (0..4)
        .map(|i| ai_usage(&format!("old{i}"), DAY_MS + i))
        .collect();
    store.insert_batch(&Batch::AiUsage(old)).await.unwrap();
    store
        .insert_batch(&Batch::AiUsage(vec![ai_usage("new", 10 * DAY_MS)]))
        .await
        .unwrap();
    let t = Table::AiUsageMetrics;
    let cutoff = at(5 * DAY_MS);
    // Nothing rolled up yet: nothing may go.
    assert_eq!(store.count_older_than(t, cutoff).await.unwrap(), 0);
    assert_eq!(store.delete_older_than(t, cutoff, 100).await.unwrap(), 0);

    let pending = store.pending_ai_usage(3).await.unwrap();
    let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
    let sums = day_row(
        1,
        Some("search-summary"),
        "gpt-4o-mini",
        None,
        [3, 3, 3600, 0, 900],
    );
    assert!(store.commit_ai_usage_daily(&ids, &[sums]).await.unwrap());
    assert_eq!(store.count_older_than(t, cutoff).await.unwrap(), 3);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.delete_older_than(t, cutoff, 2).await.unwrap(), 0);
    let left: Vec<String> = store
        .ai_usage(window(0, 20 * DAY_MS))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.as_str().to_owned())
        .collect();
    assert_eq!(left, ["old3", "new"], "the call not rolled up stays");
    assert_eq!(
        store.ai_usage_daily(date(0), date(20)).await.unwrap().len(),
        1
    );

    // The daily rows go by day (SQLite keeps them WITHOUT ROWID: chunked by key).
    let d = Table::AiUsageDaily;
    let later = day_row(8, None, "gpt-4o", None, [1, 0, 1, 0, 1]);
    assert!(
        store
            .commit_ai_usage_daily(&[], std::slice::from_ref(&later))
            .await
            .unwrap()
    );
    assert_eq!(store.count_older_than(d, at(2 * DAY_MS)).await.unwrap(), 1);
    assert_eq!(store.count_older_than(d, at(DAY_MS)).await.unwrap(), 0);
    assert_eq!(
        store
            .delete_older_than(d, at(2 * DAY_MS), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_older_than(d, at(2 * DAY_MS), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.ai_usage_daily(date(0), date(20)).await.unwrap(),
        [later]
    );
}
