//! An upstream's `healthchecks` record: Kong's defaults filled under what the user gave, then
//! every field checked against Kong's types and ranges (kong/db/schema/entities/upstreams.lua),
//! so a bad value is refused on the CP instead of reaching the DP's health checker.

use serde_json::{json, Map, Value};

use super::entities::{between, one_of};
use super::error::FieldError;

const CHECK_TYPES: &[&str] = &["tcp", "http", "https", "grpc", "grpcs"];

/// Kong's health-check defaults.
pub fn defaults() -> Value {
    json!({
        "threshold": 0,
        "active": {
            "type": "http", "timeout": 1, "concurrency": 10, "http_path": "/",
            "https_verify_certificate": true, "https_sni": null, "headers": null,
            "healthy": {"interval": 0, "http_statuses": [200, 302], "successes": 0},
            "unhealthy": {"interval": 0, "http_statuses": [429, 404, 500, 501, 502, 503, 504, 505],
                          "tcp_failures": 0, "timeouts": 0, "http_failures": 0}
        },
        "passive": {
            "type": "http",
            "healthy": {"http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                          300, 301, 302, 303, 304, 305, 306, 307, 308], "successes": 0},
            "unhealthy": {"http_statuses": [429, 500, 503], "tcp_failures": 0, "timeouts": 0, "http_failures": 0}
        }
    })
}

/// Merges `given` over the defaults, record by record; a null keeps the default, as Kong fills
/// a null field that has one. The CP and the DP both read health checks through this.
pub fn filled(given: Value) -> Value {
    let mut full = defaults();
    merge(&mut full, given);
    full
}

fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    Some(_) if v.is_null() => {}
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (slot, v) => *slot = v,
    }
}

/// Form text (an Admin API form body, `healthchecks.active.timeout=5`) read by the record's
/// types, as Kong's `infer_value` reads it: numbers and booleans from their text, one status
/// as a list of one. The text fields (`type`, `http_path`, `https_sni`, `headers`) stay text.
pub fn infer_text(v: &mut Value) {
    let Value::Object(map) = v else { return };
    for (k, v) in map.iter_mut() {
        match (k.as_str(), &mut *v) {
            ("type" | "http_path" | "https_sni" | "headers", _) => {}
            ("http_statuses", Value::String(_)) => {
                *v = Value::Array(vec![v.take()]);
                infer_text_items(v);
            }
            ("http_statuses", Value::Array(_)) => infer_text_items(v),
            (_, Value::Object(_)) => infer_text(v),
            (_, Value::String(s)) => {
                if let Some(typed) = typed_text(s) {
                    *v = typed;
                }
            }
            _ => {}
        }
    }
}

fn infer_text_items(v: &mut Value) {
    for item in v.as_array_mut().into_iter().flatten() {
        if let Some(typed) = item.as_str().and_then(typed_text) {
            *item = typed;
        }
    }
}

/// A number or boolean written as text; None for other text.
fn typed_text(s: &str) -> Option<Value> {
    match s {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => s.parse::<i64>().map(Value::from).ok().or_else(|| {
            s.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        }),
    }
}

/// Every problem in a filled `healthchecks` record, each named by its path.
pub fn check(hc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(top) = record(hc, "healthchecks", &mut errs) else {
        return errs;
    };
    for (k, v) in top {
        let at = format!("healthchecks.{k}");
        match k.as_str() {
            "threshold" => number(v, &at, 0.0, 100.0, &mut errs),
            "active" | "passive" => probe(v, &at, k == "active", &mut errs),
            _ => errs.push(FieldError::new(at, "unknown field")),
        }
    }
    errs
}

/// `active` or `passive`.
fn probe(v: &Value, at: &str, active: bool, errs: &mut Vec<FieldError>) {
    let Some(map) = record(v, at, errs) else {
        return;
    };
    for (k, v) in map {
        let at = format!("{at}.{k}");
        match (k.as_str(), active) {
            ("type", _) => match v.as_str() {
                Some(t) if CHECK_TYPES.contains(&t) => {}
                _ => errs.push(one_of(&at, CHECK_TYPES)),
            },
            ("healthy" | "unhealthy", _) => counters(v, &at, active, errs),
            ("timeout", true) => number(v, &at, 0.0, 65535.0, errs),
            ("concurrency", true) => integer(v, &at, 1, 1 << 31, errs),
            ("http_path", true) => match v.as_str() {
                Some(p) if p.starts_with('/') => {}
                Some(_) => errs.push(FieldError::new(at, "should start with: /")),
                None => errs.push(FieldError::new(at, "expected a string")),
            },
            ("https_sni", true) => {
                if !(v.is_null() || v.as_str().is_some_and(|s| !s.is_empty())) {
                    errs.push(FieldError::new(at, "expected a string"));
                }
            }
            ("https_verify_certificate", true) => {
                if !v.is_boolean() {
                    errs.push(FieldError::new(at, "expected a boolean"));
                }
            }
            ("headers", true) => headers(v, &at, errs),
            _ => errs.push(FieldError::new(at, "unknown field")),
        }
    }
}

/// `healthy` or `unhealthy` under a probe.
fn counters(v: &Value, at: &str, active: bool, errs: &mut Vec<FieldError>) {
    let Some(map) = record(v, at, errs) else {
        return;
    };
    let healthy = at.ends_with(".healthy");
    for (k, v) in map {
        let at = format!("{at}.{k}");
        match k.as_str() {
            "interval" if active => number(v, &at, 0.0, 65535.0, errs),
            "http_statuses" => statuses(v, &at, errs),
            "successes" if healthy => integer(v, &at, 0, 255, errs),
            "tcp_failures" | "timeouts" | "http_failures" if !healthy => {
                integer(v, &at, 0, 255, errs)
            }
            _ => errs.push(FieldError::new(at, "unknown field")),
        }
    }
}

