//! The search index: one entry per document (its title, field values and
//! attachment names), FTS5 on SQLite and a `tsvector` on PostgreSQL.
//!
//! Search terms are data, never syntax: the query text is cut into words
//! here (letters and digits only), and each word becomes a quoted prefix
//! term, so quotes, operators and column filters in the input mean nothing.
//! Results are filtered by the caller's rights inside the query.

use crate::db::{Backend, Tx};
use crate::error::Result;
use crate::folders::live_grant_on_path;
use crate::{exec_tx, on_tx, Millis};

/// Marks the start and the end of a matched word in a snippet (private-use
/// characters, which the app turns into markup after escaping the text).
pub const MARK_START: char = '\u{E000}';
pub const MARK_END: char = '\u{E001}';

/// Puts a document's text in the index (replacing what was there).
pub async fn index_document(
    tx: &mut Tx,
    company_id: &str,
    document_id: &str,
    title: &str,
    body: &str,
) -> Result<()> {
    match tx.backend() {
        Backend::Postgres => {
            exec_tx!(tx, |c| {
                sqlx::query(
                "INSERT INTO search_entries (object_id, company_id, title, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (object_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body"
            )
            .bind(document_id)
            .bind(company_id)
            .bind(title)
            .bind(body)
            .execute(c)
            .await
            })?;
        }
        Backend::Sqlite => {
            remove_document(tx, document_id).await?;
            let (rowid,): (i64,) = on_tx!(tx, |c| {
                sqlx::query_as(
                "INSERT INTO search_entries (object_id, company_id) VALUES ($1, $2) RETURNING rowid"
            )
            .bind(document_id)
            .bind(company_id)
            .fetch_one(c)
            .await
            })?;
            exec_tx!(tx, |c| sqlx::query(
                "INSERT INTO search_text (rowid, title, body) VALUES ($1, $2, $3)"
            )
            .bind(rowid)
            .bind(title)
            .bind(body)
            .execute(c)
            .await)?;
        }
    }
    Ok(())
}

/// Takes a document out of the index.
pub async fn remove_document(tx: &mut Tx, document_id: &str) -> Result<()> {
    if tx.backend() == Backend::Sqlite {
        exec_tx!(tx, |c| {
            sqlx::query(
            "DELETE FROM search_text WHERE rowid IN (SELECT rowid FROM search_entries WHERE object_id = $1)"
        )
        .bind(document_id)
        .execute(c)
        .await
        })?;
    }
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM search_entries WHERE object_id = $1"
    )
    .bind(document_id)
    .execute(c)
    .await)?;
    Ok(())
}

/// The words of a query: runs of letters and digits, lower-cased, at most
/// 16 of them, each at most 64 characters.
pub fn words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(64).collect::<String>().to_lowercase())
        .take(16)
        .collect()
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Hit {
    pub document_id: String,
    pub company_id: String,
    pub folder_id: String,
    pub title: String,
    /// Text around the matches, with matches between [`MARK_START`] and
    /// [`MARK_END`]; not escaped.
    pub snippet: String,
}

/// Documents matching every word of `q` (as a prefix) that `user_id` may
/// view at `now`, best first, skipping `offset`.
pub async fn search(
    tx: &mut Tx,
    user_id: &str,
    now: Millis,
    q: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Hit>> {
    let words = words(q);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let visible = format!(
        "d.deleted_at IS NULL AND NOT f.in_trash AND (
            m.role IN ('owner', 'admin')
            OR (m.role IS NOT NULL AND f.access_in_force <> 'none')
            OR {grant})",
        grant = live_grant_on_path(
            "d.id",
            "d.folder_id",
            "$2",
            "$3",
            "'view', 'edit', 'manage'"
        )
    );
    let rows: Vec<(String, String, String, String, String)> = match tx.backend() {
        Backend::Sqlite => {
            // Each word a quoted prefix term: `"word"*`, joined by AND.
            let query = words
                .iter()
                .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" AND ");
            let sql = format!(
                "SELECT d.id, d.company_id, d.folder_id, d.title,
                        snippet(search_text, -1, char(57344), char(57345), '…', 16)
                 FROM search_text
                 JOIN search_entries e ON e.rowid = search_text.rowid
                 JOIN documents d ON d.id = e.object_id
                 JOIN folders f ON f.id = d.folder_id
                 LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $2 AND m.status = 'active'
                 WHERE search_text MATCH $1 AND {visible}
                 ORDER BY bm25(search_text, 10.0, 1.0), d.id
                 LIMIT $4 OFFSET $5"
            );
            on_tx!(tx, |c| sqlx::query_as(&sql)
                .bind(query)
                .bind(user_id)
                .bind(now)
                .bind(limit)
                .bind(offset)
                .fetch_all(c)
                .await)?
        }
        Backend::Postgres => {
            // Words are letters and digits only, so `'word':*` is a literal
            // prefix lexeme, whatever the input was.
            let query = words
                .iter()
                .map(|w| format!("'{w}':*"))
                .collect::<Vec<_>>()
                .join(" & ");
            let sql = format!(
                "SELECT d.id, d.company_id, d.folder_id, d.title,
                        ts_headline('simple', e.title || ' ' || e.body, q.q,
                            'StartSel=' || chr(57344) || ', StopSel=' || chr(57345) || ', MaxWords=24, MinWords=8')
                 FROM search_entries e
                 CROSS JOIN (SELECT to_tsquery('simple', $1) AS q) q
                 JOIN documents d ON d.id = e.object_id
                 JOIN folders f ON f.id = d.folder_id
                 LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $2 AND m.status = 'active'
                 WHERE e.tsv @@ q.q AND {visible}
                 ORDER BY ts_rank(e.tsv, q.q) DESC, d.id
                 LIMIT $4 OFFSET $5"
            );
            on_tx!(tx, |c| sqlx::query_as(&sql)
                .bind(query)
                .bind(user_id)
                .bind(now)
                .bind(limit)
                .bind(offset)
                .fetch_all(c)
                .await)?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(document_id, company_id, folder_id, title, snippet)| Hit {
            document_id,
            company_id,
            folder_id,
            title,
            snippet,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_is_cut_into_plain_words() {
        assert_eq!(
            words("Työmaa \"12\"* OR -x NEAR(a b)"),
            ["työmaa", "12", "or", "x", "near", "a", "b"]
        );
        assert!(words("\"*:()^-+'").is_empty());
        assert_eq!(words(&"a ".repeat(40)).len(), 16);
    }
}
