//! The dated pricing catalog: which price was in force for a model on the day of a call.

use crate::config::{CostConfig, PriceUnit};
use crate::error::UnknownModel;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tokpulse_core::AiUsageRecord;

/// A model's prices in US dollars per **million** tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Uncached input (prompt) tokens.
    pub input_per_m: f64,
    /// Input tokens served from the provider's prompt cache; `None` bills them as uncached input.
    pub cached_input_per_m: Option<f64>,
    /// Output (completion) tokens; 0 for embedding models.
    pub output_per_m: f64,
}

impl Price {
    /// A price given per million tokens.
    pub const fn per_m(input: f64, cached_input: Option<f64>, output: f64) -> Self {
        Price {
            input_per_m: input,
            cached_input_per_m: cached_input,
            output_per_m: output,
        }
    }

    /// A price given in `unit` (per 1K or per 1M tokens), converted to per million.
    pub fn in_unit(unit: PriceUnit, input: f64, cached_input: Option<f64>, output: f64) -> Self {
        let k = unit.tokens_per_unit();
        let to_m = |p: f64| p * (1_000_000.0 / k);
        Price::per_m(to_m(input), cached_input.map(to_m), to_m(output))
    }
}

/// One model call to price. `input_tokens` counts every prompt token, cached ones included (as
/// OpenAI's `prompt_tokens` does); `cached_input_tokens` says how many of them hit the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call<'a> {
    /// Model name as the provider spells it (`gpt-4o-2024-08-06`, `gpt-4o`…).
    pub model: &'a str,
    /// The UTC day of the call: the price in force that day applies.
    pub day: NaiveDate,
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// How many of `input_tokens` were served from the prompt cache.
    pub cached_input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

impl<'a> Call<'a> {
    /// The call an [`AiUsageRecord`] describes. Cached prompt tokens are read from the
    /// `cached_tokens` attribute when it holds a whole number (OpenAI reports them as
    /// `usage.prompt_tokens_details.cached_tokens`); otherwise none are assumed cached.
    pub fn from_record(record: &'a AiUsageRecord) -> Self {
        let cached = record
            .attributes
            .get("cached_tokens")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        Call {
            model: record.model.as_str(),
            day: record.timestamp.date_naive(),
            input_tokens: record.prompt_tokens,
            cached_input_tokens: cached.min(record.prompt_tokens),
            output_tokens: record.completion_tokens,
        }
    }
}

/// What a call cost, in US dollars, split the way the provider bills it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Uncached input tokens.
    pub input_usd: f64,
    /// Cached input tokens.
    pub cached_input_usd: f64,
    /// Output tokens.
    pub output_usd: f64,
    /// The day the applied price took effect.
    pub price_from: NaiveDate,
}

impl Cost {
    /// The whole cost.
    pub fn total_usd(&self) -> f64 {
        self.input_usd + self.cached_input_usd + self.output_usd
    }
}

/// A dated catalog of model prices. Built from [`builtin`](Catalog::builtin) prices, the
/// overrides and additions of a [`CostConfig`], or both ([`from_config`](Catalog::from_config)).
///
/// Lookup of a model name: lower-cased; an alias (`[cost.aliases]`) is followed; an exact entry
/// wins; otherwise a snapshot suffix (`-2024-08-06`, `-0613`) is dropped and the lookup repeated,
/// so `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`. A model still not found, or a call
/// before the model's first price, is an [`UnknownModel`] error: never a price of zero.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Model → its price periods, sorted by effective date.
    models: HashMap<String, Vec<(NaiveDate, Price)>>,
    aliases: HashMap<String, String>,
}

impl Catalog {
    /// An empty catalog: every model is unknown.
    pub fn empty() -> Self {
        Catalog::default()
    }

    /// The built-in catalog ([`BUILTIN_PRICES`] and [`BUILTIN_ALIASES`]).
    pub fn builtin() -> Self {
        let mut c = Catalog::empty();
        for &(model, from, price) in BUILTIN_PRICES {
            c.insert(model, from.date(), price);
        }
        for &(alias, target) in BUILTIN_ALIASES {
            c.aliases.insert(alias.to_owned(), target.to_owned());
        }
        c
    }

