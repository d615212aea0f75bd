//! Errors of the cost crate.

use chrono::NaiveDate;

/// A call to a model the catalog has no price for on the call's day. The call keeps its tokens
/// and raises a finding; it is never priced at zero.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.model, .day, .first_price))]
pub struct UnknownModel {
    /// The model name as the call spelled it.
    pub model: String,
    /// The day of the call.
    pub day: NaiveDate,
    /// When the model is in the catalog but only from a later day: that day.
    pub first_price: Option<NaiveDate>,
}

fn describe(model: &str, day: &NaiveDate, first: &Option<NaiveDate>) -> String {
    match first {
        None => format!("model `{model}` is not in the pricing catalog (call on {day})"),
        Some(f) => format!("model `{model}` has no price before {f} (call on {day})"),
    }
}
