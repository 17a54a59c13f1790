//! Connections and transactions for both backends.
//!
//! SQLite (the embedded default) is a SQLCipher file: every connection sends
//! the raw 256-bit key first, and `open_sqlite` refuses a build where the
//! cipher is not active. Writes go through a pool of one connection that
//! begins `IMMEDIATE` transactions, so writers queue in-process instead of
//! sleeping in SQLite's busy handler; reads use a separate pool.
//! PostgreSQL uses one pool; read-modify-write code locks rows itself.
//!
//! On SQLite the audit log's tables (`audit_events`, `audit_nodes`,
//! `audit_checkpoints`, `audit_links`, `audit_head`) live in a second
//! SQLCipher file, `turva-audit.db`, attached to every connection as the
//! schema `audit` (same key). Unqualified names find them there. In WAL
//! mode a commit makes every other connection drop its page cache of the
//! file it changed, and only that file's: moving events into the log thus
//! leaves the readers' caches of `turva.db` warm. A transaction that writes
//! both files is atomic in each but not across the two, so nothing relies
//! on that: a change's event commits in `turva.db` (`audit_pending`), and
//! the mover's commit to the audit file records what it moved.

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite};

use crate::error::{Result, StoreError};
use crate::keys::DataKey;

/// Which database engine a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A data key as SQLCipher takes a raw key (`x'…'`, no PBKDF2 per
/// connection), for `PRAGMA key` and `ATTACH … KEY`.
pub(crate) fn raw_key(key: &DataKey) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(format!("x'{}'", key.to_hex().as_str()))
}

/// A handle on the database: cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// The audit staging database (`audit_stage`), a file of its own.
        stage: SqlitePool,
    },
    Postgres(PgPool),
}

/// One open transaction on either backend. Dropped without `commit`, it
/// rolls back. The `*Conn` kinds are a pooled connection with no
/// transaction, for reads whose statements need no common snapshot (each
/// statement is consistent on its own): they save a BEGIN and a COMMIT.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
    SqliteConn(sqlx::pool::PoolConnection<Sqlite>),
    PostgresConn(sqlx::pool::PoolConnection<Postgres>),
}

/// Runs `$body` with `$c` bound to the transaction's connection, once per
/// backend, so a statement is written once when its SQL is portable. Where
/// the dialects differ, match on `Tx::backend()` for the SQL text instead.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::SqliteConn(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::PostgresConn(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Like `on_tx!` for a statement run with `execute`: yields the number of
/// rows affected, the same type on both backends.
#[macro_export]
macro_rules! exec_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body.map(|r| r.rows_affected())
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body.map(|r| r.rows_affected())
            }
            $crate::db::Tx::SqliteConn(t) => {
                let $c = &mut **t;
                $body.map(|r| r.rows_affected())
            }
            $crate::db::Tx::PostgresConn(t) => {
                let $c = &mut **t;
                $body.map(|r| r.rows_affected())
            }
        }
    };
}

/// Runs `$body` with `$c` bound to the pool (the read pool on SQLite), for
/// a single read statement that needs no transaction: one round trip.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { read, .. } => {
                let $c = read;
                $body
            }
            $crate::db::Db::Postgres(pool) => {
                let $c = pool;
                $body
            }
        }
    };
}

impl Db {
    /// Opens the SQLCipher database at `path` with `key`, creating it when
    /// missing. Fails when the key is wrong or the cipher is not compiled in.
    pub async fn open_sqlite(path: &Path, key: &DataKey) -> Result<Self> {
        Self::open_sqlite_as(path, key, None).await
    }

