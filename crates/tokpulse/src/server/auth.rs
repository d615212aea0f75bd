//! API key checks. A key's role means what the PostgreSQL role of the same name means:
//! `service` may do everything, `authenticated` may only read embeddings, `anon` nothing.

use super::{ApiError, ServerState};
use axum::http::{HeaderMap, StatusCode, header};
use tokpulse_core::Role;
use tokpulse_store::ApiKeyRow;

/// Whether a key with role `have` may use an endpoint that needs `need`.
pub fn permits(have: Role, need: Role) -> bool {
    match need {
        Role::Service => have == Role::Service,
        Role::Authenticated => matches!(have, Role::Service | Role::Authenticated),
        Role::Anon => true,
    }
}

/// Checks the `Authorization: Bearer …` header against the stored keys; `what` names the data
/// the endpoint touches, for the error message.
pub async fn authorize(
    state: &ServerState,
    headers: &HeaderMap,
    need: Role,
    what: &str,
) -> Result<ApiKeyRow, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <key>` header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <key>`"))?;
    let row = state
        .app
        .store
        .authenticate(&crate::keys::hash(key), chrono::Utc::now())
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
    if !permits(row.role, need) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this key has role `{}`; access to {what} needs role `{}`",
                row.role, need
            ),
        ));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_match_the_database_roles() {
        assert!(permits(Role::Service, Role::Service));
        assert!(!permits(Role::Authenticated, Role::Service));
        assert!(!permits(Role::Anon, Role::Service));
        assert!(permits(Role::Authenticated, Role::Authenticated));
        assert!(!permits(Role::Anon, Role::Authenticated));
        assert!(permits(Role::Anon, Role::Anon));
    }
}
