//! GitHub App authentication: a JWT signed with the app's private key (RS256) proves the app;
//! with it TokPulse finds the app's installation on the repository
//! (`GET /repos/{owner}/{repo}/installation`, unless configured) and mints installation tokens
//! (`POST /app/installations/{id}/access_tokens`), which expire after an hour. A token is
//! reused until [`REFRESH_MARGIN`] before its `expires_at`, then a new one is minted; a token
//! GitHub refuses (401) is forgotten at once.

use crate::DeliveryError;
use crate::sinks::github_api::{As, GithubApi};
use chrono::TimeDelta;
use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};
use tokpulse_core::Timestamp;

/// A token is replaced this long before it expires.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);
/// How far back the JWT's `iat` is set, against clock drift (as GitHub recommends).
const JWT_BACKDATE: TimeDelta = TimeDelta::seconds(60);
/// The JWT's lifetime from `iat`; GitHub accepts at most 10 minutes ahead of now.
const JWT_LIFETIME: TimeDelta = TimeDelta::minutes(9);

/// The claims of a GitHub App JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// The app's id or client id.
    pub iss: String,
}

struct Minted {
    token: String,
    expires_at: Timestamp,
}

/// A GitHub App's credentials and its current installation token.
pub struct AppTokens {
    app_id: String,
    key: EncodingKey,
    installation: Mutex<Option<u64>>,
    /// Whether the installation id was configured (else it was looked up, and is looked up
    /// again when minting on it fails: the app was reinstalled).
    configured: bool,
    current: tokio::sync::Mutex<Option<Minted>>,
    minted: Mutex<u64>,
}

impl AppTokens {
    /// An app with id (or client id) `app_id` and its RSA private key in PEM; `installation`
    /// when known, else it is looked up on the repository at the first request.
    pub fn new(
        app_id: &str,
        private_key_pem: &[u8],
        installation: Option<u64>,
    ) -> Result<Self, String> {
        if app_id.trim().is_empty() {
            return Err("the GitHub App id is empty".into());
        }
        let key = EncodingKey::from_rsa_pem(private_key_pem)
            .map_err(|e| format!("the GitHub App private key is not an RSA key in PEM: {e}"))?;
        Ok(AppTokens {
            app_id: app_id.trim().to_string(),
            key,
            installation: Mutex::new(installation),
            configured: installation.is_some(),
            current: tokio::sync::Mutex::new(None),
            minted: Mutex::new(0),
        })
    }

    /// The app's id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// How many installation tokens were minted so far.
    pub fn minted(&self) -> u64 {
        *self.minted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The app's JWT as of `now`: `iat` a minute back, `exp` nine minutes on, `iss` the app.
    pub fn jwt(&self, now: Timestamp) -> Result<String, DeliveryError> {
        let iat = now - JWT_BACKDATE;
        let claims = AppClaims {
            iat: iat.timestamp(),
            exp: (iat + JWT_LIFETIME).timestamp(),
            iss: self.app_id.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| DeliveryError::Permanent(format!("signing the GitHub App JWT: {e}")))
    }

    /// Drops the current installation token (GitHub refused it).
    pub fn forget_token(&self) {
        if let Ok(mut current) = self.current.try_lock() {
            *current = None;
        }
    }

    /// A valid installation token: the current one unless it expires within
    /// [`REFRESH_MARGIN`], else a new one.
    pub(crate) async fn installation_token(
        &self,
        api: &GithubApi,
    ) -> Result<String, DeliveryError> {
        let mut current = self.current.lock().await;
        let now = api.now();
        if let Some(m) = current.as_ref()
            && m.expires_at - REFRESH_MARGIN > now
        {
            return Ok(m.token.clone());
        }
        let installation = self.installation_id(api).await?;
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer = match api.call_as(As::App, Method::POST, &path, None).await {
            Err(DeliveryError::Permanent(reason)) if !self.configured => {
                *self
                    .installation
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                return Err(DeliveryError::retryable(format!(
                    "{reason}; the installation will be looked up again"
                )));
            }
            other => other?,
        };
        #[derive(Deserialize)]
        struct Token {
            token: String,
            expires_at: Timestamp,
        }
        let t: Token = serde_json::from_value(answer)
            .map_err(|e| DeliveryError::retryable(format!("POST {path}: unexpected shape: {e}")))?;
        *self.minted.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        tracing::debug!(sink = "github", installation, expires_at = %t.expires_at, "installation token minted");
        *current = Some(Minted {
            token: t.token.clone(),
            expires_at: t.expires_at,
        });
        Ok(t.token)
    }

    async fn installation_id(&self, api: &GithubApi) -> Result<u64, DeliveryError> {
        if let Some(id) = *self
            .installation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Ok(id);
        }
        let path = api.repo_path("/installation");
        let answer = api.call_as(As::App, Method::GET, &path, None).await?;
        let id = answer["id"].as_u64().ok_or_else(|| {
            DeliveryError::retryable(format!("GET {path}: no installation id in the answer"))
        })?;
        *self
            .installation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(id);
        Ok(id)
    }
}
