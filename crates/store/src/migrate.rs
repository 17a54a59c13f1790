//! Schema migrations: plain SQL in `migrations/sqlite/` and
//! `migrations/postgres/`, the same numbered names in both, applied forward
//! at start-up in order, each in its own transaction. A database whose
//! schema is newer than this binary knows is refused.

use crate::db::{Backend, Db, Tx};
use crate::error::{Result, StoreError};
use crate::{exec_tx, on_tx};

/// One migration: its number, name and the SQL for each backend.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Every migration, oldest first. A released migration is never edited.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "0002_email_change",
        sqlite: include_str!("../migrations/sqlite/0002_email_change.sql"),
        postgres: include_str!("../migrations/postgres/0002_email_change.sql"),
    },
    Migration {
        version: 3,
        name: "0003_content",
        sqlite: include_str!("../migrations/sqlite/0003_content.sql"),
        postgres: include_str!("../migrations/postgres/0003_content.sql"),
    },
    Migration {
        version: 4,
        name: "0004_search_prefixes",
        sqlite: include_str!("../migrations/sqlite/0004_search_prefixes.sql"),
        postgres: include_str!("../migrations/postgres/0004_search_prefixes.sql"),
    },
    Migration {
        version: 5,
        name: "0005_audit_stage",
        sqlite: include_str!("../migrations/sqlite/0005_audit_stage.sql"),
        postgres: include_str!("../migrations/postgres/0005_audit_stage.sql"),
    },
    Migration {
        version: 6,
        name: "0006_search_scope",
        sqlite: include_str!("../migrations/sqlite/0006_search_scope.sql"),
        postgres: include_str!("../migrations/postgres/0006_search_scope.sql"),
    },
    Migration {
        version: 7,
        name: "0007_audit_tree",
        sqlite: include_str!("../migrations/sqlite/0007_audit_tree.sql"),
        postgres: include_str!("../migrations/postgres/0007_audit_tree.sql"),
    },
    Migration {
        version: 8,
        name: "0008_audit_checkpoints",
        sqlite: include_str!("../migrations/sqlite/0008_audit_checkpoints.sql"),
        postgres: include_str!("../migrations/postgres/0008_audit_checkpoints.sql"),
    },
    Migration {
        version: 9,
        name: "0009_audit_reading",
        sqlite: include_str!("../migrations/sqlite/0009_audit_reading.sql"),
        postgres: include_str!("../migrations/postgres/0009_audit_reading.sql"),
    },
    Migration {
        version: 10,
        name: "0010_audit_no_actor_index",
        sqlite: include_str!("../migrations/sqlite/0010_audit_no_actor_index.sql"),
        postgres: include_str!("../migrations/postgres/0010_audit_no_actor_index.sql"),
    },
    Migration {
        version: 11,
        name: "0011_mfa",
        sqlite: include_str!("../migrations/sqlite/0011_mfa.sql"),
        postgres: include_str!("../migrations/postgres/0011_mfa.sql"),
    },
    Migration {
        version: 12,
        name: "0012_api_tokens",
        sqlite: include_str!("../migrations/sqlite/0012_api_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0012_api_tokens.sql"),
    },
    Migration {
        version: 13,
        name: "0013_passkeys",
        sqlite: include_str!("../migrations/sqlite/0013_passkeys.sql"),
        postgres: include_str!("../migrations/postgres/0013_passkeys.sql"),
    },
    Migration {
        version: AUDIT_FILE,
        name: "0014_audit_file",
        sqlite: include_str!("../migrations/sqlite/0014_audit_file.sql"),
        postgres: include_str!("../migrations/postgres/0014_audit_file.sql"),
    },
    Migration {
        version: 15,
        name: "0015_search_company",
        sqlite: include_str!("../migrations/sqlite/0015_search_company.sql"),
        postgres: include_str!("../migrations/postgres/0015_search_company.sql"),
    },
    Migration {
        version: 16,
        name: "0016_audit_journal",
        sqlite: include_str!("../migrations/sqlite/0016_audit_journal.sql"),
        postgres: include_str!("../migrations/postgres/0016_audit_journal.sql"),
    },
    Migration {
        version: 17,
        name: "0017_backup_changes",
        sqlite: include_str!("../migrations/sqlite/0017_backup_changes.sql"),
        postgres: include_str!("../migrations/postgres/0017_backup_changes.sql"),
    },
    Migration {
        version: 18,
        name: "0018_backup_owner_changes",
        sqlite: include_str!("../migrations/sqlite/0018_backup_owner_changes.sql"),
        postgres: include_str!("../migrations/postgres/0018_backup_owner_changes.sql"),
    },
];

