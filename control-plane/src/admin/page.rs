//! Kong's list pagination and tag filters: `size` (default 100, max 1000), an opaque `offset`,
//! `tags=a,b` (all of) or `tags=a/b` (any of); `offset` is present only when more remain.

use serde::Deserialize;
use serde_json::{json, Value};

use super::AdminError;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub size: Option<String>,
    pub offset: Option<String>,
    pub tags: Option<String>,
}

/// One page of `items` (already in id order) for collection path `path`.
pub fn page(path: &str, items: Vec<Value>, q: &PageQuery) -> Result<Value, AdminError> {
    let size = match q.size.as_deref() {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            Ok(_) => return Err(AdminError::InvalidSize("between 1 and 1000")),
            Err(_) => return Err(AdminError::InvalidSize("a number")),
        },
    };
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|e| tagged(e, q.tags.as_deref()))
        .collect();
    if let Some(off) = q.offset.as_deref() {
        if uuid::Uuid::parse_str(off).is_err() {
            return Err(AdminError::InvalidOffset(off.to_string()));
        }
        items.retain(|e| e["id"].as_str().is_some_and(|id| id >= off));
    }
    let more = items.len() > size;
    let next_offset = if more {
        items[size]["id"].as_str().map(str::to_string)
    } else {
        None
    };
    items.truncate(size);
    let mut body = json!({"data": items, "next": null});
    if let Some(off) = next_offset {
        let tags = q
            .tags
            .as_deref()
            .map(|t| format!("&tags={t}"))
            .unwrap_or_default();
        body["next"] = json!(format!("/{path}?offset={off}&size={size}{tags}"));
        body["offset"] = json!(off);
    }
    Ok(body)
}

fn tagged(e: &Value, filter: Option<&str>) -> bool {
    let Some(filter) = filter else { return true };
    let tags: Vec<&str> = e["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if filter.contains('/') {
        filter.split('/').any(|t| tags.contains(&t))
    } else {
        filter.split(',').all(|t| tags.contains(&t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"id": format!("00000000-0000-0000-0000-{i:012}"), "tags": if i % 2 == 0 { json!(["even"]) } else { json!(null) }})).collect()
    }

    #[test]
    fn pages_follow_offsets_to_the_end() {
        let q = PageQuery {
            size: Some("2".into()),
            ..Default::default()
        };
        let p1 = page("services", items(3), &q).unwrap();
        assert_eq!(p1["data"].as_array().unwrap().len(), 2);
        let off = p1["offset"].as_str().unwrap().to_string();
        assert_eq!(p1["next"], format!("/services?offset={off}&size=2"));
        let q2 = PageQuery {
            size: Some("2".into()),
            offset: Some(off),
            tags: None,
        };
        let p2 = page("services", items(3), &q2).unwrap();
        assert_eq!(p2["data"].as_array().unwrap().len(), 1);
        assert!(p2.get("offset").is_none());
        assert_eq!(p2["next"], Value::Null);
    }

    #[test]
    fn bad_size_offset_and_tag_filters() {
        let bad = |q: PageQuery| page("s", items(1), &q).unwrap_err().to_string();
        assert_eq!(
            bad(PageQuery {
                size: Some("x".into()),
                ..Default::default()
            }),
            "size must be a number"
        );
        assert_eq!(
            bad(PageQuery {
                size: Some("1001".into()),
                ..Default::default()
            }),
            "size must be between 1 and 1000"
        );
        assert!(bad(PageQuery {
            offset: Some("zz".into()),
            ..Default::default()
        })
        .contains("not a valid offset"));
        let even = page(
            "s",
            items(4),
            &PageQuery {
                tags: Some("even".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(even["data"].as_array().unwrap().len(), 2);
    }
}
