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
                "INSERT INTO search_text (rowid, title, body, scope) VALUES ($1, $2, $3, $4)"
            )
            .bind(rowid)
            .bind(title)
            .bind(body)
            .bind(scope_token(company_id))
            .execute(c)
            .await)?;
        }
    }
    Ok(())
}

/// The token that names a company in the `scope` column of the SQLite
/// index: `c` and the hex digits of its id (one word to the tokenizer).
pub fn scope_token(company_id: &str) -> String {
    let mut t = String::with_capacity(33);
    t.push('c');
    t.extend(company_id.chars().filter(char::is_ascii_alphanumeric));
    t.to_lowercase()
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
        // Limited to the text columns, so no word ever matches `scope`.
        Backend::Sqlite => format!(
            "{{title body}} : ({})",
            words
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
                .join(" AND ")
        ),
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

/// The SQL condition under which the caller (`$1`, at time `$2`) may view
/// document `d` in folder `f`, with `m` their active membership (if any) in
/// the document's company.
fn visible_condition() -> String {
    format!(
        "d.deleted_at IS NULL AND NOT f.in_trash AND (
            m.role IN ('owner', 'admin')
            OR (m.role IS NOT NULL AND f.access_in_force <> 'none')
            OR {grant})",
        grant = live_grant_on_path(
            "d.id",
            "d.folder_id",
            "$1",
            "$2",
            "'view', 'edit', 'manage'"
        )
    )
}

/// Companies the caller (`$user`) belongs to or holds a share in (and that
/// are not scheduled for deletion): search candidates come only from these; the rights filter then decides each.
fn companies_of(user: &str) -> String {
    format!(
        "(SELECT y.company_id FROM
            (SELECT company_id FROM memberships WHERE user_id = {user} AND status = 'active'
             UNION SELECT company_id FROM shares WHERE grantee_id = {user} AND status = 'active') y
          JOIN companies co ON co.id = y.company_id AND co.deletion_scheduled_at IS NULL)"
    )
}

