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
];

/// The schema version this binary writes.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema up to date; returns how many migrations ran.
pub async fn run(db: &Db) -> Result<usize> {
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
        let Some(next) = MIGRATIONS.iter().find(|m| m.version > current) else {
            return Ok(applied);
        };
        let sql = match tx.backend() {
            Backend::Sqlite => next.sqlite,
            Backend::Postgres => next.postgres,
        };
        exec_tx!(&mut tx, |c| sqlx::raw_sql(sql).execute(c).await)?;
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

    #[test]
    fn both_backends_have_the_same_numbered_migrations() {
        let dir = |b: &str| -> Vec<String> {
            let path = format!("{}/migrations/{b}", env!("CARGO_MANIFEST_DIR"));
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