    /// Opens a new SQLCipher database for a bulk load that is thrown away
    /// if it does not finish (a restore builds it in a directory renamed
    /// into place only when complete): no syncs and a large cache. Open it
    /// with [`Db::open_sqlite`] afterwards to serve.
    /// `cache_kib` is the page cache of the connection that loads it: a
    /// load that fits its cache writes each page once, instead of
    /// evicting, re-reading and decrypting pages of the tables and
    /// indexes it grows.
    pub async fn open_sqlite_bulk(path: &Path, key: &DataKey, cache_kib: u64) -> Result<Self> {
        if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
            // A new file is made by an ordinary open first. SQLCipher fixes
            // a file's salt when it first writes it, and a file attached
            // without a key (the audit log) takes the main file's key and
            // salt: in WAL mode the header is written at connect, before
            // any attach; with the bulk load's journal in memory it would
            // not be, and the audit file was written under a salt that
            // turva.db did not keep (found unreadable at the next open).
            Self::open_sqlite_as(path, key, None).await?.close().await;
        }
        Self::open_sqlite_as(path, key, Some(cache_kib)).await
    }

    async fn open_sqlite_as(path: &Path, key: &DataKey, bulk: Option<u64>) -> Result<Self> {
        // A bulk load (a new file, renamed into place only when complete)
        // keeps its rollback journal in memory: its one large commit then
        // writes each page once, where WAL wrote it to the log and again to
        // the file at the checkpoint. The next ordinary open turns the file
        // into WAL.
        let (sync, cache, journal) = match bulk {
            Some(kib) => (
                SqliteSynchronous::Off,
                format!("-{}", kib.max(2_000)),
                SqliteJournalMode::Memory,
            ),
            None => (
                SqliteSynchronous::Normal,
                "-32000".to_string(),
                SqliteJournalMode::Wal,
            ),
        };
        let bulk = bulk.is_some();
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // SQLCipher: a raw key as a blob literal (no PBKDF2 per connection).
            .pragma("key", format!("\"{}\"", raw_key(key).as_str()))
            .journal_mode(journal)
            .synchronous(sync)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", cache);
        let audit = audit_path(path);
        for file in [&audit, &stage_path(path)] {
            if !file.exists() {
                // Created private, like turva.db (the -wal and -shm files
                // take its mode).
                crate::keys::write_private_file(file, b"")?;
            }
        }
        let audit = audit.to_string_lossy().into_owned();
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // A connection to a local file does not go stale: no ping (a
            // round trip to its thread) before each use.
            .test_before_acquire(false)
            .after_connect(attach_audit(
                audit.clone(),
                if bulk { 256_000 } else { 16_000 },
                bulk,
            ))
            .connect_with(opts.clone())
            .await
            .map_err(open_error)?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false)
            .after_connect(attach_audit(audit, 2_000, bulk))
            // Readers keep a larger cache: commits to this file are rare
            // (the audit log is a file of its own), so it stays warm.
            .connect_with(opts.clone().pragma("cache_size", "-64000"))
            .await
            .map_err(open_error)?;
        let stage = crate::audit_stage::open(&opts, &stage_path(path)).await?;
        let version: Option<(String,)> = sqlx::query_as("PRAGMA cipher_version")
            .fetch_optional(&write)
            .await
            .map_err(open_error)?;
        if version.is_none_or(|(v,)| v.is_empty()) {
            return Err(StoreError::Corrupt(
                "SQLCipher is not active in this build: refusing to store data unencrypted".into(),
            ));
        }
        // Reading the schema proves the key opens the file.
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&read)
            .await
            .map_err(open_error)?;
        Ok(Db::Sqlite { read, write, stage })
    }

    /// Connects to PostgreSQL at `url`.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(Db::Postgres(pool))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Begins a transaction that only reads.
    pub async fn read(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A pooled connection for reads, with no transaction (see [`Tx`]).
    pub async fn reader(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { read, .. } => Tx::SqliteConn(read.acquire().await?),
            Db::Postgres(p) => Tx::PostgresConn(p.acquire().await?),
        })
    }

    /// Begins a transaction that writes: on SQLite it takes the write lock at
    /// once, so a read-modify-write cannot be overtaken.
    pub async fn write(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Turns SQLite's foreign-key enforcement on the write connection off
    /// or back on (nothing on PostgreSQL). Only a whole restore's bulk
    /// load turns it off, into a database of its own that nothing else
    /// uses, and checks every reference once at the end instead
    /// (`backup::check_references`). Outside a transaction: SQLite ignores
    /// the pragma inside one.
    pub async fn enforce_foreign_keys(&self, on: bool) -> Result<()> {
        if let Db::Sqlite { write, .. } = self {
            let pragma = if on {
                "PRAGMA foreign_keys = ON"
            } else {
                "PRAGMA foreign_keys = OFF"
            };
            sqlx::query(pragma).execute(write).await?;
        }
        Ok(())
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Db::Sqlite { read, .. } => sqlx::query("SELECT 1").execute(read).await.map(|_| ())?,
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
        };
        Ok(())
    }

    /// Whether [`Db::close`] has begun (it closes the readers first): a
    /// background task that finds it so stops instead of failing.
    pub fn is_closed(&self) -> bool {
        match self {
            Db::Sqlite { read, .. } => read.is_closed(),
            Db::Postgres(p) => p.is_closed(),
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write, stage } => {
                read.close().await;
                stage.close().await;
                // A last checkpoint folds each WAL back into its file.
                for pragma in [
                    "PRAGMA main.wal_checkpoint(TRUNCATE)",
                    "PRAGMA audit.wal_checkpoint(TRUNCATE)",
                ] {
                    let _ = sqlx::query(pragma).execute(write).await;
                }
                write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) | Tx::SqliteConn(_) => Backend::Sqlite,
            Tx::Postgres(_) | Tx::PostgresConn(_) => Backend::Postgres,
        }
    }

    /// The `n`th (1-based) parameter of a statement built at run time with
    /// many parameters: `$n` on PostgreSQL, an anonymous `?` on SQLite
    /// (bound in order), because SQLite finds a named parameter by a linear
    /// scan, which made binding a 960-parameter insert quadratic (it was
    /// most of the cost of moving audit events).
    pub fn param(&self, n: usize) -> String {
        match self.backend() {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// Commits (a connection without a transaction is just returned to
    /// its pool).
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
            Tx::SqliteConn(_) | Tx::PostgresConn(_) => {}
        }
        Ok(())
    }
}