/// The migration that moves SQLite's audit tables into their own file.
const AUDIT_FILE: i64 = 14;

/// The audit tables in the attached file `audit` (SQLite), as they stand
/// after migrations 1 to 13, and the copy of their rows.
const AUDIT_FILE_SQL: &str = "
CREATE TABLE audit.audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL,
    staged_through BIGINT NOT NULL DEFAULT 0,
    tree_size INTEGER NOT NULL DEFAULT 0,
    pruned_through INTEGER NOT NULL DEFAULT 0,
    pending_through INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit.audit_events (
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    company_id TEXT,
    actor_id TEXT,
    credential TEXT,
    object_type TEXT,
    object_id TEXT,
    object_version INTEGER,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    reason TEXT,
    request_id TEXT,
    personal_key_id TEXT,
    personal BLOB,
    ip_index TEXT
);
CREATE INDEX audit.audit_events_company ON audit_events (company_id, seq);
CREATE TABLE audit.audit_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE audit.audit_checkpoints (
    size INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE audit.audit_links (
    company_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (company_id, seq)
) WITHOUT ROWID;
INSERT INTO audit.audit_head (id, next_seq, staged_through, tree_size, pruned_through)
    SELECT id, next_seq, staged_through, tree_size, pruned_through FROM main.audit_head;
INSERT INTO audit.audit_events SELECT * FROM main.audit_events ORDER BY seq;
INSERT INTO audit.audit_nodes SELECT * FROM main.audit_nodes;
INSERT INTO audit.audit_checkpoints SELECT * FROM main.audit_checkpoints;
INSERT INTO audit.audit_links SELECT * FROM main.audit_links;
";

/// The schema version this binary writes.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema up to date; returns how many migrations ran.
pub async fn run(db: &Db) -> Result<usize> {
    run_until(db, latest()).await
}

/// Applies the migrations up to version `last` (tests use it to build a
/// database as an older Turva left it).
pub async fn run_until(db: &Db, last: i64) -> Result<usize> {
    let mut applied = 0;
    loop {
        let mut tx = db.write().await?;
        ensure_table(&mut tx).await?;
        if tx.backend() == Backend::Postgres {
            // Two processes starting at once must not both migrate.
            exec_tx!(&mut tx, |c| sqlx::query(
                "SELECT pg_advisory_xact_lock(7357420001)"
            )
            .execute(c)
            .await)?;
        }
        let current = current_version(&mut tx).await?;
        if current > latest() {
            return Err(StoreError::Corrupt(format!(
                "the database schema is version {current}, newer than this Turva (version {}) understands: upgrade Turva",
                latest()
            )));
        }
        let Some(next) = MIGRATIONS
            .iter()
            .find(|m| m.version > current && m.version <= last)
        else {
            return Ok(applied);
        };
        if next.version == AUDIT_FILE
            && tx.backend() == Backend::Sqlite
            && adopt_audit_file(&mut tx).await?
        {
            // Committed on its own: it writes only the audit file, so it
            // is atomic; the drop of the originals comes next, in turva.db.
            tx.commit().await?;
            continue;
        }
        let sql = match tx.backend() {
            Backend::Sqlite => next.sqlite,
            Backend::Postgres => next.postgres,
        };
        exec_tx!(&mut tx, |c| sqlx::Executor::execute(c, sqlx::raw_sql(sql))
            .await)?;
        exec_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
        )
        .bind(next.version)
        .bind(next.name)
        .execute(c)
        .await)?;
        tx.commit().await?;
        tracing::info!(
            version = next.version,
            name = next.name,
            "applied migration"
        );
        applied += 1;
    }
}

/// Creates the audit tables in the attached audit file and copies the
/// rows of the main file's into them, unless an earlier run did (that run
/// committed all of it or nothing: it wrote one file). Returns whether it
/// did anything.
async fn adopt_audit_file(tx: &mut Tx) -> Result<bool> {
    let (there,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT count(*) FROM audit.sqlite_master WHERE name = 'audit_head'"
    )
    .fetch_one(c)
    .await)?;
    if there > 0 {
        return Ok(false);
    }
    exec_tx!(tx, |c| sqlx::Executor::execute(
        c,
        sqlx::raw_sql(AUDIT_FILE_SQL)
    )
    .await)?;
    Ok(true)
}

/// The newest applied migration, 0 for an empty database.
pub async fn current_version(tx: &mut Tx) -> Result<i64> {
    let row: (Option<i64>,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT MAX(version) FROM schema_migrations"
    )
    .fetch_one(c)
    .await)?;
    Ok(row.0.unwrap_or(0))
}

