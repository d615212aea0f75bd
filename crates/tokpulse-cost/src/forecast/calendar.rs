//! Known quiet periods of the year (the year-end holidays by default): days on which spend is
//! expected to be lower than the trend and the weekly pattern say, whatever happened just
//! before. A forecaster that knows the public holidays is standard practice (Prophet's
//! `holidays`); here the periods are data (`[[cost.quiet_periods]]` in `tokpulse.toml`), each
//! with a prior factor used until the series' own history shows what the period does to it.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A day of the year, `"MM-DD"` in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MonthDay {
    /// 1–12.
    pub month: u32,
    /// 1–31 (29 February is allowed and matches only in leap years).
    pub day: u32,
}

impl MonthDay {
    /// `month`-`day`, `None` if no year has that day.
    pub fn new(month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(2024, month, day).map(|_| MonthDay { month, day })
    }

    /// The month and day of `date`.
    pub fn of(date: NaiveDate) -> Self {
        MonthDay {
            month: date.month(),
            day: date.day(),
        }
    }
}

impl TryFrom<String> for MonthDay {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let bad = || format!("expected \"MM-DD\", got {s:?}");
        let (m, d) = s.trim().split_once('-').ok_or_else(bad)?;
        let (m, d) = (
            m.parse::<u32>().map_err(|_| bad())?,
            d.parse::<u32>().map_err(|_| bad())?,
        );
        MonthDay::new(m, d).ok_or_else(bad)
    }
}

impl From<MonthDay> for String {
    fn from(d: MonthDay) -> String {
        d.to_string()
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// A period of the year when spend is known to be lower (or higher) than usual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietPeriod {
    /// What it is, for people.
    #[serde(default)]
    pub name: String,
    /// First day, `"MM-DD"`.
    pub from: MonthDay,
    /// Last day, `"MM-DD"`, included; before `from` when the period spans the new year.
    pub to: MonthDay,
    /// Spend on those days as a share of what an ordinary day would cost, used until the
    /// series' own history shows a past occurrence (then what it did there prevails).
    pub factor: f64,
}

impl QuietPeriod {
    /// Christmas Eve to New Year's Day: offices close, teams take leave and the usage of
    /// business tools falls. The prior factor, 0.5 (about half an ordinary day), is a round
    /// guess; once the history holds a past occurrence, what spend did then prevails (see
    /// `RobustModel::fit_dated`).
    pub fn year_end() -> Self {
        QuietPeriod {
            name: "year-end holidays".to_owned(),
            from: MonthDay { month: 12, day: 24 },
            to: MonthDay { month: 1, day: 1 },
            factor: 0.5,
        }
    }

    /// Whether `date` falls in the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        let d = MonthDay::of(date);
        if self.from <= self.to {
            self.from <= d && d <= self.to
        } else {
            d >= self.from || d <= self.to
        }
    }

    /// Problems with the period, each prefixed with `at`.
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut v = Vec::new();
        if !(self.factor.is_finite() && self.factor > 0.0 && self.factor <= 10.0) {
            v.push(format!(
                "{at}.factor: must be in (0, 10], got {}",
                self.factor
            ));
        }
        v
    }
}

/// The quiet periods a forecast knows about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calendar {
    periods: Vec<QuietPeriod>,
}

impl Calendar {
    /// A calendar of `periods` (the first one that contains a day applies to it).
    pub fn new(periods: Vec<QuietPeriod>) -> Self {
        Calendar { periods }
    }

    /// No quiet periods.
    pub fn none() -> Self {
        Calendar::default()
    }

    /// The default: [`QuietPeriod::year_end`].
    pub fn year_end() -> Self {
        Calendar::new(vec![QuietPeriod::year_end()])
    }

    /// The periods.
    pub fn periods(&self) -> &[QuietPeriod] {
        &self.periods
    }

    /// Index of the period containing `date`, if any.
    pub fn period_of(&self, date: NaiveDate) -> Option<usize> {
        self.periods.iter().position(|p| p.contains(date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_year_end_period_spans_the_new_year() {
        let p = QuietPeriod::year_end();
        assert!(!p.contains(d(2025, 12, 23)));
        assert!(p.contains(d(2025, 12, 24)));
        assert!(p.contains(d(2025, 12, 31)));
        assert!(p.contains(d(2026, 1, 1)));
        assert!(!p.contains(d(2026, 1, 2)));
        let summer = QuietPeriod {
            name: "August".into(),
            from: MonthDay::new(8, 1).unwrap(),
            to: MonthDay::new(8, 31).unwrap(),
            factor: 0.7,
        };
        assert!(summer.contains(d(2025, 8, 15)) && !summer.contains(d(2025, 9, 1)));
        let cal = Calendar::new(vec![p, summer]);
        assert_eq!(cal.period_of(d(2025, 8, 2)), Some(1));
        assert_eq!(cal.period_of(d(2025, 12, 25)), Some(0));
        assert_eq!(cal.period_of(d(2025, 6, 2)), None);
        assert_eq!(Calendar::none().period_of(d(2025, 12, 25)), None);
    }

    #[test]
    fn month_days_parse_from_and_print_as_mm_dd() {
        assert_eq!(
            MonthDay::try_from("12-24".to_owned()),
            Ok(MonthDay { month: 12, day: 24 })
        );
        assert_eq!(MonthDay::new(2, 29).unwrap().to_string(), "02-29");
        for bad in ["13-01", "02-30", "1224", "x-1", ""] {
            assert!(MonthDay::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        let p = QuietPeriod {
            factor: 0.0,
            ..QuietPeriod::year_end()
        };
        assert_eq!(p.problems("cost.quiet_periods[0]").len(), 1);
        assert!(QuietPeriod::year_end().problems("x").is_empty());
    }
}