/// Attaches the audit file at `path` as the schema `audit` to each new
/// connection, in WAL mode, with a page cache of `cache_kib`.
fn attach_audit(
    path: String,
    cache_kib: u32,
    bulk: bool,
) -> impl for<'c> Fn(
    &'c mut sqlx::SqliteConnection,
    sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'c, std::result::Result<(), sqlx::Error>>
       + Send
       + Sync
       + 'static {
    move |conn, _| {
        let path = path.clone();
        Box::pin(async move {
            // No KEY clause: SQLCipher opens it with the main file's key.
            sqlx::query("ATTACH DATABASE ? AS audit")
                .bind(path)
                .execute(&mut *conn)
                .await?;
            let sync = if bulk { "OFF" } else { "FULL" };
            for pragma in [
                "PRAGMA audit.journal_mode = WAL".to_string(),
                // FULL: a move is durable before the moved rows are
                // deleted from turva.db and the stage (NORMAL, synced on
                // their own schedules); a few commits every few seconds.
                format!("PRAGMA audit.synchronous = {sync}"),
                format!("PRAGMA audit.cache_size = -{cache_kib}"),
            ] {
                sqlx::query(&pragma).execute(&mut *conn).await?;
            }
            Ok(())
        })
    }
}

/// Where the audit log of the database at `path` lives on SQLite: a file
/// beside it (`turva.db` → `turva-audit.db`).
pub fn audit_path(path: &Path) -> std::path::PathBuf {
    sibling(path, "audit")
}

/// Where the audit staging database of the database at `path` lives: a
/// file beside it (`turva.db` → `turva-audit-stage.db`).
pub fn stage_path(path: &Path) -> std::path::PathBuf {
    sibling(path, "audit-stage")
}

fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "turva".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{suffix}.db"))
}

pub(crate) fn open_error(e: sqlx::Error) -> StoreError {
    match &e {
        // SQLITE_NOTADB: the key does not open the file.
        sqlx::Error::Database(d) if d.code().as_deref() == Some("26") => StoreError::Corrupt(
            "the database key does not open turva.db (wrong master key or key ring, or not a Turva database)".into(),
        ),
        _ => StoreError::Unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A background task asks whether the database is being closed before
    /// it reports a failure (a closed pool is not a fault).
    #[tokio::test]
    async fn a_closed_database_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::keys::DataKey::random();
        let db = Db::open_sqlite(&dir.path().join("turva.db"), &key)
            .await
            .unwrap();
        assert!(!db.is_closed());
        db.close().await;
        assert!(db.is_closed());
    }
}