    /// The catalog a validated [`CostConfig`] describes: the built-in one unless
    /// `builtin_catalog = false`, then each `[[cost.prices]]` entry (replacing a built-in price
    /// with the same model and date, adding a period otherwise), then the aliases.
    pub fn from_config(config: &CostConfig) -> Self {
        let mut c = if config.builtin_catalog {
            Catalog::builtin()
        } else {
            Catalog::empty()
        };
        for p in &config.prices {
            c.insert(
                &p.model,
                p.effective_from,
                Price::in_unit(p.unit, p.input, p.cached_input, p.output),
            );
        }
        for (alias, target) in &config.aliases {
            c.aliases
                .insert(alias.trim().to_lowercase(), target.trim().to_lowercase());
        }
        c
    }

    /// Sets `model`'s price from `from` on, replacing a price with the same date.
    pub fn insert(&mut self, model: &str, from: NaiveDate, price: Price) {
        let periods = self.models.entry(model.trim().to_lowercase()).or_default();
        match periods.binary_search_by_key(&from, |(d, _)| *d) {
            Ok(i) => periods[i].1 = price,
            Err(i) => periods.insert(i, (from, price)),
        }
    }

    /// Whether the catalog has any price for `model` (after aliases and snapshot suffixes).
    pub fn knows(&self, model: &str) -> bool {
        self.periods(model).is_some()
    }

    /// The price of `model` in force on `day`, and the day it took effect.
    pub fn price_on(
        &self,
        model: &str,
        day: NaiveDate,
    ) -> Result<(NaiveDate, Price), UnknownModel> {
        let periods = self.periods(model).ok_or_else(|| UnknownModel {
            model: model.to_owned(),
            day,
            first_price: None,
        })?;
        let i = periods.partition_point(|(from, _)| *from <= day);
        if i == 0 {
            return Err(UnknownModel {
                model: model.to_owned(),
                day,
                first_price: periods.first().map(|(d, _)| *d),
            });
        }
        Ok(periods[i - 1])
    }

    /// What `call` cost at the price in force on its day.
    pub fn price(&self, call: &Call<'_>) -> Result<Cost, UnknownModel> {
        let (from, p) = self.price_on(call.model, call.day)?;
        let cached = call.cached_input_tokens.min(call.input_tokens);
        let uncached = call.input_tokens - cached;
        let per = |tokens: u64, per_m: f64| tokens as f64 * per_m / 1_000_000.0;
        Ok(Cost {
            input_usd: per(uncached, p.input_per_m),
            cached_input_usd: per(cached, p.cached_input_per_m.unwrap_or(p.input_per_m)),
            output_usd: per(call.output_tokens, p.output_per_m),
            price_from: from,
        })
    }

