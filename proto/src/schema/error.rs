//! Errors of the shared model: each names the place it is about, so a user can find it in a file.

use std::fmt;

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

/// Deserializes `value` into `T`, turning a serde failure into a `FieldError` at its exact path.
/// Like decK (whose YAML reader turns scalars into strings), a number or boolean given where a
/// string is expected is taken as its text: `key: 12345` is the key "12345".
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, FieldError> {
    // The common case, a well-typed value, without the cost of tracking paths.
    if let Ok(t) = T::deserialize(value) {
        return Ok(t);
    }
    let mut owned: Option<serde_json::Value> = None;
    // Each round fixes one scalar; a document has far fewer than this many.
    for _ in 0..256 {
        let current = owned.as_ref().unwrap_or(value);
        match serde_path_to_error::deserialize::<_, T>(current) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let msg = e.inner().to_string();
                let scalar = [
                    "invalid type: integer",
                    "invalid type: floating point",
                    "invalid type: boolean",
                ]
                .iter()
                .any(|p| msg.starts_with(p));
                if scalar && msg.ends_with("expected a string") {
                    let target = owned.get_or_insert_with(|| value.clone());
                    if stringify_at(target, e.path()) {
                        continue;
                    }
                }
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                return Err(FieldError::new(path, msg));
            }
        }
    }
    Err(FieldError::new("", "too many values of the wrong type"))
}

/// Replaces the number or boolean at `path` by its text; false when the path leads nowhere.
fn stringify_at(root: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let mut node = root;
    for seg in path.iter() {
        node = match (seg, node) {
            (Segment::Seq { index }, serde_json::Value::Array(a)) => match a.get_mut(*index) {
                Some(n) => n,
                None => return false,
            },
            (Segment::Map { key }, serde_json::Value::Object(m)) => match m.get_mut(key) {
                Some(n) => n,
                None => return false,
            },
            _ => return false,
        };
    }
    let text = match node {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    *node = serde_json::Value::String(text);
    true
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
    }
}
