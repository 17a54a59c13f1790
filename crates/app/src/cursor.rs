//! Opaque list cursors: the sort key of the last item given, encoded so a
//! client cannot depend on (or inject) its shape.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::AppError;

const SEP: char = '\u{1f}';

/// Encodes the parts of a sort key as a cursor.
pub fn encode(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(parts.join(&SEP.to_string()))
}

/// Decodes a cursor made by [`encode`] with `n` parts; anything else is a
/// malformed `cursor`.
pub fn decode(cursor: &str, n: usize) -> Result<Vec<String>, AppError> {
    let bad = || AppError::malformed("cursor", "is not a cursor of this list");
    if cursor.len() > 4096 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<String> = text.split(SEP).map(str::to_string).collect();
    if parts.len() == n {
        Ok(parts)
    } else {
        Err(bad())
    }
}

/// Decodes a cursor of a list sorted by (time, id), newest first.
pub fn decode_time_id(cursor: &str) -> Result<(i64, String), AppError> {
    let mut parts = decode(cursor, 2)?;
    let id = parts.pop().unwrap_or_default();
    let at = parts
        .first()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| AppError::malformed("cursor", "is not a cursor of this list"))?;
    Ok((at, id))
}

/// A page of items and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = encode(&["f", "Työmaa 1", "abc"]);
        assert_eq!(decode(&c, 3).unwrap(), ["f", "Työmaa 1", "abc"]);
        assert!(decode(&c, 2).is_err());
        assert!(decode("%%%", 3).is_err());
        assert!(decode(&"A".repeat(5000), 1).is_err());
    }
}
