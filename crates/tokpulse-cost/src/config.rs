//! `[cost]` in `tokpulse.toml`: budget, forecast settings and pricing overrides. Parsed with
//! `deny_unknown_fields`, then checked by [`CostConfig::validate`], which reports every problem
//! with its path.

use crate::forecast::{Calendar, QuietPeriod};
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
///
/// [cost.feature_budgets_usd]  # optional budgets per feature and per model
/// "search-summary" = 150.0
/// [cost.model_budgets_usd]
/// "gpt-4o" = 300.0
///
/// [cost.infra.vercel]        # the plan, its monthly fee, what it includes, overage prices
/// plan = "pro"
/// monthly_usd = 20.0
/// included = { requests = 1000000, bandwidth_gb = 1000, function_gb_hours = 1000 }
/// overage_usd = { requests = 0.0000006, bandwidth_gb = 0.15, function_gb_hours = 0.18 }
///
/// [[cost.infra_alternatives.supabase]]   # plans to compare the month with (scale down or up)
/// plan = "free"
/// included = { db_size_gb = 0.5, storage_gb = 1, egress_gb = 5 }
///
/// # Quiet periods the robust forecast knows (default: the year-end holidays below). Listing
/// # any replaces the default; `quiet_periods = []` turns the calendar off.
/// [[cost.quiet_periods]]
/// name = "year-end holidays"
/// from = "12-24"             # MM-DD, both days included; may span the new year
/// to = "01-01"
/// factor = 0.5               # spend as a share of an ordinary day until the history shows one
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
    /// Optional budgets per feature, in dollars a month.
    pub feature_budgets_usd: BTreeMap<String, f64>,
    /// Optional budgets per model, in dollars a month.
    pub model_budgets_usd: BTreeMap<String, f64>,
    /// Infrastructure plans by provider (`vercel`, `supabase`): what a month costs.
    pub infra: BTreeMap<String, InfraPlan>,
    /// Other plans of each provider that the month is priced on too: the cheapest one that
    /// fits the month's usage is recommended (scaling down, or up when overage costs more
    /// than a bigger plan). A metric beyond an alternative's included usage with no overage
    /// price is a hard limit: that plan does not fit. Default: Supabase Free for Supabase;
    /// none for Vercel (Hobby is for non-commercial use only, Enterprise is negotiated).
    pub infra_alternatives: BTreeMap<String, Vec<InfraPlan>>,
    /// Known quiet periods of the year for the robust forecast (default: Christmas Eve to New
    /// Year's Day at half an ordinary day, [`QuietPeriod::year_end`]).
    pub quiet_periods: Vec<QuietPeriod>,
}

/// A provider's plan: a monthly fee that includes some usage, and a price per unit beyond it.
/// Metrics measured as a size (`db_size_gb`, `storage_gb`) are billed on the month's largest
/// value; the others (`requests`, `bandwidth_gb`, `function_gb_hours`, `egress_gb`) on the
/// month's sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraPlan {
    /// The plan's name (`hobby`, `pro`, `free`, `team`…).
    pub plan: String,
    /// The monthly fee in dollars.
    #[serde(default)]
    pub monthly_usd: f64,
    /// Usage included in the fee, per metric.
    #[serde(default)]
    pub included: BTreeMap<String, f64>,
    /// Dollars per unit beyond the included usage, per metric.
    #[serde(default)]
    pub overage_usd: BTreeMap<String, f64>,
}

impl InfraPlan {
    /// Vercel Pro as published when this was written: $20 a month per seat; 1M edge requests,
    /// 1 TB of fast data transfer and 1,000 GB-hours of function execution included; $2 per
    /// extra million requests, $0.15 per GB, $0.18 per GB-hour.
    pub fn vercel_pro() -> Self {
        InfraPlan {
            plan: "pro".into(),
            monthly_usd: 20.0,
            included: [
                ("requests".to_owned(), 1_000_000.0),
                ("bandwidth_gb".to_owned(), 1_000.0),
                ("function_gb_hours".to_owned(), 1_000.0),
            ]
            .into(),
            overage_usd: [
                ("requests".to_owned(), 2.0 / 1_000_000.0),
                ("bandwidth_gb".to_owned(), 0.15),
                ("function_gb_hours".to_owned(), 0.18),
            ]
            .into(),
        }
    }

