//! Budget deviation tiers, exactly as the seed sets them.

use serde::{Deserialize, Serialize};
use tokpulse_core::Severity;

/// What a projected overrun calls for. Deviation is `(projection − budget) / budget`:
///
/// | deviation | tier |
/// | --- | --- |
/// | below 10% (under budget included) | [`Monitor`](BudgetTier::Monitor) |
/// | 10% up to, not including, 20% | [`AlertTeam`](BudgetTier::AlertTeam) |
/// | 20% up to and including 30% | [`Discussion`](BudgetTier::Discussion) |
/// | above 30% | [`Critical`](BudgetTier::Critical) |
///
/// The seed writes "<10% monitor, 10–20% alert team, 20–30% Discussion, >30% critical". Taken
/// literally, exactly 10% is not "<10%" (so it alerts) and exactly 30% is not ">30%" (so it opens
/// a Discussion); exactly 20% sits in both ranges and escalates, as 10% does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetTier {
    /// Keep watching.
    Monitor,
    /// Tell the team.
    AlertTeam,
    /// Open a GitHub Discussion.
    Discussion,
    /// Critical alert.
    Critical,
}

impl BudgetTier {
    /// The tier of a month projected to cost `projection` against `budget` (both in dollars;
    /// `budget` > 0). Compares `10 · overrun` with multiples of the budget, so that exactly 10%,
    /// 20% and 30% land on their boundary without rounding error.
    pub fn of(projection: f64, budget: f64) -> BudgetTier {
        let over10 = (projection - budget) * 10.0;
        if over10 < budget {
            BudgetTier::Monitor
        } else if over10 < 2.0 * budget {
            BudgetTier::AlertTeam
        } else if over10 <= 3.0 * budget {
            BudgetTier::Discussion
        } else {
            BudgetTier::Critical
        }
    }

    /// The severity of the finding this tier raises.
    pub fn severity(self) -> Severity {
        match self {
            BudgetTier::Monitor => Severity::Info,
            BudgetTier::AlertTeam => Severity::Warning,
            BudgetTier::Discussion => Severity::High,
            BudgetTier::Critical => Severity::Critical,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetTier::Monitor => "monitor",
            BudgetTier::AlertTeam => "alert_team",
            BudgetTier::Discussion => "discussion",
            BudgetTier::Critical => "critical",
        }
    }
}

/// A projection held against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The month's budget in dollars.
    pub budget_usd: f64,
    /// The projected month-end spend in dollars.
    pub projection_usd: f64,
    /// `(projection − budget) / budget`, as a fraction (0.12 = 12% over).
    pub deviation: f64,
    /// What it calls for.
    pub tier: BudgetTier,
}

impl BudgetStatus {
    /// `projection` against `budget` (> 0).
    pub fn new(projection: f64, budget: f64) -> Self {
        BudgetStatus {
            budget_usd: budget,
            projection_usd: projection,
            deviation: (projection - budget) / budget,
            tier: BudgetTier::of(projection, budget),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BudgetTier::*;

    #[test]
    fn tiers_at_their_exact_boundaries() {
        // The seed's $500 budget.
        assert_eq!(BudgetTier::of(549.99, 500.0), Monitor);
        assert_eq!(BudgetTier::of(550.0, 500.0), AlertTeam); // exactly 10%
        assert_eq!(BudgetTier::of(599.99, 500.0), AlertTeam);
        assert_eq!(BudgetTier::of(600.0, 500.0), Discussion); // exactly 20%
        assert_eq!(BudgetTier::of(650.0, 500.0), Discussion); // exactly 30%
        assert_eq!(BudgetTier::of(650.01, 500.0), Critical);
        // Awkward decimal budgets too.
        assert_eq!(BudgetTier::of(1.1 * 0.3, 0.3), BudgetTier::of(0.33, 0.3));
        assert_eq!(BudgetTier::of(110.0, 100.0), AlertTeam);
        assert_eq!(BudgetTier::of(120.0, 100.0), Discussion);
        assert_eq!(BudgetTier::of(130.0, 100.0), Discussion);
    }

    #[test]
    fn under_budget_is_monitor_and_severity_follows_the_tier() {
        assert_eq!(BudgetTier::of(0.0, 500.0), Monitor);
        assert_eq!(BudgetTier::of(400.0, 500.0), Monitor);
        assert_eq!(BudgetTier::of(5000.0, 500.0), Critical);
        let sev: Vec<_> = [Monitor, AlertTeam, Discussion, Critical]
            .map(BudgetTier::severity)
            .into();
        assert_eq!(
            sev,
            vec![
                Severity::Info,
                Severity::Warning,
                Severity::High,
                Severity::Critical
            ]
        );
        let s = BudgetStatus::new(560.0, 500.0);
        assert!((s.deviation - 0.12).abs() < 1e-12);
        assert_eq!(s.tier, AlertTeam);
    }
}
