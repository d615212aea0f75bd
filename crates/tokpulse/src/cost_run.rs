//! The cost run: AI and infrastructure spend of the month so far, its month-end forecast by
//! both methods, budget tiers, recommendations, unknown models and cost regressions at deploys.
//!
//! [`load`] first adds the AI calls not rolled up yet to the store's daily rollup
//! (`ai_usage_daily`, through [`roll_up`]), then reads what the run needs: the daily rows of the
//! month and [`HISTORY_DAYS`] before it, and single calls only for the last [`CALLS_DAYS`] (the
//! recommendations and the cost regressions need them). [`summarize`] is pure (same inputs, same
//! summary) and is what `tokpulse cost report`, `tokpulse cost forecast` and
//! `GET /v1/cost/summary` print; [`findings`] turns a summary into findings; [`run`] is the
//! engine step a scheduler calls: it stores every forecast in `cost_predictions`, upserts the
//! findings, queues their actions through the routing table and resolves the cost findings
//! that stopped.

use crate::engine::Engine;
use crate::pending::{self, Batch};
use chrono::{Datelike, Days, NaiveDate, TimeDelta};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokpulse_core::{
    AiUsageRecord, Cause, DeployEvent, Evidence, Finding, FindingKind, Fingerprint,
    InfraUsageRecord, Severity, StoredFinding, Timestamp, Window,
};
use tokpulse_cost::forecast::{days_in_month, forecast_with};
use tokpulse_cost::recommend::{
    self, CheaperModelRule, EmbeddingCalls, FailedCalls, FeatureUsage, InfraMonth, PromptRepeats,
    Recommendation,
};
use tokpulse_cost::{
    BudgetStatus, BudgetTier, Call, Catalog, CostConfig, DailySpend, Forecast, InfraPlan, Method,
    Rollup,
};
use tokpulse_ingest::Pricer;
use tokpulse_store::{AiUsageDay, CostPrediction, Store};

/// Days of daily spend before the month the forecasts see (the robust method fits up to 84 and
/// would take a year of past errors and holidays: see docs/BENCHMARKS.md, "Cost forecasting").
pub const HISTORY_DAYS: u64 = 62;
/// Days of usage recommendations are measured over.
pub const RECOMMEND_DAYS: u64 = 30;
/// Deploys this many days back are checked for cost regressions.
pub const REGRESSION_LOOKBACK_DAYS: u64 = 14;
/// Days of single AI calls the run reads (to the last complete day): the recommendations'
/// [`RECOMMEND_DAYS`], and the cost regressions' [`REGRESSION_LOOKBACK_DAYS`] with the week
/// before a deploy. Everything per day or per month comes from the daily rollup.
pub const CALLS_DAYS: u64 = if RECOMMEND_DAYS > REGRESSION_LOOKBACK_DAYS + 8 {
    RECOMMEND_DAYS
} else {
    REGRESSION_LOOKBACK_DAYS + 8
};
/// Calls each side of a deploy needed to judge a change per request.
pub const REGRESSION_MIN_CALLS: u64 = 50;
/// A change per request smaller than this (20%) is not a regression.
pub const REGRESSION_MIN_CHANGE: f64 = 0.20;
/// Monthly impact below this is not reported.
pub const REGRESSION_MIN_IMPACT_USD: f64 = 5.0;

/// The attribute holding a hash of the prompt (never the prompt): repeated prompts.
pub const PROMPT_HASH_ATTR: &str = "prompt_hash";
/// The attribute holding how many inputs an embedding call sent.
pub const INPUT_COUNT_ATTR: &str = "input_count";
/// The attribute holding the route of the request that made the call (`GET /api/search`).
pub const ROUTE_ATTR: &str = "route";

/// The kinds of finding the cost run owns (and resolves when they stop).
pub const KINDS: [FindingKind; 3] = [
    FindingKind::BudgetOverrun,
    FindingKind::UnknownModel,
    FindingKind::CostRegression,
];

/// What ingest does to an AI usage record: its cost at the price of its day from `catalog`, or
/// `None` when the model is unknown (never zero; the cost run raises an `unknown_model`
/// finding for it).
pub fn pricer(catalog: Arc<Catalog>) -> Pricer {
    Arc::new(move |r: &mut AiUsageRecord| {
        r.cost_usd = catalog
            .price(&Call::from_record(r))
            .ok()
            .map(|c| c.total_usd());
    })
}

/// What a cost run reads.
#[derive(Debug, Default)]
pub struct CostInputs {
    /// AI usage per UTC day, service, feature, model and route (`ai_usage_daily`), from
    /// [`HISTORY_DAYS`] before the month to `as_of`: spend per day, the month's lines, budgets
    /// and unknown models.
    pub ai_daily: Vec<AiUsageDay>,
    /// Single AI calls of the last [`CALLS_DAYS`] to the end of `as_of`: recommendations and
    /// cost regressions.
    pub ai_calls: Vec<CostCall>,
    /// Infrastructure usage of the same span.
    pub infra: Vec<InfraUsageRecord>,
    /// Deploys of the last [`REGRESSION_LOOKBACK_DAYS`] (and a week before, for baselines).
    pub deploys: Vec<DeployEvent>,
}

/// What recommendations and cost regressions need of one AI call: its figures and the few
/// attributes they read, with the names shared between calls ([`Names`]) and the prompt hash
/// reduced to 64 bits. A month of these takes a small part of the memory of the records.
#[derive(Debug, Clone, PartialEq)]
pub struct CostCall {
    /// When the call finished.
    pub timestamp: Timestamp,
    /// The calling service.
    pub service: Arc<str>,
    /// The feature, or [`NO_FEATURE`].
    pub feature: Arc<str>,
    /// Model name as the provider spells it.
    pub model: Arc<str>,
    /// The route of the request that made the call ([`ROUTE_ATTR`]), when it names one.
    pub route: Option<Arc<str>>,
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the prompt cache, as [`Call::from_record`] reads them.
    pub cached_prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Whether the call succeeded.
    pub success: bool,
    /// 64 bits of the [`PROMPT_HASH_ATTR`] attribute, when there is one: enough to tell
    /// repeats apart (two different prompts collide about once in 10¹⁹ pairs).
    pub prompt_hash: Option<u64>,
    /// Whether the call sent a single input ([`INPUT_COUNT_ATTR`] is 1; embeddings).
    pub single_input: bool,
}

/// Names shared between [`CostCall`]s: each distinct service, feature, model and route is
/// allocated once.
#[derive(Debug, Default)]
pub struct Names(HashSet<Arc<str>>);

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.0.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.0.insert(n.clone());
        n
    }
}

impl CostCall {
    /// What the cost run keeps of `r`.
    pub fn from_record(r: &AiUsageRecord, names: &mut Names) -> Self {
        let call = Call::from_record(r);
        let prompt_hash = r
            .attributes
            .get(PROMPT_HASH_ATTR)
            .and_then(|v| v.as_str())
            .map(|h| {
                // SipHash with fixed keys: the same 64 bits on every run.
                let mut hasher = std::hash::DefaultHasher::new();
                h.hash(&mut hasher);
                hasher.finish()
            });
        CostCall {
            timestamp: r.timestamp,
            service: names.get(r.service.as_str()),
            feature: names.get(feature_name(r)),
            model: names.get(call.model),
            route: route_of(r).map(|route| names.get(route)),
            prompt_tokens: call.input_tokens,
            cached_prompt_tokens: call.cached_input_tokens,
            completion_tokens: call.output_tokens,
            success: r.success,
            prompt_hash,
            single_input: r.attributes.get(INPUT_COUNT_ATTR).and_then(|v| v.as_u64()) == Some(1),
        }
    }

    /// What the cost run keeps of each of `records`.
    pub fn all<'a>(records: impl IntoIterator<Item = &'a AiUsageRecord>) -> Vec<CostCall> {
        let mut names = Names::default();
        records
            .into_iter()
            .map(|r| CostCall::from_record(r, &mut names))
            .collect()
    }

    /// The call, for pricing.
    fn call(&self) -> Call<'_> {
        Call {
            model: &self.model,
            day: self.timestamp.date_naive(),
            input_tokens: self.prompt_tokens,
            cached_input_tokens: self.cached_prompt_tokens,
            output_tokens: self.completion_tokens,
        }
    }
}

/// First instant of a day.
fn start_of(day: NaiveDate) -> Timestamp {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The last complete day at `now` (yesterday): forecasts use whole days only.
pub fn last_complete_day(now: Timestamp) -> NaiveDate {
    now.date_naive().pred_opt().unwrap_or(now.date_naive())
}

/// The first day whose single calls a summary as of `as_of` reads ([`CALLS_DAYS`] to `as_of`).
fn calls_from(as_of: NaiveDate) -> NaiveDate {
    as_of
        .checked_sub_days(Days::new(CALLS_DAYS - 1))
        .unwrap_or(as_of)
}

/// The calls of `records` summed per UTC day, service, feature, model and route: what they add
/// to `ai_usage_daily`. Cached prompt tokens are read as [`Call::from_record`] reads them (the
/// `cached_tokens` attribute, at most the call's prompt tokens), the route as
/// [`ROUTE_ATTR`] names it.
pub fn daily_rows<'a>(records: impl IntoIterator<Item = &'a AiUsageRecord>) -> Vec<AiUsageDay> {
    type Key<'a> = (
        NaiveDate,
        &'a str,
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
    );
    let mut days: BTreeMap<Key<'a>, AiUsageDay> = BTreeMap::new();
    for r in records {
        let call = Call::from_record(r);
        let feature = r.feature.as_ref().map(|f| f.as_str());
        let route = route_of(r);
        let key = (call.day, r.service.as_str(), feature, call.model, route);
        let d = days.entry(key).or_insert_with(|| AiUsageDay {
            day: call.day,
            service: r.service.as_str().to_owned(),
            feature: feature.map(str::to_owned),
            model: call.model.to_owned(),
            route: route.map(str::to_owned),
            calls: 0,
            failed_calls: 0,
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            completion_tokens: 0,
        });
        d.calls += 1;
        d.failed_calls += u64::from(!r.success);
        d.prompt_tokens += call.input_tokens;
        d.cached_prompt_tokens += call.cached_input_tokens;
        d.completion_tokens += call.output_tokens;
    }
    days.into_values().collect()
}

/// Adds every AI call not rolled up yet to `ai_usage_daily`, in batches of row ids, each
/// counted and marked in one transaction (`Store::commit_ai_usage_daily`): a run stopped
/// halfway loses and doubles nothing, and running it again adds nothing. Returns how many calls
/// it added.
pub async fn roll_up(store: &dyn Store) -> anyhow::Result<usize> {
    pending::drain(
        "ai usage rollup: another writer kept rolling up the same calls first; try again",
        || async {
            let pending = store.pending_ai_usage(pending::BATCH).await?;
            if pending.is_empty() {
                return Ok(Batch::Empty);
            }
            let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
            let days = daily_rows(pending.iter().map(|p| &p.record));
            Ok(if store.commit_ai_usage_daily(&ids, &days).await? {
                Batch::Committed(ids.len())
            } else {
                Batch::Lost
            })
        },
    )
    .await
}

