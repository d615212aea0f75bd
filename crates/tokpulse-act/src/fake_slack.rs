//! A local Slack incoming-webhook stand-in for tests (feature `testing`). It answers as Slack
//! does: `ok` for a valid message; 400 `invalid_payload` for a body that is not JSON or has
//! neither `text` nor `blocks`, or blocks without a `type`; 404 `no_service` for an unknown
//! webhook path; and failures on demand (429 with `Retry-After`, 5xx).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
struct Inner {
    messages: Vec<Value>,
    failures: VecDeque<u16>,
}

#[derive(Clone)]
struct Shared {
    path: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running stand-in.
pub struct FakeSlack {
    /// The webhook URL to configure.
    pub webhook_url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSlack {
    /// Starts a stand-in with one webhook.
    pub async fn start() -> FakeSlack {
        let shared = Shared {
            path: "T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX".into(),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/services/{a}/{b}/{c}", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the Slack stand-in on loopback");
        let addr = listener.local_addr().expect("bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSlack {
            webhook_url: format!("http://{addr}/services/{}", shared.path),
            shared,
            task,
        }
    }

    /// Answers the next message with this status (429 comes with `Retry-After: 3`).
    pub fn fail_next(&self, status: u16) {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failures
            .push_back(status);
    }

    /// Every message accepted, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .messages
            .clone()
    }
}

async fn receive(
    State(s): State<Shared>,
    Path((a, b, c)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(code) = inner.failures.pop_front() {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, "rate_limited").into_response();
        if code == 429 {
            r.headers_mut()
                .insert("retry-after", "3".parse().expect("a header value"));
        }
        return r;
    }
    if format!("{a}/{b}/{c}") != s.path {
        return (StatusCode::NOT_FOUND, "no_service").into_response();
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    let has_text = message["text"].as_str().is_some_and(|t| !t.is_empty());
    let blocks_ok = match &message["blocks"] {
        Value::Null => true,
        Value::Array(b) => b.iter().all(|b| b["type"].is_string()),
        _ => false,
    };
    // Slack's mrkdwn links, `<url|text>`, must name an http(s) URL or Slack shows them as text.
    let links_ok = message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"]["text"].as_str())
        .flat_map(|t| t.split('<').skip(1))
        .filter_map(|l| l.split_once('|'))
        .all(|(url, _)| url.starts_with("https://") || url.starts_with("http://"));
    if !json_type || !(has_text || message["blocks"].is_array()) || !blocks_ok || !links_ok {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    }
    inner.messages.push(message);
    (StatusCode::OK, "ok").into_response()
}
