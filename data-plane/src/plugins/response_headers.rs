//! Header changes plugins decide in the access phase and the header filter applies to the
//! response (proxied or Kong-made): Kong's `kong.response.set_header`, `add_header` and
//! `clear_header`.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

#[derive(Debug, Clone)]
pub enum HeaderChange {
    Set(HeaderName, HeaderValue),
    /// Added unless an equal value is already there (as Kong's `Vary` helper does).
    Append(HeaderName, HeaderValue),
    Remove(HeaderName),
}

impl HeaderChange {
    pub fn set(name: &'static str, value: &str) -> Option<Self> {
        let v = HeaderValue::from_str(value).ok()?;
        Some(Self::Set(HeaderName::from_static(name), v))
    }

    pub fn apply(&self, h: &mut HeaderMap) {
        match self {
            Self::Set(k, v) => {
                h.insert(k.clone(), v.clone());
            }
            Self::Append(k, v) => {
                if !h.get_all(k).iter().any(|x| x == v) {
                    h.append(k.clone(), v.clone());
                }
            }
            Self::Remove(k) => {
                h.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_append_remove() {
        let mut h = HeaderMap::new();
        h.insert("vary", HeaderValue::from_static("Accept"));
        h.insert("x-gone", HeaderValue::from_static("1"));
        HeaderChange::set("x-a", "1").unwrap().apply(&mut h);
        let vary = HeaderChange::Append(
            HeaderName::from_static("vary"),
            HeaderValue::from_static("Origin"),
        );
        vary.apply(&mut h);
        vary.apply(&mut h);
        HeaderChange::Remove(HeaderName::from_static("x-gone")).apply(&mut h);
        assert_eq!(h["x-a"], "1");
        assert_eq!(h.get_all("vary").iter().count(), 2);
        assert!(!h.contains_key("x-gone"));
    }
}