/// Rolls up the AI calls not counted yet ([`roll_up`]), then reads the daily usage, the recent
/// calls (one at a time, keeping a [`CostCall`] of each), the infrastructure usage and the
/// deploys a summary of the month of `as_of` needs.
pub async fn load(store: &dyn Store, as_of: NaiveDate) -> anyhow::Result<CostInputs> {
    roll_up(store).await?;
    let first = month_start(as_of)
        .checked_sub_days(Days::new(HISTORY_DAYS))
        .unwrap_or(as_of);
    let next_day = as_of + Days::new(1);
    let end = start_of(next_day);
    let window = Window {
        start: start_of(first),
        end,
    };
    let deploy_from = as_of
        .checked_sub_days(Days::new(REGRESSION_LOOKBACK_DAYS + 7))
        .unwrap_or(as_of);
    let mut names = Names::default();
    let mut ai_calls = Vec::new();
    store
        .ai_usage_each(
            Window {
                start: start_of(calls_from(as_of)),
                end,
            },
            &mut |r| ai_calls.push(CostCall::from_record(&r, &mut names)),
        )
        .await?;
    Ok(CostInputs {
        ai_daily: store.ai_usage_daily(first, next_day).await?,
        ai_calls,
        infra: store.infra_usage(window).await?,
        deploys: store
            .deployments(Window {
                start: start_of(deploy_from),
                end,
            })
            .await?,
    })
}

/// One day's spend.
#[derive(Debug, Clone, Serialize)]
pub struct DaySpend {
    /// The UTC day.
    pub day: NaiveDate,
    /// Priced AI calls.
    pub ai_usd: f64,
    /// Infrastructure: the plan fee spread over the month plus usage beyond what it includes.
    pub infra_usd: f64,
}

/// Spend of one feature, model or service this month.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpendLine {
    /// Its name (`(none)` for calls without a feature).
    pub name: String,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub failed_calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Dollars (priced calls only).
    pub cost_usd: f64,
    /// Calls to models the catalog does not know (not in `cost_usd`).
    pub unpriced_calls: u64,
}

/// One provider project's infrastructure this month.
#[derive(Debug, Clone, Serialize)]
pub struct InfraLine {
    /// `vercel` or `supabase`.
    pub provider: String,
    /// The provider's project.
    pub project: String,
    /// The configured plan (`none` without one: priced at zero and said so).
    pub plan: String,
    /// Usage per metric so far (sums; largest value for sizes).
    pub usage: BTreeMap<String, f64>,
    /// Cost so far: the fee for the days elapsed plus overage.
    pub cost_usd: f64,
}

/// A model the catalog does not know, with what its calls used this month.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownModelLine {
    /// The model as called.
    pub model: String,
    /// Services that called it.
    pub services: Vec<String>,
    /// Calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// A budget and where the month is heading against it.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetLine {
    /// `project`, `feature:<name>` or `model:<name>`.
    pub scope: String,
    /// Spend so far.
    pub spend_to_date_usd: f64,
    /// Every method's forecast.
    pub forecasts: Vec<Forecast>,
    /// The status by the headline method (robust seasonal, else linear).
    pub status: BudgetStatus,
}

/// A cost regression at a deploy.
#[derive(Debug, Clone, Serialize)]
pub struct CostRegression {
    /// The service deployed.
    pub service: String,
    /// The feature (`(none)` for calls without one), or `*` for a route's or a model's
    /// regression over all features.
    pub feature: String,
    /// The route (the [`ROUTE_ATTR`] attribute), or `*` for all routes.
    pub route: String,
    /// The model, or `*` for all models (a feature's or a route's regression).
    pub model: String,
    /// `tokens` or `cost` per request.
    pub metric: &'static str,
    /// Per request before the deploy.
    pub before: f64,
    /// Per request after.
    pub after: f64,
    /// Cost per request before and after, dollars.
    pub cost_per_request: (f64, f64),
    /// Calls per day after the deploy.
    pub calls_per_day: f64,
    /// Extra dollars a month at the new rate.
    pub monthly_impact_usd: f64,
    /// The deploy.
    pub deploy: DeployEvent,
}

impl CostRegression {
    /// What regressed, as titles name it: `answers on gpt-4o`, `answers`, `route GET /api/search`,
    /// `gpt-4o (all features)`.
    pub fn scope(&self) -> String {
        match (
            self.feature.as_str(),
            self.route.as_str(),
            self.model.as_str(),
        ) {
            (ALL, ALL, m) => format!("{m} (all features)"),
            (ALL, r, _) => format!("route {r}"),
            (f, _, ALL) => f.to_owned(),
            (f, _, m) => format!("{f} on {m}"),
        }
    }
}

/// Everything the cost run, the report and the API say about a month.
#[derive(Debug, Clone, Serialize)]
pub struct CostSummary {
    /// `YYYY-MM`.
    pub month: String,
    /// The last complete day counted.
    pub as_of: NaiveDate,
    /// Spend so far this month (AI + infrastructure).
    pub spend_to_date_usd: f64,
    /// AI part.
    pub ai_usd: f64,
    /// Infrastructure part.
    pub infra_usd: f64,
    /// Per day of the month so far.
    pub daily: Vec<DaySpend>,
    /// Per feature, most expensive first.
    pub by_feature: Vec<SpendLine>,
    /// Per model, most expensive first.
    pub by_model: Vec<SpendLine>,
    /// Per service, most expensive first.
    pub by_service: Vec<SpendLine>,
    /// Per route of the request that made the call (the [`ROUTE_ATTR`] attribute), most
    /// expensive first; calls that name no route are left out.
    pub by_route: Vec<SpendLine>,
    /// Infrastructure per provider project.
    pub infra: Vec<InfraLine>,
    /// Models the catalog does not know.
    pub unknown_models: Vec<UnknownModelLine>,
    /// The project budget first, then per feature and model.
    pub budgets: Vec<BudgetLine>,
    /// Project forecasts when no budget is set (else the project budget line has them).
    pub forecasts: Vec<Forecast>,
    /// Ways to spend less, biggest saving first.
    pub recommendations: Vec<Recommendation>,
    /// Cost regressions at deploys.
    pub regressions: Vec<CostRegression>,
}

/// How lines and budgets name calls without a feature (a feature label has no parentheses).
const NO_FEATURE: &str = "(none)";

fn feature_name(r: &AiUsageRecord) -> &str {
    r.feature.as_ref().map_or(NO_FEATURE, |f| f.as_str())
}

/// The route of the request that made the call ([`ROUTE_ATTR`]), when it names one (an empty
/// string names none).
fn route_of(r: &AiUsageRecord) -> Option<&str> {
    r.attributes
        .get(ROUTE_ATTR)
        .and_then(|v| v.as_str())
        .filter(|route| !route.is_empty())
}

/// Adds a day's group of calls and its cost (`None`: an unknown model) to a line.
fn add_line(line: &mut SpendLine, d: &AiUsageDay, cost: Option<f64>) {
    line.calls += d.calls;
    line.failed_calls += d.failed_calls;
    line.input_tokens += d.prompt_tokens;
    line.output_tokens += d.completion_tokens;
    match cost {
        Some(c) => line.cost_usd += c,
        None => line.unpriced_calls += d.calls,
    }
}

fn sorted_lines(map: BTreeMap<String, SpendLine>) -> Vec<SpendLine> {
    let mut v: Vec<SpendLine> = map
        .into_iter()
        .map(|(name, mut l)| {
            l.name = name;
            l
        })
        .collect();
    v.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd).then(a.name.cmp(&b.name)));
    v
}

fn days(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first.iter_days().take_while(move |d| *d <= last)
}

/// Infrastructure cost per day from `first` to `as_of`, and a line per provider project of the
/// month of `as_of`. Each month's cost to a day is the plan fee for the days elapsed plus the
/// overage of the usage so far; a day's cost is the difference with the day before.
fn infra_daily(
    config: &CostConfig,
    infra: &[InfraUsageRecord],
    first: NaiveDate,
    as_of: NaiveDate,
) -> (BTreeMap<NaiveDate, f64>, Vec<InfraLine>) {
    // (provider, project) → day → metric → quantity that day (sum; max for sizes).
    type PerDay = BTreeMap<NaiveDate, BTreeMap<String, f64>>;
    let mut by_project: BTreeMap<(String, String), PerDay> = BTreeMap::new();
    for r in infra {
        let day = r.period_start.date_naive();
        if day < first || day > as_of {
            continue;
        }
        let m = by_project
            .entry((
                r.provider.as_str().to_owned(),
                r.project.as_str().to_owned(),
            ))
            .or_default()
            .entry(day)
            .or_default()
            .entry(r.metric.as_str().to_owned())
            .or_insert(0.0);
        if InfraPlan::is_level(r.metric.as_str()) {
            *m = m.max(r.quantity);
        } else {
            *m += r.quantity;
        }
    }
    let mut daily: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut lines = Vec::new();
    for ((provider, project), per_day) in by_project {
        let plan = config.infra.get(&provider);
        let start = per_day.keys().next().copied().unwrap_or(first);
        let mut usage: BTreeMap<String, f64> = BTreeMap::new();
        let mut month = month_start(start);
        let mut before = 0.0;
        for day in days(start, as_of) {
            if month_start(day) != month {
                month = month_start(day);
                usage.clear();
                before = 0.0;
            }
            if let Some(today) = per_day.get(&day) {
                for (metric, q) in today {
                    let u = usage.entry(metric.clone()).or_insert(0.0);
                    if InfraPlan::is_level(metric) {
                        *u = u.max(*q);
                    } else {
                        *u += q;
                    }
                }
            }
            let to_date = plan.map_or(0.0, |p| {
                let fee = p.monthly_usd * f64::from(day.day()) / f64::from(days_in_month(day));
                p.month_cost(&usage) - p.monthly_usd + fee
            });
            *daily.entry(day).or_insert(0.0) += to_date - before;
            before = to_date;
        }
        if month == month_start(as_of) {
            lines.push(InfraLine {
                provider,
                project,
                plan: plan.map_or_else(|| "none".to_owned(), |p| p.plan.clone()),
                usage,
                cost_usd: before,
            });
        }
    }
    (daily, lines)
}

