//! Recommendations with an estimated monthly saving in dollars and the numbers behind it.
//!
//! Each function takes usage already summed over an observation period of `days` days (the
//! engine's query does the summing) and scales savings to a 30-day month. They return `None`
//! when the saving is below `min_saving_usd` or the pattern is absent: a recommendation worth
//! less than that is noise in a report.

use crate::config::InfraPlan;
use crate::error::UnknownModel;
use crate::pricing::{Call, Catalog};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use tokpulse_core::Evidence;

/// Days in the month savings are scaled to.
pub const MONTH_DAYS: f64 = 30.0;

/// What a recommendation suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationKind {
    /// Move a feature to a cheaper model.
    CheaperModel,
    /// Cache responses to repeated prompts.
    Caching,
    /// Batch single-input embedding calls.
    BatchEmbeddings,
    /// Stop paying for failed calls.
    CutFailedCalls,
    /// Move an infrastructure project to a plan that costs less for its usage.
    ScaleInfrastructure,
}

/// A way to spend less.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// What it suggests.
    pub kind: RecommendationKind,
    /// The feature or model it is about.
    pub subject: String,
    /// Estimated saving per 30-day month, in dollars.
    pub monthly_saving_usd: f64,
    /// One line for a human.
    pub title: String,
    /// The numbers behind the estimate.
    pub evidence: Vec<Evidence>,
}

fn ev(metric: &str, current: f64, threshold: Option<f64>, unit: &str) -> Evidence {
    Evidence {
        metric: metric.to_owned(),
        current,
        baseline: None,
        threshold,
        unit: unit.to_owned(),
    }
}

fn monthly(amount: f64, days: f64) -> f64 {
    if days > 0.0 {
        amount * MONTH_DAYS / days
    } else {
        0.0
    }
}

/// One feature's calls to one model over `days` days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureUsage<'a> {
    /// The feature.
    pub feature: &'a str,
    /// The model it calls.
    pub model: &'a str,
    /// Calls.
    pub calls: u64,
    /// Prompt tokens over all calls.
    pub input_tokens: u64,
    /// Completion tokens over all calls.
    pub output_tokens: u64,
    /// Length of the observation period in days.
    pub days: f64,
    /// The day whose prices apply (usually the last day observed).
    pub priced_on: NaiveDate,
}

/// When a feature counts as "short and simple" enough for a smaller model, and which model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheaperModelRule {
    /// Cheaper model to suggest.
    pub candidate: String,
    /// Calls averaging more prompt tokens than this are left alone.
    pub max_avg_input_tokens: f64,
    /// Calls averaging more completion tokens than this are left alone.
    pub max_avg_output_tokens: f64,
    /// Smaller savings are not reported.
    pub min_saving_usd: f64,
}

impl Default for CheaperModelRule {
    fn default() -> Self {
        CheaperModelRule {
            candidate: "gpt-4o-mini".to_owned(),
            max_avg_input_tokens: 1000.0,
            max_avg_output_tokens: 300.0,
            min_saving_usd: 5.0,
        }
    }
}