    /// Every model with its price periods, sorted by name: what `tokpulse cost prices` would print.
    pub fn entries(&self) -> Vec<(&str, &[(NaiveDate, Price)])> {
        let mut v: Vec<_> = self
            .models
            .iter()
            .map(|(m, p)| (m.as_str(), p.as_slice()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    fn periods(&self, model: &str) -> Option<&[(NaiveDate, Price)]> {
        // Fast path: names are usually already lower-case and listed as such.
        if let Some(p) = self.lookup(model) {
            return Some(p);
        }
        let lower = model.trim().to_lowercase();
        if let Some(p) = self.lookup(&lower) {
            return Some(p);
        }
        let base = strip_snapshot(&lower)?;
        self.lookup(base)
    }

    fn lookup(&self, name: &str) -> Option<&[(NaiveDate, Price)]> {
        let name = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.models.get(name).map(Vec::as_slice)
    }
}

/// `gpt-4o-2024-08-06` → `gpt-4o`; `gpt-4-0613` → `gpt-4`; `None` when there is no snapshot
/// suffix.
fn strip_snapshot(model: &str) -> Option<&str> {
    let b = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let n = b.len();
    // `-YYYY-MM-DD`
    if n > 11
        && b[n - 11] == b'-'
        && digits(&b[n - 10..n - 6])
        && b[n - 6] == b'-'
        && digits(&b[n - 5..n - 3])
        && b[n - 3] == b'-'
        && digits(&b[n - 2..])
    {
        return Some(&model[..n - 11]);
    }
    // `-MMDD`
    if n > 5 && b[n - 5] == b'-' && digits(&b[n - 4..]) {
        return Some(&model[..n - 5]);
    }
    None
}

/// A calendar day in a `const` table.
#[derive(Debug, Clone, Copy)]
pub struct Day(pub i32, pub u32, pub u32);

impl Day {
    /// As a date. The built-in table is checked by a test, so every entry is a real date.
    pub fn date(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0, self.1, self.2).unwrap_or(NaiveDate::MIN)
    }
}

const fn p(input: f64, cached: Option<f64>, output: f64) -> Price {
    Price::per_m(input, cached, output)
}

/// The built-in prices: OpenAI's published list prices per million tokens (standard tier, not
/// Batch or Flex), each with the day it took effect, as known when this table was written
/// (late 2025). Prices change: check them against your bill, and override or extend them under
/// `[cost]` in `tokpulse.toml`.
///
/// The seed's flat rates are here as the input rates they were: GPT-4 at $0.01/1K is
/// `gpt-4-turbo`'s input price (the original `gpt-4` costs $0.03/1K in, $0.06/1K out), GPT-3.5 at
/// $0.0005/1K is `gpt-3.5-turbo` input since the 0125 snapshot, and embeddings at $0.02/1M is
/// `text-embedding-3-small`. Output tokens are priced separately (the seed priced them like
/// input, undercounting most chat calls).
pub const BUILTIN_PRICES: &[(&str, Day, Price)] = &[
    // GPT-4 family.
    ("gpt-4", Day(2023, 3, 14), p(30.0, None, 60.0)),
    ("gpt-4-32k", Day(2023, 3, 14), p(60.0, None, 120.0)),
    ("gpt-4-turbo", Day(2023, 11, 6), p(10.0, None, 30.0)),
    // GPT-3.5 Turbo: launch price and three cuts.
    ("gpt-3.5-turbo", Day(2023, 3, 1), p(2.0, None, 2.0)),
    ("gpt-3.5-turbo", Day(2023, 6, 13), p(1.5, None, 2.0)),
    ("gpt-3.5-turbo", Day(2023, 11, 6), p(1.0, None, 2.0)),
    ("gpt-3.5-turbo", Day(2024, 1, 25), p(0.5, None, 1.5)),
    // GPT-4o: launch price, then the 2024-08-06 snapshot became `gpt-4o` with prompt caching.
    ("gpt-4o", Day(2024, 5, 13), p(5.0, None, 15.0)),
    ("gpt-4o", Day(2024, 10, 2), p(2.5, Some(1.25), 10.0)),
    ("gpt-4o-2024-05-13", Day(2024, 5, 13), p(5.0, None, 15.0)),
    ("gpt-4o-mini", Day(2024, 7, 18), p(0.15, None, 0.6)),
    ("gpt-4o-mini", Day(2024, 10, 1), p(0.15, Some(0.075), 0.6)),
    // GPT-4.1 family.
    ("gpt-4.1", Day(2025, 4, 14), p(2.0, Some(0.5), 8.0)),
    ("gpt-4.1-mini", Day(2025, 4, 14), p(0.4, Some(0.1), 1.6)),
    ("gpt-4.1-nano", Day(2025, 4, 14), p(0.1, Some(0.025), 0.4)),
    // GPT-5 family.
    ("gpt-5", Day(2025, 8, 7), p(1.25, Some(0.125), 10.0)),
    ("gpt-5-mini", Day(2025, 8, 7), p(0.25, Some(0.025), 2.0)),
    ("gpt-5-nano", Day(2025, 8, 7), p(0.05, Some(0.005), 0.4)),
    // o-series reasoning models (reasoning tokens are billed as output).
    ("o1-preview", Day(2024, 9, 12), p(15.0, None, 60.0)),
    ("o1", Day(2024, 12, 17), p(15.0, Some(7.5), 60.0)),
    ("o1-mini", Day(2024, 9, 12), p(3.0, None, 12.0)),
    ("o1-mini", Day(2025, 1, 31), p(1.1, Some(0.55), 4.4)),
    ("o3-mini", Day(2025, 1, 31), p(1.1, Some(0.55), 4.4)),
    ("o3", Day(2025, 4, 16), p(10.0, Some(2.5), 40.0)),
    ("o3", Day(2025, 6, 10), p(2.0, Some(0.5), 8.0)),
    ("o4-mini", Day(2025, 4, 16), p(1.1, Some(0.275), 4.4)),
    // Embeddings: input only.
    (
        "text-embedding-ada-002",
        Day(2022, 12, 15),
        p(0.4, None, 0.0),
    ),
    (
        "text-embedding-ada-002",
        Day(2023, 6, 13),
        p(0.1, None, 0.0),
    ),
    (
        "text-embedding-3-small",
        Day(2024, 1, 25),
        p(0.02, None, 0.0),
    ),
    (
        "text-embedding-3-large",
        Day(2024, 1, 25),
        p(0.13, None, 0.0),
    ),
];

/// Built-in aliases: names OpenAI uses for the same priced model.
pub const BUILTIN_ALIASES: &[(&str, &str)] = &[
    ("gpt-4-1106-preview", "gpt-4-turbo"),
    ("gpt-4-0125-preview", "gpt-4-turbo"),
    ("gpt-4-turbo-preview", "gpt-4-turbo"),
    ("gpt-4o-latest", "gpt-4o"),
    ("chatgpt-4o-latest", "gpt-4o-2024-05-13"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PriceConfig;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn call(model: &str, d: NaiveDate, input: u64, cached: u64, output: u64) -> Call<'_> {
        Call {
            model,
            day: d,
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn builtin_table_has_real_dates_and_sane_prices() {
        for &(model, d, price) in BUILTIN_PRICES {
            assert!(NaiveDate::from_ymd_opt(d.0, d.1, d.2).is_some(), "{model}");
            assert!(
                price.input_per_m >= 0.0 && price.output_per_m >= 0.0,
                "{model}"
            );
            if let Some(c) = price.cached_input_per_m {
                assert!(c <= price.input_per_m, "{model}");
            }
        }
        let c = Catalog::builtin();
        for &(alias, _) in BUILTIN_ALIASES {
            assert!(c.knows(alias), "{alias}");
        }
    }

    #[test]
    fn the_seeds_rates_are_in_the_catalog() {
        let c = Catalog::builtin();
        let d = day(2025, 3, 1);
        // GPT-4 (Turbo) $0.01 per 1K input tokens.
        let cost = c.price(&call("gpt-4-turbo", d, 1000, 0, 0)).unwrap();
        assert!(close(cost.total_usd(), 0.01));
        // GPT-3.5 $0.0005 per 1K input tokens.
        let cost = c.price(&call("gpt-3.5-turbo", d, 1000, 0, 0)).unwrap();
        assert!(close(cost.total_usd(), 0.0005));
        // Embeddings $0.02 per 1M tokens.
        let cost = c
            .price(&call("text-embedding-3-small", d, 1_000_000, 0, 0))
            .unwrap();
        assert!(close(cost.total_usd(), 0.02));
    }

    #[test]
    fn input_cached_and_output_are_priced_separately() {
        let c = Catalog::builtin();
        // gpt-4o on 2025-01-10: $2.50 in, $1.25 cached, $10 out per 1M.
        let cost = c
            .price(&call("gpt-4o", day(2025, 1, 10), 10_000, 4_000, 2_000))
            .unwrap();
        assert!(close(cost.input_usd, 6_000.0 * 2.5 / 1e6));
        assert!(close(cost.cached_input_usd, 4_000.0 * 1.25 / 1e6));
        assert!(close(cost.output_usd, 2_000.0 * 10.0 / 1e6));
        assert!(close(cost.total_usd(), 0.015 + 0.005 + 0.02));
        // No cached price: cached tokens cost what input costs.
        let cost = c
            .price(&call("gpt-4", day(2025, 1, 10), 1000, 1000, 0))
            .unwrap();
        assert!(close(cost.cached_input_usd, 0.03));
    }

    #[test]
    fn a_price_change_mid_month_applies_from_its_day() {
        // o3 was cut from $10/$40 to $2/$8 on 2025-06-10.
        let c = Catalog::builtin();
        let mut month_total = 0.0;
        for d in 1..=30 {
            let cost = c
                .price(&call("o3", day(2025, 6, d), 1_000_000, 0, 100_000))
                .unwrap();
            let expected = if d < 10 { 10.0 + 4.0 } else { 2.0 + 0.8 };
            assert!(close(cost.total_usd(), expected), "day {d}");
            assert_eq!(
                cost.price_from,
                if d < 10 {
                    day(2025, 4, 16)
                } else {
                    day(2025, 6, 10)
                }
            );
            month_total += cost.total_usd();
        }
        assert!(close(month_total, 9.0 * 14.0 + 21.0 * 2.8));
    }

    #[test]
    fn config_overrides_and_extends_with_a_mid_month_change() {
        let config = CostConfig {
            prices: vec![
                PriceConfig {
                    model: "acme-llm".into(),
                    effective_from: day(2026, 3, 1),
                    unit: PriceUnit::PerThousand,
                    input: 0.002,
                    cached_input: None,
                    output: 0.004,
                },
                PriceConfig {
                    model: "acme-llm".into(),
                    effective_from: day(2026, 3, 16),
                    unit: PriceUnit::PerThousand,
                    input: 0.001,
                    cached_input: None,
                    output: 0.002,
                },
                // Replaces the built-in gpt-4 price (the seed's flat $0.01/1K).
                PriceConfig {
                    model: "GPT-4".into(),
                    effective_from: day(2023, 3, 14),
                    unit: PriceUnit::PerThousand,
                    input: 0.01,
                    cached_input: None,
                    output: 0.01,
                },
            ],
            aliases: [("prod-chat".to_owned(), "acme-llm".to_owned())].into(),
            ..CostConfig::default()
        };
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let c = Catalog::from_config(&config);
        let on = |d| {
            c.price(&call("prod-chat", day(2026, 3, d), 1000, 0, 1000))
                .unwrap()
        };
        assert!(close(on(15).total_usd(), 0.006));
        assert!(close(on(16).total_usd(), 0.003));
        let gpt4 = c
            .price(&call("gpt-4", day(2026, 3, 1), 1000, 0, 1000))
            .unwrap();
        assert!(close(gpt4.total_usd(), 0.02));
        // Built-in prices are still there.
        assert!(c.knows("gpt-4o-mini"));
        // Without the built-in catalog only the configured models are known.
        let own = Catalog::from_config(&CostConfig {
            builtin_catalog: false,
            ..config
        });
        assert!(own.knows("acme-llm") && !own.knows("gpt-4o-mini"));
    }

    #[test]
    fn unknown_models_are_errors_never_free() {
        let c = Catalog::builtin();
        let err = c
            .price(&call("claude-9", day(2025, 5, 1), 10, 0, 10))
            .unwrap_err();
        assert_eq!(err.model, "claude-9");
        assert_eq!(err.first_price, None);
        assert_eq!(
            err.to_string(),
            "model `claude-9` is not in the pricing catalog (call on 2025-05-01)"
        );
        // Known model, but the call predates its first price.
        let err = c
            .price(&call("gpt-4.1", day(2025, 4, 13), 10, 0, 10))
            .unwrap_err();
        assert_eq!(err.first_price, Some(day(2025, 4, 14)));
        assert!(
            Catalog::empty()
                .price(&call("gpt-4o", day(2025, 5, 1), 1, 0, 1))
                .is_err()
        );
    }

    #[test]
    fn snapshots_case_and_aliases_resolve() {
        let c = Catalog::builtin();
        let d = day(2025, 2, 1);
        let price = |m| c.price_on(m, d).map(|(_, p)| p);
        assert_eq!(price("gpt-4o-mini-2024-07-18"), price("gpt-4o-mini"));
        assert_eq!(price("GPT-4o"), price("gpt-4o"));
        assert_eq!(price("gpt-4-0613"), price("gpt-4"));
        assert_eq!(price("gpt-3.5-turbo-0125"), price("gpt-3.5-turbo"));
        assert_eq!(price("gpt-4-1106-preview"), price("gpt-4-turbo"));
        // An exact snapshot entry wins over the stripped name.
        assert_eq!(price("gpt-4o-2024-05-13").unwrap().input_per_m, 5.0);
        assert_eq!(price("gpt-4o").unwrap().input_per_m, 2.5);
        assert_eq!(strip_snapshot("o3"), None);
        assert_eq!(strip_snapshot("gpt-4.1-2025-04-14"), Some("gpt-4.1"));
    }

    #[test]
    fn from_record_reads_cached_tokens() {
        use tokpulse_core::{Label, RecordId};
        let mut attributes = tokpulse_core::Attributes::new();
        attributes.insert("cached_tokens".into(), 600u64.into());
        let record = AiUsageRecord {
            id: RecordId::parse("r1").unwrap(),
            timestamp: chrono::DateTime::parse_from_rfc3339("2025-01-10T23:59:00Z")
                .unwrap()
                .into(),
            service: Label::parse("api").unwrap(),
            feature: None,
            provider: Label::parse("openai").unwrap(),
            model: Label::parse("gpt-4o").unwrap(),
            prompt_tokens: 1000,
            completion_tokens: 10,
            latency_ms: None,
            success: true,
            error_message: None,
            cost_usd: None,
            attributes,
        };
        let call = Call::from_record(&record);
        assert_eq!(call.cached_input_tokens, 600);
        assert_eq!(call.day, day(2025, 1, 10));
        assert_eq!(call.model, "gpt-4o");
    }
}