/// The month of `as_of` from `inputs`: spend, forecasts, budgets, recommendations, unknown
/// models and cost regressions. Pure.
pub fn summarize(config: &CostConfig, inputs: &CostInputs, as_of: NaiveDate) -> CostSummary {
    let catalog = Catalog::from_config(config);
    let month = month_start(as_of);
    let first = month
        .checked_sub_days(Days::new(HISTORY_DAYS))
        .unwrap_or(month);
    let next_day = as_of + Days::new(1);

    // AI: each day's groups of calls priced at that day's price (a price is linear in tokens),
    // per day and per scope.
    let mut rollup = Rollup::new(&catalog);
    let mut per_feature_daily: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    let mut per_model_daily: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    let (mut by_feature, mut by_model, mut by_service, mut by_route) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    let mut unknown_services: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in &inputs.ai_daily {
        if d.day < first || d.day > as_of {
            continue;
        }
        let call = Call {
            model: &d.model,
            day: d.day,
            input_tokens: d.prompt_tokens,
            cached_input_tokens: d.cached_prompt_tokens,
            output_tokens: d.completion_tokens,
        };
        let feature = d.feature.as_deref().unwrap_or(NO_FEATURE);
        let cost = rollup
            .add_group(
                &d.service,
                d.feature.as_deref(),
                &call,
                d.calls,
                d.failed_calls,
            )
            .ok()
            .map(|c| c.total_usd());
        if let Some(c) = cost {
            *per_feature_daily
                .entry(feature.to_owned())
                .or_default()
                .entry(d.day)
                .or_insert(0.0) += c;
            *per_model_daily
                .entry(d.model.clone())
                .or_default()
                .entry(d.day)
                .or_insert(0.0) += c;
        }
        if d.day >= month {
            add_line(by_feature.entry(feature.to_owned()).or_default(), d, cost);
            add_line(by_model.entry(d.model.clone()).or_default(), d, cost);
            add_line(by_service.entry(d.service.clone()).or_default(), d, cost);
            if let Some(route) = &d.route {
                add_line(by_route.entry(route.clone()).or_default(), d, cost);
            }
            if cost.is_none() {
                unknown_services
                    .entry(d.model.clone())
                    .or_default()
                    .insert(d.service.clone());
            }
        }
    }
    // Single calls, for what needs them: each priced at its day's price.
    let costs: Vec<Option<f64>> = inputs
        .ai_calls
        .iter()
        .map(|r| {
            let day = r.timestamp.date_naive();
            if day < first || day > as_of {
                return None;
            }
            catalog.price(&r.call()).ok().map(|c| c.total_usd())
        })
        .collect();
    let ai_daily = rollup.daily_cost();
    let (infra_by_day, infra) = infra_daily(config, &inputs.infra, first, as_of);

    // The history starts at the first day with any spend (zeros before it would drag the
    // trend), and never after the first of the month.
    let data_start = ai_daily
        .keys()
        .chain(infra_by_day.keys())
        .min()
        .copied()
        .unwrap_or(month)
        .min(month)
        .max(first);
    let series = |by_day: &dyn Fn(NaiveDate) -> f64| -> Vec<f64> {
        days(data_start, as_of).map(by_day).collect()
    };
    let total = series(&|d| {
        ai_daily.get(&d).copied().unwrap_or(0.0) + infra_by_day.get(&d).copied().unwrap_or(0.0)
    });
    let coverage = config.interval_coverage;
    let calendar = config.calendar();
    let forecasts_of = |daily: &[f64]| -> Vec<Forecast> {
        [Method::Linear, Method::RobustSeasonal]
            .into_iter()
            .filter_map(|m| {
                forecast_with(m, &DailySpend { daily, as_of }, coverage, &calendar).ok()
            })
            .collect()
    };
    let budget_line = |scope: String, daily: &[f64], budget: f64| -> BudgetLine {
        let forecasts = forecasts_of(daily);
        let spend: f64 = daily[daily.len().saturating_sub(as_of.day() as usize)..]
            .iter()
            .sum();
        let headline = forecasts
            .iter()
            .find(|f| f.method == Method::RobustSeasonal)
            .or(forecasts.first())
            .map_or(spend, |f| f.projection);
        BudgetLine {
            scope,
            spend_to_date_usd: spend,
            forecasts,
            status: BudgetStatus::new(headline, budget),
        }
    };
    let mut budgets = Vec::new();
    let project_forecasts = forecasts_of(&total);
    if let Some(b) = config.monthly_budget_usd {
        budgets.push(budget_line("project".into(), &total, b));
    }
    for (scope, per, limits) in [
        ("feature", &per_feature_daily, &config.feature_budgets_usd),
        ("model", &per_model_daily, &config.model_budgets_usd),
    ] {
        for (name, &b) in limits {
            let empty = BTreeMap::new();
            let by_day = per.get(name).unwrap_or(&empty);
            let daily = series(&|d| by_day.get(&d).copied().unwrap_or(0.0));
            budgets.push(budget_line(format!("{scope}:{name}"), &daily, b));
        }
    }

    let daily: Vec<DaySpend> = days(month, as_of)
        .map(|day| DaySpend {
            day,
            ai_usd: ai_daily.get(&day).copied().unwrap_or(0.0),
            infra_usd: infra_by_day.get(&day).copied().unwrap_or(0.0),
        })
        .collect();
    let ai_usd: f64 = daily.iter().map(|d| d.ai_usd).sum();
    let infra_usd: f64 = daily.iter().map(|d| d.infra_usd).sum();

    let unknown_models = rollup
        .unknown_models()
        .iter()
        .filter(|(_, t)| t.last_day >= month)
        .map(|(model, t)| UnknownModelLine {
            model: model.clone(),
            services: unknown_services
                .get(model)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
            calls: t.calls,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
        })
        .collect();

    let mut recommendations = recommendations(&catalog, &inputs.ai_calls, &costs, as_of, next_day);
    recommendations.extend(infra_recommendations(config, &infra, as_of));
    sort_recommendations(&mut recommendations);
    let regressions = regressions(&inputs.ai_calls, &costs, &inputs.deploys, as_of);

    CostSummary {
        month: month.format("%Y-%m").to_string(),
        as_of,
        spend_to_date_usd: ai_usd + infra_usd,
        ai_usd,
        infra_usd,
        daily,
        by_feature: sorted_lines(by_feature),
        by_model: sorted_lines(by_model),
        by_service: sorted_lines(by_service),
        by_route: sorted_lines(by_route),
        infra,
        unknown_models,
        budgets,
        forecasts: project_forecasts,
        recommendations,
        regressions,
    }
}

/// Recommendations from the last [`RECOMMEND_DAYS`] days of calls.
fn recommendations(
    catalog: &Catalog,
    ai: &[CostCall],
    costs: &[Option<f64>],
    as_of: NaiveDate,
    next_day: NaiveDate,
) -> Vec<Recommendation> {
    let since = as_of
        .checked_sub_days(Days::new(RECOMMEND_DAYS - 1))
        .unwrap_or(as_of);
    let recent: Vec<(&CostCall, f64)> = ai
        .iter()
        .zip(costs)
        .filter(|(r, _)| {
            let d = r.timestamp.date_naive();
            d >= since && d < next_day
        })
        .filter_map(|(r, c)| c.map(|c| (r, c)))
        .collect();
    let Some(first) = recent.iter().map(|(r, _)| r.timestamp.date_naive()).min() else {
        return Vec::new();
    };
    let days = ((as_of - first).num_days() + 1) as f64;
    let mut out = Vec::new();

    // Per feature and model: cheaper model; per feature: caching and failed calls.
    #[derive(Default)]
    struct Tally {
        calls: u64,
        input: u64,
        output: u64,
    }
    let mut per_fm: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut per_feature: BTreeMap<&str, (u64, u64, f64)> = BTreeMap::new();
    let mut hashes: BTreeMap<&str, Vec<(u64, f64)>> = BTreeMap::new();
    let mut embeddings: BTreeMap<&str, (u64, u64, f64)> = BTreeMap::new();
    for (r, c) in &recent {
        let model = &*r.model;
        if model.contains("embedding") {
            let e = embeddings.entry(model).or_default();
            e.0 += 1;
            if r.single_input {
                e.1 += 1;
                e.2 += c;
            }
            continue;
        }
        let f = &*r.feature;
        let t = per_fm.entry((f, model)).or_default();
        t.calls += 1;
        t.input += r.prompt_tokens;
        t.output += r.completion_tokens;
        let pf = per_feature.entry(f).or_default();
        pf.0 += 1;
        if !r.success {
            pf.1 += 1;
            pf.2 += c;
        }
        if let Some(h) = r.prompt_hash {
            hashes.entry(f).or_default().push((h, *c));
        }
    }
    let rule = CheaperModelRule::default();
    for ((feature, model), t) in &per_fm {
        let usage = FeatureUsage {
            feature,
            model,
            calls: t.calls,
            input_tokens: t.input,
            output_tokens: t.output,
            days,
            priced_on: as_of,
        };
        if let Ok(Some(r)) = recommend::cheaper_model(&usage, catalog, &rule) {
            out.push(r);
        }
    }
    for (feature, calls) in &hashes {
        let repeats = PromptRepeats::tally(feature, days, calls.iter().copied());
        out.extend(recommend::caching(&repeats, 0.2, 5.0));
    }
    for (model, (calls, single, cost)) in &embeddings {
        let e = EmbeddingCalls {
            model,
            calls: *calls,
            single_input_calls: *single,
            single_input_cost_usd: *cost,
            days,
        };
        out.extend(recommend::batch_embeddings(
            &e,
            recommend::BATCH_DISCOUNT,
            100,
            1.0,
        ));
    }
    for (feature, (calls, failed, cost)) in &per_feature {
        let f = FailedCalls {
            subject: feature,
            calls: *calls,
            failed_calls: *failed,
            failed_cost_usd: *cost,
            days,
        };
        out.extend(recommend::cut_failed_calls(&f, 0.02, 5.0));
    }
    out
}

/// Largest saving first.
fn sort_recommendations(out: &mut [Recommendation]) {
    out.sort_by(|a, b| {
        b.monthly_saving_usd
            .total_cmp(&a.monthly_saving_usd)
            .then(a.title.cmp(&b.title))
    });
}

/// Headroom a smaller infrastructure plan must leave over the month's projected usage.
const INFRA_HEADROOM: f64 = 0.2;

/// Per infrastructure project of the month: the cheapest configured alternative plan that fits
/// its usage projected to the month end (`[cost.infra_alternatives]`), if it saves at least $5.
fn infra_recommendations(
    config: &CostConfig,
    lines: &[InfraLine],
    as_of: NaiveDate,
) -> Vec<Recommendation> {
    lines
        .iter()
        .filter_map(|line| {
            let plan = config.infra.get(&line.provider)?;
            let alternatives = config.infra_alternatives.get(&line.provider)?;
            let usage = InfraMonth::project(&line.usage, as_of.day(), days_in_month(as_of));
            let month = InfraMonth {
                provider: &line.provider,
                project: &line.project,
                plan,
                usage: &usage,
            };
            recommend::scale_infrastructure(&month, alternatives, INFRA_HEADROOM, 5.0)
        })
        .collect()
}

/// Per request over some calls.
#[derive(Default, Clone, Copy)]
struct PerRequest {
    calls: u64,
    tokens: u64,
    cost: f64,
}

