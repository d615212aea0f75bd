//! Cost per day, service, feature and model: every AI call priced and summed.

use crate::error::UnknownModel;
use crate::pricing::{Call, Catalog, Cost};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use tokpulse_core::AiUsageRecord;

/// What a row of the rollup is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RollupKey {
    /// UTC day of the calls.
    pub day: NaiveDate,
    /// Calling service.
    pub service: String,
    /// Product feature, when the calls named one.
    pub feature: Option<String>,
    /// Model as the calls spelled it.
    pub model: String,
}

/// Sums over the calls of one [`RollupKey`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RollupRow {
    /// Calls.
    pub calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Prompt tokens served from the cache.
    pub cached_input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost of the priced calls, in dollars.
    pub cost_usd: f64,
    /// Cost of the failed calls among them, in dollars: of the calls added one by one
    /// ([`Rollup::add`]; a group added with [`Rollup::add_group`] does not split its tokens by
    /// outcome).
    pub failed_cost_usd: f64,
    /// Calls the catalog could not price (their tokens are counted above, their cost is not).
    pub unpriced_calls: u64,
}

/// Prices AI calls one by one ([`add`](Rollup::add)), or groups of calls summed beforehand
/// ([`add_group`](Rollup::add_group)), and sums them per day, service, feature and model. Calls
/// to a model the catalog does not know keep their tokens, count as unpriced, and are listed by
/// [`unknown_models`](Rollup::unknown_models) so that a finding can name them.
#[derive(Debug)]
pub struct Rollup<'c> {
    catalog: &'c Catalog,
    names: HashMap<String, u32>,
    rows: HashMap<(NaiveDate, u32, u32, u32), RollupRow>,
    unknown: BTreeMap<String, UnknownTally>,
}

/// Calls to one model the catalog could not price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownTally {
    /// Calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// First day seen.
    pub first_day: NaiveDate,
    /// Last day seen.
    pub last_day: NaiveDate,
}

/// Interned id of "no feature".
const NO_FEATURE: u32 = u32::MAX;

impl<'c> Rollup<'c> {
    /// An empty rollup pricing with `catalog`.
    pub fn new(catalog: &'c Catalog) -> Self {
        Rollup {
            catalog,
            names: HashMap::new(),
            rows: HashMap::new(),
            unknown: BTreeMap::new(),
        }
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.names.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.insert(s.to_owned(), id);
        id
    }

    /// Prices `record` and adds it to its row; returns its cost, or why it has none.
    pub fn add(&mut self, record: &AiUsageRecord) -> Result<Cost, UnknownModel> {
        let call = Call::from_record(record);
        let feature = record.feature.as_ref().map(|f| f.as_str());
        self.add_calls(
            record.service.as_str(),
            feature,
            &call,
            1,
            u64::from(!record.success),
            !record.success,
        )
    }

    /// Prices a group of `calls` calls summed beforehand (one day, service, feature and model,
    /// as the store's daily rollup keeps them) and adds it to its row: `call` carries the
    /// group's day, model and summed tokens (each call's cached tokens at most its prompt
    /// tokens, as [`Call::from_record`] reads them), and `failed_calls` of the calls failed.
    /// A price is linear in tokens and fixed for a model's day, so the group costs what its
    /// calls added one by one with [`add`](Rollup::add) would, up to float rounding; a group of
    /// an unknown model counts `calls` unpriced calls. Returns the group's cost, or why it has
    /// none.
    ///
    /// The group's tokens are not split by outcome, so its failed calls' cost is not known:
    /// [`RollupRow::failed_cost_usd`] counts only calls added one by one.
    pub fn add_group(
        &mut self,
        service: &str,
        feature: Option<&str>,
        call: &Call<'_>,
        calls: u64,
        failed_calls: u64,
    ) -> Result<Cost, UnknownModel> {
        self.add_calls(service, feature, call, calls, failed_calls, false)
    }

    /// Adds `calls` calls with `call`'s summed tokens to their row; `all_failed`: the cost is
    /// the failed calls' too.
    fn add_calls(
        &mut self,
        service: &str,
        feature: Option<&str>,
        call: &Call<'_>,
        calls: u64,
        failed_calls: u64,
        all_failed: bool,
    ) -> Result<Cost, UnknownModel> {
        let priced = self.catalog.price(call);
        let key = (
            call.day,
            self.intern(service),
            match feature {
                Some(f) => self.intern(f),
                None => NO_FEATURE,
            },
            self.intern(call.model),
        );
        let row = self.rows.entry(key).or_default();
        row.calls += calls;
        row.failed_calls += failed_calls;
        row.input_tokens += call.input_tokens;
        row.cached_input_tokens += call.cached_input_tokens;
        row.output_tokens += call.output_tokens;
        match &priced {
            Ok(cost) => {
                let total = cost.total_usd();
                row.cost_usd += total;
                if all_failed {
                    row.failed_cost_usd += total;
                }
            }
            Err(_) => {
                row.unpriced_calls += calls;
                if !self.unknown.contains_key(call.model) {
                    let first = UnknownTally {
                        calls: 0,
                        input_tokens: 0,
                        output_tokens: 0,
                        first_day: call.day,
                        last_day: call.day,
                    };
                    self.unknown.insert(call.model.to_owned(), first);
                }
                let Some(t) = self.unknown.get_mut(call.model) else {
                    return priced;
                };
                t.calls += calls;
                t.input_tokens += call.input_tokens;
                t.output_tokens += call.output_tokens;
                t.first_day = t.first_day.min(call.day);
                t.last_day = t.last_day.max(call.day);
            }
        }
        priced
    }

