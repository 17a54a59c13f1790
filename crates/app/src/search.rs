//! Full-text search over the documents the caller may view (rights are
//! applied inside the query).

use turva_model::audit::{AuditAction, Outcome};
use turva_store::search::{self as store, MARK_END, MARK_START};

use crate::audit::{self, Event};
use crate::cursor::{self, Page};
use crate::{Actor, App, AppError, Ctx};

/// Longest accepted query, in characters.
pub const QUERY_MAX: usize = 500;

/// One result.
#[derive(Debug, Clone)]
pub struct Hit {
    pub document_id: String,
    pub company_id: String,
    pub folder_id: String,
    pub title: String,
    /// HTML-safe text around the matches, with `<mark>` around each.
    pub snippet: String,
}

/// Escapes text for HTML and turns the match markers into `<mark>`.
fn snippet_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            MARK_START => out.push_str("<mark>"),
            MARK_END => out.push_str("</mark>"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// Searches titles, field values and attachment names.
pub async fn search(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    q: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<Hit>, AppError> {
    if q.chars().count() > QUERY_MAX {
        return Err(AppError::malformed("q", "is too long"));
    }
    if q.contains('\0') {
        return Err(AppError::malformed("q", "contains a NUL byte"));
    }
    let offset = match cursor {
        Some(c) => cursor::decode(c, 1)?[0]
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=10_000).contains(n))
            .ok_or_else(|| AppError::malformed("cursor", "is not a cursor of this list"))?,
        None => 0,
    };
    let words = store::words(q);
    let mut tx = app.db().read().await?;
    let rows = store::search(
        &mut tx,
        &actor.user_id,
        actor.token_company(),
        app.now(),
        q,
        offset,
        limit + 1,
    )
    .await?;
    let mut items: Vec<Hit> = rows
        .into_iter()
        .map(|h| Hit {
            snippet: snippet_html(&store::snippet(&words, &h.title, &h.body, 24)),
            document_id: h.document_id,
            company_id: h.company_id,
            folder_id: h.folder_id,
            title: h.title,
        })
        .collect();
    let more = items.len() > usize::try_from(limit).unwrap_or(0);
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more.then(|| cursor::encode(&[&(offset + limit).to_string()]));
    let ev = Event::new(AuditAction::SearchQuery, Outcome::Allowed).actor(actor);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_escaped_and_marked() {
        let raw = format!("a <script>{MARK_START}x&y{MARK_END}\"'");
        assert_eq!(
            snippet_html(&raw),
            "a &lt;script&gt;<mark>x&amp;y</mark>&quot;&#39;"
        );
    }
}