async fn ensure_table(tx: &mut Tx) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)"
    )
    .execute(c)
    .await
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKey;

    async fn count(db: &Db, sql: &str) -> i64 {
        let Db::Sqlite { read, .. } = db else {
            panic!("sqlite")
        };
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(read).await.unwrap();
        n
    }

    /// A database left by a Turva whose audit log was in turva.db: the
    /// upgrade moves every row into turva-audit.db and drops the originals,
    /// and a second start changes nothing.
    #[tokio::test]
    async fn the_audit_log_moves_to_its_own_file_with_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turva.db");
        let key = DataKey::random();
        let db = Db::open_sqlite(&path, &key).await.unwrap();
        assert_eq!(run_until(&db, AUDIT_FILE - 1).await.unwrap(), 13);
        let Db::Sqlite { write, .. } = &db else {
            panic!("sqlite")
        };
        for sql in [
            "INSERT INTO main.audit_events (seq, time, action, outcome) VALUES (1, 10, 'company.view', 'allowed'), (2, 11, 'company.create', 'allowed')",
            "INSERT INTO main.audit_nodes (level, idx, hash) VALUES (0, 0, X'01'), (0, 1, X'02'), (1, 0, X'03')",
            "INSERT INTO main.audit_checkpoints (size, time, root, note) VALUES (2, 12, X'03', 'note')",
            "INSERT INTO main.audit_links (company_id, seq) VALUES ('c', 2)",
            "UPDATE main.audit_head SET next_seq = 3, tree_size = 2, staged_through = 7",
        ] {
            sqlx::query(sql).execute(write).await.unwrap();
        }
        assert_eq!(run_until(&db, AUDIT_FILE).await.unwrap(), 1);
        for (table, n) in [
            ("audit_events", 2),
            ("audit_nodes", 3),
            ("audit_checkpoints", 1),
            ("audit_links", 1),
            ("audit_head", 1),
        ] {
            assert_eq!(
                count(&db, &format!("SELECT count(*) FROM audit.{table}")).await,
                n,
                "{table}"
            );
            assert_eq!(
                count(
                    &db,
                    &format!("SELECT count(*) FROM main.sqlite_master WHERE name = '{table}'")
                )
                .await,
                0,
                "{table} is gone from turva.db"
            );
        }
        assert_eq!(
            count(
                &db,
                "SELECT next_seq * 100 + tree_size * 10 + pending_through FROM audit_head"
            )
            .await,
            320
        );
        assert_eq!(count(&db, "SELECT staged_through FROM audit_head").await, 7);
        assert_eq!(run_until(&db, AUDIT_FILE).await.unwrap(), 0);
        db.close().await;

        // The audit file is encrypted with the database key and private.
        let audit = crate::db::audit_path(&path);
        let bytes = std::fs::read(&audit).unwrap();
        assert!(bytes.len() > 4096);
        assert_ne!(&bytes[..16], b"SQLite format 3\0");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&audit).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reopened = Db::open_sqlite(&path, &key).await.unwrap();
        assert_eq!(
            count(&reopened, "SELECT count(*) FROM audit_events").await,
            2
        );
        reopened.close().await;
    }

    /// A crash after the copy into the audit file committed, before the
    /// originals were dropped: the next start drops them without copying
    /// twice.
    #[tokio::test]
    async fn an_interrupted_move_of_the_audit_log_finishes_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turva.db");
        let db = Db::open_sqlite(&path, &DataKey::random()).await.unwrap();
        run_until(&db, AUDIT_FILE - 1).await.unwrap();
        let Db::Sqlite { write, .. } = &db else {
            panic!("sqlite")
        };
        sqlx::query("INSERT INTO main.audit_events (seq, time, action, outcome) VALUES (1, 10, 'a.b', 'allowed')")
            .execute(write)
            .await
            .unwrap();
        let mut tx = db.write().await.unwrap();
        assert!(adopt_audit_file(&mut tx).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(run_until(&db, AUDIT_FILE).await.unwrap(), 1);
        assert_eq!(count(&db, "SELECT count(*) FROM audit_events").await, 1);
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM main.sqlite_master WHERE name = 'audit_events'"
            )
            .await,
            0
        );
        db.close().await;
    }

    #[test]
    fn both_backends_have_the_same_numbered_migrations() {
        let dir = |b: &str| -> Vec<String> {
            // The checkout the test runs in (cargo sets it at run time
            // too), not the one the binary was built in, when a target
            // directory is shared.
            let root = std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
            let path = format!("{root}/migrations/{b}");
            let mut names: Vec<String> = std::fs::read_dir(path)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        };
        let sqlite = dir("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, dir("postgres"));
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(
            sqlite, listed,
            "every migration file is listed in MIGRATIONS, in order"
        );
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
