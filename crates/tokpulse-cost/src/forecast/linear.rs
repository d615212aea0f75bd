//! The seed's method: least squares of daily spend on the day, extrapolated to month end.

use super::stats::t_quantile;
use super::{DailySpend, Forecast, ForecastError, Method, finish};

/// Fits `daily[start..]` and projects the rest of the month. Needs 3 days (one degree of
/// freedom for the interval).
pub(super) fn forecast(
    method: Method,
    input: &DailySpend<'_>,
    start: usize,
    coverage: f64,
) -> Result<Forecast, ForecastError> {
    let y = &input.daily[start..];
    let n = y.len();
    if n < 3 {
        return Err(ForecastError::NotEnoughData {
            method: method.as_str(),
            need: 3,
            got: n,
        });
    }
    // x = 0..n for the fitted days; the future days are n..n+h.
    let nf = n as f64;
    let (sx, sxx) = (0..n).fold((0.0, 0.0), |(s, ss), i| {
        let x = i as f64;
        (s + x, ss + x * x)
    });
    let sy: f64 = y.iter().sum();
    let sxy: f64 = y.iter().enumerate().map(|(i, v)| i as f64 * v).sum();
    let det = nf * sxx - sx * sx;
    let slope = (nf * sxy - sx * sy) / det;
    let intercept = (sy - slope * sx) / nf;
    let ssr: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (v - intercept - slope * i as f64).powi(2))
        .sum();
    let sigma2 = ssr / (nf - 2.0);

    let h = input.days_left();
    let hf = h as f64;
    let t_future: f64 = (n..n + h).map(|i| i as f64).sum();
    let future = intercept * hf + slope * t_future;
    // Var(sum of future errors) = σ²·(h + cᵀ(XᵀX)⁻¹c) with c = (h, Σ future x).
    let c_inv_c = (sxx * hf * hf - 2.0 * sx * hf * t_future + nf * t_future * t_future) / det;
    let sd = (sigma2 * (hf + c_inv_c)).sqrt();
    let t = t_quantile(0.5 + coverage / 2.0, nf - 2.0);
    Ok(finish(
        method,
        input,
        future,
        future - t * sd,
        future + t * sd,
        coverage,
    ))
}

#[cfg(test)]
mod tests {
    use crate::forecast::{DailySpend, Method, forecast};
    use chrono::NaiveDate;

    #[test]
    fn a_straight_line_is_projected_exactly() {
        // $10 on the 1st, +$1 a day: June has 30 days, so the month is Σ 10..=39 = 735.
        let daily: Vec<f64> = (0..10).map(|i| 10.0 + i as f64).collect();
        let input = DailySpend {
            daily: &daily,
            as_of: NaiveDate::from_ymd_opt(2026, 6, 10).unwrap(),
        };
        let f = forecast(Method::Linear, &input, 0.8).unwrap();
        assert!((f.spent_to_date - 145.0).abs() < 1e-9);
        assert!((f.projection - 735.0).abs() < 1e-6, "{f:?}");
        assert!(
            (f.upper - f.lower).abs() < 1e-6,
            "no noise, no width: {f:?}"
        );
    }

    #[test]
    fn noise_gives_an_interval_around_the_projection() {
        let daily = [10.0, 12.0, 9.0, 11.0, 10.0, 13.0, 9.0];
        let input = DailySpend {
            daily: &daily,
            as_of: NaiveDate::from_ymd_opt(2026, 6, 7).unwrap(),
        };
        let f = forecast(Method::Linear, &input, 0.8).unwrap();
        assert!(f.lower < f.projection && f.projection < f.upper, "{f:?}");
        assert!(f.lower >= f.spent_to_date);
        let wide = forecast(Method::Linear, &input, 0.95).unwrap();
        assert!(wide.upper - wide.lower > f.upper - f.lower);
        // Only the month so far is used by the seed's method.
        let short = DailySpend {
            daily: &daily[..2],
            as_of: NaiveDate::from_ymd_opt(2026, 6, 2).unwrap(),
        };
        assert!(forecast(Method::Linear, &short, 0.8).is_err());
    }
}