    /// Supabase Pro as published when this was written: $25 a month; 8 GB of database, 100 GB
    /// of file storage and 250 GB of egress included; $0.125 per GB of database, $0.021 per GB
    /// of storage, $0.09 per GB of egress beyond.
    pub fn supabase_pro() -> Self {
        InfraPlan {
            plan: "pro".into(),
            monthly_usd: 25.0,
            included: [
                ("db_size_gb".to_owned(), 8.0),
                ("storage_gb".to_owned(), 100.0),
                ("egress_gb".to_owned(), 250.0),
            ]
            .into(),
            overage_usd: [
                ("db_size_gb".to_owned(), 0.125),
                ("storage_gb".to_owned(), 0.021),
                ("egress_gb".to_owned(), 0.09),
            ]
            .into(),
        }
    }

    /// Supabase Free as published when this was written: $0; 500 MB of database, 1 GB of file
    /// storage and 5 GB of egress, as hard limits (no overage; a project past them is
    /// restricted), and projects paused after a week without activity.
    pub fn supabase_free() -> Self {
        InfraPlan {
            plan: "free".into(),
            monthly_usd: 0.0,
            included: [
                ("db_size_gb".to_owned(), 0.5),
                ("storage_gb".to_owned(), 1.0),
                ("egress_gb".to_owned(), 5.0),
            ]
            .into(),
            overage_usd: BTreeMap::new(),
        }
    }

    /// Whether `metric` is billed on its largest value (a size) rather than its sum.
    pub fn is_level(metric: &str) -> bool {
        matches!(metric, "db_size_gb" | "storage_gb")
    }

    /// The cost of a month with `usage` per metric (sums, or largest values for sizes).
    pub fn month_cost(&self, usage: &BTreeMap<String, f64>) -> f64 {
        self.monthly_usd
            + usage
                .iter()
                .map(|(m, q)| {
                    let over = (q - self.included.get(m).copied().unwrap_or(0.0)).max(0.0);
                    over * self.overage_usd.get(m).copied().unwrap_or(0.0)
                })
                .sum::<f64>()
    }
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            monthly_budget_usd: Some(500.0),
            interval_coverage: 0.8,
            builtin_catalog: true,
            prices: Vec::new(),
            aliases: BTreeMap::new(),
            feature_budgets_usd: BTreeMap::new(),
            model_budgets_usd: BTreeMap::new(),
            infra: [
                ("vercel".to_owned(), InfraPlan::vercel_pro()),
                ("supabase".to_owned(), InfraPlan::supabase_pro()),
            ]
            .into(),
            infra_alternatives: [("supabase".to_owned(), vec![InfraPlan::supabase_free()])].into(),
            quiet_periods: vec![QuietPeriod::year_end()],
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
    /// The calendar of [`quiet_periods`](Self::quiet_periods), for
    /// [`forecast_with`](crate::forecast::forecast_with).
    pub fn calendar(&self) -> Calendar {
        Calendar::new(self.quiet_periods.clone())
    }