/// A feature whose calls are short (few prompt and completion tokens on average) on a model
/// that costs more than `rule.candidate`: saving = monthly calls × (cost of the average call on
/// its model − on the candidate). Token counts are the only measure of "simple" TokPulse has
/// without reading prompts; the suggestion says to check quality on a sample first.
pub fn cheaper_model(
    usage: &FeatureUsage<'_>,
    catalog: &Catalog,
    rule: &CheaperModelRule,
) -> Result<Option<Recommendation>, UnknownModel> {
    if usage.calls == 0 {
        return Ok(None);
    }
    let calls = usage.calls as f64;
    let (avg_in, avg_out) = (
        usage.input_tokens as f64 / calls,
        usage.output_tokens as f64 / calls,
    );
    if avg_in > rule.max_avg_input_tokens || avg_out > rule.max_avg_output_tokens {
        return Ok(None);
    }
    let cost_on = |model: &str| {
        catalog
            .price(&Call {
                model,
                day: usage.priced_on,
                input_tokens: usage.input_tokens,
                cached_input_tokens: 0,
                output_tokens: usage.output_tokens,
            })
            .map(|c| c.total_usd())
    };
    let now = cost_on(usage.model)?;
    let then = cost_on(&rule.candidate)?;
    let saving = monthly(now - then, usage.days);
    if saving < rule.min_saving_usd {
        return Ok(None);
    }
    Ok(Some(Recommendation {
        kind: RecommendationKind::CheaperModel,
        subject: usage.feature.to_owned(),
        monthly_saving_usd: saving,
        title: format!(
            "{}: short calls on {} could run on {} (about ${saving:.0}/month less)",
            usage.feature, usage.model, rule.candidate
        ),
        evidence: vec![
            ev("calls per month", monthly(calls, usage.days), None, "calls"),
            ev(
                "prompt tokens per call",
                avg_in,
                Some(rule.max_avg_input_tokens),
                "tokens",
            ),
            ev(
                "completion tokens per call",
                avg_out,
                Some(rule.max_avg_output_tokens),
                "tokens",
            ),
            ev("cost per month now", monthly(now, usage.days), None, "USD"),
            ev(
                &format!("cost per month on {}", rule.candidate),
                monthly(then, usage.days),
                None,
                "USD",
            ),
        ],
    }))
}

/// One feature's calls as (prompt hash, cost) pairs: the hash only, never the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRepeats {
    /// The feature.
    pub feature: String,
    /// Calls.
    pub calls: u64,
    /// Distinct prompt hashes.
    pub distinct: u64,
    /// Cost of every call, in dollars.
    pub cost_usd: f64,
    /// Cost of the calls whose prompt hash had been seen before in the period.
    pub repeat_cost_usd: f64,
    /// Length of the observation period in days.
    pub days: f64,
}

impl PromptRepeats {
    /// Tallies `calls` (prompt hash, as text or any hashable digest of it, cost in dollars), in
    /// time order.
    pub fn tally<H: std::hash::Hash + Eq>(
        feature: &str,
        days: f64,
        calls: impl IntoIterator<Item = (H, f64)>,
    ) -> Self {
        let mut seen = HashSet::new();
        let mut t = PromptRepeats {
            feature: feature.to_owned(),
            calls: 0,
            distinct: 0,
            cost_usd: 0.0,
            repeat_cost_usd: 0.0,
            days,
        };
        for (hash, cost) in calls {
            t.calls += 1;
            t.cost_usd += cost;
            if seen.insert(hash) {
                t.distinct += 1;
            } else {
                t.repeat_cost_usd += cost;
            }
        }
        t
    }
}

/// Repeated prompts served from a response cache keyed by prompt hash: saving = the cost of the
/// repeats (every call after a prompt's first), per month. Reported when repeats are at least
/// `min_repeat_share` of calls. Assumes a repeated prompt may get the same answer (deterministic
/// features: classification, extraction, summaries of the same text); the cache's own cost and
/// expiry are not counted, so read it as an upper bound.
pub fn caching(
    r: &PromptRepeats,
    min_repeat_share: f64,
    min_saving_usd: f64,
) -> Option<Recommendation> {
    if r.calls == 0 {
        return None;
    }
    let repeats = r.calls - r.distinct;
    let share = repeats as f64 / r.calls as f64;
    let saving = monthly(r.repeat_cost_usd, r.days);
    if share < min_repeat_share || saving < min_saving_usd {
        return None;
    }
    Some(Recommendation {
        kind: RecommendationKind::Caching,
        subject: r.feature.clone(),
        monthly_saving_usd: saving,
        title: format!(
            "{}: {:.0}% of prompts repeat; caching responses saves about ${saving:.0}/month",
            r.feature,
            share * 100.0
        ),
        evidence: vec![
            ev(
                "repeated prompts",
                share * 100.0,
                Some(min_repeat_share * 100.0),
                "%",
            ),
            ev("calls", r.calls as f64, None, "calls"),
            ev("distinct prompt hashes", r.distinct as f64, None, "prompts"),
            ev("cost of repeats per month", saving, None, "USD"),
        ],
    })
}

