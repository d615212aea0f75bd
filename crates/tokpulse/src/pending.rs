//! Draining rows "not rolled up yet" into a rollup, batch by batch: the shared loop of
//! [`diagnosis::roll_up`](crate::diagnosis::roll_up) (requests into `request_rollups`) and
//! [`cost_run::roll_up`](crate::cost_run::roll_up) (AI calls into `ai_usage_daily`).

use std::future::Future;

/// Rows read per batch.
pub(crate) const BATCH: i64 = 20_000;
/// Attempts at one batch when another writer commits the same rows first.
const ATTEMPTS: usize = 5;

/// What one batch came to.
pub(crate) enum Batch {
    /// Nothing was pending.
    Empty,
    /// This many rows were counted and marked.
    Committed(usize),
    /// Another writer marked some of them first; nothing was written.
    Lost,
}

/// Runs `batch` until nothing is pending; returns how many rows were committed. A batch lost
/// to another writer is read and tried again, up to [`ATTEMPTS`] times in a row, then the
/// drain fails with `lost_message`.
pub(crate) async fn drain<F, Fut>(lost_message: &'static str, mut batch: F) -> anyhow::Result<usize>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Batch>>,
{
    let (mut total, mut lost) = (0, 0);
    loop {
        match batch().await? {
            Batch::Empty => return Ok(total),
            Batch::Committed(n) => {
                total += n;
                lost = 0;
            }
            Batch::Lost => {
                lost += 1;
                if lost == ATTEMPTS {
                    anyhow::bail!(lost_message);
                }
            }
        }
    }
}
