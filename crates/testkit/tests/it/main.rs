//! The one integration-test binary of the workspace (STYLE.md §8). Every
//! test written with `both!` runs twice: on SQLite and on PostgreSQL.

// This whole binary is tests: the bodies `both!` wraps are plain async fns,
// where a panic is a failed test as much as in a #[test] fn.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod attachments;
mod audit;
mod audit_api;
mod backups;
mod browser;
mod cli;
mod companies;
mod company_deletion;
mod content;
mod folder_templates;
mod housekeeping;
mod input;
mod keys;
mod mail;
mod mfa;
mod pages;
mod passkeys;
mod rights;
mod rights_props;
mod server;
mod storage;
mod tokens;

/// Runs `async fn $name(t: TestApp)` once per backend.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(t) = turva_testkit::TestApp::start(turva_testkit::Backend::Sqlite).await
                {
                    super::$name(t).await
                } else {
                    panic!("the SQLite test app did not start");
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) =
                    turva_testkit::TestApp::start(turva_testkit::Backend::Postgres).await
                {
                    super::$name(t).await
                }
            }
        }
    };
    ($name:ident, $config:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                match turva_testkit::TestApp::start_with(turva_testkit::Backend::Sqlite, $config)
                    .await
                {
                    Some(t) => super::$name(t).await,
                    None => panic!("the SQLite test app did not start"),
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) =
                    turva_testkit::TestApp::start_with(turva_testkit::Backend::Postgres, $config)
                        .await
                {
                    super::$name(t).await
                }
            }
        }
    };
}
