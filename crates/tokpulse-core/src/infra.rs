//! Infrastructure usage: what Vercel and Supabase report a project used in a period.

use crate::Timestamp;
use crate::values::{Label, RecordId, ValueError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who bills the usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfraProvider {
    /// Vercel: requests, bandwidth, function execution.
    Vercel,
    /// Supabase: plan, database size, storage, egress.
    Supabase,
}

impl InfraProvider {
    /// Both providers.
    pub const ALL: [InfraProvider; 2] = [InfraProvider::Vercel, InfraProvider::Supabase];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InfraProvider::Vercel => "vercel",
            InfraProvider::Supabase => "supabase",
        }
    }

    /// The metrics a record of this provider may carry.
    pub fn metrics(self) -> &'static [&'static str] {
        match self {
            InfraProvider::Vercel => &["requests", "bandwidth_gb", "function_gb_hours"],
            InfraProvider::Supabase => &["db_size_gb", "storage_gb", "egress_gb"],
        }
    }
}

impl FromStr for InfraProvider {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vercel" => Ok(InfraProvider::Vercel),
            "supabase" => Ok(InfraProvider::Supabase),
            other => Err(ValueError(format!(
                "unknown provider {other:?}; expected vercel or supabase"
            ))),
        }
    }
}

impl fmt::Display for InfraProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One usage figure of one provider for one period: `quantity` of `metric` on `plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfraUsageRecord {
    /// Client-supplied (or puller-made) id: a retried record is stored once.
    pub id: RecordId,
    /// Who bills it.
    pub provider: InfraProvider,
    /// The provider's project (Vercel project or team, Supabase project ref).
    pub project: Label,
    /// What was used: one of [`InfraProvider::metrics`].
    pub metric: Label,
    /// How much, in the metric's unit (requests, GB, GB-hours).
    pub quantity: f64,
    /// First instant of the period.
    pub period_start: Timestamp,
    /// First instant after the period.
    pub period_end: Timestamp,
    /// The plan the project is on (`hobby`, `pro`, `free`, `team`…), when known.
    pub plan: Option<Label>,
}