fn record<'a>(
    v: &'a Value,
    at: &str,
    errs: &mut Vec<FieldError>,
) -> Option<&'a Map<String, Value>> {
    let map = v.as_object();
    if map.is_none() {
        errs.push(FieldError::new(at, "expected a record"));
    }
    map
}

fn number(v: &Value, at: &str, lo: f64, hi: f64, errs: &mut Vec<FieldError>) {
    match v.as_f64() {
        Some(n) if (lo..=hi).contains(&n) => {}
        Some(_) => errs.push(between(at, lo, hi)),
        None => errs.push(FieldError::new(at, "expected a number")),
    }
}

fn integer(v: &Value, at: &str, lo: i64, hi: i64, errs: &mut Vec<FieldError>) {
    match v.as_f64() {
        Some(n) if n.fract() != 0.0 => errs.push(FieldError::new(at, "expected an integer")),
        Some(n) if (lo as f64..=hi as f64).contains(&n) => {}
        Some(_) => errs.push(between(at, lo, hi)),
        None => errs.push(FieldError::new(at, "expected an integer")),
    }
}

fn statuses(v: &Value, at: &str, errs: &mut Vec<FieldError>) {
    let Some(items) = v.as_array() else {
        errs.push(FieldError::new(at, "expected an array"));
        return;
    };
    for (i, s) in items.iter().enumerate() {
        integer(s, &format!("{at}[{i}]"), 100, 999, errs);
    }
}

/// Kong's `headers` typedef: a map of header names to arrays of strings (or null).
fn headers(v: &Value, at: &str, errs: &mut Vec<FieldError>) {
    if v.is_null() {
        return;
    }
    let Some(map) = v.as_object() else {
        errs.push(FieldError::new(at, "expected a map"));
        return;
    };
    for (name, values) in map {
        let ok = values
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            errs.push(FieldError::new(
                format!("{at}.{name}"),
                "expected an array of strings",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(given: Value) -> Vec<(String, String)> {
        check(&filled(given))
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_fill_under_partial_input() {
        assert!(check(&defaults()).is_empty());
        let full = filled(json!({"active": {"healthy": {"interval": 5}}}));
        assert_eq!(full["active"]["healthy"]["interval"], 5);
        assert_eq!(
            full["active"]["healthy"]["http_statuses"],
            json!([200, 302])
        );
        assert!(check(&full).is_empty());
        let nulls = filled(json!({"active": {"healthy": {"interval": null}}, "threshold": null}));
        assert_eq!(nulls["active"]["healthy"]["interval"], 0);
        assert_eq!(nulls["threshold"], 0);
    }

    #[test]
    fn counters_must_be_small_integers() {
        let errs = paths(json!({"active": {"healthy": {"successes": 2.5}},
                                "passive": {"unhealthy": {"timeouts": 300}}}));
        assert_eq!(
            errs,
            [
                (
                    "healthchecks.active.healthy.successes".to_string(),
                    "expected an integer".to_string()
                ),
                (
                    "healthchecks.passive.unhealthy.timeouts".to_string(),
                    "value should be between 0 and 255".to_string()
                ),
            ]
        );
    }

    #[test]
    fn types_ranges_and_unknown_fields_are_named() {
        let errs = paths(json!({
            "threshold": 101,
            "active": {"type": "udp", "timeout": "1", "concurrency": 0, "http_path": "x",
                       "headers": {"x-a": "b"}, "healthy": {"http_statuses": [200, 42]}},
            "passive": {"interval": 3, "healthy": {"interval": 1}},
            "extra": true
        }));
        let got: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "healthchecks.threshold",
            "healthchecks.active.type",
            "healthchecks.active.timeout",
            "healthchecks.active.concurrency",
            "healthchecks.active.http_path",
            "healthchecks.active.headers.x-a",
            "healthchecks.active.healthy.http_statuses[1]",
            "healthchecks.passive.interval",
            "healthchecks.passive.healthy.interval",
            "healthchecks.extra",
        ] {
            assert!(got.contains(&want), "missing {want} in {got:?}");
        }
        assert_eq!(got.len(), 10, "{errs:?}");
    }

    #[test]
    fn not_a_record_is_refused() {
        assert_eq!(check(&json!([1])).len(), 1);
        assert_eq!(
            paths(json!({"active": 3}))[0],
            (
                "healthchecks.active".to_string(),
                "expected a record".to_string()
            )
        );
    }

    #[test]
    fn form_text_is_read_by_the_record_types() {
        let mut v = json!({"threshold": "25", "active": {"type": "tcp", "http_path": "/h",
            "timeout": "1.5", "https_verify_certificate": "false", "headers": {"x-a": ["1"]},
            "healthy": {"interval": "5", "http_statuses": "200"},
            "unhealthy": {"http_statuses": ["500", "502"]}}});
        infer_text(&mut v);
        assert_eq!(
            v,
            json!({"threshold": 25, "active": {"type": "tcp", "http_path": "/h",
                "timeout": 1.5, "https_verify_certificate": false, "headers": {"x-a": ["1"]},
                "healthy": {"interval": 5, "http_statuses": [200]},
                "unhealthy": {"http_statuses": [500, 502]}}})
        );
        assert!(check(&filled(v)).is_empty());
    }
}
