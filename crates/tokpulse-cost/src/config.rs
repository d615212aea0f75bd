//! `[cost]` in `tokpulse.toml`: budget, forecast settings and pricing overrides. Parsed with
//! `deny_unknown_fields`, then checked by [`CostConfig::validate`], which reports every problem
//! with its path.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `[cost]`.
///
/// ```toml
/// [cost]
/// monthly_budget_usd = 500.0
/// interval_coverage = 0.8
///
/// [[cost.prices]]            # overrides gpt-4o from this day on
/// model = "gpt-4o"
/// effective_from = "2026-01-01"
/// unit = "1m"                # or "1k"
/// input = 2.0
/// cached_input = 1.0
/// output = 8.0
///
/// [cost.aliases]             # an Azure deployment name → the model it runs
/// "prod-chat" = "gpt-4o"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// The month's budget in US dollars (the seed's is $500); `None` disables budget tiers.
    pub monthly_budget_usd: Option<f64>,
    /// Nominal coverage of forecast prediction intervals, in (0.5, 0.99].
    pub interval_coverage: f64,
    /// Start from the built-in catalog (true) or only from `prices` (false).
    pub builtin_catalog: bool,
    /// Prices that override (same model and day) or extend the catalog.
    pub prices: Vec<PriceConfig>,
    /// Other names for catalog models: alias → model.
    pub aliases: BTreeMap<String, String>,
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            monthly_budget_usd: Some(500.0),
            interval_coverage: 0.8,
            builtin_catalog: true,
            prices: Vec::new(),
            aliases: BTreeMap::new(),
        }
    }
}

/// One `[[cost.prices]]` entry: a model's price from a day on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Model name (matched case-insensitively).
    pub model: String,
    /// The first day (UTC) the price applies, `"YYYY-MM-DD"`.
    pub effective_from: NaiveDate,
    /// What the numbers are per: `"1m"` (default) or `"1k"` tokens.
    #[serde(default)]
    pub unit: PriceUnit,
    /// US dollars per unit of uncached input tokens.
    pub input: f64,
    /// US dollars per unit of cached input tokens; absent: billed as `input`.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// US dollars per unit of output tokens (0 for embedding models; required so that a
    /// forgotten output price is not silently free).
    pub output: f64,
}

/// What a configured price is per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PriceUnit {
    /// Per 1,000 tokens (`"1k"`).
    #[serde(rename = "1k")]
    PerThousand,
    /// Per 1,000,000 tokens (`"1m"`).
    #[default]
    #[serde(rename = "1m")]
    PerMillion,
}

impl PriceUnit {
    /// Tokens per unit.
    pub fn tokens_per_unit(self) -> f64 {
        match self {
            PriceUnit::PerThousand => 1_000.0,
            PriceUnit::PerMillion => 1_000_000.0,
        }
    }
}

impl CostConfig {
    /// Every problem, each as `cost.<path>: <reason>, got <value>`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(b) = self.monthly_budget_usd
            && !(b.is_finite() && b > 0.0)
        {
            problems.push(format!("cost.monthly_budget_usd: must be > 0, got {b}"));
        }
        let c = self.interval_coverage;
        if !(c > 0.5 && c <= 0.99) {
            problems.push(format!(
                "cost.interval_coverage: must be in (0.5, 0.99], got {c}"
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, p) in self.prices.iter().enumerate() {
            let at = format!("cost.prices[{i}]");
            let model = p.model.trim().to_lowercase();
            if model.is_empty() {
                problems.push(format!("{at}.model: must not be empty"));
            }
            for (field, v) in [
                ("input", Some(p.input)),
                ("cached_input", p.cached_input),
                ("output", Some(p.output)),
            ] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    problems.push(format!("{at}.{field}: must be a price >= 0, got {v}"));
                }
            }
            if let Some(cached) = p.cached_input
                && cached > p.input
            {
                problems.push(format!(
                    "{at}.cached_input: must not exceed input ({}), got {cached}",
                    p.input
                ));
            }
            if !seen.insert((model.clone(), p.effective_from)) {
                problems.push(format!(
                    "{at}: a second price for `{model}` from {}",
                    p.effective_from
                ));
            }
        }
        let catalog = crate::Catalog::from_config(&CostConfig {
            aliases: BTreeMap::new(),
            ..self.clone()
        });
        for (alias, target) in &self.aliases {
            if alias.trim().is_empty() {
                problems.push("cost.aliases: an alias must not be empty".to_owned());
            } else if !catalog.knows(target) {
                problems.push(format!(
                    "cost.aliases.{alias}: no price for model `{target}` in the catalog"
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_the_default_and_valid() {
        let c: CostConfig = toml::from_str("").unwrap();
        assert_eq!(c, CostConfig::default());
        assert!(c.validate().is_empty());
    }

    #[test]
    fn parses_prices_in_both_units() {
        let c: CostConfig = toml::from_str(
            r#"
            monthly_budget_usd = 800
            [[prices]]
            model = "acme"
            effective_from = "2026-02-01"
            unit = "1k"
            input = 0.001
            output = 0.002
            [[prices]]
            model = "text-embedding-3-small"
            effective_from = "2026-02-01"
            input = 0.01
            output = 0
            [aliases]
            "prod-embed" = "text-embedding-3-small"
            "#,
        )
        .unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.prices[0].unit, PriceUnit::PerThousand);
        assert_eq!(c.prices[1].unit, PriceUnit::PerMillion);
        let cat = crate::Catalog::from_config(&c);
        let d = NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
        assert_eq!(cat.price_on("acme", d).unwrap().1.input_per_m, 1.0);
        assert_eq!(cat.price_on("prod-embed", d).unwrap().1.input_per_m, 0.01);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<CostConfig>("budget = 5").unwrap_err();
        assert!(err.to_string().contains("unknown field `budget`"), "{err}");
        let err = toml::from_str::<CostConfig>(
            "[[prices]]\nmodel='a'\neffective_from='2026-01-01'\ninput=1\noutput=1\nouput=2",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `ouput`"), "{err}");
        // A forgotten output price is an error, not free output.
        let err = toml::from_str::<CostConfig>(
            "[[prices]]\nmodel='a'\neffective_from='2026-01-01'\ninput=1",
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing field `output`"), "{err}");
    }

    #[test]
    fn validate_reports_every_problem_with_its_path() {
        let c: CostConfig = toml::from_str(
            r#"
            monthly_budget_usd = 0
            interval_coverage = 1.5
            [[prices]]
            model = " "
            effective_from = "2026-01-01"
            input = -1
            cached_input = 2
            output = 1
            [[prices]]
            model = "x"
            effective_from = "2026-01-01"
            input = 1
            output = 1
            [[prices]]
            model = "X"
            effective_from = "2026-01-01"
            input = 1
            output = 1
            [aliases]
            "mine" = "nope"
            "#,
        )
        .unwrap();
        assert_eq!(
            c.validate(),
            vec![
                "cost.monthly_budget_usd: must be > 0, got 0",
                "cost.interval_coverage: must be in (0.5, 0.99], got 1.5",
                "cost.prices[0].model: must not be empty",
                "cost.prices[0].input: must be a price >= 0, got -1",
                "cost.prices[0].cached_input: must not exceed input (-1), got 2",
                "cost.prices[2]: a second price for `x` from 2026-01-01",
                "cost.aliases.mine: no price for model `nope` in the catalog",
            ]
        );
    }
}