/// Embedding calls to one model over `days` days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingCalls<'a> {
    /// The embedding model.
    pub model: &'a str,
    /// All embedding calls.
    pub calls: u64,
    /// Calls that embedded a single input.
    pub single_input_calls: u64,
    /// Cost of the single-input calls, in dollars.
    pub single_input_cost_usd: f64,
    /// Length of the observation period in days.
    pub days: f64,
}

/// OpenAI's Batch API bills at half the standard price.
pub const BATCH_DISCOUNT: f64 = 0.5;

/// Single-input embedding calls sent in batches instead: through the Batch API they cost
/// `discount` less (0.5 at OpenAI), and in groups of `batch_size` inputs per request they make
/// that many times fewer requests. Saving = single-input cost × discount, per month. Fits
/// embeddings that are not needed within the request (indexing, backfills); a query embedding
/// on the user's path stays single.
pub fn batch_embeddings(
    e: &EmbeddingCalls<'_>,
    discount: f64,
    batch_size: u64,
    min_saving_usd: f64,
) -> Option<Recommendation> {
    if e.single_input_calls == 0 {
        return None;
    }
    let saving = monthly(e.single_input_cost_usd * discount, e.days);
    if saving < min_saving_usd {
        return None;
    }
    let per_month = monthly(e.single_input_calls as f64, e.days);
    Some(Recommendation {
        kind: RecommendationKind::BatchEmbeddings,
        subject: e.model.to_owned(),
        monthly_saving_usd: saving,
        title: format!(
            "{}: {:.0} single-input embedding calls a month; batching saves about ${saving:.0}/month",
            e.model, per_month
        ),
        evidence: vec![
            ev("single-input calls per month", per_month, None, "calls"),
            ev(
                "share of embedding calls",
                e.single_input_calls as f64 / e.calls.max(1) as f64 * 100.0,
                None,
                "%",
            ),
            ev(
                "single-input cost per month",
                monthly(e.single_input_cost_usd, e.days),
                None,
                "USD",
            ),
            ev(
                "requests per month when batched",
                (per_month / batch_size.max(1) as f64).ceil(),
                None,
                "requests",
            ),
        ],
    })
}

/// One feature's failed calls that still used tokens, over `days` days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailedCalls<'a> {
    /// The feature (or model).
    pub subject: &'a str,
    /// All calls.
    pub calls: u64,
    /// Failed calls billed for tokens.
    pub failed_calls: u64,
    /// What those failed calls cost, in dollars.
    pub failed_cost_usd: f64,
    /// Length of the observation period in days.
    pub days: f64,
}

/// Failed calls that cost tokens (timeouts after generation started, output the app rejected,
/// retries that failed again): saving = their cost per month, the most that fixing the cause
/// (a shorter `max_tokens`, a retry budget, validation before the call) can save. Reported when
/// at least `min_failure_share` of calls fail.
pub fn cut_failed_calls(
    f: &FailedCalls<'_>,
    min_failure_share: f64,
    min_saving_usd: f64,
) -> Option<Recommendation> {
    if f.calls == 0 || f.failed_calls == 0 {
        return None;
    }
    let share = f.failed_calls as f64 / f.calls as f64;
    let saving = monthly(f.failed_cost_usd, f.days);
    if share < min_failure_share || saving < min_saving_usd {
        return None;
    }
    Some(Recommendation {
        kind: RecommendationKind::CutFailedCalls,
        subject: f.subject.to_owned(),
        monthly_saving_usd: saving,
        title: format!(
            "{}: {:.1}% of calls fail after using tokens, costing about ${saving:.0}/month",
            f.subject,
            share * 100.0
        ),
        evidence: vec![
            ev(
                "failed calls",
                share * 100.0,
                Some(min_failure_share * 100.0),
                "%",
            ),
            ev(
                "failed calls per month",
                monthly(f.failed_calls as f64, f.days),
                None,
                "calls",
            ),
            ev("cost of failed calls per month", saving, None, "USD"),
        ],
    })
}