    /// Every row, sorted by day, service, feature and model.
    pub fn rows(&self) -> Vec<(RollupKey, RollupRow)> {
        let mut names = vec![""; self.names.len()];
        for (name, &id) in &self.names {
            names[id as usize] = name;
        }
        let name = |id: u32| names[id as usize].to_owned();
        let mut v: Vec<_> = self
            .rows
            .iter()
            .map(|(&(day, service, feature, model), row)| {
                let key = RollupKey {
                    day,
                    service: name(service),
                    feature: (feature != NO_FEATURE).then(|| name(feature)),
                    model: name(model),
                };
                (key, *row)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Cost per day, oldest first: the input of a forecast (fill missing days with 0).
    pub fn daily_cost(&self) -> BTreeMap<NaiveDate, f64> {
        let mut days = BTreeMap::new();
        for (&(day, ..), row) in &self.rows {
            *days.entry(day).or_insert(0.0) += row.cost_usd;
        }
        days
    }

    /// Cost of each day from `first` to `last` inclusive, 0 for a day without calls: the
    /// `daily` of a [`DailySpend`](crate::DailySpend) ending on `last`.
    pub fn daily_series(&self, first: NaiveDate, last: NaiveDate) -> Vec<f64> {
        let by_day = self.daily_cost();
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| by_day.get(&d).copied().unwrap_or(0.0))
            .collect()
    }

    /// Models the catalog could not price, with their calls and tokens.
    pub fn unknown_models(&self) -> &BTreeMap<String, UnknownTally> {
        &self.unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokpulse_core::{Attributes, Label, RecordId};

    fn record(
        day: u32,
        feature: Option<&str>,
        model: &str,
        tokens: (u64, u64),
        success: bool,
    ) -> AiUsageRecord {
        AiUsageRecord {
            id: RecordId::parse("r").unwrap(),
            timestamp: NaiveDate::from_ymd_opt(2025, 6, day)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc(),
            service: Label::parse("api").unwrap(),
            feature: feature.map(|f| Label::parse(f).unwrap()),
            provider: Label::parse("openai").unwrap(),
            model: Label::parse(model).unwrap(),
            prompt_tokens: tokens.0,
            completion_tokens: tokens.1,
            latency_ms: None,
            success,
            error_message: None,
            cost_usd: None,
            attributes: Attributes::new(),
        }
    }

    #[test]
    fn sums_per_day_feature_and_model_across_a_price_change() {
        let catalog = Catalog::builtin();
        let mut r = Rollup::new(&catalog);
        // o3: $10/$40 per 1M until 2025-06-09, $2/$8 from 2025-06-10.
        r.add(&record(9, Some("plan"), "o3", (1_000_000, 0), true))
            .unwrap();
        r.add(&record(9, Some("plan"), "o3", (0, 100_000), false))
            .unwrap();
        r.add(&record(10, Some("plan"), "o3", (1_000_000, 0), true))
            .unwrap();
        r.add(&record(10, None, "gpt-4o-mini", (1_000_000, 0), true))
            .unwrap();
        let rows = r.rows();
        assert_eq!(rows.len(), 3);
        let (k, row) = &rows[0];
        assert_eq!(k.day, NaiveDate::from_ymd_opt(2025, 6, 9).unwrap());
        assert_eq!(k.feature.as_deref(), Some("plan"));
        assert_eq!((row.calls, row.failed_calls), (2, 1));
        assert!((row.cost_usd - 14.0).abs() < 1e-9);
        assert!((row.failed_cost_usd - 4.0).abs() < 1e-9);
        // The 10th: the feature-less row sorts first.
        assert_eq!(rows[1].0.feature, None);
        assert!((rows[1].1.cost_usd - 0.15).abs() < 1e-9);
        assert!((rows[2].1.cost_usd - 2.0).abs() < 1e-9);
        let daily: Vec<f64> = r.daily_cost().into_values().collect();
        assert!((daily[0] - 14.0).abs() < 1e-9 && (daily[1] - 2.15).abs() < 1e-9);
        let day = |d| NaiveDate::from_ymd_opt(2025, 6, d).unwrap();
        let series = r.daily_series(day(8), day(11));
        assert_eq!(series.len(), 4);
        assert_eq!((series[0], series[3]), (0.0, 0.0));
        assert!((series[1] - 14.0).abs() < 1e-9 && (series[2] - 2.15).abs() < 1e-9);
    }

    /// `record` with `cached` prompt tokens served from the cache (the `cached_tokens`
    /// attribute, as a client sends it).
    fn cached(mut r: AiUsageRecord, cached: u64) -> AiUsageRecord {
        r.attributes.insert("cached_tokens".into(), cached.into());
        r
    }

    #[test]
    fn a_summed_group_costs_what_its_calls_cost_one_by_one() {
        let catalog = Catalog::builtin();
        // Calls of one day, service, feature and model, then of an unknown model; cached tokens
        // (one call claiming more than its prompt: clamped), failures, and the o3 price cut
        // on the 10th between two groups.
        let groups: Vec<Vec<AiUsageRecord>> = vec![
            vec![
                cached(
                    record(9, Some("plan"), "o3", (1_000_000, 20_000), true),
                    400_000,
                ),
                cached(record(9, Some("plan"), "o3", (300_000, 0), false), 900_000),
                record(9, Some("plan"), "o3", (7, 3), true),
            ],
            vec![
                cached(
                    record(10, Some("plan"), "o3", (500_000, 1_000), true),
                    100_000,
                ),
                record(10, Some("plan"), "o3", (200_000, 50_000), false),
            ],
            vec![
                record(4, None, "mystery-7b", (500, 20), true),
                record(4, None, "mystery-7b", (100, 0), false),
            ],
            vec![record(12, None, "mystery-7b", (40, 4), true)],
        ];
        let mut one_by_one = Rollup::new(&catalog);
        let mut summed = Rollup::new(&catalog);
        for group in &groups {
            let mut expected = 0.0;
            let mut priced = true;
            let (mut input, mut cached_input, mut output, mut failed) = (0, 0, 0, 0);
            for r in group {
                match one_by_one.add(r) {
                    Ok(c) => expected += c.total_usd(),
                    Err(_) => priced = false,
                }
                let call = Call::from_record(r);
                input += call.input_tokens;
                cached_input += call.cached_input_tokens;
                output += call.output_tokens;
                failed += u64::from(!r.success);
            }
            let first = &group[0];
            let call = Call {
                model: first.model.as_str(),
                day: first.timestamp.date_naive(),
                input_tokens: input,
                cached_input_tokens: cached_input,
                output_tokens: output,
            };
            let feature = first.feature.as_ref().map(|f| f.as_str());
            let got = summed.add_group("api", feature, &call, group.len() as u64, failed);
            match got {
                Ok(c) => {
                    assert!(priced);
                    assert!((c.total_usd() - expected).abs() <= 1e-12 * expected.max(1.0));
                }
                Err(e) => {
                    assert!(!priced);
                    assert_eq!(e.model, "mystery-7b");
                }
            }
        }
        let (a, b) = (one_by_one.rows(), summed.rows());
        assert_eq!(a.len(), b.len());
        for ((ka, ra), (kb, rb)) in a.iter().zip(&b) {
            assert_eq!(ka, kb);
            assert_eq!(
                (ra.calls, ra.failed_calls, ra.unpriced_calls),
                (rb.calls, rb.failed_calls, rb.unpriced_calls)
            );
            assert_eq!(
                (ra.input_tokens, ra.cached_input_tokens, ra.output_tokens),
                (rb.input_tokens, rb.cached_input_tokens, rb.output_tokens)
            );
            assert!((ra.cost_usd - rb.cost_usd).abs() <= 1e-12 * ra.cost_usd.max(1.0));
            // A group's failed calls have no cost of their own.
            assert_eq!(rb.failed_cost_usd, 0.0);
        }
        // The 9th's cost by hand: uncached 600,000 + 0 + 7 at $10/M, cached 400,000 + 300,000
        // (900,000 clamped to the prompt) at $2.50/M, output 20,003 at $40/M.
        let ninth = (600_007.0 * 10.0 + 700_000.0 * 2.5 + 20_003.0 * 40.0) / 1e6;
        assert!((b[1].1.cost_usd - ninth).abs() < 1e-9, "{:?}", b[1]);
        assert_eq!(one_by_one.unknown_models(), summed.unknown_models());
        let t = summed.unknown_models()["mystery-7b"];
        assert_eq!((t.calls, t.input_tokens, t.output_tokens), (3, 640, 24));
        assert_eq!(
            (t.first_day.to_string(), t.last_day.to_string()),
            ("2025-06-04".into(), "2025-06-12".into())
        );
    }

    #[test]
    fn unknown_models_keep_their_tokens_and_are_listed() {
        let catalog = Catalog::builtin();
        let mut r = Rollup::new(&catalog);
        assert!(
            r.add(&record(3, None, "mystery-7b", (500, 20), true))
                .is_err()
        );
        assert!(
            r.add(&record(5, None, "mystery-7b", (100, 0), true))
                .is_err()
        );
        let rows = r.rows();
        assert_eq!(rows[0].1.input_tokens, 500);
        assert_eq!(rows[0].1.unpriced_calls, 1);
        assert_eq!(rows[0].1.cost_usd, 0.0);
        let t = r.unknown_models()["mystery-7b"];
        assert_eq!((t.calls, t.input_tokens, t.output_tokens), (2, 600, 20));
        assert_eq!(t.first_day.to_string(), "2025-06-03");
        assert_eq!(t.last_day.to_string(), "2025-06-05");
    }
}
