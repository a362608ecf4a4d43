//! Errors of the shared model: each names the place it is about, so a user can find it in a file.

use std::fmt;

use super::scalars;

/// One problem with one value, at a dotted path such as `services[0].routes[1].paths[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error, placed under `prefix` (`prefix.path`, or `prefix` alone for an empty path).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join(prefix, &self.path);
        self
    }
}

/// Joins two path parts: `a` + `b` → `a.b`, `a` + `[0]` → `a[0]`, either empty → the other.
pub fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (_, true) => prefix.to_string(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one document or entity, all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SchemaError {
    pub errors: Vec<FieldError>,
}

impl SchemaError {
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![FieldError::new(path, message)],
        }
    }
}

impl From<Vec<FieldError>> for SchemaError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self { errors }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.len() {
            0 => f.write_str("invalid configuration"),
            1 => write!(f, "{}", self.errors[0]),
            n => {
                write!(f, "{n} errors:")?;
                for e in &self.errors {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

/// Deserializes `value` into `T`, turning a serde failure into a `FieldError` at its exact path,
/// in Kong's words ("expected a string"). A scalar of the wrong type is first read as the
/// thread's [`scalars::Scalars`] rule says (decK files: numbers as text; Admin API form bodies:
/// text as numbers, booleans, arrays; Admin API JSON: nothing), and refused otherwise.
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, FieldError> {
    // The common case, a well-typed value, without the cost of tracking paths.
    if let Ok(t) = T::deserialize(value) {
        return Ok(t);
    }
    let mode = scalars::mode();
    let mut owned: Option<serde_json::Value> = None;
    // Each round fixes one scalar; a document has far fewer than this many.
    for _ in 0..256 {
        let current = owned.as_ref().unwrap_or(value);
        match serde_path_to_error::deserialize::<_, T>(current) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let msg = e.inner().to_string();
                let target = owned.get_or_insert_with(|| value.clone());
                if let Some(slot) = at_path(target, e.path()) {
                    if let Some(fixed) = scalars::repair(mode, &msg, slot) {
                        *slot = fixed;
                        continue;
                    }
                }
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                return Err(FieldError::new(path, scalars::kong_message(&msg)));
            }
        }
    }
    Err(FieldError::new("", "too many values of the wrong type"))
}

/// The value at `path` in `root`, if the path leads somewhere.
fn at_path<'a>(
    root: &'a mut serde_json::Value,
    path: &serde_path_to_error::Path,
) -> Option<&'a mut serde_json::Value> {
    use serde_path_to_error::Segment;
    let mut node = root;
    for seg in path.iter() {
        node = match (seg, node) {
            (Segment::Seq { index }, serde_json::Value::Array(a)) => a.get_mut(*index)?,
            (Segment::Map { key }, serde_json::Value::Object(m)) => m.get_mut(key)?,
            _ => return None,
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct T {
        name: String,
        port: u16,
        tags: Vec<String>,
    }

    #[test]
    fn scalars_become_strings_where_strings_are_expected() {
        let t: T =
            from_value(&serde_json::json!({"name": 123, "port": 80, "tags": [true, 1.5]})).unwrap();
        assert_eq!(
            (t.name.as_str(), t.port, t.tags),
            ("123", 80, vec!["true".to_string(), "1.5".to_string()])
        );
        let e = from_value::<T>(&serde_json::json!({"name": "a", "port": "eighty", "tags": []}))
            .unwrap_err();
        assert_eq!(e.path, "port");
        assert_eq!(e.message, "expected an integer");
    }

    #[test]
    fn admin_bodies_refuse_numbers_for_strings_and_infer_form_text() {
        use super::scalars::{with_scalars, Scalars};
        let form = |v| with_scalars(Scalars::Inferred, || from_value::<T>(&v));
        let strict = |v| with_scalars(Scalars::Strict, || from_value::<T>(&v));
        let e = strict(serde_json::json!({"name": 123, "port": 80, "tags": []})).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            ("name", "expected a string")
        );
        let e =
            strict(serde_json::json!({"name": "a", "port": 80, "tags": ["ok", 1]})).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            ("tags[1]", "expected a string")
        );
        let e = strict(serde_json::json!({"name": "a", "port": "8080", "tags": []})).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            ("port", "expected an integer")
        );
        let e = form(serde_json::json!({"name": 123, "port": "80", "tags": []})).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            ("name", "expected a string")
        );
        let t = form(serde_json::json!({"name": "123", "port": "8080", "tags": "one"})).unwrap();
        assert_eq!(
            (t.name.as_str(), t.port, t.tags),
            ("123", 8080, vec!["one".to_string()])
        );
    }
}
