//! The conformance suite's cost part: AI usage read back with its cost (or none), infra usage
//! by id, cost predictions.

#![allow(clippy::unwrap_used)]

use super::records::{ai_usage, at};
use crate::{Batch, CostPrediction, Store};
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
