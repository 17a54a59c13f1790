//! JSON handlers. Each is a few lines: parse input, call one `turva_app`
//! operation, render. The wire types here are converted by hand from the
//! app's types.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod companies;
pub mod documents;
pub mod files;
pub mod folders;
pub mod health;
pub mod me;
pub mod mfa;
pub mod search;
pub mod shares;
pub mod templates;
pub mod tokens;

use serde::{Deserialize, Serialize};
use turva_app::clock::rfc3339;

use crate::error::ApiError;

/// A page of items.
#[derive(Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `?limit=&cursor=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// How many items (1–200, default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::BadInput {
                field: Some("limit".into()),
                detail: "limit must be between 1 and 200".into(),
            }),
        }
    }
    /// An opaque cursor made by the app (checked there).
    pub fn opaque_cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
    pub fn cursor(&self) -> Result<Option<String>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| crate::extract::id("cursor", c))
            .transpose()
    }
}

/// Pages a short per-user list that is already in its final order: the
/// items after the one whose id is `cursor`, at most `limit`. (Lists that
/// can grow large page in SQL instead.)
pub fn page<T>(items: Vec<T>, q: &PageQuery, id: impl Fn(&T) -> &str) -> Result<List<T>, ApiError> {
    let limit = usize::try_from(q.limit()?).unwrap_or(50);
    let start = match q.cursor()? {
        Some(c) => match items.iter().position(|i| id(i) == c) {
            Some(p) => p + 1,
            None => {
                return Err(ApiError::BadInput {
                    field: Some("cursor".into()),
                    detail: "cursor is not in this list".into(),
                })
            }
        },
        None => 0,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next_cursor = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(|i| id(i).to_string())
    } else {
        None
    };
    Ok(List {
        items: rest,
        next_cursor,
    })
}

/// An RFC 3339 time from stored milliseconds.
pub fn time(millis: i64) -> String {
    rfc3339(millis)
}

/// For `PATCH` fields where `null` means something (clear, move to the top)
/// and absence means "leave as is": absent is `None`, null `Some(None)`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A page from the app as a wire list.
pub fn list<T, U>(page: turva_app::cursor::Page<T>, f: impl Fn(T) -> U) -> List<U> {
    List {
        items: page.items.into_iter().map(f).collect(),
        next_cursor: page.next_cursor,
    }
}
