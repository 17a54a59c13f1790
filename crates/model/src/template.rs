//! Document templates: typed fields, and the rules a document's field
//! values must follow. Pure: parsing and validation only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ModelError;

/// Most fields in one template.
pub const MAX_FIELDS: usize = 200;
/// Longest value of a `text` field, in characters.
pub const TEXT_MAX: usize = 1_000;
/// Longest value of a `long_text` field, in characters.
pub const LONG_TEXT_MAX: usize = 100_000;
/// Largest signature image (a data URL), in bytes.
pub const SIGNATURE_MAX: usize = 256 * 1024;
/// Most options of a choice field.
pub const MAX_OPTIONS: usize = 100;
/// Most files in one file field.
pub const MAX_FIELD_FILES: usize = 100;

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Date,
    Checkbox,
    Choice,
    MultiChoice,
    File,
    Signature,
}

/// One field of a template, as stored and as given by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Stable key of the value in a document's `fields`: `[a-z][a-z0-9_]*`.
    pub key: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
    #[serde(default)]
    pub required: bool,
    /// For `number`: the unit shown after the value (e.g. `m²`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// For `choice` and `multi_choice`: the allowed values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn invalid(field: String, reason: impl Into<String>) -> ModelError {
    ModelError::InvalidValue {
        field,
        reason: reason.into(),
    }
}

fn plain_text(field: &str, text: &str, max: usize, multiline: bool) -> Result<(), ModelError> {
    if text.chars().count() > max {
        return Err(invalid(
            field.to_string(),
            format!("is longer than {max} characters"),
        ));
    }
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if text.chars().any(bad) {
        return Err(invalid(field.to_string(), "contains control characters"));
    }
    Ok(())
}

