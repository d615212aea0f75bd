//! Helpers that make the right test the easy one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Once};
use tokpulse::app::App;
use tokpulse::config::Config;
use tokpulse::server::{ServerState, router};
use tokpulse_core::Role;
use tokpulse_store::{NewApiKey, Store};

/// Serves `app` on a free loopback port: its base URL (`http://127.0.0.1:PORT`) and the task
/// serving it (aborting it stops the server).
pub async fn serve_loopback(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

/// reqwest is built without a default TLS provider; install ring once.
pub fn client() -> reqwest::Client {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client builds")
}

/// The `tokpulse` binary, run in a temporary folder with a clean environment.
pub struct TestCommand {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl TestCommand {
    pub fn new() -> Self {
        TestCommand {
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tokpulse"));
        c.current_dir(self.dir.path()).args(args);
        // Nothing from the developer's environment leaks into a test.
        for (k, _) in std::env::vars() {
            if k.starts_with("TOKPULSE_") {
                c.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("tokpulse runs")
    }

    /// Runs and expects exit code `code`; returns (stdout, stderr).
    pub fn expect(&self, args: &[&str], code: i32) -> (String, String) {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "tokpulse {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }

    /// Creates an API key with `role` through the CLI and returns it.
    pub fn create_key(&self, role: &str) -> String {
        let (stdout, _) = self.expect(&["keys", "create", "--role", role], 0);
        stdout.trim().to_string()
    }
}

/// A server on loopback, in this process, over a store of the test's choosing.
pub struct TestServer {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub _dir: Option<tempfile::TempDir>,
    task: tokio::task::JoinHandle<()>,
}

pub struct Keys {
    pub service: String,
    pub authenticated: String,
    pub anon: String,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn key(store: &dyn Store, role: Role) -> String {
    let key = tokpulse::keys::generate();
    store
        .create_api_key(&NewApiKey {
            name: format!("test-{role}"),
            prefix: tokpulse::keys::display_prefix(&key),
            key_hash: tokpulse::keys::hash(&key),
            role,
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("key stored");
    key
}

impl TestServer {
    /// On a fresh SQLite store in a temporary folder.
    pub async fn sqlite(config: Config) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = tokpulse::app::open_store(&tokpulse_store::StoreTarget::Sqlite {
            data_dir: dir.path().to_path_buf(),
        })
        .await
        .expect("store opens");
        let mut config = config;
        config.data_dir = dir.path().to_path_buf();
        Self::on(config, store, Some(dir)).await
    }

    /// On the given (migrated) store.
    pub async fn on(
        config: Config,
        store: Arc<dyn Store>,
        dir: Option<tempfile::TempDir>,
    ) -> TestServer {
        let keys = Keys {
            service: key(store.as_ref(), Role::Service).await,
            authenticated: key(store.as_ref(), Role::Authenticated).await,
            anon: key(store.as_ref(), Role::Anon).await,
        };
        let app = App::new(&config, store.clone());
        let state = Arc::new(ServerState {
            app,
            max_body_bytes: config.server.max_body_bytes,
        });
        let (base, task) = serve_loopback(router(state, std::time::Duration::from_secs(30))).await;
        TestServer {
            base,
            store,
            keys,
            _dir: dir,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A performance record as a client sends it.
pub fn perf(id: &str, status: u16, duration_ms: f64) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "timestamp": "2026-11-25T10:00:00Z",
        "service": "web",
        "route": "/checkout",
        "method": "POST",
        "status_code": status,
        "duration_ms": duration_ms,
    })
}

pub fn ndjson(values: &[serde_json::Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

/// The repository's shared folder (datasets), beside the checkout.
#[allow(dead_code)]
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}
