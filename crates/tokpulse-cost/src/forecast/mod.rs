//! Month-end spend projection: the seed's linear regression and a robust seasonal method beside
//! it, each with a prediction interval.
//!
//! The input is daily spend in dollars, oldest first, ending with the last complete day
//! ([`DailySpend`]); a forecast says what the month of that day will cost in total, with an
//! interval meant to hold the real total with probability `coverage` (80% by default).

mod calendar;
mod linear;
mod robust;
pub mod stats;

pub use calendar::{Calendar, MonthDay, QuietPeriod};
pub use robust::RobustModel;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// Daily spend up to and including `as_of`.
#[derive(Debug, Clone, Copy)]
pub struct DailySpend<'a> {
    /// Dollars per UTC day, oldest first, one value per day, no gaps (a day without calls is 0).
    pub daily: &'a [f64],
    /// The day of the last value.
    pub as_of: NaiveDate,
}

impl DailySpend<'_> {
    /// Index of the first day of `as_of`'s month in `daily` (0 if the history starts later).
    pub fn month_start(&self) -> usize {
        (self.daily.len()).saturating_sub(self.as_of.day() as usize)
    }

    /// Days left in the month after `as_of`.
    pub fn days_left(&self) -> usize {
        (days_in_month(self.as_of) - self.as_of.day()) as usize
    }

    /// Spend so far this month.
    pub fn month_to_date(&self) -> f64 {
        self.daily[self.month_start()..].iter().sum()
    }

    /// Weekday (0 = Monday) of `daily[0]`.
    pub fn first_weekday(&self) -> u32 {
        self.first_day().weekday().num_days_from_monday()
    }

    /// The day of `daily[0]`.
    pub fn first_day(&self) -> NaiveDate {
        let back = self.daily.len().saturating_sub(1) as u64;
        self.as_of
            .checked_sub_days(Days::new(back))
            .unwrap_or(self.as_of)
    }
}

/// Days in the month of `day`.
pub fn days_in_month(day: NaiveDate) -> u32 {
    let (y, m) = (day.year(), day.month());
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    match (
        NaiveDate::from_ymd_opt(y, m, 1),
        NaiveDate::from_ymd_opt(ny, nm, 1),
    ) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 30,
    }
}

/// A forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The seed's method: ordinary least squares of daily spend on day of month over the
    /// month so far, extrapolated to month end; interval from the OLS prediction variance of
    /// the remaining days' sum (Student t).
    Linear,
    /// The same regression over the last 28 days (across the month boundary): shows how much
    /// of the robust method's gain comes from simply using more history.
    LinearTrailing28,
    /// Robust trend plus day-of-week seasonality on log spend over the last 84 days (Theil–Sen
    /// slope, median weekday effects, Huber levels of the last 7, 14 and 28 days) and a
    /// calendar of known quiet periods; the projection is the equal-weight combination of the
    /// three levels with the trend carried in full, in half or not at all. Interval from the
    /// method's own errors at the same horizon over the last year (rolling origin; mean ±
    /// Student t × spread, with degrees of freedom for the independent windows among them), or
    /// a log-normal approximation when there are fewer than 20 of them.
    RobustSeasonal,
}

impl Method {
    /// Every method, the seed's first.
    pub const ALL: [Method; 3] = [
        Method::Linear,
        Method::LinearTrailing28,
        Method::RobustSeasonal,
    ];

    /// The stored name (`cost_predictions.method`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Linear => "linear",
            Method::LinearTrailing28 => "linear_trailing_28d",
            Method::RobustSeasonal => "robust_seasonal",
        }
    }
}

/// A month-end projection with its prediction interval, in dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The method that made it.
    pub method: Method,
    /// The last day of data.
    pub as_of: NaiveDate,
    /// Spend from the first of the month to `as_of`.
    pub spent_to_date: f64,
    /// Projected spend for the whole month.
    pub projection: f64,
    /// Lower end of the interval (never below `spent_to_date`).
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// Nominal probability that the real month-end lies in `[lower, upper]`.
    pub coverage: f64,
}

/// Why there is no forecast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForecastError {
    /// Too few days of data for the method.
    #[error("{method} needs at least {need} days of spend, got {got}")]
    NotEnoughData {
        /// The method's stored name.
        method: &'static str,
        /// Days it needs.
        need: usize,
        /// Days it got.
        got: usize,
    },
}

/// The month-end forecast of `input` by `method`, with an interval of nominal `coverage`
/// (in (0.5, 1)), knowing the default calendar ([`Calendar::year_end`]).
pub fn forecast(
    method: Method,
    input: &DailySpend<'_>,
    coverage: f64,
) -> Result<Forecast, ForecastError> {
    forecast_with(method, input, coverage, &Calendar::year_end())
}

/// [`forecast`] knowing the quiet periods of `calendar` (only [`Method::RobustSeasonal`]
/// uses them; the linear methods stay as the seed defines them).
pub fn forecast_with(
    method: Method,
    input: &DailySpend<'_>,
    coverage: f64,
    calendar: &Calendar,
) -> Result<Forecast, ForecastError> {
    match method {
        Method::Linear => linear::forecast(method, input, input.month_start(), coverage),
        Method::LinearTrailing28 => {
            let start = input.daily.len().saturating_sub(28);
            linear::forecast(method, input, start, coverage)
        }
        Method::RobustSeasonal => {
            let first = input.first_day();
            robust::forecast(input, coverage, |end| {
                RobustModel::fit_dated(&input.daily[..end], first, calendar)
            })
        }
    }
}

/// [`forecast`] with [`Method::RobustSeasonal`], taking the model fitted on the first `k` days
/// from `fit_at(k)`: lets a replay fit each day once and reuse the fits for the interval.
pub fn forecast_robust_with(
    input: &DailySpend<'_>,
    coverage: f64,
    fit_at: impl FnMut(usize) -> Option<RobustModel>,
) -> Result<Forecast, ForecastError> {
    robust::forecast(input, coverage, fit_at)
}

/// Builds a [`Forecast`], keeping the interval around the projection and above spend so far.
fn finish(
    method: Method,
    input: &DailySpend<'_>,
    future: f64,
    future_lo: f64,
    future_hi: f64,
    coverage: f64,
) -> Forecast {
    let spent = input.month_to_date();
    let future = future.max(0.0);
    Forecast {
        method,
        as_of: input.as_of,
        spent_to_date: spent,
        projection: spent + future,
        lower: spent + future_lo.clamp(0.0, future),
        upper: spent + future_hi.max(future),
        coverage,
    }
}