/// One infrastructure project's month: its plan and its usage projected to the month end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InfraMonth<'a> {
    /// `vercel` or `supabase`.
    pub provider: &'a str,
    /// The provider's project.
    pub project: &'a str,
    /// The plan it is on.
    pub plan: &'a InfraPlan,
    /// Usage per metric projected to the month end (see [`InfraMonth::project`]).
    pub usage: &'a BTreeMap<String, f64>,
}

impl InfraMonth<'_> {
    /// Month-end usage from the usage of the first `day` of `days_in_month` days: sums
    /// (requests, egress…) grow in proportion, sizes ([`InfraPlan::is_level`]) stay as measured.
    pub fn project(
        usage: &BTreeMap<String, f64>,
        day: u32,
        days_in_month: u32,
    ) -> BTreeMap<String, f64> {
        let scale = f64::from(days_in_month) / f64::from(day.max(1));
        usage
            .iter()
            .map(|(m, q)| {
                let q = if InfraPlan::is_level(m) {
                    *q
                } else {
                    q * scale
                };
                (m.clone(), q)
            })
            .collect()
    }
}

/// Whether `plan` can carry `usage` with `headroom` to spare (0.2: 20% more usage still fits):
/// every metric is within its included amount, or has an overage price. A metric without
/// an overage price is a hard limit.
pub fn fits(plan: &InfraPlan, usage: &BTreeMap<String, f64>, headroom: f64) -> bool {
    usage.iter().all(|(m, q)| {
        plan.overage_usd.contains_key(m)
            || q * (1.0 + headroom) <= plan.included.get(m).copied().unwrap_or(0.0)
    })
}

