//! TokPulse's cost arithmetic: what each AI call cost, what the month will cost, how that
//! compares with the budget, and where to spend less. Pure functions on plain data, like
//! `tokpulse-analyze`: no I/O, no clock, no async. The engine loads usage, calls these, and
//! stores the results.
//!
//! - [`Catalog`]: a dated pricing catalog. Built-in OpenAI list prices ([`BUILTIN_PRICES`],
//!   each with the day it took effect, as known when written), overridden and extended by
//!   [`CostConfig`] (`[cost]` in `tokpulse.toml`). [`Catalog::price`] prices a [`Call`] at the
//!   price in force on its day, input, cached input and output separately; a model it does not
//!   know is an [`UnknownModel`] error, never a price of zero.
//! - [`Rollup`]: every call priced and summed per day, service, feature and model, one by one
//!   or as groups summed beforehand ([`Rollup::add_group`]: a day of the store's daily AI usage
//!   rollup costs what its calls do); calls to unknown models keep their tokens and are listed
//!   for a finding.
//! - [`forecast()`]: month-end projection from daily spend by a [`Method`]: the seed's linear
//!   regression, or a robust trend with day-of-week seasonality; each with a prediction
//!   interval of stated coverage.
//! - [`BudgetTier`] / [`BudgetStatus`]: the seed's deviation tiers (<10% monitor, 10–20% alert
//!   the team, 20–30% Discussion, >30% critical) and the finding severity each maps to.
//! - [`recommend`]: savings with their arithmetic and evidence: cheaper model, caching,
//!   batching embeddings, cutting failed calls.
//! - [`backtest`]: generated spend histories and the replay that scores the forecast methods
//!   (`tokpulse cost backtest`).
//!
//! ```
//! use chrono::NaiveDate;
//! use tokpulse_cost::{BudgetTier, Call, Catalog, DailySpend, Method, forecast};
//!
//! let catalog = Catalog::builtin();
//! let day = NaiveDate::from_ymd_opt(2025, 6, 12).unwrap();
//! let call = Call {
//!     model: "gpt-4o-mini-2024-07-18",
//!     day,
//!     input_tokens: 1_200,
//!     cached_input_tokens: 0,
//!     output_tokens: 300,
//! };
//! // $0.15 per 1M input tokens, $0.60 per 1M output tokens.
//! let cost = catalog.price(&call).unwrap();
//! assert!((cost.total_usd() - 0.00036).abs() < 1e-12);
//! assert!(catalog.price(&Call { model: "no-such-model", ..call }).is_err());
//!
//! // Twelve days of June at about $20 a day, with quieter weekends.
//! let daily = [20.0, 21.0, 19.0, 22.0, 20.0, 12.0, 11.0, 21.0, 20.0, 22.0, 21.0, 20.0];
//! let input = DailySpend { daily: &daily, as_of: day };
//! let f = forecast(Method::RobustSeasonal, &input, 0.8).unwrap();
//! assert!(f.lower <= f.projection && f.projection <= f.upper);
//! assert!(f.projection > 400.0 && f.projection < 700.0);
//! assert_eq!(BudgetTier::of(550.0, 500.0), BudgetTier::AlertTeam);
//! ```
#![warn(missing_docs)]

pub mod backtest;
mod budget;
mod config;
mod error;
pub mod forecast;
mod pricing;
pub mod recommend;
mod rollup;

pub use budget::{BudgetStatus, BudgetTier};
pub use config::{CostConfig, InfraPlan, PriceConfig, PriceUnit};
pub use error::UnknownModel;
pub use forecast::{DailySpend, Forecast, ForecastError, Method, forecast};
pub use pricing::{BUILTIN_ALIASES, BUILTIN_PRICES, Call, Catalog, Cost, Day, Price};
pub use rollup::{Rollup, RollupKey, RollupRow, UnknownTally};
