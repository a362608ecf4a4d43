//! `file-log` config (Kong 3.15 schema): the file each request's log entry is appended to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLogConfig {
    pub path: String,
    #[serde(default)]
    pub reopen: bool,
    #[serde(default)]
    pub custom_fields_by_lua: Option<BTreeMap<String, String>>,
}

impl FileLogConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        // Kong: `match = [[^[^*&%%\`]+$]]`, "not a valid filename".
        if self.path.is_empty() || self.path.contains(['*', '&', '%', '\\', '`']) {
            errs.push(FieldError::new("path", "not a valid filename"));
        } else if !self.path.starts_with('/') {
            errs.push(FieldError::new("path", "should be an absolute path"));
        }
        errs.extend(refuse_lua(self.custom_fields_by_lua.as_ref()));
        errs
    }
}

/// `custom_fields_by_lua` needs Lua, which this gateway does not run.
pub fn refuse_lua(fields: Option<&BTreeMap<String, String>>) -> Option<FieldError> {
    fields.filter(|m| !m.is_empty()).map(|_| {
        FieldError::new(
            "custom_fields_by_lua",
            "not supported: this gateway runs no Lua code",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::error::from_value;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<FileLogConfig, String> {
        let c: FileLogConfig = from_value(&v).map_err(|e| e.message)?;
        match c.validate().into_iter().next() {
            Some(e) => Err(format!("{}: {}", e.path, e.message)),
            None => Ok(c),
        }
    }

    #[test]
    fn path_is_required_and_checked() {
        assert!(parse(json!({})).unwrap_err().contains("path"));
        assert_eq!(
            parse(json!({"path": "/tmp/a*b"})).unwrap_err(),
            "path: not a valid filename"
        );
        assert_eq!(
            parse(json!({"path": "logs/x.log"})).unwrap_err(),
            "path: should be an absolute path"
        );
        let c = parse(json!({"path": "/tmp/x.log"})).unwrap();
        assert!(!c.reopen);
    }

    #[test]
    fn lua_is_refused_unless_empty() {
        let e = parse(json!({"path": "/tmp/x", "custom_fields_by_lua": {"a": "return 1"}}))
            .unwrap_err();
        assert!(e.starts_with("custom_fields_by_lua: not supported"), "{e}");
        assert!(parse(json!({"path": "/tmp/x", "custom_fields_by_lua": {}})).is_ok());
    }

    #[test]
    fn schema_document_lists_the_fields() {
        let doc = crate::schema::describe::plugin("file-log").unwrap();
        let text = doc.to_string();
        assert!(text.contains("\"path\""), "{text}");
    }
}
