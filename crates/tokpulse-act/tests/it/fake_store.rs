//! An in-memory [`Store`] with just the action queue, so the worker can be tested without a
//! database. It keeps the queue's contract: one action per idempotency key, due actions oldest
//! first, failed attempts counted, `retry_at = None` parks.

use async_trait::async_trait;
use std::sync::Mutex;
use tokpulse_core::{
    DeployEvent, Finding, FindingStatus, RecordKind, RequestSample, StoredFinding, Timestamp,
    Window,
};
use tokpulse_store::{
    ActionRow, ActionStatus, ApiKeyRow, Backend, Batch, FindingChange, InsertOutcome, NewAction,
    NewApiKey, Store, StoreError, Table,
};

#[derive(Default)]
pub struct FakeStore {
    actions: Mutex<Vec<ActionRow>>,
}

impl FakeStore {
    pub fn action(&self, id: i64) -> ActionRow {
        self.actions.lock().unwrap()[(id - 1) as usize].clone()
    }

    pub fn all(&self) -> Vec<ActionRow> {
        self.actions.lock().unwrap().clone()
    }

    fn update(&self, id: i64, f: impl FnOnce(&mut ActionRow)) -> Result<(), StoreError> {
        let mut actions = self.actions.lock().unwrap();
        let row = actions
            .get_mut((id - 1) as usize)
            .ok_or_else(|| StoreError::Corrupt {
                table: "actions",
                reason: format!("no action {id}"),
            })?;
        f(row);
        Ok(())
    }
}

fn unsupported() -> StoreError {
    StoreError::Corrupt {
        table: "fake",
        reason: "not supported by the fake store".into(),
    }
}

#[async_trait]
impl Store for FakeStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        Ok(Vec::new())
    }

    async fn insert_batch(&self, _: &Batch) -> Result<InsertOutcome, StoreError> {
        Err(unsupported())
    }

    async fn has_record(&self, _: RecordKind, _: &str) -> Result<bool, StoreError> {
        Err(unsupported())
    }

    async fn count(&self, table: Table) -> Result<i64, StoreError> {
        match table {
            Table::Actions => Ok(self.actions.lock().unwrap().len() as i64),
            _ => Err(unsupported()),
        }
    }

    async fn request_samples(&self, _: Window) -> Result<Vec<RequestSample>, StoreError> {
        Err(unsupported())
    }

    async fn deployments(&self, _: Window) -> Result<Vec<DeployEvent>, StoreError> {
        Err(unsupported())
    }

    async fn upsert_finding(&self, _: &Finding, _: Timestamp) -> Result<FindingChange, StoreError> {
        Err(unsupported())
    }

    async fn resolve_finding(&self, _: i64, _: Timestamp) -> Result<bool, StoreError> {
        Err(unsupported())
    }

    async fn findings(
        &self,
        _: Option<FindingStatus>,
        _: i64,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        Err(unsupported())
    }

    async fn enqueue_action(&self, a: &NewAction) -> Result<Option<i64>, StoreError> {
        let mut actions = self.actions.lock().unwrap();
        if actions
            .iter()
            .any(|r| r.idempotency_key == a.idempotency_key)
        {
            return Ok(None);
        }
        let id = actions.len() as i64 + 1;
        actions.push(a.queued_as(id));
        Ok(Some(id))
    }

    async fn due_actions(
        &self,
        sink: &str,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<ActionRow>, StoreError> {
        let mut due: Vec<ActionRow> = self
            .actions
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.sink == sink && r.status == ActionStatus::Pending)
            .filter(|r| r.next_attempt_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|r| (r.created_at, r.id));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn actions(&self, limit: i64) -> Result<Vec<ActionRow>, StoreError> {
        let mut all = self.all();
        all.reverse();
        all.truncate(limit as usize);
        Ok(all)
    }

    async fn mark_action_delivered(
        &self,
        id: i64,
        at: Timestamp,
        external_ref: &str,
    ) -> Result<(), StoreError> {
        self.update(id, |r| {
            r.status = ActionStatus::Delivered;
            r.attempts += 1;
            r.delivered_at = Some(at);
            r.external_ref = Some(external_ref.to_owned());
        })
    }

    async fn mark_action_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.update(id, |r| {
            r.attempts += 1;
            r.last_error = Some(error.to_owned());
            match retry_at {
                Some(t) => r.next_attempt_at = t,
                None => r.status = ActionStatus::Parked,
            }
        })
    }

    async fn retry_action(&self, _: i64, _: Timestamp) -> Result<bool, StoreError> {
        Err(unsupported())
    }

    async fn create_api_key(&self, _: &NewApiKey) -> Result<i64, StoreError> {
        Err(unsupported())
    }

    async fn authenticate(&self, _: &str, _: Timestamp) -> Result<Option<ApiKeyRow>, StoreError> {
        Err(unsupported())
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        Err(unsupported())
    }

    async fn revoke_api_key(&self, _: i64, _: Timestamp) -> Result<bool, StoreError> {
        Err(unsupported())
    }

    async fn close(&self) {}
}
