//! Exact quantiles by the nearest-rank method.
//!
//! The analyzers see one window of raw samples at a time, so they compute exact quantiles;
//! sketches (mergeable, approximate) belong to the store's rollups.

/// The `q`-quantile of `values` by the nearest-rank method: the value at 1-based rank
/// ⌈q·n⌉ of the sorted values (rank 1 for `q = 0`), so it is always one of the values.
///
/// Reorders `values` (a partial selection, O(n) on average). Returns `None` when `values` is
/// empty or `q` is not in `[0, 1]`. Values are ordered by [`f64::total_cmp`]; callers should
/// leave non-finite values out.
///
/// ```
/// use tokpulse_analyze::quantile;
///
/// let mut v = [50.0, 15.0, 40.0, 20.0, 35.0];
/// assert_eq!(quantile(&mut v, 0.3), Some(20.0));
/// assert_eq!(quantile(&mut v, 0.5), Some(35.0));
/// assert_eq!(quantile(&mut v, 1.0), Some(50.0));
/// ```
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = nearest_rank(values.len(), q);
    let (_, v, _) = values.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some(*v)
}

/// The 95th percentile of `values` by nearest rank: see [`quantile`].
///
/// ```
/// use tokpulse_analyze::p95;
///
/// let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
/// assert_eq!(p95(&mut v), Some(95.0));
/// assert_eq!(p95(&mut []), None);
/// ```
pub fn p95(values: &mut [f64]) -> Option<f64> {
    quantile(values, 0.95)
}

/// ⌈q·n⌉ clamped to `1..=n`. A product within rounding error of a whole number is taken as that
/// number, so that `0.95 × 20` is rank 19 even if the floating-point product lands just above it.
pub(crate) fn nearest_rank(n: usize, q: f64) -> usize {
    let x = q * n as f64;
    let whole = x.round();
    let rank = if (x - whole).abs() <= 1e-9 * x.max(1.0) {
        whole
    } else {
        x.ceil()
    };
    // `rank` is in [0, n] because q is in [0, 1]; the cast saturates anyway.
    (rank as usize).clamp(1, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_known_vectors() {
        // The textbook example (Wikipedia, "Percentile", nearest-rank method).
        let v = [15.0, 20.0, 35.0, 40.0, 50.0];
        for (q, want) in [
            (0.0, 15.0),
            (0.05, 15.0),
            (0.3, 20.0),
            (0.4, 20.0),
            (0.5, 35.0),
            (1.0, 50.0),
        ] {
            let mut w = v;
            assert_eq!(quantile(&mut w, q), Some(want), "q = {q}");
        }
        let v = [3.0, 6.0, 7.0, 8.0, 8.0, 10.0, 13.0, 15.0, 16.0, 20.0];
        for (q, want) in [(0.25, 7.0), (0.5, 8.0), (0.75, 15.0), (1.0, 20.0)] {
            let mut w = v;
            assert_eq!(quantile(&mut w, q), Some(want), "q = {q}");
        }
    }

    #[test]
    fn p95_ranks() {
        // n = 20: rank 19 exactly, not 20 through rounding.
        let mut v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(p95(&mut v), Some(19.0));
        // n = 10: ⌈9.5⌉ = 10, the maximum.
        let mut v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(p95(&mut v), Some(10.0));
        // n = 1000: rank 950.
        let mut v: Vec<f64> = (1..=1000).rev().map(f64::from).collect();
        assert_eq!(p95(&mut v), Some(950.0));
        // One value, duplicates.
        assert_eq!(p95(&mut [7.0]), Some(7.0));
        assert_eq!(p95(&mut [2.0, 2.0, 2.0]), Some(2.0));
        for n in 1..=300usize {
            let mut v: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            let want = (95 * n).div_ceil(100) as f64;
            assert_eq!(p95(&mut v), Some(want), "n = {n}");
        }
    }

    #[test]
    fn bad_input_gives_none() {
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [1.0], -0.1), None);
        assert_eq!(quantile(&mut [1.0], 1.1), None);
        assert_eq!(quantile(&mut [1.0], f64::NAN), None);
    }
}