/// The cheapest of `alternatives` that fits the month's projected usage with `headroom`
/// ([`fits`]), if it costs at least `min_saving_usd` a month less than the current plan:
/// saving = [`InfraPlan::month_cost`] on the current plan − on the alternative, for the same
/// usage. A smaller plan is scaling down (the usage fits in less); a bigger one is scaling
/// up (its fee costs less than the current plan's overage).
pub fn scale_infrastructure(
    m: &InfraMonth<'_>,
    alternatives: &[InfraPlan],
    headroom: f64,
    min_saving_usd: f64,
) -> Option<Recommendation> {
    let now = m.plan.month_cost(m.usage);
    let (best, cost) = alternatives
        .iter()
        .filter(|a| a.plan != m.plan.plan && fits(a, m.usage, headroom))
        .map(|a| (a, a.month_cost(m.usage)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let saving = now - cost;
    if saving < min_saving_usd {
        return None;
    }
    let subject = format!("{}/{}", m.provider, m.project);
    let why = if best.monthly_usd < m.plan.monthly_usd {
        format!(
            "the month's usage fits {} with {:.0}% to spare",
            best.plan,
            headroom * 100.0
        )
    } else {
        format!(
            "overage on {} costs more than {}'s fee",
            m.plan.plan, best.plan
        )
    };
    let mut evidence = vec![
        ev(&format!("month on {}", m.plan.plan), now, None, "USD"),
        ev(&format!("month on {}", best.plan), cost, None, "USD"),
    ];
    for (metric, q) in m.usage {
        evidence.push(Evidence {
            metric: format!("{metric} this month (projected)"),
            current: *q,
            baseline: m.plan.included.get(metric).copied(),
            threshold: best.included.get(metric).copied(),
            unit: unit_of(metric).to_owned(),
        });
    }
    Some(Recommendation {
        kind: RecommendationKind::ScaleInfrastructure,
        subject: subject.clone(),
        monthly_saving_usd: saving,
        title: format!(
            "{subject}: {} → {}: {why}; saves about ${saving:.0}/month",
            m.plan.plan, best.plan
        ),
        evidence,
    })
}

/// The unit of an infrastructure metric, from its name (`bandwidth_gb` → `GB`).
fn unit_of(metric: &str) -> &str {
    if metric.ends_with("_gb_hours") {
        "GB-hours"
    } else if metric.ends_with("_gb") {
        "GB"
    } else {
        metric
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()
    }

    #[test]
    fn cheaper_model_arithmetic() {
        // 15 days, 100k calls of 500 in / 100 out tokens on gpt-4o.
        let usage = FeatureUsage {
            feature: "tagging",
            model: "gpt-4o",
            calls: 100_000,
            input_tokens: 50_000_000,
            output_tokens: 10_000_000,
            days: 15.0,
            priced_on: day(),
        };
        let c = Catalog::builtin();
        let r = cheaper_model(&usage, &c, &CheaperModelRule::default())
            .unwrap()
            .unwrap();
        // gpt-4o: 50 × $2.50 + 10 × $10 = $225; gpt-4o-mini: 50 × $0.15 + 10 × $0.60 = $13.50.
        // Over 15 days, so × 2 for the month: (225 − 13.5) × 2 = $423.
        assert!(
            close(r.monthly_saving_usd, 423.0),
            "{}",
            r.monthly_saving_usd
        );
        assert_eq!(r.kind, RecommendationKind::CheaperModel);
        assert!(close(r.evidence[3].current, 450.0));
        assert!(close(r.evidence[4].current, 27.0));
        // Long calls are left alone.
        let long = FeatureUsage {
            input_tokens: 300_000_000,
            ..usage
        };
        assert!(
            cheaper_model(&long, &c, &CheaperModelRule::default())
                .unwrap()
                .is_none()
        );
        // Already on the cheap model: no saving.
        let cheap = FeatureUsage {
            model: "gpt-4o-mini",
            ..usage
        };
        assert!(
            cheaper_model(&cheap, &c, &CheaperModelRule::default())
                .unwrap()
                .is_none()
        );
        // An unknown model is an error, not a zero price.
        let unknown = FeatureUsage {
            model: "mystery",
            ..usage
        };
        assert!(cheaper_model(&unknown, &c, &CheaperModelRule::default()).is_err());
    }

    #[test]
    fn caching_arithmetic() {
        // 10 days; prompts a, b, a, a, c, b at $0.10 each: repeats are the 3rd, 4th and 6th.
        let calls = ["a", "b", "a", "a", "c", "b"].map(|h| (h, 0.10));
        let t = PromptRepeats::tally("faq", 10.0, calls);
        assert_eq!((t.calls, t.distinct), (6, 3));
        assert!(close(t.repeat_cost_usd, 0.3));
        let r = caching(&t, 0.2, 0.5).unwrap();
        // $0.30 over 10 days → $0.90 a month.
        assert!(close(r.monthly_saving_usd, 0.9));
        assert!(close(r.evidence[0].current, 50.0));
        assert!(caching(&t, 0.6, 0.5).is_none());
        assert!(caching(&t, 0.2, 1.0).is_none());
        let unique = PromptRepeats::tally("x", 10.0, [("a", 1.0), ("b", 1.0)]);
        assert!(caching(&unique, 0.01, 0.0).is_none());
    }

    #[test]
    fn batching_arithmetic() {
        // 7 days, 70k single-input calls costing $14: half off → $7 a week → $30 a month.
        let e = EmbeddingCalls {
            model: "text-embedding-3-large",
            calls: 80_000,
            single_input_calls: 70_000,
            single_input_cost_usd: 14.0,
            days: 7.0,
        };
        let r = batch_embeddings(&e, BATCH_DISCOUNT, 100, 1.0).unwrap();
        assert!(close(r.monthly_saving_usd, 30.0));
        assert!(close(r.evidence[0].current, 300_000.0));
        assert!(close(r.evidence[1].current, 87.5));
        assert!(close(r.evidence[3].current, 3000.0));
        assert!(batch_embeddings(&e, BATCH_DISCOUNT, 100, 31.0).is_none());
    }

    #[test]
    fn failed_calls_arithmetic() {
        // 30 days, 4% of 50k calls failed after using tokens, costing $60.
        let f = FailedCalls {
            subject: "chat",
            calls: 50_000,
            failed_calls: 2_000,
            failed_cost_usd: 60.0,
            days: 30.0,
        };
        let r = cut_failed_calls(&f, 0.02, 10.0).unwrap();
        assert!(close(r.monthly_saving_usd, 60.0));
        assert!(close(r.evidence[0].current, 4.0));
        assert!(cut_failed_calls(&f, 0.05, 10.0).is_none());
        assert!(
            cut_failed_calls(&FailedCalls { days: 60.0, ..f }, 0.02, 31.0).is_none(),
            "$60 over 60 days is $30 a month"
        );
    }

    fn usage(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(m, q)| ((*m).to_owned(), *q)).collect()
    }

    #[test]
    fn infra_usage_is_projected_to_the_month_end() {
        let so_far = usage(&[("egress_gb", 1.0), ("db_size_gb", 0.2)]);
        let month = InfraMonth::project(&so_far, 10, 30);
        assert!(close(month["egress_gb"], 3.0), "sums grow in proportion");
        assert!(close(month["db_size_gb"], 0.2), "sizes stay as measured");
    }

    #[test]
    fn a_small_supabase_project_scales_down_to_free() {
        let pro = InfraPlan::supabase_pro();
        let free = [InfraPlan::supabase_free()];
        // 3 GB of egress projected: 3.6 GB with 20% headroom, under Free's 5 GB.
        let month = usage(&[("db_size_gb", 0.2), ("storage_gb", 0.3), ("egress_gb", 3.0)]);
        let m = InfraMonth {
            provider: "supabase",
            project: "shop",
            plan: &pro,
            usage: &month,
        };
        let r = scale_infrastructure(&m, &free, 0.2, 5.0).unwrap();
        assert_eq!(r.kind, RecommendationKind::ScaleInfrastructure);
        assert_eq!(r.subject, "supabase/shop");
        assert!(close(r.monthly_saving_usd, 25.0));
        assert!(r.title.contains("pro → free"), "{}", r.title);
        assert!(close(r.evidence[0].current, 25.0) && close(r.evidence[1].current, 0.0));
        let egress = r
            .evidence
            .iter()
            .find(|e| e.metric.starts_with("egress_gb"))
            .unwrap();
        assert_eq!(
            (egress.baseline, egress.threshold, egress.unit.as_str()),
            (Some(250.0), Some(5.0), "GB")
        );

        // 4.5 GB fits Free's limit, but not with 20% to spare: no recommendation.
        let month = usage(&[("db_size_gb", 0.2), ("egress_gb", 4.5)]);
        let m = InfraMonth { usage: &month, ..m };
        assert_eq!(scale_infrastructure(&m, &free, 0.2, 5.0), None);
        // A saving under the minimum is not reported either.
        let month = usage(&[("egress_gb", 1.0)]);
        let m = InfraMonth { usage: &month, ..m };
        assert_eq!(scale_infrastructure(&m, &free, 0.2, 30.0), None);
    }

    #[test]
    fn heavy_overage_scales_up_to_a_bigger_plan() {
        let pro = InfraPlan::vercel_pro();
        let mut bigger = InfraPlan::vercel_pro();
        bigger.plan = "enterprise".into();
        bigger.monthly_usd = 300.0;
        bigger.included.insert("bandwidth_gb".into(), 10_000.0);
        // Pro: $20 + 3,000 GB × $0.15 = $470; the bigger plan: its $300 fee.
        let month = usage(&[("bandwidth_gb", 4_000.0)]);
        let m = InfraMonth {
            provider: "vercel",
            project: "web",
            plan: &pro,
            usage: &month,
        };
        let r = scale_infrastructure(&m, &[bigger.clone()], 0.2, 5.0).unwrap();
        assert!(
            close(r.monthly_saving_usd, 170.0),
            "{}",
            r.monthly_saving_usd
        );
        assert!(r.title.contains("overage on pro costs more"), "{}", r.title);
        // Within Pro's terabyte the bigger plan only costs more.
        let month = usage(&[("bandwidth_gb", 500.0)]);
        let m = InfraMonth { usage: &month, ..m };
        assert_eq!(scale_infrastructure(&m, &[bigger], 0.2, 5.0), None);
    }
}