/// Checks a template's field list: keys well-formed and unique, labels
/// present, options only where they belong.
pub fn check_fields(fields: &[Field]) -> Result<(), ModelError> {
    if fields.len() > MAX_FIELDS {
        return Err(invalid(
            "fields".into(),
            format!("has more than {MAX_FIELDS} fields"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        let at = format!("fields[{i}]");
        let key_ok = f.key.len() <= 64
            && f.key.starts_with(|c: char| c.is_ascii_lowercase())
            && f.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(invalid(
                format!("{at}.key"),
                "must be 1-64 of a-z, 0-9 and _, starting with a letter",
            ));
        }
        if !seen.insert(f.key.as_str()) {
            return Err(invalid(
                format!("{at}.key"),
                format!("{:?} is used twice", f.key),
            ));
        }
        if f.label.trim().is_empty() {
            return Err(invalid(format!("{at}.label"), "is required"));
        }
        plain_text(&format!("{at}.label"), &f.label, 200, false)?;
        plain_text(&format!("{at}.help"), &f.help, 1_000, true)?;
        if let Some(u) = &f.unit {
            if f.kind != FieldType::Number {
                return Err(invalid(
                    format!("{at}.unit"),
                    "only a number field has a unit",
                ));
            }
            plain_text(&format!("{at}.unit"), u, 32, false)?;
        }
        let has_options = matches!(f.kind, FieldType::Choice | FieldType::MultiChoice);
        if has_options {
            if f.options.is_empty() || f.options.len() > MAX_OPTIONS {
                return Err(invalid(
                    format!("{at}.options"),
                    format!("must list 1 to {MAX_OPTIONS} values"),
                ));
            }
            let mut opts = std::collections::HashSet::new();
            for o in &f.options {
                if o.trim().is_empty() || !opts.insert(o.as_str()) {
                    return Err(invalid(
                        format!("{at}.options"),
                        "values must be non-empty and different",
                    ));
                }
                plain_text(&format!("{at}.options"), o, 200, false)?;
            }
        } else if !f.options.is_empty() {
            return Err(invalid(
                format!("{at}.options"),
                "only a choice field has options",
            ));
        }
    }
    Ok(())
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d) && y >= 1
}

/// Checks one value for a field. `null` clears a field and is always
/// allowed here (required fields are checked on completion). `file_ok`
/// says whether an id names a file attached to the document.
pub fn check_value(f: &Field, v: &Value, file_ok: &dyn Fn(&str) -> bool) -> Result<(), ModelError> {
    let at = format!("fields.{}", f.key);
    let wrong = |what: &str| Err(invalid(at.clone(), format!("must be {what}")));
    match (f.kind, v) {
        (_, Value::Null) => Ok(()),
        (FieldType::Text, Value::String(s)) => plain_text(&at, s, TEXT_MAX, false),
        (FieldType::Text, _) => wrong("a string"),
        (FieldType::LongText, Value::String(s)) => plain_text(&at, s, LONG_TEXT_MAX, true),
        (FieldType::LongText, _) => wrong("a string"),
        (FieldType::Number, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        (FieldType::Number, _) => wrong("a number"),
        (FieldType::Date, Value::String(s)) if is_date(s) => Ok(()),
        (FieldType::Date, _) => wrong("a date (YYYY-MM-DD)"),
        (FieldType::Checkbox, Value::Bool(_)) => Ok(()),
        (FieldType::Checkbox, _) => wrong("true or false"),
        (FieldType::Choice, Value::String(s)) if f.options.contains(s) => Ok(()),
        (FieldType::Choice, _) => wrong("one of the field's options"),
        (FieldType::MultiChoice, Value::Array(items)) => {
            let mut seen = std::collections::HashSet::new();
            for i in items {
                match i {
                    Value::String(s) if f.options.contains(s) && seen.insert(s) => {}
                    _ => return wrong("a list of different options of the field"),
                }
            }
            Ok(())
        }
        (FieldType::MultiChoice, _) => wrong("a list of options"),
        (FieldType::File, Value::Array(items)) if items.len() <= MAX_FIELD_FILES => {
            for i in items {
                match i {
                    Value::String(id) if file_ok(id) => {}
                    _ => return wrong("a list of ids of files attached to this document"),
                }
            }
            Ok(())
        }
        (FieldType::File, _) => wrong("a list of ids of files attached to this document"),
        (FieldType::Signature, Value::Object(o)) => {
            let signer = o.get("signer").and_then(Value::as_str);
            let image = o.get("image").and_then(Value::as_str);
            let only_known = o.keys().all(|k| k == "signer" || k == "image");
            match (signer, image) {
                (Some(s), Some(img))
                    if only_known
                        && !s.trim().is_empty()
                        && img.starts_with("data:image/png;base64,")
                        && img.len() <= SIGNATURE_MAX =>
                {
                    plain_text(&format!("{at}.signer"), s, 200, false)
                }
                _ => wrong("{\"signer\": name, \"image\": a PNG data URL of at most 256 KiB}"),
            }
        }
        (FieldType::Signature, _) => wrong("a signature object"),
    }
}

/// Applies `changes` to `current` (a document's field values): each given
/// key must be a field of the template and its value valid; `null` removes
/// the value. Returns the keys that changed.
pub fn apply_values(
    fields: &[Field],
    current: &mut Map<String, Value>,
    changes: &Map<String, Value>,
    file_ok: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, ModelError> {
    let mut changed = Vec::new();
    for (k, v) in changes {
        let Some(f) = fields.iter().find(|f| &f.key == k) else {
            return Err(invalid(
                format!("fields.{}", k.chars().take(64).collect::<String>()),
                "is not a field of the document's template",
            ));
        };
        check_value(f, v, file_ok)?;
        let before = current.get(k).cloned().unwrap_or(Value::Null);
        if &before != v {
            if v.is_null() {
                current.remove(k);
            } else {
                current.insert(k.clone(), v.clone());
            }
            changed.push(format!("fields.{k}"));
        }
    }
    Ok(changed)
}

/// The first required field without a value, if any: a document cannot be
/// completed while one is empty.
pub fn missing_required<'a>(fields: &'a [Field], values: &Map<String, Value>) -> Option<&'a Field> {
    fields.iter().find(|f| {
        f.required
            && match values.get(&f.key) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                Some(_) => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(key: &str, kind: FieldType) -> Field {
        Field {
            key: key.into(),
            kind,
            label: key.into(),
            help: String::new(),
            required: false,
            unit: None,
            options: if matches!(kind, FieldType::Choice | FieldType::MultiChoice) {
                vec!["a".into(), "b".into()]
            } else {
                vec![]
            },
        }
    }

    fn all() -> Vec<Field> {
        use FieldType::*;
        [
            ("t", Text),
            ("lt", LongText),
            ("n", Number),
            ("d", Date),
            ("c", Checkbox),
            ("ch", Choice),
            ("mc", MultiChoice),
            ("f", File),
            ("s", Signature),
        ]
        .into_iter()
        .map(|(k, t)| field(k, t))
        .collect()
    }

    #[test]
    fn each_type_takes_its_values_and_refuses_others() {
        let ok_file = |id: &str| id == "file1";
        let sig = json!({"signer": "Aino", "image": "data:image/png;base64,AAAA"});
        // (key, good value, bad value): each allow beside its deny twin.
        let table = [
            ("t", json!("x"), json!(1)),
            ("t", json!("x"), json!("a\u{0}b")),
            ("t", json!("x"), json!("x".repeat(TEXT_MAX + 1))),
            ("lt", json!("line\nline"), json!(false)),
            ("n", json!(12.5), json!("12")),
            ("d", json!("2024-02-29"), json!("2023-02-29")),
            ("d", json!("2024-12-31"), json!("31.12.2024")),
            ("c", json!(true), json!("true")),
            ("ch", json!("a"), json!("c")),
            ("mc", json!(["a", "b"]), json!(["a", "a"])),
            ("f", json!(["file1"]), json!(["file2"])),
            ("s", sig, json!({"signer": "A", "image": "javascript:x"})),
        ];
        let fields = all();
        for (key, good, bad) in table {
            let f = fields.iter().find(|f| f.key == key).unwrap();
            assert_eq!(check_value(f, &good, &ok_file), Ok(()), "{key} {good}");
            let err = check_value(f, &bad, &ok_file).unwrap_err();
            assert!(
                matches!(&err, ModelError::InvalidValue { field, .. } if field == &format!("fields.{key}")),
                "{key} {bad}: {err:?}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_named_and_nothing_changes() {
        let fields = all();
        let mut cur = Map::new();
        let changes = json!({"t": "x", "nope": 1});
        let err = apply_values(&fields, &mut cur, changes.as_object().unwrap(), &|_| false);
        assert!(
            matches!(err, Err(ModelError::InvalidValue { field, .. }) if field == "fields.nope")
        );
    }

    #[test]
    fn values_apply_and_null_clears() {
        let fields = all();
        let mut cur = Map::new();
        let c1 = json!({"t": "x", "n": 3});
        let changed = apply_values(&fields, &mut cur, c1.as_object().unwrap(), &|_| false).unwrap();
        assert_eq!(changed, ["fields.n", "fields.t"]);
        let c2 = json!({"t": null, "n": 3});
        let changed = apply_values(&fields, &mut cur, c2.as_object().unwrap(), &|_| false).unwrap();
        assert_eq!(changed, ["fields.t"]);
        assert_eq!(Value::Object(cur), json!({"n": 3}));
    }

    #[test]
    fn template_fields_are_checked() {
        let mut fields = all();
        assert_eq!(check_fields(&fields), Ok(()));
        fields.push(field("t", FieldType::Text));
        assert!(check_fields(&fields).is_err(), "duplicate key");
        let mut bad = field("Bad Key", FieldType::Text);
        assert!(check_fields(std::slice::from_ref(&bad)).is_err());
        bad.key = "ok".into();
        bad.options = vec!["x".into()];
        assert!(check_fields(&[bad]).is_err(), "options on a text field");
        let mut choice = field("c", FieldType::Choice);
        choice.options.clear();
        assert!(check_fields(&[choice]).is_err(), "a choice without options");
    }

    #[test]
    fn required_fields_must_be_filled_to_complete() {
        let mut f = field("t", FieldType::Text);
        f.required = true;
        let fields = vec![f];
        assert!(missing_required(&fields, &Map::new()).is_some());
        let filled = json!({"t": "x"});
        assert!(missing_required(&fields, filled.as_object().unwrap()).is_none());
        let blank = json!({"t": "  "});
        assert!(missing_required(&fields, blank.as_object().unwrap()).is_some());
    }
}
