//! Kong's service `url` shorthand: `https://example.com:8443/api` → protocol, host, port, path.

use proto::schema::FieldError;
use serde_json::{json, Map, Value};

/// Replaces `url` in a service body by the fields it stands for.
pub fn expand_service_url(body: &mut Map<String, Value>) -> Result<(), FieldError> {
    let Some(url) = body.remove("url") else {
        return Ok(());
    };
    let Some(url) = url.as_str().map(str::to_string) else {
        return Err(FieldError::new("url", "expected a string"));
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| FieldError::new("url", format!("missing scheme in url '{url}'")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let (host, port) = split_host_port(authority)
        .ok_or_else(|| FieldError::new("url", format!("invalid host or port in url '{url}'")))?;
    if host.is_empty() {
        return Err(FieldError::new(
            "url",
            format!("missing host in url '{url}'"),
        ));
    }
    let scheme = scheme.to_ascii_lowercase();
    let port = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
    body.insert("protocol".into(), json!(scheme));
    body.insert("host".into(), json!(host));
    body.insert("port".into(), json!(port));
    body.insert("path".into(), path.map_or(Value::Null, |p| json!(p)));
    Ok(())
}

fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), Some(p.parse().ok()?))),
        None => Some((authority.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(url: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("url".into(), json!(url));
        expand_service_url(&mut m).unwrap();
        m
    }

    #[test]
    fn fills_protocol_host_port_path() {
        let m = expand("https://example.com/api");
        assert_eq!(m["protocol"], "https");
        assert_eq!(m["host"], "example.com");
        assert_eq!(m["port"], 443);
        assert_eq!(m["path"], "/api");
        let m = expand("http://127.0.0.1:9000");
        assert_eq!(m["port"], 9000);
        assert_eq!(m["path"], Value::Null);
    }

    #[test]
    fn bad_urls_are_named() {
        let mut m = Map::new();
        m.insert("url".into(), json!("example.com"));
        assert_eq!(expand_service_url(&mut m).unwrap_err().path, "url");
        m.insert("url".into(), json!("http://h:notaport/"));
        assert!(expand_service_url(&mut m).is_err());
    }
}
