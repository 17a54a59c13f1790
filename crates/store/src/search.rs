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
    /// The indexed text (field values and attachment names), for a snippet.
    pub body: String,
}

/// Most candidates ranked per query: matches are ranked by the engine
/// first (cheap), then filtered by rights in SQL; when too few of them are
/// visible, more are taken, up to this many.
const MAX_CANDIDATES: i64 = 16_384;

/// The query text for the backend: every word a quoted term, the last one
/// also as a prefix (as typed).
fn engine_query(words: &[String], backend: Backend) -> String {
    let last = words.len().saturating_sub(1);
    match backend {
        Backend::Sqlite => words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let q = format!("\"{}\"", w.replace('"', "\"\""));
                if i == last {
                    format!("{q}*")
                } else {
                    q
                }
            })
            .collect::<Vec<_>>()
            .join(" AND "),
        // Words are letters and digits only, so `'word'` is a literal lexeme
        // whatever the input was.
        Backend::Postgres => words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("'{w}':*")
                } else {
                    format!("'{w}'")
                }
            })
            .collect::<Vec<_>>()
            .join(" & "),
    }
}

/// Documents matching every word of `q` (the last as a prefix) that
/// `user_id` may view at `now`, best first, skipping `offset`.
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
    let backend = tx.backend();
    let query = engine_query(&words, backend);
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
    // Candidates come only from companies the caller belongs to or holds a
    // share in; the rights filter then decides each one.
    let companies = "(SELECT company_id FROM memberships WHERE user_id = $2 AND status = 'active'
                      UNION SELECT company_id FROM shares WHERE grantee_id = $2 AND status = 'active')";
    let sql = match backend {
        Backend::Sqlite => format!(
            "SELECT d.id, d.company_id, d.folder_id, d.title, t.body
             FROM (SELECT search_text.rowid AS rid, search_text.rank AS score FROM search_text
                   JOIN search_entries ce ON ce.rowid = search_text.rowid
                   WHERE search_text MATCH $1 AND search_text.rowid >= $7
                     AND ce.company_id IN {companies}
                   ORDER BY search_text.rank LIMIT $6) c
             JOIN search_entries e ON e.rowid = c.rid
             JOIN search_text t ON t.rowid = c.rid
             JOIN documents d ON d.id = e.object_id
             JOIN folders f ON f.id = d.folder_id
             LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $2 AND m.status = 'active'
             WHERE {visible}
             ORDER BY c.score, d.id
             LIMIT $4 OFFSET $5"
        ),
        Backend::Postgres => format!(
            "SELECT d.id, d.company_id, d.folder_id, d.title, e.body
             FROM (SELECT ce.object_id, ts_rank(ce.tsv, q.q) AS score
                   FROM search_entries ce, to_tsquery('simple', $1) q
                   WHERE ce.tsv @@ q.q AND ce.company_id IN {companies}
                   ORDER BY score DESC LIMIT $6) c
             JOIN search_entries e ON e.object_id = c.object_id
             JOIN documents d ON d.id = e.object_id
             JOIN folders f ON f.id = d.folder_id
             LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $2 AND m.status = 'active'
             WHERE {visible}
             ORDER BY c.score DESC, d.id
             LIMIT $4 OFFSET $5"
        ),
    };
    let want = offset + limit;
    let mut candidates = (want * 4).clamp(256, MAX_CANDIDATES);
    loop {
        // SQLite: rank only the newest matches (a window twice the
        // candidates, found by walking the index backwards), so a word
        // found in a hundred thousand documents costs no more than a rare
        // one. (PostgreSQL ranks every match of the caller's companies.)
        let window_start: i64 = match backend {
            Backend::Sqlite => {
                let row: Option<(i64,)> = on_tx!(tx, |c| sqlx::query_as(
                    "SELECT rowid FROM search_text WHERE search_text MATCH $1
                     ORDER BY rowid DESC LIMIT 1 OFFSET $2"
                )
                .bind(&query)
                .bind(candidates * 2 - 1)
                .fetch_optional(c)
                .await)?;
                row.map_or(0, |r| r.0)
            }
            Backend::Postgres => 0,
        };
        let rows: Vec<(String, String, String, String, String)> = on_tx!(tx, |c| {
            let q = sqlx::query_as(&sql)
                .bind(&query)
                .bind(user_id)
                .bind(now)
                .bind(limit)
                .bind(offset)
                .bind(candidates);
            match backend {
                Backend::Sqlite => q.bind(window_start).fetch_all(c).await,
                Backend::Postgres => q.fetch_all(c).await,
            }
        })?;
        // Enough visible results, or every match was a candidate (the
        // window reached the oldest match), or the most we rank.
        let n = i64::try_from(rows.len()).unwrap_or(0);
        if n >= limit || window_start == 0 || candidates >= MAX_CANDIDATES {
            return Ok(rows
                .into_iter()
                .map(|(document_id, company_id, folder_id, title, body)| Hit {
                    document_id,
                    company_id,
                    folder_id,
                    title,
                    body,
                })
                .collect());
        }
        candidates = (candidates * 4).min(MAX_CANDIDATES);
    }
}

/// Text around the first match of `words` (the last as a prefix) in
/// `title` or `body`, at most about `width` words, with each matching word
/// between [`MARK_START`] and [`MARK_END`].
pub fn snippet(words: &[String], title: &str, body: &str, width: usize) -> String {
    let last = words.len().saturating_sub(1);
    let matches = |token: &str| {
        let t = token.to_lowercase();
        words
            .iter()
            .enumerate()
            .any(|(i, w)| t == *w || (i == last && t.starts_with(w.as_str())))
    };
    // Tokens with their byte ranges: runs of letters and digits.
    let tokens = |text: &str| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((s, text.len()));
        }
        out
    };
    let text = if tokens(body).iter().any(|&(a, b)| matches(&body[a..b])) {
        body
    } else if tokens(title).iter().any(|&(a, b)| matches(&title[a..b])) {
        title
    } else {
        body
    };
    let toks = tokens(text);
    let first = toks
        .iter()
        .position(|&(a, b)| matches(&text[a..b]))
        .unwrap_or(0);
    let from = first.saturating_sub(width / 3);
    let to = (from + width).min(toks.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let Some(&(start, _)) = toks.get(from) else {
        return text.chars().take(200).collect();
    };
    let mut pos = start;
    for &(a, b) in &toks[from..to] {
        out.push_str(&text[pos..a]);
        if matches(&text[a..b]) {
            out.push(MARK_START);
            out.push_str(&text[a..b]);
            out.push(MARK_END);
        } else {
            out.push_str(&text[a..b]);
        }
        pos = b;
    }
    if to < toks.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mark_the_words_found() {
        let w = vec!["betoni".to_string(), "val".to_string()];
        let s = snippet(
            &w,
            "Title",
            "Aamulla betonin valu alkoi. Betoni kuivui.",
            12,
        );
        assert_eq!(
            s,
            format!("Aamulla betonin {MARK_START}valu{MARK_END} alkoi. {MARK_START}Betoni{MARK_END} kuivui")
        );
        let s = snippet(&w, "Betoni valu", "", 12);
        assert!(s.contains(MARK_START), "{s}");
    }

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
