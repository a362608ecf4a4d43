//! Our Admin API answers checked against Kong's own OpenAPI spec (3.9, in
//! `../shared/corpus/kong-admin-openapi-3.9/openapi.yaml`): for every entity we serve, an entity
//! created through the API and read back must carry every property the spec lists (Kong returns
//! all fields, unset ones as null), no property the spec does not know (except the few Kong
//! added after 3.9, listed below), and non-null values of the spec's types.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use bytes::Bytes;
use control_plane::admin::{router, AppState};
use control_plane::snapshot::Publisher;
use control_plane::store::Store;
use control_plane::sync::nodes::Nodes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::path::Path;

/// Fields Kong returns that the 3.9 spec does not list (added in later versions, or timestamps
/// the spec leaves out).
const NEWER_THAN_SPEC: &[(&str, &str)] = &[
    ("Consumer", "updated_at"),
    ("Upstream", "sticky_sessions_cookie"),
    ("Upstream", "sticky_sessions_cookie_path"),
    ("Upstream", "updated_at"),
    ("Target", "failover"),
    ("Target", "updated_at"),
    ("Certificate", "updated_at"),
    ("SNI", "updated_at"),
    ("CA-Certificate", "updated_at"),
];
/// Spec properties Kong itself leaves out of a read: input shorthands and expressions-router
/// fields (this gateway routes the traditional_compatible way).
const NOT_RETURNED: &[(&str, &str)] = &[
    ("Service", "url"),
    ("Certificate", "snis"),
    ("Route", "expression"),
    ("Route", "priority"),
];

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/kong-admin-openapi-3.9/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap()
}

fn type_ok(expected: &str, v: &Value) -> bool {
    match expected {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// Every mismatch between `entity` and the spec's schema `name`.
fn check(spec: &Value, name: &str, entity: &Value) -> Vec<String> {
    let props = spec["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {name}"));
    let mut problems = Vec::new();
    let Some(obj) = entity.as_object() else {
        return vec![format!("{name}: not an object: {entity}")];
    };
    for (field, schema) in props {
        match obj.get(field) {
            None if !NOT_RETURNED.contains(&(name, field.as_str())) => {
                problems.push(format!("{name}.{field}: missing"))
            }
            Some(v) if !v.is_null() => {
                let t = schema["type"].as_str().unwrap_or("");
                if !type_ok(t, v) {
                    problems.push(format!("{name}.{field}: expected {t}, got {v}"));
                }
            }
            _ => {}
        }
    }
    for field in obj.keys() {
        if !props.contains_key(field) && !NEWER_THAN_SPEC.contains(&(name, field.as_str())) {
            problems.push(format!("{name}.{field}: not in Kong's spec"));
        }
    }
    problems
}

struct Api {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Api {
    async fn start() -> Api {
        let dir = std::env::temp_dir().join(format!("cp-openapi-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.join("kong.db").display()))
            .await
            .unwrap();
        let publisher = Publisher::new(store.clone()).await.unwrap();
        let state = AppState::new(store, publisher, Nodes::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(if body.is_null() {
                String::new()
            } else {
                body.to_string()
            })))
            .unwrap();
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn admin_api_entities_match_kongs_openapi_spec() {
    let spec = spec();
    let api = Api::start().await;
    let cert = json!({"cert": "{vault://env/cert}", "key": "{vault://env/key}"});
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "/services",
            "Service",
            json!({"name": "svc", "url": "http://example.com/x"}),
        ),
        (
            "/services/svc/routes",
            "Route",
            json!({"name": "r", "paths": ["/r"]}),
        ),
        (
            "/consumers",
            "Consumer",
            json!({"username": "alice", "tags": ["t"]}),
        ),
        (
            "/plugins",
            "Plugin",
            json!({"name": "key-auth", "service": {"name": "svc"}}),
        ),
        ("/upstreams", "Upstream", json!({"name": "up"})),
        (
            "/upstreams/up/targets",
            "Target",
            json!({"target": "10.0.0.1:80"}),
        ),
        ("/certificates", "Certificate", cert),
        (
            "/ca_certificates",
            "CA-Certificate",
            json!({"cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}),
        ),
        (
            "/vaults",
            "Vault",
            json!({"name": "env", "prefix": "my-env"}),
        ),
    ];
    let mut problems = Vec::new();
    let mut cert_id = String::new();
    for (path, schema, body) in cases {
        let (status, created) = api.call("POST", path, body).await;
        assert_eq!(status, 201, "POST {path}: {created}");
        problems.extend(check(&spec, schema, &created));
        if schema == "Certificate" {
            cert_id = created["id"].as_str().unwrap().to_string();
        }
        let collection = path.rsplit('/').next().unwrap();
        let (status, one) = api
            .call(
                "GET",
                &format!("/{collection}/{}", created["id"].as_str().unwrap()),
                Value::Null,
            )
            .await;
        assert_eq!(status, 200, "GET one of {collection}: {one}");
        assert_eq!(
            one, created,
            "GET returns what POST returned for {collection}"
        );
        let (status, list) = api
            .call("GET", &format!("/{collection}"), Value::Null)
            .await;
        assert_eq!(status, 200);
        assert!(
            list["data"].is_array() && list.get("next").is_some(),
            "{collection} list shape: {list}"
        );
    }
    let (status, sni) = api
        .call(
            "POST",
            &format!("/certificates/{cert_id}/snis"),
            json!({"name": "a.example.com"}),
        )
        .await;
    assert_eq!(status, 201, "{sni}");
    problems.extend(check(&spec, "SNI", &sni));
    assert!(
        problems.is_empty(),
        "answers that differ from Kong's spec:\n{}",
        problems.join("\n")
    );
}