impl PerRequest {
    fn add(&mut self, r: &CostCall, cost: f64) {
        self.calls += 1;
        self.tokens += r.prompt_tokens + r.completion_tokens;
        self.cost += cost;
    }
    fn tokens(&self) -> f64 {
        self.tokens as f64 / self.calls.max(1) as f64
    }
    fn cost(&self) -> f64 {
        self.cost / self.calls.max(1) as f64
    }
}

/// Every feature, route or model in a [`Scope`].
const ALL: &str = "*";

/// What a group of calls has in common: a feature, a route, a model, each [`ALL`] when the
/// group spans every value of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Scope<'a> {
    feature: &'a str,
    route: &'a str,
    model: &'a str,
}

impl<'a> Scope<'a> {
    const fn new(feature: &'a str, route: &'a str, model: &'a str) -> Self {
        Scope {
            feature,
            route,
            model,
        }
    }

    /// The groups a call counts in: the four scopes a regression is filed for (its feature on
    /// its model, its feature, its route, its model) and the overlaps of feature, route and
    /// model that say how much of a wide regression a narrower one explains.
    fn of(
        feature: &'a str,
        route: Option<&'a str>,
        model: &'a str,
    ) -> impl Iterator<Item = Scope<'a>> {
        let routed = route.into_iter().flat_map(move |r| {
            [
                Scope::new(ALL, r, ALL),
                Scope::new(feature, r, ALL),
                Scope::new(ALL, r, model),
                Scope::new(feature, r, model),
            ]
        });
        [
            Scope::new(feature, ALL, model),
            Scope::new(feature, ALL, ALL),
            Scope::new(ALL, ALL, model),
        ]
        .into_iter()
        .chain(routed)
    }

    /// Which of the filed scopes this is, narrowest first: a feature's (on one model or all of
    /// them), a route's, a model's; `None` for the overlaps, which are never filed.
    fn rank(&self) -> Option<u8> {
        match (self.feature != ALL, self.route != ALL, self.model != ALL) {
            (true, false, _) => Some(0),
            (false, true, false) => Some(1),
            (false, false, true) => Some(2),
            _ => None,
        }
    }

    /// The calls in both scopes, or `None` when no call can be.
    fn meet(&self, other: &Scope<'a>) -> Option<Scope<'a>> {
        fn one<'a>(a: &'a str, b: &'a str) -> Option<&'a str> {
            match (a, b) {
                (ALL, x) | (x, ALL) => Some(x),
                (x, y) if x == y => Some(x),
                _ => None,
            }
        }
        Some(Scope::new(
            one(self.feature, other.feature)?,
            one(self.route, other.route)?,
            one(self.model, other.model)?,
        ))
    }
}

/// A group's calls in the week before a deploy and in the two halves of the time since.
#[derive(Default, Clone, Copy)]
struct Sides([PerRequest; 3]);

impl Sides {
    fn after(&self) -> PerRequest {
        let [_, a1, a2] = self.0;
        PerRequest {
            calls: a1.calls + a2.calls,
            tokens: a1.tokens + a2.tokens,
            cost: a1.cost + a2.cost,
        }
    }

    /// Extra dollars a month at the rate since the deploy, over `span_days` after it.
    fn monthly_impact(&self, span_days: f64) -> f64 {
        let after = self.after();
        (after.cost() - self.0[0].cost()) * after.calls as f64 / span_days * recommend::MONTH_DAYS
    }
}

