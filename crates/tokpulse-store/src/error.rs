//! Store errors.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("cannot open database {target}: {source}")]
    Open {
        /// The file or URL (password removed).
        target: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value could not be read back.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A row the call refers to does not exist.
    #[error("no row with id {id} in {table}")]
    NotFound {
        /// The table.
        table: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// An argument the store refuses (a malformed token).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The store does not implement this call (a test double).
    #[error("this store does not support {0}")]
    Unsupported(&'static str),
}
