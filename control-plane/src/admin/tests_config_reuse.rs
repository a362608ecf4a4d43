//! `POST /config` reusing the last accepted document's unchanged items: only while the config
//! they came from is still the published one.

use serde_json::{json, Value};

use super::tests::{on_both_backends, Api};

fn doc(path: &str) -> Value {
    json!({"_format_version": "3.0", "services": [
        {"name": "s", "url": "http://h:80", "retries": 5,
         "routes": [{"name": "r", "paths": [path]}]},
        {"name": "t", "url": "http://t:80"},
    ]})
}

async fn an_admin_api_write_in_between_is_not_undone_by_reuse(api: Api) {
    let (st, out) = api.json("POST", "/config", doc("/a")).await;
    assert_eq!(st, 201, "{out}");
    // Another writer changes the service the document holds unchanged.
    let (st, out) = api
        .json("PATCH", "/services/s", json!({"retries": 1}))
        .await;
    assert_eq!(st, 200, "{out}");
    // The document again, with only the other service's route changed: the service comes
    // back to what the document says, as a full check gives.
    let (st, out) = api.json("POST", "/config", doc("/a")).await;
    assert_eq!(st, 201, "{out}");
    let (_, svc) = api.json("GET", "/services/s", Value::Null).await;
    assert_eq!(svc["retries"], 5, "{svc}");
    // And with nothing in between, a changed route is applied, the rest kept.
    let (st, out) = api.json("POST", "/config", doc("/b")).await;
    assert_eq!(st, 201, "{out}");
    assert_eq!(
        out["changes"]["updating"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    let (_, route) = api.json("GET", "/routes/r", Value::Null).await;
    assert_eq!(route["paths"], json!(["/b"]), "{route}");
    let (_, svc) = api.json("GET", "/services/t", Value::Null).await;
    assert_eq!(svc["host"], "t", "{svc}");
}

async fn a_document_refused_after_a_reused_one_names_every_place(api: Api) {
    let (st, _) = api.json("POST", "/config", doc("/a")).await;
    assert_eq!(st, 201);
    let mut bad = doc("/a");
    bad["services"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "t", "url": "http://dup:80"}));
    let (st, out) = api.json("POST", "/config", bad).await;
    assert_eq!(st, 400, "{out}");
    let text = out.to_string();
    assert!(text.contains("already declared"), "{out}");
    let (_, svc) = api.json("GET", "/services/t", Value::Null).await;
    assert_eq!(svc["host"], "t", "the stored config is untouched: {svc}");
}

on_both_backends!(
    an_admin_api_write_in_between_is_not_undone_by_reuse,
    a_document_refused_after_a_reused_one_names_every_place,
);
