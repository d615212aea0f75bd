//! Versioned migrations, embedded in the binary and run through sqlx's [`Migrator`].
//!
//! The SQL lives in `crates/tokpulse-store/migrations/{sqlite,postgres}/NNNN_name.sql`; each file
//! is listed below with `include_str!`, so the binary carries its schema and needs no files at
//! run time. sqlx records applied versions (and a checksum of each file) in `_sqlx_migrations`:
//! editing a migration that has been applied anywhere is an error, so add a new one instead.

use crate::{Backend, StoreError};
use sqlx::migrate::{Migrate, Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{Database, SqlSafeStr};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The table sqlx keeps applied migrations in.
const TABLE: &str = "_sqlx_migrations";

/// One embedded migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedMigration {
    /// Its version (`NNNN` in the file name).
    pub version: i64,
    /// Its name (the rest of the file name).
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

const SQLITE: &[EmbeddedMigration] = &[
    EmbeddedMigration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    EmbeddedMigration {
        version: 2,
        name: "privacy",
        sql: include_str!("../migrations/sqlite/0002_privacy.sql"),
    },
    EmbeddedMigration {
        version: 3,
        name: "diagnosis",
        sql: include_str!("../migrations/sqlite/0003_diagnosis.sql"),
    },
    EmbeddedMigration {
        version: 4,
        name: "cost",
        sql: include_str!("../migrations/sqlite/0004_cost.sql"),
    },
    EmbeddedMigration {
        version: 5,
        name: "jobs",
        sql: include_str!("../migrations/sqlite/0005_jobs.sql"),
    },
    EmbeddedMigration {
        version: 6,
        name: "ai_usage_daily",
        sql: include_str!("../migrations/sqlite/0006_ai_usage_daily.sql"),
    },
];

const POSTGRES: &[EmbeddedMigration] = &[
    EmbeddedMigration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    EmbeddedMigration {
        version: 2,
        name: "row_level_security",
        sql: include_str!("../migrations/postgres/0002_row_level_security.sql"),
    },
    EmbeddedMigration {
        version: 3,
        name: "privacy",
        sql: include_str!("../migrations/postgres/0003_privacy.sql"),
    },
    EmbeddedMigration {
        version: 4,
        name: "diagnosis",
        sql: include_str!("../migrations/postgres/0004_diagnosis.sql"),
    },
    EmbeddedMigration {
        version: 5,
        name: "cost",
        sql: include_str!("../migrations/postgres/0005_cost.sql"),
    },
    EmbeddedMigration {
        version: 6,
        name: "jobs",
        sql: include_str!("../migrations/postgres/0006_jobs.sql"),
    },
    EmbeddedMigration {
        version: 7,
        name: "ai_usage_daily",
        sql: include_str!("../migrations/postgres/0007_ai_usage_daily.sql"),
    },
];

/// The migrations of `backend`, oldest first.
pub fn embedded_migrations(backend: Backend) -> &'static [EmbeddedMigration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

fn migrator(list: &'static [EmbeddedMigration]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.name),
                    MigrationType::Simple,
                    m.sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

pub(crate) static SQLITE_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| migrator(SQLITE));
pub(crate) static POSTGRES_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| migrator(POSTGRES));

/// Runs `migrator` on one connection and returns the versions this call applied.
///
/// The database lock (a PostgreSQL advisory lock; nothing on SQLite, whose single writer
/// connection serialises this anyway) is held from before the first look at the applied
/// versions until after the last one, so the answer is exact even when several replicas migrate
/// at once. The lock is re-entrant on PostgreSQL, so the migrator's own locking nests inside.
pub(crate) async fn run<DB>(
    mut conn: PoolConnection<DB>,
    migrator: &Migrator,
) -> Result<Vec<i64>, StoreError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let result = run_locked(&mut *conn, migrator).await;
    if result.is_err() {
        // A failed migration may leave the session holding the lock: do not reuse it.
        conn.close_on_drop();
    }
    result
}

async fn run_locked<C: Migrate>(conn: &mut C, migrator: &Migrator) -> Result<Vec<i64>, StoreError> {
    conn.lock().await?;
    conn.ensure_migrations_table(TABLE).await?;
    let before: HashSet<i64> = applied(conn).await?.into_iter().collect();
    // `run_direct` is what `Migrator::run` calls once it has a connection. It is public (but
    // hidden from the docs) because `run` on a `&mut` connection inside an `async_trait` method
    // trips "implementation of `Acquire` is not general enough", and passing the pool instead
    // would migrate on another connection than the one holding the lock. If a sqlx upgrade
    // drops it, this stops compiling rather than misbehaving.
    migrator.run_direct(None, conn, false).await?;
    let mut new: Vec<i64> = applied(conn)
        .await?
        .into_iter()
        .filter(|v| !before.contains(v))
        .collect();
    conn.unlock().await?;
    new.sort_unstable();
    Ok(new)
}

async fn applied<C: Migrate>(conn: &mut C) -> Result<Vec<i64>, StoreError> {
    Ok(conn
        .list_applied_migrations(TABLE)
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file in `migrations/<dir>` is embedded, in order, under its own version and name.
    fn check(dir: &str, list: &[EmbeddedMigration]) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        let mut files: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let expected: Vec<String> = list
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(
            files, expected,
            "migrations/{dir} and the embedded list differ"
        );
        for (m, f) in list.iter().zip(&files) {
            assert_eq!(std::fs::read_to_string(path.join(f)).unwrap(), m.sql);
        }
    }

    #[test]
    fn every_migration_file_is_embedded() {
        check("sqlite", SQLITE);
        check("postgres", POSTGRES);
    }
}
