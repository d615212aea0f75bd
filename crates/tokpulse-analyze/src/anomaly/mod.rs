//! Streaming anomaly detection on one metric series, and NAB's scoring rules to measure it.
//!
//! - [`StreamingDetector`]: sees one point at a time (no look-ahead) and gives each an anomaly
//!   score in `[0, 1]` from robust, seasonal and level-shift baselines, calibrated to how rare
//!   the surprise is for that series, with one high score per incident.
//! - [`nab`]: the Numenta Anomaly Benchmark's scoring (scaled-sigmoid window rewards, false
//!   positive penalties, the three profiles, threshold optimisation and normalisation), used by
//!   `tokpulse bench nab`.

mod detector;
pub mod nab;

pub use detector::{
    BASELINE_POINTS, DAY, FLAT_MIN_SECS, LEVEL_POINTS, RANGE_SECS, REFRACTORY_MARGIN,
    REFRACTORY_SECS, SEASON_DAYS, SEASON_TOLERANCE_SECS, SPREAD_MAX_POINTS, SPREAD_SECS,
    SURPRISE_HISTORY, StreamingDetector, TAIL_FRACTION,
};