/// `$from, $from+1, …` for `n` values.
fn params(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Documents matching every word of `q` (the last as a prefix) that
/// `user_id` may view at `now`, best first, skipping `offset`.
/// With `only_company`, matches come from that company alone (an API
/// token's).
pub async fn search(
    tx: &mut Tx,
    user_id: &str,
    only_company: Option<&str>,
    now: Millis,
    q: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Hit>> {
    let words = words(q);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let query = engine_query(&words, tx.backend());
    let only = only_company.unwrap_or("");
    match tx.backend() {
        Backend::Sqlite => search_sqlite(tx, user_id, only, now, &query, offset, limit).await,
        Backend::Postgres => search_postgres(tx, user_id, only, now, &query, offset, limit).await,
    }
}

type Visible = (String, String, String, String);

/// Matches ranked in the first tier (the newest), then four times as many
/// in each next tier.
const FIRST_TIER: i64 = 256;

/// SQLite. Matches in the caller's companies are taken newest first in
/// tiers (the newest 256, the next 1,024, the next 4,096, …, at most
/// [`MAX_CANDIDATES`] in all), each found by walking the index backwards,
/// so a word found in a hundred thousand documents costs no more than a
/// rare one, and a small company's matches are never crowded out by a large
/// one's. Results are ordered by tier, then by the engine's rank (bm25)
/// within the tier: an order that does not depend on the page asked for,
/// so pages never repeat or skip a result. The caller's rights are checked
/// in SQL on the best candidates first, a few at a time, until the page is
/// full, and the text for snippets is read for that page only. Each step
/// reads few pages: a page-cache miss on this encrypted file costs a read
/// and a decryption, and most of a search used to be those.
async fn search_sqlite(
    tx: &mut Tx,
    user_id: &str,
    only: &str,
    now: Millis,
    query: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Hit>> {
    let companies: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(&format!(
        "SELECT company_id FROM {} x WHERE $2 = '' OR x.company_id = $2",
        companies_of("$1")
    ))
    .bind(user_id)
    .bind(only)
    .fetch_all(c)
    .await)?;
    if companies.is_empty() {
        return Ok(Vec::new());
    }
    let scoped = format!(
        "{query} AND scope : ({})",
        companies
            .iter()
            .map(|(c,)| format!("\"{}\"", scope_token(c)))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    let want = usize::try_from(offset + limit).unwrap_or(0);
    let skip = usize::try_from(offset).unwrap_or(0);
    let mut found: Vec<(i64, Visible)> = Vec::new();
    // Rowids below `below` are the next tier's; `taken` matches so far.
    let mut below = i64::MAX;
    let mut taken = 0;
    let mut size = FIRST_TIER;
    while found.len() < want && taken < MAX_CANDIDATES {
        let size_now = size.min(MAX_CANDIDATES - taken);
        let tier: Vec<(i64,)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT rowid FROM search_text WHERE search_text MATCH $1 AND rowid < $2
             ORDER BY rowid DESC LIMIT $3"
        )
        .bind(&scoped)
        .bind(below)
        .bind(size_now)
        .fetch_all(c)
        .await)?;
        let Some(&(lowest,)) = tier.last() else {
            break;
        };
        let last_tier = i64::try_from(tier.len()).unwrap_or(0) < size_now;
        let in_tier: std::collections::HashSet<i64> = tier.into_iter().map(|r| r.0).collect();
        // Ranked by the words alone over the tier's range of rowids (bm25
        // with the scope term would count the company's every entry on
        // each query; filtering by a list of rowids makes the engine start
        // over for each); other companies' entries in the range are then
        // dropped here.
        let ranked: Vec<(i64,)> = on_tx!(tx, |c| {
            sqlx::query_as(
            "SELECT rowid FROM search_text WHERE search_text MATCH $1 AND rowid >= $2 AND rowid < $3
             ORDER BY rank, rowid DESC"
        )
        .bind(query)
        .bind(lowest)
        .bind(below)
        .fetch_all(c)
        .await
        })?;
        let ranked: Vec<i64> = ranked
            .into_iter()
            .map(|r| r.0)
            .filter(|r| in_tier.contains(r))
            .collect();
        // Rights, best candidates first, in growing chunks.
        let mut pos = 0;
        let mut chunk = want - found.len() + 8;
        while found.len() < want && pos < ranked.len() {
            let end = (pos + chunk).min(ranked.len());
            let visible = visible_of(tx, user_id, now, &ranked[pos..end]).await?;
            for rowid in &ranked[pos..end] {
                if let Some(v) = visible.get(rowid) {
                    found.push((*rowid, v.clone()));
                }
            }
            pos = end;
            chunk *= 2;
        }
        if last_tier {
            break;
        }
        below = lowest;
        taken += size_now;
        size *= 4;
    }
    let page: Vec<(i64, Visible)> = found.into_iter().skip(skip).take(want - skip).collect();
    with_bodies(tx, page).await
}

/// Which of the index entries `rowids` are documents the caller may view,
/// with their rows.
async fn visible_of(
    tx: &mut Tx,
    user_id: &str,
    now: Millis,
    rowids: &[i64],
) -> Result<std::collections::HashMap<i64, Visible>> {
    let sql = format!(
        "SELECT e.rowid, d.id, d.company_id, d.folder_id, d.title FROM search_entries e
         JOIN documents d ON d.id = e.object_id
         JOIN folders f ON f.id = d.folder_id
         LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $1 AND m.status = 'active'
         WHERE e.rowid IN ({rowids}) AND {visible}",
        rowids = params(3, rowids.len()),
        visible = visible_condition()
    );
    let rows: Vec<(i64, String, String, String, String)> = on_tx!(tx, |c| {
        let mut q = sqlx::query_as(&sql).bind(user_id).bind(now);
        for r in rowids {
            q = q.bind(*r);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(rowid, id, company, folder, title)| (rowid, (id, company, folder, title)))
        .collect())
}

/// The results of `page` with the indexed text of each (for a snippet).
async fn with_bodies(tx: &mut Tx, page: Vec<(i64, Visible)>) -> Result<Vec<Hit>> {
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT rowid, body FROM search_text WHERE rowid IN ({})",
        params(1, page.len())
    );
    let bodies: Vec<(i64, String)> = on_tx!(tx, |c| {
        let mut q = sqlx::query_as(&sql);
        for (rowid, _) in &page {
            q = q.bind(*rowid);
        }
        q.fetch_all(c).await
    })?;
    let bodies: std::collections::HashMap<i64, String> = bodies.into_iter().collect();
    Ok(page
        .into_iter()
        .map(|(rowid, (document_id, company_id, folder_id, title))| Hit {
            body: bodies.get(&rowid).cloned().unwrap_or_default(),
            document_id,
            company_id,
            folder_id,
            title,
        })
        .collect())
}

/// PostgreSQL: the engine ranks every match of the caller's companies;
/// the rights filter takes the best candidates, more when too few of them
/// are visible.
async fn search_postgres(
    tx: &mut Tx,
    user_id: &str,
    only: &str,
    now: Millis,
    query: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Hit>> {
    let sql = format!(
        "SELECT d.id, d.company_id, d.folder_id, d.title, e.body
         FROM (SELECT ce.object_id, ts_rank(ce.tsv, q.q) AS score
               FROM search_entries ce, to_tsquery('simple', $3) q
               WHERE ce.tsv @@ q.q AND ce.company_id IN {companies}
                 AND ($7 = '' OR ce.company_id = $7)
               ORDER BY score DESC, ce.object_id LIMIT $6) c
         JOIN search_entries e ON e.object_id = c.object_id
         JOIN documents d ON d.id = e.object_id
         JOIN folders f ON f.id = d.folder_id
         LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $1 AND m.status = 'active'
         WHERE {visible}
         ORDER BY c.score DESC, d.id
         LIMIT $4 OFFSET $5",
        companies = companies_of("$1"),
        visible = visible_condition()
    );
    let mut candidates = ((offset + limit) * 4).clamp(256, MAX_CANDIDATES);
    loop {
        let rows: Vec<(String, String, String, String, String)> = on_tx!(tx, |c| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(now)
                .bind(query)
                .bind(limit)
                .bind(offset)
                .bind(candidates)
                .bind(only)
                .fetch_all(c)
                .await
        })?;
        let n = i64::try_from(rows.len()).unwrap_or(0);
        // Too few visible: rank more, unless every match was a candidate.
        let exhausted = n < limit && candidates < MAX_CANDIDATES && {
            let count = format!(
                "SELECT count(*) FROM search_entries ce
                 WHERE ce.tsv @@ to_tsquery('simple', $2) AND ce.company_id IN {companies}
                   AND ($3 = '' OR ce.company_id = $3)",
                companies = companies_of("$1")
            );
            let (matches,): (i64,) = on_tx!(tx, |c| sqlx::query_as(&count)
                .bind(user_id)
                .bind(query)
                .bind(only)
                .fetch_one(c)
                .await)?;
            matches <= candidates
        };
        if n >= limit || exhausted || candidates >= MAX_CANDIDATES {
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