/// Cost regressions: for each deploy of the last [`REGRESSION_LOOKBACK_DAYS`] days, each
/// feature (per model, and over all its models for a model switch), route (the
/// [`ROUTE_ATTR`] attribute) and model of the deployed service whose tokens or cost per
/// request after the deploy are at least 20% above the week before, in both halves of the time
/// since (a lasting change, not a burst).
///
/// One change shows in several scopes at once (a longer prompt in a feature raises its route's
/// and its model's figures too), so a finding is filed for the narrowest scope that explains
/// it: a feature-wide regression only when no single model of the feature explains it, a route's
/// only when the features filed account for less than half of its monthly impact, a model's
/// only when the features and routes filed do. A route or model regression is thus one spread
/// over features too small, or too diluted, to be filed one by one.
fn regressions(
    ai: &[CostCall],
    costs: &[Option<f64>],
    deploys: &[DeployEvent],
    as_of: NaiveDate,
) -> Vec<CostRegression> {
    let end = start_of(as_of + Days::new(1));
    let since = start_of(
        as_of
            .checked_sub_days(Days::new(REGRESSION_LOOKBACK_DAYS))
            .unwrap_or(as_of),
    );
    let mut out: Vec<CostRegression> = Vec::new();
    for d in deploys
        .iter()
        .filter(|d| d.timestamp >= since && d.timestamp < end)
    {
        // The next deploy of the same service ends this one's "after".
        let until = deploys
            .iter()
            .filter(|n| n.service == d.service && n.timestamp > d.timestamp)
            .map(|n| n.timestamp)
            .min()
            .unwrap_or(end)
            .min(end);
        let before_from = d.timestamp - TimeDelta::days(7);
        let mid = d.timestamp + (until - d.timestamp) / 2;
        let span_days = ((until - d.timestamp).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
        let mut groups: HashMap<Scope, Sides> = HashMap::new();
        for (r, c) in ai.iter().zip(costs) {
            let (Some(c), true) = (c, *r.service == *d.service.as_str()) else {
                continue;
            };
            let t = r.timestamp;
            let slot = if t >= before_from && t < d.timestamp {
                0
            } else if t >= d.timestamp && t < mid {
                1
            } else if t >= mid && t < until {
                2
            } else {
                continue;
            };
            for key in Scope::of(&r.feature, r.route.as_deref(), &r.model) {
                groups.entry(key).or_default().0[slot].add(r, *c);
            }
        }
        let mut found: Vec<(Scope, CostRegression)> = Vec::new();
        let mut keys: Vec<Scope> = groups
            .keys()
            .copied()
            .filter(|k| k.rank().is_some())
            .collect();
        // A feature's models before the feature as a whole.
        keys.sort_by_key(|k| (k.rank(), k.model == ALL, *k));
        for key in keys {
            let sides = groups[&key];
            let [before, a1, a2] = sides.0;
            let after = sides.after();
            if before.calls < REGRESSION_MIN_CALLS
                || a1.calls < REGRESSION_MIN_CALLS / 2
                || a2.calls < REGRESSION_MIN_CALLS / 2
            {
                continue;
            }
            let lasting = |f: fn(&PerRequest) -> f64| {
                let b = f(&before);
                b > 0.0
                    && f(&after) >= b * (1.0 + REGRESSION_MIN_CHANGE)
                    && f(&a1) >= b * (1.0 + REGRESSION_MIN_CHANGE / 2.0)
                    && f(&a2) >= b * (1.0 + REGRESSION_MIN_CHANGE / 2.0)
            };
            let metric = if lasting(PerRequest::tokens) {
                "tokens"
            } else if lasting(PerRequest::cost) {
                "cost"
            } else {
                continue;
            };
            let impact = sides.monthly_impact(span_days);
            if impact < REGRESSION_MIN_IMPACT_USD {
                continue;
            }
            // Keys come narrowest first, so everything that could explain this one is in.
            let explained = match key.rank() {
                Some(0) if key.model == ALL => found
                    .iter()
                    .any(|(k, _)| k.feature == key.feature && k.model != ALL),
                Some(0) => false,
                _ => {
                    let by_narrower: f64 = found
                        .iter()
                        .filter_map(|(k, _)| k.meet(&key))
                        .filter_map(|m| groups.get(&m))
                        .map(|g| g.monthly_impact(span_days))
                        .sum();
                    by_narrower >= impact / 2.0
                }
            };
            if explained {
                continue;
            }
            let (b, a) = if metric == "tokens" {
                (before.tokens(), after.tokens())
            } else {
                (before.cost(), after.cost())
            };
            found.push((
                key,
                CostRegression {
                    service: d.service.as_str().to_owned(),
                    feature: key.feature.to_owned(),
                    route: key.route.to_owned(),
                    model: key.model.to_owned(),
                    metric,
                    before: b,
                    after: a,
                    cost_per_request: (before.cost(), after.cost()),
                    calls_per_day: after.calls as f64 / span_days,
                    monthly_impact_usd: impact,
                    deploy: d.clone(),
                },
            ));
        }
        out.extend(found.into_iter().map(|(_, r)| r));
    }
    out.sort_by(|a, b| b.monthly_impact_usd.total_cmp(&a.monthly_impact_usd));
    out
}

fn ev(
    metric: &str,
    current: f64,
    baseline: Option<f64>,
    threshold: Option<f64>,
    unit: &str,
) -> Evidence {
    Evidence {
        metric: metric.to_owned(),
        current,
        baseline,
        threshold,
        unit: unit.to_owned(),
    }
}

/// The deploy as the title names it: the commit's first 7 characters, else the version.
fn deploy_name(d: &DeployEvent) -> String {
    match &d.commit_sha {
        Some(sha) => sha.as_str().chars().take(7).collect(),
        None => d.version.as_str().to_owned(),
    }
}

/// The findings of a summary at `now`: a budget finding per budget at 10% or more over
/// (severity by tier, recommendations as evidence), an unknown-model finding per model, a
/// cost-regression finding per regression.
pub fn findings(summary: &CostSummary, now: Timestamp) -> Vec<Finding> {
    let month_window = Window {
        start: start_of(month_start(summary.as_of)),
        end: now,
    };
    let mut out = Vec::new();
    for b in &summary.budgets {
        let tier = b.status.tier;
        if tier == BudgetTier::Monitor {
            continue;
        }
        let mut evidence = vec![
            ev("spend to date", b.spend_to_date_usd, None, None, "USD"),
            ev(
                "projected month-end",
                b.status.projection_usd,
                None,
                Some(b.status.budget_usd),
                "USD",
            ),
            ev(
                "deviation from budget",
                b.status.deviation * 100.0,
                None,
                Some(10.0),
                "%",
            ),
        ];
        for f in &b.forecasts {
            evidence.push(ev(
                &format!(
                    "{} projection ({:.0}% interval {:.0}–{:.0})",
                    f.method.as_str(),
                    f.coverage * 100.0,
                    f.lower,
                    f.upper
                ),
                f.projection,
                None,
                None,
                "USD",
            ));
        }
        let recs: Vec<&Recommendation> = summary
            .recommendations
            .iter()
            .filter(|r| {
                b.scope == "project"
                    || b.scope.strip_prefix("feature:") == Some(r.subject.as_str())
                    || b.scope.strip_prefix("model:") == Some(r.subject.as_str())
            })
            .collect();
        for r in &recs {
            evidence.push(ev(
                &format!("saving: {}", r.title),
                r.monthly_saving_usd,
                None,
                None,
                "USD/month",
            ));
        }
        let suggestion = if recs.is_empty() {
            "Look at the most expensive features and models in `tokpulse cost report`.".to_owned()
        } else {
            let total: f64 = recs.iter().map(|r| r.monthly_saving_usd).sum();
            format!(
                "{} (together about ${total:.0}/month).",
                recs.iter()
                    .take(3)
                    .map(|r| r.title.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        let what = if b.scope == "project" {
            "AI and infrastructure spend".to_owned()
        } else {
            b.scope.replacen(':', " ", 1)
        };
        out.push(Finding {
            kind: FindingKind::BudgetOverrun,
            severity: tier.severity(),
            fingerprint: Fingerprint::of(FindingKind::BudgetOverrun, &[&b.scope, &summary.month]),
            title: format!(
                "{what} heading for ${:.0} in {}: {:.0}% over the ${:.0} budget (tier {})",
                b.status.projection_usd,
                summary.month,
                b.status.deviation * 100.0,
                b.status.budget_usd,
                tier.as_str()
            ),
            service: b.scope.clone(),
            route: None,
            window: month_window,
            evidence,
            cause: None,
            suggestion,
        });
    }
    for u in &summary.unknown_models {
        out.push(Finding {
            kind: FindingKind::UnknownModel,
            severity: Severity::Warning,
            fingerprint: Fingerprint::of(FindingKind::UnknownModel, &[&u.model]),
            title: format!(
                "{} calls to `{}` are unpriced: the catalog does not know the model",
                u.calls, u.model
            ),
            service: u.services.join(", "),
            route: None,
            window: month_window,
            evidence: vec![
                ev("calls", u.calls as f64, None, None, "calls"),
                ev("prompt tokens", u.input_tokens as f64, None, None, "tokens"),
                ev(
                    "completion tokens",
                    u.output_tokens as f64,
                    None,
                    None,
                    "tokens",
                ),
            ],
            cause: None,
            suggestion: format!(
                "Add a price for `{}` under [[cost.prices]] (or an alias under [cost.aliases]) in \
                 tokpulse.toml; its calls are stored with their tokens and priced from then on.",
                u.model
            ),
        });
    }
    let project_budget = summary
        .budgets
        .iter()
        .find(|b| b.scope == "project")
        .map(|b| b.status.budget_usd);
    for r in &summary.regressions {
        let pct = (r.after / r.before - 1.0) * 100.0;
        let name = deploy_name(&r.deploy);
        let on = r.scope();
        // A route's regression adds its route; the others keep the fingerprints they had.
        let mut fingerprint_parts = vec![
            r.service.as_str(),
            r.feature.as_str(),
            r.model.as_str(),
            r.deploy.id.as_str(),
        ];
        if r.route != ALL {
            fingerprint_parts.push(r.route.as_str());
        }
        let severity = match project_budget {
            Some(b) if r.monthly_impact_usd >= 0.1 * b => Severity::High,
            _ => Severity::Warning,
        };
        let unit = if r.metric == "tokens" {
            "tokens"
        } else {
            "USD"
        };
        out.push(Finding {
            kind: FindingKind::CostRegression,
            severity,
            fingerprint: Fingerprint::of(FindingKind::CostRegression, &fingerprint_parts),
            title: format!(
                "+{pct:.0}% {} per request since deploy {name}: +${:.0}/month ({on})",
                r.metric, r.monthly_impact_usd
            ),
            service: r.service.clone(),
            route: (r.route != ALL).then(|| r.route.clone()),
            window: Window {
                start: r.deploy.timestamp,
                end: now,
            },
            evidence: vec![
                ev(
                    &format!("{} per request", r.metric),
                    r.after,
                    Some(r.before),
                    None,
                    unit,
                ),
                ev(
                    "cost per request",
                    r.cost_per_request.1,
                    Some(r.cost_per_request.0),
                    None,
                    "USD",
                ),
                ev("calls per day", r.calls_per_day, None, None, "calls"),
                ev("monthly impact", r.monthly_impact_usd, None, None, "USD"),
            ],
            cause: Some(Cause {
                deployment_id: r.deploy.id.as_str().to_owned(),
                version: r.deploy.version.as_str().to_owned(),
                commit_sha: r.deploy.commit_sha.as_ref().map(|c| c.as_str().to_owned()),
                author: r.deploy.author.clone(),
                deployed_at: r.deploy.timestamp,
            }),
            suggestion: format!(
                "Compare the prompts and model settings of {on} before and after deploy {name} \
                 (a longer system prompt, more context, a bigger model or max_tokens); revert \
                 it if the change was not meant to cost more."
            ),
        });
    }
    out
}

/// What one cost run did.
#[derive(Debug)]
pub struct CostRun {
    /// The month summarised.
    pub summary: CostSummary,
    /// Rows written to `cost_predictions`.
    pub predictions: usize,
    /// Cost findings seen, as stored.
    pub seen: Vec<StoredFinding>,
    /// Cost findings resolved by this run.
    pub resolved: Vec<StoredFinding>,
    /// Actions queued.
    pub queued: usize,
    /// What the delivery pass after it did.
    pub delivery: tokpulse_act::DeliveryReport,
}

/// The cost run as of `now`, as a scheduler calls it: summarises the month of the last complete
/// day, stores every forecast in `cost_predictions` (per method and budget), upserts the
/// findings and queues their actions through `engine`'s routing, resolves cost findings not
/// seen again, and delivers what is due.
pub async fn run(engine: &Engine, config: &CostConfig, now: Timestamp) -> anyhow::Result<CostRun> {
    let store = engine.store().clone();
    let as_of = last_complete_day(now);
    let inputs = load(store.as_ref(), as_of).await?;
    let summary = summarize(config, &inputs, as_of);
    let month = month_start(as_of);
    let period_start = start_of(month);
    let period_end = start_of(
        month
            .checked_add_days(Days::new(u64::from(days_in_month(month))))
            .unwrap_or(month),
    );
    let mut predictions = 0;
    let mut rows: Vec<CostPrediction> = Vec::new();
    for b in &summary.budgets {
        for f in &b.forecasts {
            let s = BudgetStatus::new(f.projection, b.status.budget_usd);
            rows.push(CostPrediction {
                created_at: now,
                method: f.method.as_str().to_owned(),
                scope: b.scope.clone(),
                period_start,
                period_end,
                spend_to_date: f.spent_to_date,
                projected: f.projection,
                lower: Some(f.lower),
                upper: Some(f.upper),
                budget: Some(s.budget_usd),
                deviation_pct: Some(s.deviation * 100.0),
                tier: Some(s.tier.as_str().to_owned()),
            });
        }
    }
    if config.monthly_budget_usd.is_none() {
        for f in &summary.forecasts {
            rows.push(CostPrediction {
                created_at: now,
                method: f.method.as_str().to_owned(),
                scope: "project".into(),
                period_start,
                period_end,
                spend_to_date: f.spent_to_date,
                projected: f.projection,
                lower: Some(f.lower),
                upper: Some(f.upper),
                budget: None,
                deviation_pct: None,
                tier: None,
            });
        }
    }
    for p in &rows {
        store.insert_cost_prediction(p).await?;
        predictions += 1;
    }

    let found = findings(&summary, now);
    let kinds: BTreeSet<FindingKind> = KINDS.into_iter().collect();
    let applied = engine
        .apply(&found, &kinds, |f| kinds.contains(&f.finding.kind), now)
        .await?;
    let mut run = CostRun {
        summary,
        predictions,
        seen: applied.seen.into_iter().map(|(_, f)| f).collect(),
        resolved: applied.resolved,
        queued: applied.queued,
        delivery: Default::default(),
    };
    run.delivery = engine.deliver(now).await?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokpulse_core::{Attributes, Label, RecordId};
    use tokpulse_cost::forecast::forecast_with;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn call(
        id: &str,
        t: Timestamp,
        feature: &str,
        model: &str,
        prompt: u64,
        out: u64,
    ) -> AiUsageRecord {
        AiUsageRecord {
            id: RecordId::parse(id).unwrap(),
            timestamp: t,
            service: Label::parse("api").unwrap(),
            feature: Some(Label::parse(feature).unwrap()),
            provider: Label::parse("openai").unwrap(),
            model: Label::parse(model).unwrap(),
            prompt_tokens: prompt,
            completion_tokens: out,
            latency_ms: None,
            success: true,
            error_message: None,
            cost_usd: None,
            attributes: Attributes::new(),
        }
    }

    #[test]
    fn a_cost_call_keeps_what_the_run_reads_and_shares_names() {
        let t = start_of(day(3)) + TimeDelta::hours(2);
        let mut a = call("a", t, "chat", "gpt-4o", 1_000, 50);
        a.attributes
            .insert(ROUTE_ATTR.into(), "POST /api/chat".into());
        a.attributes.insert("cached_tokens".into(), 4_000.into());
        a.attributes.insert(PROMPT_HASH_ATTR.into(), "9f2c".into());
        a.attributes.insert("unrelated".into(), "dropped".into());
        let mut b = call("b", t, "chat", "text-embedding-3-small", 10, 0);
        b.feature = None;
        b.success = false;
        b.attributes.insert(ROUTE_ATTR.into(), "".into());
        b.attributes.insert(INPUT_COUNT_ATTR.into(), 1.into());
        b.attributes.insert(PROMPT_HASH_ATTR.into(), "9f2c".into());
        let mut c = a.clone();
        c.attributes.insert(PROMPT_HASH_ATTR.into(), "9f2d".into());

        let calls = CostCall::all([&a, &b, &c]);
        let (a2, b2, c2) = (&calls[0], &calls[1], &calls[2]);
        assert_eq!(a2.timestamp, t);
        assert_eq!(
            (&*a2.service, &*a2.feature, &*a2.model),
            ("api", "chat", "gpt-4o")
        );
        assert_eq!(a2.route.as_deref(), Some("POST /api/chat"));
        // Cached tokens as pricing reads them: never more than the prompt.
        assert_eq!(a2.cached_prompt_tokens, 1_000);
        assert_eq!(
            a2.call().cached_input_tokens,
            Call::from_record(&a).cached_input_tokens
        );
        assert_eq!((a2.prompt_tokens, a2.completion_tokens), (1_000, 50));
        assert!(a2.success && !a2.single_input);
        // No feature, an empty route, one input, failed.
        assert_eq!(&*b2.feature, NO_FEATURE);
        assert_eq!(b2.route, None);
        assert!(b2.single_input && !b2.success);
        // The same prompt hash gives the same 64 bits, another one others.
        assert_eq!(a2.prompt_hash, b2.prompt_hash);
        assert_ne!(a2.prompt_hash, c2.prompt_hash);
        assert!(a2.prompt_hash.is_some());
        // One allocation per name.
        assert!(Arc::ptr_eq(&a2.service, &b2.service));
        assert!(Arc::ptr_eq(&a2.model, &c2.model));
        assert!(Arc::ptr_eq(
            a2.route.as_ref().unwrap(),
            c2.route.as_ref().unwrap()
        ));
    }

    /// `per_day` calls a day of 1M prompt tokens on gpt-4o ($2.50 each) from February 1 to
    /// `last` March.
    fn month(per_day: u32, last: u32) -> Vec<AiUsageRecord> {
        let mut v = Vec::new();
        let first = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        for (i, d) in days(first, day(last)).enumerate() {
            for k in 0..per_day {
                let t = start_of(d) + TimeDelta::hours(1 + i64::from(k));
                v.push(call(
                    &format!("c-{i}-{k}"),
                    t,
                    "chat",
                    "gpt-4o",
                    1_000_000,
                    0,
                ));
            }
        }
        v
    }

    /// What [`load`] would read once `ai` is stored and rolled up.
    fn inputs_of(ai: Vec<AiUsageRecord>) -> CostInputs {
        CostInputs {
            ai_daily: daily_rows(&ai),
            ai_calls: CostCall::all(&ai),
            ..CostInputs::default()
        }
    }

    fn config(budget: f64) -> CostConfig {
        CostConfig {
            monthly_budget_usd: Some(budget),
            infra: BTreeMap::new(),
            ..CostConfig::default()
        }
    }

    #[test]
    fn a_month_over_budget_raises_a_finding_whose_severity_follows_the_tier() {
        // 8 calls a day = $20/day: $620 in March. 26% over $490: discussion, severity high.
        let inputs = inputs_of(month(8, 15));
        let s = summarize(&config(490.0), &inputs, day(15));
        assert!(
            (s.spend_to_date_usd - 300.0).abs() < 1e-6,
            "{}",
            s.spend_to_date_usd
        );
        let b = &s.budgets[0];
        assert_eq!(b.scope, "project");
        assert_eq!(b.forecasts.len(), 2, "both methods");
        for f in &b.forecasts {
            assert!((f.projection - 620.0).abs() < 5.0, "{f:?}");
            assert!(f.lower <= f.projection && f.projection <= f.upper);
        }
        assert_eq!(b.status.tier, BudgetTier::Discussion);
        let now = start_of(day(16)) + TimeDelta::hours(9);
        let found = findings(&s, now);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FindingKind::BudgetOverrun);
        assert_eq!(found[0].severity, Severity::High);
        assert!(
            found[0].title.contains("tier discussion"),
            "{}",
            found[0].title
        );

        // The same month against $450 is more than 30% over: critical.
        let s = summarize(&config(450.0), &inputs, day(15));
        assert_eq!(s.budgets[0].status.tier, BudgetTier::Critical);
        assert_eq!(findings(&s, now)[0].severity, Severity::Critical);
        // And against $600 it is within 10%: monitored, no finding.
        let s = summarize(&config(600.0), &inputs, day(15));
        assert_eq!(s.budgets[0].status.tier, BudgetTier::Monitor);
        assert!(findings(&s, now).is_empty());
    }

    #[test]
    fn feature_and_model_budgets_get_their_own_lines() {
        let mut ai = month(8, 15);
        ai.push(call(
            "x",
            start_of(day(10)),
            "tags",
            "gpt-4o-mini",
            1000,
            10,
        ));
        let inputs = inputs_of(ai);
        let mut c = config(10_000.0);
        c.feature_budgets_usd.insert("chat".into(), 400.0);
        c.model_budgets_usd.insert("gpt-4o".into(), 1_000.0);
        let s = summarize(&c, &inputs, day(15));
        let scopes: Vec<(&str, BudgetTier)> = s
            .budgets
            .iter()
            .map(|b| (b.scope.as_str(), b.status.tier))
            .collect();
        assert_eq!(
            scopes,
            [
                ("project", BudgetTier::Monitor),
                ("feature:chat", BudgetTier::Critical),
                ("model:gpt-4o", BudgetTier::Monitor)
            ]
        );
        let found = findings(&s, start_of(day(16)));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].title.starts_with("feature chat heading for $620"),
            "{}",
            found[0].title
        );
    }

    #[test]
    fn spend_is_summed_per_route_of_the_calls_that_name_one() {
        let mut ai = Vec::new();
        for (i, route) in ["GET /search", "GET /search", "POST /chat", ""]
            .iter()
            .enumerate()
        {
            let mut c = call(
                &format!("r{i}"),
                start_of(day(10)),
                "chat",
                "gpt-4o",
                1_000_000,
                0,
            );
            c.attributes
                .insert(ROUTE_ATTR.into(), serde_json::json!(route));
            ai.push(c);
        }
        ai.push(call(
            "r4",
            start_of(day(10)),
            "chat",
            "gpt-4o",
            1_000_000,
            0,
        ));
        let s = summarize(&config(10_000.0), &inputs_of(ai), day(15));
        let routes: Vec<(&str, u64, f64)> = s
            .by_route
            .iter()
            .map(|l| (l.name.as_str(), l.calls, l.cost_usd))
            .collect();
        assert_eq!(routes, [("GET /search", 2, 5.0), ("POST /chat", 1, 2.5)]);
        assert_eq!(
            s.by_feature[0].calls, 5,
            "the calls without a route (none, or an empty one) still count"
        );
    }

    #[test]
    fn unknown_models_are_listed_unpriced_and_raise_a_finding() {
        let inputs = inputs_of(vec![
            call("a", start_of(day(3)), "chat", "mystery-7b", 500, 20),
            call("b", start_of(day(4)), "chat", "mystery-7b", 100, 0),
        ]);
        let s = summarize(&config(500.0), &inputs, day(5));
        assert_eq!(s.ai_usd, 0.0);
        assert_eq!(s.by_model[0].unpriced_calls, 2);
        assert_eq!(s.unknown_models.len(), 1);
        assert_eq!(s.unknown_models[0].input_tokens, 600);
        let f = findings(&s, start_of(day(6)));
        let u = f
            .iter()
            .find(|f| f.kind == FindingKind::UnknownModel)
            .unwrap();
        assert_eq!(u.service, "api");
        assert!(u.title.contains("mystery-7b"), "{}", u.title);

        // Ingest prices a known model and leaves an unknown one without a cost.
        let price = pricer(Arc::new(Catalog::builtin()));
        let mut known = call("k", start_of(day(3)), "chat", "gpt-4o-mini", 1_000_000, 0);
        price(&mut known);
        assert!((known.cost_usd.unwrap() - 0.15).abs() < 1e-12);
        let mut unknown = call("u", start_of(day(3)), "chat", "mystery-7b", 10, 10);
        unknown.cost_usd = Some(0.0);
        price(&mut unknown);
        assert_eq!(unknown.cost_usd, None);
    }

    /// The deploy of the regression tests: March 10, noon.
    fn regression_deploy() -> DeployEvent {
        DeployEvent {
            id: RecordId::parse("dep-7").unwrap(),
            timestamp: start_of(day(10)) + TimeDelta::hours(12),
            service: Label::parse("api").unwrap(),
            environment: Label::parse("production").unwrap(),
            version: Label::parse("v7").unwrap(),
            commit_sha: Some(Label::parse("abc123def456").unwrap()),
            author: None,
            description: None,
        }
    }

    /// `(count, feature, route, model, tokens before, tokens after)`: `count` calls an hour.
    type CallSpec<'a> = (u32, &'a str, Option<&'a str>, &'a str, u64, u64);

    /// Calls every hour from March 1 to 14 (the deploy on the 10th), as each spec says.
    fn hourly_calls(spec: &[CallSpec]) -> Vec<AiUsageRecord> {
        let deploy_at = regression_deploy().timestamp;
        let mut ai = Vec::new();
        for h in 0..(14 * 24) {
            let t = start_of(day(1)) + TimeDelta::hours(h);
            for (i, &(count, feature, route, model, before, after)) in spec.iter().enumerate() {
                for k in 0..count {
                    let tokens = if t >= deploy_at { after } else { before };
                    let mut c = call(&format!("r-{h}-{i}-{k}"), t, feature, model, tokens, 0);
                    if let Some(route) = route {
                        c.attributes
                            .insert(ROUTE_ATTR.into(), serde_json::json!(route));
                    }
                    ai.push(c);
                }
            }
        }
        ai
    }

    /// The month to March 14 with the regression tests' deploy.
    fn regression_summary(ai: Vec<AiUsageRecord>) -> CostSummary {
        let inputs = CostInputs {
            deploys: vec![regression_deploy()],
            ..inputs_of(ai)
        };
        summarize(&config(10_000.0), &inputs, day(14))
    }

    fn regression_finding(s: &CostSummary) -> Finding {
        findings(s, start_of(day(15)))
            .into_iter()
            .find(|f| f.kind == FindingKind::CostRegression)
            .unwrap()
    }

    #[test]
    fn a_lasting_change_per_request_at_a_deploy_is_a_cost_regression() {
        // 240 calls a day of 1000 prompt tokens on gpt-4o; 1400 after the deploy on March 10.
        let s = regression_summary(hourly_calls(&[(
            10, "answers", None, "gpt-4o", 1_000, 1_400,
        )]));
        // The feature over all its models and the model over all features regress too; the
        // feature on its model explains both.
        assert_eq!(s.regressions.len(), 1, "{:?}", s.regressions);
        let r = &s.regressions[0];
        assert_eq!(
            (
                r.feature.as_str(),
                r.route.as_str(),
                r.model.as_str(),
                r.metric
            ),
            ("answers", "*", "gpt-4o", "tokens")
        );
        assert!((r.after / r.before - 1.4).abs() < 1e-9);
        // 400 more tokens × $2.50/M × 240 calls a day × 30 days = $7.20 a month.
        assert!(
            (r.monthly_impact_usd - 7.2).abs() < 0.01,
            "{}",
            r.monthly_impact_usd
        );
        let f = regression_finding(&s);
        assert_eq!(
            f.title,
            "+40% tokens per request since deploy abc123d: +$7/month (answers on gpt-4o)"
        );
        assert_eq!(f.route, None);
        assert_eq!(
            f.cause.as_ref().unwrap().commit_sha.as_deref(),
            Some("abc123def456")
        );
    }

    #[test]
    fn a_feature_regression_on_one_route_is_filed_once_for_the_feature() {
        // `answers` is all of `POST /api/search`'s calls: the route regresses with it.
        let s = regression_summary(hourly_calls(&[
            (
                10,
                "answers",
                Some("POST /api/search"),
                "gpt-4o",
                1_000,
                1_400,
            ),
            (
                10,
                "chat",
                Some("POST /api/chat"),
                "gpt-4o-mini",
                1_000,
                1_000,
            ),
        ]));
        assert_eq!(s.regressions.len(), 1, "{:?}", s.regressions);
        assert_eq!(s.regressions[0].scope(), "answers on gpt-4o");
    }

    #[test]
    fn a_route_regression_spread_over_features_is_filed_for_the_route() {
        // `POST /api/search` sends 60% more context to both features it calls, but most of
        // their calls come from `POST /api/chat`: each feature rises 10%, the route 60%.
        let search = Some("POST /api/search");
        let chat = Some("POST /api/chat");
        let s = regression_summary(hourly_calls(&[
            (2, "answers", search, "gpt-4o", 4_000, 6_400),
            (2, "lookup", search, "gpt-4o", 4_000, 6_400),
            (10, "answers", chat, "gpt-4o", 4_000, 4_000),
            (10, "lookup", chat, "gpt-4o", 4_000, 4_000),
        ]));
        assert_eq!(s.regressions.len(), 1, "{:?}", s.regressions);
        let r = &s.regressions[0];
        assert_eq!(
            (r.feature.as_str(), r.route.as_str(), r.model.as_str()),
            ("*", "POST /api/search", "*")
        );
        assert!((r.after / r.before - 1.6).abs() < 1e-9);
        // 2400 more tokens × $2.50/M × 96 calls a day × 30 days = $17.28 a month.
        assert!((r.monthly_impact_usd - 17.28).abs() < 0.01);
        let f = regression_finding(&s);
        assert_eq!(
            f.title,
            "+60% tokens per request since deploy abc123d: +$17/month (route POST /api/search)"
        );
        assert_eq!(f.route.as_deref(), Some("POST /api/search"));
        // Its own fingerprint: a feature's regression at the same deploy is another finding.
        let feature = Fingerprint::of(FindingKind::CostRegression, &["api", "*", "*", "dep-7"]);
        assert_ne!(f.fingerprint, feature);
    }

    #[test]
    fn small_regressions_on_one_model_add_up_to_a_model_regression() {
        // Eight features on gpt-4o, each 50% longer but worth $0.90 a month: too small alone,
        // $7.20 together.
        let features = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let spec: Vec<_> = features
            .iter()
            .map(|f| (1, *f, None, "gpt-4o", 1_000, 1_500))
            .collect();
        let s = regression_summary(hourly_calls(&spec));
        assert_eq!(s.regressions.len(), 1, "{:?}", s.regressions);
        let r = &s.regressions[0];
        assert_eq!(r.scope(), "gpt-4o (all features)");
        assert!((r.monthly_impact_usd - 7.2).abs() < 0.01);
    }

    #[test]
    fn infrastructure_is_the_plan_fee_spread_over_the_month_plus_overage() {
        let mut c = config(500.0);
        c.infra.insert("vercel".into(), InfraPlan::vercel_pro());
        let rec = |d: u32, metric: &str, q: f64| InfraUsageRecord {
            id: RecordId::parse(&format!("v-{d}-{metric}")).unwrap(),
            provider: tokpulse_core::InfraProvider::Vercel,
            project: Label::parse("web").unwrap(),
            metric: Label::parse(metric).unwrap(),
            quantity: q,
            period_start: start_of(day(d)),
            period_end: start_of(day(d + 1)),
            plan: None,
        };
        // 600 GB a day: 1,000 GB included, so days 2–10 add 600, 600… GB over at $0.15/GB.
        let infra: Vec<_> = (1..=10).map(|d| rec(d, "bandwidth_gb", 600.0)).collect();
        let inputs = CostInputs {
            infra,
            ..CostInputs::default()
        };
        let s = summarize(&c, &inputs, day(10));
        let fee = 20.0 * 10.0 / 31.0;
        let over = (6_000.0 - 1_000.0) * 0.15;
        assert!((s.infra_usd - (fee + over)).abs() < 1e-6, "{}", s.infra_usd);
        assert_eq!(s.infra[0].plan, "pro");
        assert!((s.infra[0].cost_usd - s.infra_usd).abs() < 1e-9);
        assert!((s.daily[0].infra_usd - 20.0 / 31.0).abs() < 1e-9);
    }

    // --- The daily rollup against the calls it sums ---

    /// The day the generated month is summarised on.
    fn generated_as_of() -> NaiveDate {
        day(20)
    }

    /// The deploy of the generated month: March 12, noon; `search` sends 60% more context
    /// after it.
    fn generated_deploy() -> DeployEvent {
        DeployEvent {
            timestamp: start_of(day(12)) + TimeDelta::hours(12),
            ..regression_deploy()
        }
    }

    /// Forty calls a day from January 10 to March 21, and a few on December 20 (before the
    /// history the summary of March 20 reads): `search` on gpt-4o from one route with repeated
    /// prompts and a regression at the deploy; `chat` on gpt-4o-mini, gpt-4.1-mini and
    /// `acme-llm` (a configured price, cut on March 10) from another route, an empty route or
    /// none, from two services; calls without a feature on an embedding model and on
    /// `mystery-7b`, which the catalog does not know. Cached tokens as clients send them (a
    /// whole number, sometimes more than the prompt, or unreadable), and failures.
    fn generated_calls() -> Vec<AiUsageRecord> {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7);
        let deploy_at = generated_deploy().timestamp;
        let first = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        let early = NaiveDate::from_ymd_opt(2025, 12, 20).unwrap();
        let mut v = Vec::new();
        for d in std::iter::once(early).chain(days(first, day(21))) {
            let n = if d == early { 3 } else { 40 };
            for k in 0..n {
                let t = start_of(d) + TimeDelta::minutes(i64::from(k) * 36 + 5);
                let (feature, model, route, prompt) = match k % 8 {
                    0..=3 => {
                        let boost = if t >= deploy_at { 16 } else { 10 };
                        let prompt = (800 + rng.random_range(0..400)) * boost;
                        ("search", "gpt-4o", Some("GET /api/search"), prompt)
                    }
                    4 => (
                        "chat",
                        "gpt-4o-mini",
                        Some("POST /api/chat"),
                        300 + rng.random_range(0..3_000),
                    ),
                    5 => (
                        "chat",
                        "acme-llm",
                        Some(""),
                        300 + rng.random_range(0..3_000),
                    ),
                    6 => (
                        "chat",
                        "gpt-4.1-mini",
                        None,
                        300 + rng.random_range(0..3_000),
                    ),
                    _ if k % 16 == 7 => (
                        "",
                        "text-embedding-3-small",
                        None,
                        50 + rng.random_range(0..500),
                    ),
                    _ => (
                        "",
                        "mystery-7b",
                        Some("POST /api/chat"),
                        100 + rng.random_range(0..900),
                    ),
                };
                let out = if model.contains("embedding") {
                    0
                } else {
                    rng.random_range(0..800)
                };
                let mut c = call(&format!("g-{d}-{k}"), t, "x", model, prompt, out);
                c.feature = (!feature.is_empty()).then(|| Label::parse(feature).unwrap());
                if k % 5 == 4 {
                    c.service = Label::parse("worker").unwrap();
                }
                c.success = rng.random_range(0..100) >= 6;
                if let Some(route) = route {
                    c.attributes
                        .insert(ROUTE_ATTR.into(), serde_json::json!(route));
                }
                let cached = match rng.random_range(0..10) {
                    0..=2 => serde_json::json!(rng.random_range(0..prompt)),
                    3 => serde_json::json!(prompt + 1 + rng.random_range(0..500)),
                    4 => serde_json::json!("120"),
                    5 => serde_json::json!(35.5),
                    _ => serde_json::Value::Null,
                };
                if !cached.is_null() {
                    c.attributes.insert("cached_tokens".into(), cached);
                }
                if feature == "search" {
                    let hash = format!("h{}", rng.random_range(0..6));
                    c.attributes
                        .insert(PROMPT_HASH_ATTR.into(), serde_json::json!(hash));
                }
                if model.contains("embedding") {
                    c.attributes
                        .insert(INPUT_COUNT_ATTR.into(), serde_json::json!(1));
                }
                v.push(c);
            }
        }
        v
    }

    /// Budgets for the project, two features (one the calls without a feature) and two
    /// models (one unknown), and `acme-llm`'s price, cut on March 10.
    fn generated_config() -> CostConfig {
        let mut c = config(60.0);
        c.feature_budgets_usd.insert("search".into(), 30.0);
        c.feature_budgets_usd.insert(NO_FEATURE.into(), 5.0);
        c.model_budgets_usd.insert("gpt-4o-mini".into(), 2.0);
        c.model_budgets_usd.insert("mystery-7b".into(), 1.0);
        let acme = |from: u32, input: f64, output: f64| tokpulse_cost::PriceConfig {
            model: "acme-llm".into(),
            effective_from: day(from),
            unit: tokpulse_cost::PriceUnit::PerMillion,
            input,
            cached_input: Some(input / 4.0),
            output,
        };
        c.prices = vec![
            acme(1, 3.0, 12.0),
            acme(10, 1.5, 6.0),
            tokpulse_cost::PriceConfig {
                effective_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                ..acme(1, 3.0, 12.0)
            },
        ];
        c
    }

    /// A migrated SQLite store holding `calls` (through the guard) and the generated deploy.
    async fn store_with(
        calls: &[AiUsageRecord],
    ) -> (tempfile::TempDir, Arc<dyn tokpulse_store::Store>) {
        use tokpulse_store::Batch;
        use tokpulse_store::testing::records::guarded;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn tokpulse_store::Store> =
            Arc::new(tokpulse_store::SqliteStore::open(dir.path()).await.unwrap());
        store.migrate().await.unwrap();
        for chunk in calls.chunks(1_000) {
            let batch = Batch::AiUsage(chunk.iter().cloned().map(guarded).collect());
            store.insert_batch(&batch).await.unwrap();
        }
        let deploys = Batch::Deploys(vec![guarded(generated_deploy())]);
        store.insert_batch(&deploys).await.unwrap();
        (dir, store)
    }

    /// Whether `a` and `b` agree to 1e-9 relative.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
    }

    /// `(calls, failed, prompt tokens, completion tokens, dollars, unpriced calls)`.
    type Tally = (u64, u64, u64, u64, f64, u64);

    /// Checks `s`, the summary as of `as_of`, against figures computed from `calls` one by one
    /// (each priced with the catalog on its own, as ingest does; no daily rows).
    fn check_against_calls(
        config: &CostConfig,
        calls: &[AiUsageRecord],
        as_of: NaiveDate,
        s: &CostSummary,
    ) {
        let catalog = Catalog::from_config(config);
        let month = month_start(as_of);
        let first = month - Days::new(HISTORY_DAYS);
        let mut daily: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        let mut feature_daily: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
        let mut model_daily: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
        let mut lines: [BTreeMap<String, Tally>; 4] = Default::default();
        // model → (services this month, calls, prompt, completion, last day)
        type Unknown = (BTreeSet<String>, u64, u64, u64, NaiveDate);
        let mut unknown: BTreeMap<String, Unknown> = BTreeMap::new();
        for r in calls {
            let d = r.timestamp.date_naive();
            if d < first || d > as_of {
                continue;
            }
            let cost = catalog
                .price(&Call::from_record(r))
                .ok()
                .map(|c| c.total_usd());
            let feature = r.feature.as_ref().map_or("(none)", |f| f.as_str());
            *daily.entry(d).or_default() += cost.unwrap_or(0.0);
            if let Some(c) = cost {
                *feature_daily
                    .entry(feature.into())
                    .or_default()
                    .entry(d)
                    .or_default() += c;
                *model_daily
                    .entry(r.model.as_str().into())
                    .or_default()
                    .entry(d)
                    .or_default() += c;
            } else {
                let u =
                    unknown
                        .entry(r.model.as_str().into())
                        .or_insert((BTreeSet::new(), 0, 0, 0, d));
                if d >= month {
                    u.0.insert(r.service.as_str().into());
                }
                u.1 += 1;
                u.2 += r.prompt_tokens;
                u.3 += r.completion_tokens;
                u.4 = u.4.max(d);
            }
            if d < month {
                continue;
            }
            let route = r
                .attributes
                .get("route")
                .and_then(|v| v.as_str())
                .filter(|r| !r.is_empty());
            let names = [
                Some(feature),
                Some(r.model.as_str()),
                Some(r.service.as_str()),
                route,
            ];
            for (map, name) in lines.iter_mut().zip(names) {
                let Some(name) = name else { continue };
                let t = map.entry(name.into()).or_default();
                t.0 += 1;
                t.1 += u64::from(!r.success);
                t.2 += r.prompt_tokens;
                t.3 += r.completion_tokens;
                match cost {
                    Some(c) => t.4 += c,
                    None => t.5 += 1,
                }
            }
        }

        // Per day of the month.
        let month_days: Vec<NaiveDate> = days(month, as_of).collect();
        assert_eq!(
            s.daily.iter().map(|d| d.day).collect::<Vec<_>>(),
            month_days
        );
        for d in &s.daily {
            let want = daily.get(&d.day).copied().unwrap_or(0.0);
            assert!(close(d.ai_usd, want), "{}: {} vs {want}", d.day, d.ai_usd);
        }
        let month_total: f64 = month_days.iter().filter_map(|d| daily.get(d)).sum();
        assert!(
            close(s.ai_usd, month_total),
            "{} vs {month_total}",
            s.ai_usd
        );

        // The month's lines.
        for (got, want) in [&s.by_feature, &s.by_model, &s.by_service, &s.by_route]
            .into_iter()
            .zip(&lines)
        {
            let names: Vec<&String> = want.keys().collect();
            let mut got_names: Vec<&String> = got.iter().map(|l| &l.name).collect();
            got_names.sort();
            assert_eq!(got_names, names);
            for l in got {
                let w = want[&l.name];
                assert_eq!(
                    (
                        l.calls,
                        l.failed_calls,
                        l.input_tokens,
                        l.output_tokens,
                        l.unpriced_calls
                    ),
                    (w.0, w.1, w.2, w.3, w.5),
                    "{}",
                    l.name
                );
                assert!(
                    close(l.cost_usd, w.4),
                    "{}: {} vs {}",
                    l.name,
                    l.cost_usd,
                    w.4
                );
            }
        }

        // Unknown models: calls and tokens over the history, services of this month.
        let want: Vec<(String, Vec<String>, u64, u64, u64)> = unknown
            .into_iter()
            .filter(|(_, u)| u.4 >= month)
            .map(|(m, u)| (m, u.0.into_iter().collect(), u.1, u.2, u.3))
            .collect();
        let got: Vec<(String, Vec<String>, u64, u64, u64)> = s
            .unknown_models
            .iter()
            .map(|u| {
                (
                    u.model.clone(),
                    u.services.clone(),
                    u.calls,
                    u.input_tokens,
                    u.output_tokens,
                )
            })
            .collect();
        assert_eq!(got, want);

        // Budgets: each forecast made from the series of the calls' own costs.
        let data_start = daily.keys().next().copied().unwrap().min(month).max(first);
        let series = |by_day: &BTreeMap<NaiveDate, f64>| -> Vec<f64> {
            days(data_start, as_of)
                .map(|d| by_day.get(&d).copied().unwrap_or(0.0))
                .collect()
        };
        let empty = BTreeMap::new();
        let mut want: Vec<(String, Vec<f64>, f64)> = vec![(
            "project".into(),
            series(&daily),
            config.monthly_budget_usd.unwrap(),
        )];
        for (scope, per, limits) in [
            ("feature", &feature_daily, &config.feature_budgets_usd),
            ("model", &model_daily, &config.model_budgets_usd),
        ] {
            for (name, &b) in limits {
                let by_day = per.get(name).unwrap_or(&empty);
                want.push((format!("{scope}:{name}"), series(by_day), b));
            }
        }
        assert_eq!(s.budgets.len(), want.len());
        let calendar = config.calendar();
        for (got, (scope, daily, budget)) in s.budgets.iter().zip(&want) {
            assert_eq!(&got.scope, scope);
            let spend: f64 = daily[daily.len() - as_of.day() as usize..].iter().sum();
            assert!(close(got.spend_to_date_usd, spend), "{scope}");
            let forecasts: Vec<Forecast> = [Method::Linear, Method::RobustSeasonal]
                .into_iter()
                .filter_map(|m| {
                    let input = DailySpend { daily, as_of };
                    forecast_with(m, &input, config.interval_coverage, &calendar).ok()
                })
                .collect();
            assert_eq!(got.forecasts.len(), 2, "{scope}: both methods");
            assert_eq!(got.forecasts.len(), forecasts.len(), "{scope}");
            for (g, w) in got.forecasts.iter().zip(&forecasts) {
                assert_eq!(g.method, w.method);
                for (a, b) in [
                    (g.projection, w.projection),
                    (g.lower, w.lower),
                    (g.upper, w.upper),
                    (g.spent_to_date, w.spent_to_date),
                ] {
                    assert!(close(a, b), "{scope} {:?}: {a} vs {b}", g.method);
                }
            }
            let headline = forecasts[1].projection;
            assert_eq!(got.status.tier, BudgetStatus::new(headline, *budget).tier);
        }
        for (g, w) in s.forecasts.iter().zip(&s.budgets[0].forecasts) {
            assert!(close(g.projection, w.projection));
        }
    }

    /// `a` and `b` have the same shape and values, numbers to 1e-9 relative (a day's groups
    /// may be added in another order).
    fn same_figures(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!(close(x, y), "{at}: {x} vs {y}");
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{at}");
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    same_figures(x, y, &format!("{at}[{i}]"));
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                assert!(x.keys().eq(y.keys()), "{at}");
                for (k, x) in x {
                    same_figures(x, &y[k], &format!("{at}.{k}"));
                }
            }
            _ => assert_eq!(a, b, "{at}"),
        }
    }

    #[tokio::test]
    async fn a_summary_from_the_daily_rollup_matches_the_calls_it_sums() {
        let calls = generated_calls();
        let (_dir, store) = store_with(&calls).await;
        let config = generated_config();
        let as_of = generated_as_of();
        let inputs = load(store.as_ref(), as_of).await.unwrap();
        // Single calls only for what needs them; everything else from the daily rows.
        let from = calls_from(as_of);
        assert_eq!(from, day(20) - Days::new(29));
        assert!(
            inputs
                .ai_calls
                .iter()
                .all(|r| (from..=as_of).contains(&r.timestamp.date_naive()))
        );
        let read = calls
            .iter()
            .filter(|r| (from..=as_of).contains(&r.timestamp.date_naive()))
            .count();
        assert_eq!(inputs.ai_calls.len(), read);
        assert!(
            inputs.ai_daily.len() * 3 < calls.len(),
            "{} daily rows",
            inputs.ai_daily.len()
        );
        let s = summarize(&config, &inputs, as_of);
        check_against_calls(&config, &calls, as_of, &s);
        // The generated month exercises what it should.
        assert_eq!(s.unknown_models.len(), 1);
        assert!(s.by_route.iter().all(|l| !l.name.is_empty()));
        assert!(
            s.by_model
                .iter()
                .any(|l| l.name == "acme-llm" && l.cost_usd > 0.0)
        );
        assert!(s.by_feature.iter().any(|l| l.failed_calls > 0));

        // The recommendations and regressions are those of every stored call.
        let everything = store
            .ai_usage(Window {
                start: start_of(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
                end: start_of(day(25)),
            })
            .await
            .unwrap();
        assert_eq!(everything.len(), calls.len());
        let all = CostInputs {
            ai_daily: inputs.ai_daily.clone(),
            ai_calls: CostCall::all(&everything),
            infra: Vec::new(),
            deploys: inputs.deploys.clone(),
        };
        let from_all = summarize(&config, &all, as_of);
        assert_eq!(
            serde_json::to_value(&s.recommendations).unwrap(),
            serde_json::to_value(&from_all.recommendations).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&s.regressions).unwrap(),
            serde_json::to_value(&from_all.regressions).unwrap()
        );
        assert!(!s.recommendations.is_empty());
        assert_eq!(s.regressions.len(), 1, "{:?}", s.regressions);
        assert_eq!(s.regressions[0].scope(), "search on gpt-4o");

        // Rolling up again adds nothing: the same daily rows.
        assert_eq!(roll_up(store.as_ref()).await.unwrap(), 0);
        let again = load(store.as_ref(), as_of).await.unwrap();
        assert_eq!(again.ai_daily, inputs.ai_daily);
        store.close().await;
    }

    #[tokio::test]
    async fn calls_deleted_by_retention_once_rolled_up_leave_the_month_unchanged() {
        let calls = generated_calls();
        let (_dir, store) = store_with(&calls).await;
        let config = generated_config();
        let as_of = generated_as_of();
        let before = summarize(&config, &load(store.as_ref(), as_of).await.unwrap(), as_of);

        // Keep a day of calls: everything but the last day goes.
        let retention = crate::config::RetentionConfig {
            ai_usage_metrics: 1,
            ..Default::default()
        };
        let now = start_of(as_of + Days::new(1)) + TimeDelta::hours(9);
        let report = crate::retention::run_retention(store.as_ref(), &retention, now, false)
            .await
            .unwrap();
        let deleted = report
            .tables
            .iter()
            .find(|t| t.table == "ai_usage_metrics")
            .unwrap()
            .rows;
        let kept = store
            .count(tokpulse_store::Table::AiUsageMetrics)
            .await
            .unwrap();
        assert_eq!(deleted + kept as u64, calls.len() as u64);
        assert!(kept < 80, "{kept} calls left");

        let after = summarize(&config, &load(store.as_ref(), as_of).await.unwrap(), as_of);
        let month = |s: &CostSummary| {
            serde_json::json!({
                "ai_usd": s.ai_usd,
                "daily": s.daily,
                "by_feature": s.by_feature,
                "by_model": s.by_model,
                "by_service": s.by_service,
                "by_route": s.by_route,
                "unknown_models": s.unknown_models,
                "budgets": s.budgets,
                "forecasts": s.forecasts,
            })
        };
        same_figures(&month(&after), &month(&before), "summary");
        check_against_calls(&config, &calls, as_of, &after);
        store.close().await;
    }
}