    /// Every problem, each as `cost.<path>: <reason>, got <value>`. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, p) in self.quiet_periods.iter().enumerate() {
            problems.extend(p.problems(&format!("cost.quiet_periods[{i}]")));
        }
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
        for (table, budgets) in [
            ("feature_budgets_usd", &self.feature_budgets_usd),
            ("model_budgets_usd", &self.model_budgets_usd),
        ] {
            for (name, b) in budgets {
                if !(b.is_finite() && *b > 0.0) {
                    problems.push(format!("cost.{table}.{name}: must be > 0, got {b}"));
                }
            }
        }
        let alternatives = self
            .infra_alternatives
            .iter()
            .flat_map(|(provider, plans)| {
                plans.iter().enumerate().map(move |(i, plan)| {
                    (
                        provider,
                        format!("cost.infra_alternatives.{provider}[{i}]"),
                        plan,
                    )
                })
            });
        let plans = self
            .infra
            .iter()
            .map(|(provider, plan)| (provider, format!("cost.infra.{provider}"), plan))
            .chain(alternatives);
        for (provider, at, plan) in plans {
            if !matches!(provider.as_str(), "vercel" | "supabase") {
                problems.push(format!(
                    "{at}: unknown provider {provider:?}; expected vercel or supabase"
                ));
            }
            if !(plan.monthly_usd.is_finite() && plan.monthly_usd >= 0.0) {
                problems.push(format!(
                    "{at}.monthly_usd: must be >= 0, got {}",
                    plan.monthly_usd
                ));
            }
            for (table, values) in [
                ("included", &plan.included),
                ("overage_usd", &plan.overage_usd),
            ] {
                for (metric, v) in values {
                    if !(v.is_finite() && *v >= 0.0) {
                        problems.push(format!("{at}.{table}.{metric}: must be >= 0, got {v}"));
                    }
                }
            }
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
    fn quiet_periods_default_to_the_year_end_and_can_be_replaced_or_turned_off() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let c = CostConfig::default();
        assert_eq!(c.calendar().period_of(d(12, 25)), Some(0));
        let c: CostConfig = toml::from_str(
            r#"
            [[quiet_periods]]
            name = "August"
            from = "08-01"
            to = "08-31"
            factor = 0.7
            [[quiet_periods]]
            from = "12-20"
            to = "01-06"
            factor = 0
            "#,
        )
        .unwrap();
        assert_eq!(
            c.validate(),
            ["cost.quiet_periods[1].factor: must be in (0, 10], got 0"]
        );
        assert_eq!(c.calendar().period_of(d(8, 10)), Some(0));
        assert_eq!(c.calendar().period_of(d(1, 5)), Some(1));
        let off: CostConfig = toml::from_str("quiet_periods = []").unwrap();
        assert_eq!(off.calendar().period_of(d(12, 25)), None);
        assert!(
            toml::from_str::<CostConfig>(
                "[[quiet_periods]]\nfrom = \"12-32\"\nto = \"01-01\"\nfactor = 0.5"
            )
            .is_err()
        );
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
    fn budgets_and_infra_plans_are_checked_with_their_paths() {
        let c: CostConfig = toml::from_str(
            r#"
            [feature_budgets_usd]
            chat = 0
            [model_budgets_usd]
            "gpt-4o" = 100
            [infra.vercel]
            plan = "pro"
            monthly_usd = -1
            overage_usd = { bandwidth_gb = -0.1 }
            [infra.aws]
            plan = "x"
            [[infra_alternatives.supabase]]
            plan = "free"
            included = { egress_gb = -5 }
            "#,
        )
        .unwrap();
        assert_eq!(
            c.validate(),
            vec![
                "cost.feature_budgets_usd.chat: must be > 0, got 0",
                "cost.infra.aws: unknown provider \"aws\"; expected vercel or supabase",
                "cost.infra.vercel.monthly_usd: must be >= 0, got -1",
                "cost.infra.vercel.overage_usd.bandwidth_gb: must be >= 0, got -0.1",
                "cost.infra_alternatives.supabase[0].included.egress_gb: must be >= 0, got -5",
            ]
        );
        // Vercel Pro: $20, plus 500 GB over the included terabyte at $0.15.
        let usage = [("bandwidth_gb".to_owned(), 1_500.0)].into();
        assert!((InfraPlan::vercel_pro().month_cost(&usage) - 95.0).abs() < 1e-9);
        assert!(InfraPlan::is_level("db_size_gb") && !InfraPlan::is_level("egress_gb"));
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
