//! Admin API tests: a real server on a loopback port over a real SQLite file, each run again
//! over a real PostgreSQL server (`e2e::postgres`, one per test).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use super::*;
use crate::snapshot::Publisher;
use crate::store::Store;
use crate::sync::nodes::Nodes;
use e2e::postgres::Postgres;

pub(super) struct Api {
    base: String,
    state: AppState,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    /// The PostgreSQL server the store writes to, if any (stopped when the test ends).
    _postgres: Option<Postgres>,
}

/// Declares each named `async fn(Api)` as two tests: on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Api::start().await).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Api::start_on_postgres().await).await;
            })*
        }
    };
}
pub(super) use on_both_backends;

impl Api {
    /// An Admin API over a fresh SQLite file.
    pub(super) async fn start() -> Api {
        let dir = std::env::temp_dir().join(format!("cp-admin-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::start_with(&format!("sqlite://{}", dir.join("kong.db").display()), None).await
    }

    /// An Admin API over a fresh database on its own PostgreSQL server.
    pub(super) async fn start_on_postgres() -> Api {
        let pg = Postgres::start().unwrap();
        let url = pg.create_database().unwrap();
        Self::start_with(&url, Some(pg)).await
    }

    async fn start_with(url: &str, postgres: Option<Postgres>) -> Api {
        let store = Store::open(url).await.unwrap();
        let publisher = Publisher::new(store.clone()).await.unwrap();
        let state = AppState::new(store, publisher, Nodes::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            base,
            state,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _postgres: postgres,
        }
    }

    pub(super) async fn call(
        &self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &str,
    ) -> (u16, Value) {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", ctype)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub(super) async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, "application/json", &body.to_string())
            .await
    }

    pub(super) fn version(&self) -> u64 {
        self.state.publisher.current().version
    }
}

async fn services_and_routes_crud_like_kong(api: Api) {
    let form = "application/x-www-form-urlencoded";
    let (st, svc) = api
        .call(
            "POST",
            "/services",
            form,
            "name=svc1&url=http%3A%2F%2Fexample.com%3A8080%2Fx",
        )
        .await;
    assert_eq!(st, 201, "{svc}");
    assert_eq!(
        (
            svc["port"].clone(),
            svc["protocol"].clone(),
            svc["path"].clone()
        ),
        (json!(8080), json!("http"), json!("/x"))
    );
    assert_eq!(svc["retries"], 5);
    assert_eq!(svc["tags"], Value::Null, "unset fields are explicit nulls");
    assert_eq!(api.version(), 1);

    let (st, dup) = api
        .json(
            "POST",
            "/services",
            json!({"name": "svc1", "host": "b.com"}),
        )
        .await;
    assert_eq!(st, 409);
    assert_eq!(dup["code"], 5);
    assert_eq!(
        dup["message"],
        r#"UNIQUE violation detected on '{name="svc1"}'"#
    );

    let (st, route) = api
        .json(
            "POST",
            "/services/svc1/routes",
            json!({"name": "r1", "paths": ["/a"]}),
        )
        .await;
    assert_eq!(st, 201, "{route}");
    assert_eq!(route["service"]["id"], svc["id"]);
    assert_eq!(route["strip_path"], true);
    let (st, listed) = api.json("GET", "/services/svc1/routes", Value::Null).await;
    assert_eq!((st, listed["data"].as_array().unwrap().len()), (200, 1));

    let ghost = uuid::Uuid::new_v4();
    let (st, fk) = api
        .json(
            "POST",
            "/routes",
            json!({"name": "r2", "paths": ["/b"], "service": {"id": ghost}}),
        )
        .await;
    assert_eq!((st, fk["code"].clone()), (400, json!(4)));
    assert_eq!(fk["message"], format!("the foreign key '{{id=\"{ghost}\"}}' does not reference an existing 'services' entity."));

    let (st, bad) = api
        .json(
            "POST",
            "/routes",
            json!({"name": "r3", "paths": ["nope"], "protocols": ["gopher"]}),
        )
        .await;
    assert_eq!((st, bad["code"].clone()), (400, json!(2)));
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .starts_with("2 schema violations ("),
        "{bad}"
    );

    let (st, patched) = api
        .json("PATCH", "/services/svc1", json!({"port": 9000}))
        .await;
    assert_eq!(
        (st, patched["port"].clone(), patched["name"].clone()),
        (200, json!(9000), json!("svc1"))
    );
    assert_eq!(patched["created_at"], svc["created_at"]);

    let (st, blocked) = api.json("DELETE", "/services/svc1", Value::Null).await;
    assert_eq!(st, 400, "{blocked}");
    assert_eq!(api.json("DELETE", "/routes/r1", Value::Null).await.0, 204);
    assert_eq!(
        api.json("DELETE", "/services/svc1", Value::Null).await.0,
        204
    );
    assert_eq!(api.json("GET", "/services/svc1", Value::Null).await.0, 404);
    assert_eq!(
        api.json("DELETE", "/services/svc1", Value::Null).await.0,
        204,
        "Kong answers 204 for an absent entity"
    );
    assert!(api.version() >= 5, "every write is a new config version");
}

async fn consumers_credentials_and_plugins(api: Api) {
    let (st, alice) = api.json("PUT", "/consumers/alice", json!({})).await;
    assert_eq!((st, alice["username"].clone()), (200, json!("alice")));
    let (st, cred) = api
        .json("POST", "/consumers/alice/key-auth", json!({"key": "k1"}))
        .await;
    assert_eq!(st, 201, "{cred}");
    assert_eq!(cred["consumer"]["id"], alice["id"]);
    assert_eq!(
        api.json("GET", "/key-auths", Value::Null).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.json("GET", "/consumers/bob/key-auth", Value::Null)
            .await
            .0,
        404
    );

    let (st, plugin) = api
        .json(
            "POST",
            "/plugins",
            json!({"name": "key-auth", "config": {"key_names": ["k"]}}),
        )
        .await;
    assert_eq!(st, 201, "{plugin}");
    assert_eq!(
        plugin["config"]["key_in_header"], true,
        "config defaults are filled"
    );
    let (st, dup) = api
        .json("POST", "/plugins", json!({"name": "key-auth"}))
        .await;
    assert_eq!((st, dup["code"].clone()), (409, json!(5)));
    let (st, unknown) = api.json("POST", "/plugins", json!({"name": "nope"})).await;
    assert_eq!(st, 400);
    assert_eq!(
        unknown["fields"]["name"],
        "plugin 'nope' not enabled; add it to the 'plugins' configuration property"
    );

    assert_eq!(
        api.json("DELETE", "/consumers/alice", Value::Null).await.0,
        204
    );
    assert!(
        api.json("GET", "/key-auths", Value::Null).await.1["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "credentials cascade"
    );
}

async fn lists_page_and_bad_bodies_are_refused(api: Api) {
    for i in 0..3 {
        let (st, _) = api
            .json(
                "POST",
                "/consumers",
                json!({"username": format!("u{i}"), "tags": ["t"]}),
            )
            .await;
        assert_eq!(st, 201);
    }
    let (_, p1) = api.json("GET", "/consumers?size=2", Value::Null).await;
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    let next = p1["next"].as_str().unwrap().to_string();
    let (_, p2) = api.json("GET", &next, Value::Null).await;
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.json("GET", "/consumers?size=0", Value::Null).await.1["code"],
        9
    );

    let (st, body) = api
        .call("POST", "/consumers", "application/json", "{not json")
        .await;
    assert_eq!(st, 400);
    assert!(body["message"].as_str().unwrap().contains("JSON"));
    let before = api.version();
    let (st, _) = api
        .json(
            "POST",
            "/services",
            json!({"name": "s", "host": "h", "port": "eighty"}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(api.version(), before, "a refused write changes nothing");
    assert_eq!(api.json("GET", "/upstreamz", Value::Null).await.0, 404);
}

async fn upstreams_targets_and_certificates(api: Api) {
    let (st, up) = api.json("POST", "/upstreams", json!({"name": "up1"})).await;
    assert_eq!(st, 201, "{up}");
    assert_eq!(
        up["healthchecks"]["active"]["concurrency"], 10,
        "health-check defaults are returned"
    );
    let (st, t) = api
        .json(
            "POST",
            "/upstreams/up1/targets",
            json!({"target": "10.0.0.1"}),
        )
        .await;
    assert_eq!(
        (st, t["target"].clone(), t["weight"].clone()),
        (201, json!("10.0.0.1:8000"), json!(100))
    );
    let (st, cert) = api
        .json(
            "POST",
            "/certificates",
            json!({"cert": "{vault://env/c}", "key": "{vault://env/k}"}),
        )
        .await;
    assert_eq!(st, 201, "{cert}");
    let cert_id = cert["id"].as_str().unwrap().to_string();
    let (st, _) = api
        .json(
            "POST",
            &format!("/certificates/{cert_id}/snis"),
            json!({"name": "example.com"}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = api
        .json(
            "POST",
            "/services",
            json!({"name": "s", "host": "up1", "protocol": "https", "client_certificate": {"id": cert_id}}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, blocked) = api
        .json("DELETE", &format!("/certificates/{cert_id}"), Value::Null)
        .await;
    assert_eq!(
        (st, blocked["code"].clone()),
        (400, json!(4)),
        "a service still uses it: {blocked}"
    );
    assert_eq!(api.json("DELETE", "/services/s", Value::Null).await.0, 204);
    assert_eq!(
        api.json("DELETE", &format!("/certificates/{cert_id}"), Value::Null)
            .await
            .0,
        204
    );
    assert!(
        api.json("GET", "/snis", Value::Null).await.1["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "snis cascade"
    );
    assert_eq!(
        api.json("DELETE", "/upstreams/up1", Value::Null).await.0,
        204
    );
    assert!(
        api.json("GET", "/targets", Value::Null).await.1["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "targets cascade"
    );
}

async fn schemas_for_deck_defaults(api: Api) {
    let (st, s) = api
        .json("GET", "/schemas/plugins/key-auth", Value::Null)
        .await;
    assert_eq!(st, 200);
    assert!(s["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f.get("config").is_some()));
    let (st, nope) = api.json("GET", "/schemas/plugins/nope", Value::Null).await;
    assert_eq!(
        (st, nope["message"].clone()),
        (404, json!("No plugin named 'nope'"))
    );
    assert_eq!(
        api.json("GET", "/schemas/services", Value::Null).await.0,
        200
    );
    assert_eq!(
        api.json("GET", "/schemas/widgets", Value::Null).await.0,
        404
    );
}

async fn a_dump_applies_back_with_no_changes(api: Api) {
    let doc = json!({
        "_format_version": "3.0",
        "services": [{"name": "s", "url": "http://example.com", "routes": [{"name": "r", "paths": ["/r"]}],
                      "plugins": [{"name": "key-auth"}]}],
        "consumers": [{"username": "u", "keyauth_credentials": [{"key": "k"}], "acls": [{"group": "g"}]}],
        "upstreams": [{"name": "up", "targets": [{"target": "10.0.0.1:80"}]}],
    });
    let (st, applied) = api.json("POST", "/config", doc).await;
    assert_eq!(st, 201, "{applied}");
    // What `control-plane dump` collects: every collection, as the Admin API returns it.
    let mut dump = serde_json::Map::new();
    dump.insert("_format_version".into(), json!("3.0"));
    for (path, key) in [
        ("/services", "services"),
        ("/routes", "routes"),
        ("/consumers", "consumers"),
        ("/key-auths", "keyauth_credentials"),
        ("/acls", "acls"),
        ("/upstreams", "upstreams"),
        ("/targets", "targets"),
        ("/plugins", "plugins"),
    ] {
        dump.insert(
            key.into(),
            api.json("GET", path, Value::Null).await.1["data"].clone(),
        );
    }
    let (st, again) = api
        .json("POST", "/config?dry_run=1", Value::Object(dump))
        .await;
    assert_eq!(st, 200, "{again}");
    for k in ["creating", "updating", "deleting"] {
        assert!(
            again["changes"][k].as_array().unwrap().is_empty(),
            "{k}: {again}"
        );
    }
}

async fn invalid_config_reports_every_error_and_flattened_errors(api: Api) {
    let bad = json!({"_format_version": "3.0", "services": [{"name": "s", "host": "h", "routes": [{"name": "r", "paths": ["x"]}]}],
                     "plugins": [{"name": "nope"}]});
    let (st, body) = api.json("POST", "/config?flatten_errors=1", bad).await;
    assert_eq!((st, body["code"].clone()), (400, json!(14)));
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let flat = body["flattened_errors"].as_array().unwrap();
    let route = flat.iter().find(|e| e["entity_type"] == "route").unwrap();
    assert_eq!(route["entity_name"], "r");
    assert_eq!(route["errors"][0]["field"], "paths.1");
    assert_eq!(api.version(), 0, "nothing was stored");
    let (_, plain) = api
        .json(
            "POST",
            "/config",
            json!({"_format_version": "3.0", "plugins": [{"name": "nope"}]}),
        )
        .await;
    assert!(plain.get("flattened_errors").is_none());
}

async fn validate_endpoints_and_tags(api: Api) {
    let (st, ok) = api
        .json(
            "POST",
            "/schemas/plugins/validate",
            json!({"name": "key-auth", "config": {"key_names": ["k"]}}),
        )
        .await;
    assert_eq!(
        (st, ok["message"].clone()),
        (200, json!("schema validation successful"))
    );
    let (st, bad) = api
        .json(
            "POST",
            "/schemas/plugins/validate",
            json!({"name": "key-auth", "config": {"key_names": []}}),
        )
        .await;
    assert_eq!((st, bad["code"].clone()), (400, json!(2)), "{bad}");
    assert_eq!(
        bad["fields"]["config"]["key_names"],
        "length must be at least 1"
    );
    let (st, _) = api
        .json(
            "POST",
            "/schemas/routes/validate",
            json!({"name": "r", "paths": ["nope"]}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(api.version(), 0, "validation writes nothing");

    api.json(
        "POST",
        "/services",
        json!({"name": "s", "host": "h", "tags": ["a", "b"]}),
    )
    .await;
    api.json(
        "POST",
        "/consumers",
        json!({"username": "u", "tags": ["b"]}),
    )
    .await;
    let (st, all) = api.json("GET", "/tags", Value::Null).await;
    assert_eq!(st, 200);
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "{all}");
    let (_, b) = api.json("GET", "/tags/b", Value::Null).await;
    let kinds: Vec<_> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entity_name"].clone())
        .collect();
    assert_eq!(kinds.len(), 2, "{b}");
}

/// A service's `ca_certificates` must name existing CA certificates, and a CA certificate a
/// service uses cannot be deleted (Kong's message).
async fn services_ca_certificates_must_exist(api: Api) {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ8t0\n-----END CERTIFICATE-----\n";
    let (st, ca) = api
        .json("POST", "/ca_certificates", json!({"cert": pem}))
        .await;
    assert_eq!(st, 201, "{ca}");
    let ca_id = ca["id"].as_str().unwrap().to_string();
    let ghost = "c0000000-0000-0000-0000-0000000000ff";
    let (st, err) = api
        .json(
            "POST",
            "/services",
            json!({"name": "s", "url": "https://up.test", "ca_certificates": [ca_id, ghost]}),
        )
        .await;
    assert_eq!((st, err["code"].clone()), (400, json!(4)), "{err}");
    assert!(err["message"].as_str().unwrap().contains(ghost), "{err}");
    let (st, svc) = api
        .json(
            "POST",
            "/services",
            json!({"name": "s", "url": "https://up.test", "ca_certificates": [ca_id]}),
        )
        .await;
    assert_eq!(st, 201, "{svc}");
    let (st, blocked) = api
        .json("DELETE", &format!("/ca_certificates/{ca_id}"), Value::Null)
        .await;
    assert_eq!(st, 400, "{blocked}");
    assert_eq!(
        blocked["message"],
        format!(
            "ca certificate {ca_id} is still referenced by services (id = {})",
            svc["id"].as_str().unwrap()
        )
    );
    assert_eq!(api.json("DELETE", "/services/s", Value::Null).await.0, 204);
    let (st, _) = api
        .json("DELETE", &format!("/ca_certificates/{ca_id}"), Value::Null)
        .await;
    assert_eq!(st, 204);
}

on_both_backends!(
    services_and_routes_crud_like_kong,
    services_ca_certificates_must_exist,
    consumers_credentials_and_plugins,
    lists_page_and_bad_bodies_are_refused,
    upstreams_targets_and_certificates,
    schemas_for_deck_defaults,
    a_dump_applies_back_with_no_changes,
    invalid_config_reports_every_error_and_flattened_errors,
    validate_endpoints_and_tags,
);
