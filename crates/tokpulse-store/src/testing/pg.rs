//! A throwaway PostgreSQL cluster for tests.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tempfile::TempDir;

/// A PostgreSQL server of its own: `initdb` into a temporary directory, listening on a free
/// port on 127.0.0.1 (and a socket inside that directory), trust authentication, durability off
/// for speed. Dropping it stops the server and removes the directory; a watchdog process does
/// the same if the test process exits first (as it does with [`PgCluster::shared`]).
///
/// Finds `initdb`, `pg_ctl` and `postgres` on `PATH`, else in the newest
/// `/usr/lib/postgresql/*/bin`, and panics with a message saying to install PostgreSQL when
/// there is none: tests that need it fail rather than silently pass. As root (PostgreSQL refuses
/// to run as root) the server runs as the `postgres` system user through `runuser`.
///
/// ```no_run
/// # async fn demo() {
/// use tokpulse_store::testing::PgCluster;
/// let url = PgCluster::shared().create_database("my_test").await;
/// let store = tokpulse_store::PgStore::connect(&url, 4).await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    watchdog: Option<Child>,
}

/// The superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";

impl PgCluster {
    /// Starts a new cluster. Panics (with the reason and the server log) if it cannot.
    pub fn start() -> PgCluster {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: initdb, pg_ctl and postgres were found neither on \
                 PATH nor in /usr/lib/postgresql/*/bin. Install the server to run these tests \
                 (Debian/Ubuntu: `apt-get install postgresql`; CI installs it)."
            )
        });
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("tokpulse-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for PostgreSQL: {e}"));
        if as_postgres_user {
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "chown",
            );
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            as_postgres_user,
            watchdog: None,
        };
        let initdb = cluster.bin.join("initdb");
        run(
            cluster
                .command(&initdb)
                .arg("-D")
                .arg(cluster.data_dir())
                .args([
                    "-U",
                    SUPERUSER,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ]),
            "initdb",
        );
        // A free port can be taken between finding and binding it: try a few.
        let mut last_log = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            if cluster.pg_ctl_start() {
                cluster.watchdog = Some(cluster.spawn_watchdog());
                return cluster;
            }
            last_log = std::fs::read_to_string(cluster.log_file()).unwrap_or_default();
            if !last_log.contains("could not bind") && !last_log.contains("already in use") {
                break;
            }
        }
        panic!(
            "PostgreSQL did not start (binaries in {}); server log:\n{last_log}",
            cluster.bin.display()
        );
    }

    /// One cluster for the whole test binary, started on first use. Give each test a database
    /// of its own with [`create_database`](Self::create_database).
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start)
    }

    /// The TCP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the cluster's data, socket and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of the `postgres` database, as the superuser.
    pub fn url(&self) -> String {
        self.url_for(SUPERUSER, "postgres")
    }

    /// The URL of `database`, as `user` (no password: the cluster trusts local connections).
    pub fn url_for(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates the empty database `name` (lower-case letters, digits and `_`) and returns its
    /// superuser URL.
    pub async fn create_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "database name {name:?}: use 1 to 63 lower-case letters, digits and _"
        );
        self.superuser_execute(&format!("CREATE DATABASE \"{name}\""))
            .await;
        self.url_for(SUPERUSER, name)
    }

    /// Creates a database with a name of its own, derived from `hint` (a test name), and returns
    /// its superuser URL.
    pub async fn fresh_database(&self, hint: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut name: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(48)
            .collect();
        name = format!("t{n}_{name}");
        self.create_database(&name).await
    }

    /// Runs `sql` as the superuser in the `postgres` database; panics on error.
    pub async fn superuser_execute(&self, sql: &str) {
        let mut conn = PgConnection::connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"));
        conn.execute(AssertSqlSafe(sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// `program`, run as the `postgres` user when we are root.
    fn command(&self, program: &Path) -> Command {
        let mut c = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        c.current_dir(self.dir.path()).stdin(Stdio::null());
        c
    }

    fn pg_ctl_start(&self) -> bool {
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300",
            self.port,
            self.dir.path().display()
        );
        // Output to a file, not a pipe: the server would hold a pipe open after pg_ctl exits.
        let out_path = self.dir.path().join("pg_ctl.out");
        let out = File::create(&out_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", out_path.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot duplicate a file handle: {e}"));
        let status = self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(out)
            .stderr(err)
            .status()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"));
        status.success()
    }

    fn stop_command(&self) -> String {
        let prefix = if self.as_postgres_user {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!(
            "{prefix}'{}' -D '{}' -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.data_dir().display()
        )
    }

    /// Stops the server and removes the directory once this process has exited.
    fn spawn_watchdog(&self) -> Child {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{dir}'",
            pid = std::process::id(),
            stop = self.stop_command(),
            dir = self.dir.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watchdog: {e}"))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Runs `cmd`, panicking with its output if it fails.
fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free TCP port: {e}"))
}

/// The directory with `initdb`, `pg_ctl` and `postgres`.
fn find_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            // Follow symlinks (/usr/local/bin/initdb → /usr/lib/postgresql/15/bin/initdb) so
            // that all three come from the same installation.
            if let Ok(initdb) = std::fs::canonicalize(dir.join("initdb"))
                && let Some(real) = initdb.parent()
                && complete(real)
            {
                return Some(real.to_owned());
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
