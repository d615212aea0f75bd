//! Every analyzer, registered in one place: [`AnalyzersConfig`] (`[analyzers]` in
//! `tokpulse.toml`). Adding an analyzer is one file here plus one line in `registry!` below.

mod route_health;

pub use route_health::{RouteHealth, RouteStats};

use crate::Analyzer;
use serde::{Deserialize, Serialize};

/// Declares [`AnalyzersConfig`]: one field per analyzer, named after its `[analyzers.<name>]`
/// table. Each analyzer type must be `Clone + Default + Analyzer + Send + Sync + 'static`, be
/// (de)serializable, and have a `validate(&self) -> Vec<String>` that reports each problem as
/// `field: reason, got value`.
macro_rules! registry {
    (
        $( $(#[$doc:meta])* $field:ident: $ty:ty ),+ $(,)?;
        settings: $( $(#[$sdoc:meta])* $sfield:ident: $sty:ty ),+ $(,)?
    ) => {
        /// `[analyzers]` in `tokpulse.toml`: the settings of every analyzer. A missing table
        /// takes the analyzer's defaults; an unknown key is an error.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct AnalyzersConfig {
            $( $(#[$doc])* pub $field: $ty, )+
            $( $(#[$sdoc])* pub $sfield: $sty, )+
        }

        impl AnalyzersConfig {
            /// Every problem in the settings, each prefixed with its path
            /// (`analyzers.route_health.max_deviation: must be > 0, got -1`). Empty when valid.
            pub fn validate(&self) -> Vec<String> {
                let mut problems = Vec::new();
                $(
                    problems.extend(self.$field.validate().into_iter().map(|p| {
                        format!("analyzers.{}.{p}", stringify!($field))
                    }));
                )+
                $(
                    problems.extend(self.$sfield.validate().into_iter().map(|p| {
                        format!("analyzers.{}.{p}", stringify!($sfield))
                    }));
                )+
                problems
            }

            /// The analyzers, in registration order. Call [`validate`](Self::validate) first.
            pub fn build(&self) -> Vec<Box<dyn Analyzer + Send + Sync>> {
                vec![ $( Box::new(self.$field.clone()) as Box<dyn Analyzer + Send + Sync> ),+ ]
            }
        }
    };
}

registry! {
    /// `[analyzers.route_health]`: p95 latency and error rate per service and route.
    route_health: RouteHealth,;
    // Settings of the diagnosis steps the engine runs itself (over rollups, deploys, CI jobs
    // and logs) rather than through `Analyzer`.
    settings:
    /// `[analyzers.hysteresis]`: open a route's problem after K bad windows, resolve after M good.
    hysteresis: crate::hysteresis::Hysteresis,
    /// `[analyzers.baseline]`: the robust seasonal baseline of a route's hourly p95.
    baseline: crate::baseline::SeasonalBaseline,
    /// `[analyzers.level_shifts]`: change points in a route's hourly p95.
    level_shifts: crate::changepoint::LevelShifts,
    /// `[analyzers.deploy_regression]`: after vs before each deploy, once it has settled.
    deploy_regression: crate::deploy::DeployRegression,
    /// `[analyzers.ci_patterns]`: failing and flaky CI jobs.
    ci_patterns: crate::ci::CiPatterns,
    /// `[analyzers.new_error_patterns]`: error-log templates new since a deploy.
    new_error_patterns: crate::templates::NewErrorPatterns,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_takes_defaults() {
        let c: AnalyzersConfig = toml::from_str("").unwrap();
        assert_eq!(c, AnalyzersConfig::default());
        assert!(c.validate().is_empty());
        let built = c.build();
        assert_eq!(built.len(), 1);
        assert_eq!(built[0].name(), "route_health");
    }

    #[test]
    fn validate_prefixes_paths_and_reports_everything() {
        let c: AnalyzersConfig = toml::from_str(
            "[route_health]\nmax_deviation = -1\nmin_requests = 0\np95_threshold_ms = \"off\"\n",
        )
        .unwrap();
        assert_eq!(c.route_health.p95_threshold_ms, None);
        assert_eq!(
            c.validate(),
            vec![
                "analyzers.route_health.min_requests: must be at least 1, got 0".to_owned(),
                "analyzers.route_health.max_deviation: must be > 0, got -1".to_owned(),
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<AnalyzersConfig>("[route_healt]\n").unwrap_err();
        assert!(err.to_string().contains("route_healt"), "{err}");
        let err = toml::from_str::<AnalyzersConfig>("[route_health]\nmax_dev = 1.0\n").unwrap_err();
        assert!(err.to_string().contains("max_dev"), "{err}");
    }
}
