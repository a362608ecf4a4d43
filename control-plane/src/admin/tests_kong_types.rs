//! Admin API tests for Kong's typing and error shapes: JSON values keep their types (a number
//! where a string is expected is refused) while form text is read by the schema; errors on array
//! elements (paths, tags, plugin config lists) sit at their index in `fields` (and count from 1
//! in messages and `flattened_errors`); a route header regex the router cannot compile is
//! refused by the CP.

use serde_json::{json, Value};

use super::tests::{on_both_backends, Api};

const FORM: &str = "application/x-www-form-urlencoded";
const PATH_MSG: &str = "should start with: / (fixed path) or ~/ (regex path)";

/// Asserts a 400 schema violation whose `fields` are exactly `fields`.
async fn refused(api: &Api, method: &str, path: &str, body: Value, fields: Value) {
    let (st, out) = api.json(method, path, body.clone()).await;
    assert_eq!((st, out["code"].clone()), (400, json!(2)), "{body} → {out}");
    assert_eq!(out["name"], "schema violation", "{out}");
    assert_eq!(out["fields"], fields, "{body} → {out}");
}

async fn json_values_keep_their_types_and_form_text_is_read_by_the_schema(api: Api) {
    refused(
        &api,
        "POST",
        "/services",
        json!({"name": 123, "host": "h"}),
        json!({"name": "expected a string"}),
    )
    .await;
    let (_, out) = api
        .json("POST", "/services", json!({"name": 123, "host": "h"}))
        .await;
    assert_eq!(out["message"], "schema violation (name: expected a string)");
    refused(
        &api,
        "POST",
        "/services",
        json!({"name": "s", "host": "h", "port": "8080"}),
        json!({"port": "expected an integer"}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/routes",
        json!({"paths": [1]}),
        json!({"paths": ["expected a string"]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/plugins",
        json!({"name": "key-auth", "config": {"hide_credentials": "yes"}}),
        json!({"config": {"hide_credentials": "expected a boolean"}}),
    )
    .await;
    let (st, out) = api
        .call(
            "POST",
            "/consumers",
            "application/json; charset=utf-8",
            r#"{"username": true}"#,
        )
        .await;
    assert_eq!(
        (st, out["fields"].clone()),
        (400, json!({"username": "expected a string"}))
    );
    assert_eq!(api.version(), 0, "refused writes change nothing");
    // Kong's integer check is `value == floor(value)`: 8080.0 is 8080.
    let (st, svc) = api
        .json(
            "POST",
            "/services",
            json!({"name": "f", "host": "h", "port": 8080.0}),
        )
        .await;
    assert_eq!((st, svc["port"].clone()), (201, json!(8080)), "{svc}");

    // Form bodies are text: the schema decides what each value is, as Kong's infer_value does.
    let (st, svc) = api
        .call(
            "POST",
            "/services",
            FORM,
            "name=123&host=h&port=8080&retries=3&enabled=true&path=",
        )
        .await;
    assert_eq!(st, 201, "{svc}");
    assert_eq!(
        (
            svc["name"].clone(),
            svc["port"].clone(),
            svc["retries"].clone()
        ),
        (json!("123"), json!(8080), json!(3))
    );
    assert_eq!(
        (svc["enabled"].clone(), svc["path"].clone()),
        (json!(true), Value::Null)
    );
    let sid = svc["id"].as_str().unwrap().to_string();
    let (st, route) = api
        .call(
            "POST",
            "/routes",
            FORM,
            &format!("name=r&paths=%2Fa&strip_path=false&service.id={sid}&tags=7"),
        )
        .await;
    assert_eq!(st, 201, "{route}");
    assert_eq!(
        (
            route["paths"].clone(),
            route["strip_path"].clone(),
            route["tags"].clone()
        ),
        (json!(["/a"]), json!(false), json!(["7"]))
    );
    let (st, route) = api
        .call(
            "PATCH",
            "/routes/r",
            FORM,
            "paths[]=%2Fb&paths[]=%2Fc&regex_priority=2",
        )
        .await;
    assert_eq!(st, 200, "{route}");
    assert_eq!(
        (route["paths"].clone(), route["regex_priority"].clone()),
        (json!(["/b", "/c"]), json!(2))
    );
    let (st, out) = api
        .call("PATCH", "/services/123", FORM, "retries=many")
        .await;
    assert_eq!(
        (st, out["fields"].clone()),
        (400, json!({"retries": "expected an integer"}))
    );
    refused(
        &api,
        "PATCH",
        "/services/123",
        json!({"retries": "4"}),
        json!({"retries": "expected an integer"}),
    )
    .await;
    let (st, plugin) = api
        .call(
            "POST",
            "/plugins",
            FORM,
            "name=key-auth&config.key_names=apikey&config.hide_credentials=true",
        )
        .await;
    assert_eq!(st, 201, "{plugin}");
    assert_eq!(
        (
            plugin["config"]["key_names"].clone(),
            plugin["config"]["hide_credentials"].clone()
        ),
        (json!(["apikey"]), json!(true))
    );
    let (st, up) = api
        .call(
            "POST",
            "/upstreams",
            FORM,
            "name=up&healthchecks.active.healthy.interval=5&healthchecks.active.healthy.http_statuses=200&healthchecks.active.http_path=%2Fhealth",
        )
        .await;
    assert_eq!(st, 201, "{up}");
    let healthy = &up["healthchecks"]["active"]["healthy"];
    assert_eq!(
        (
            healthy["interval"].clone(),
            healthy["http_statuses"].clone()
        ),
        (json!(5), json!([200]))
    );
    let (st, out) = api
        .json(
            "POST",
            "/upstreams",
            json!({"name": "up2", "healthchecks": {"active": {"timeout": "1"}}}),
        )
        .await;
    assert_eq!(
        (st, out["fields"].clone()),
        (
            400,
            json!({"healthchecks": {"active": {"timeout": "expected a number"}}})
        )
    );
}

async fn errors_on_array_elements_sit_at_their_index(api: Api) {
    let (_, out) = api
        .json("POST", "/routes", json!({"paths": ["/ok", "bad"]}))
        .await;
    assert_eq!(
        out["message"],
        format!("schema violation (paths.2: {PATH_MSG})"),
        "Kong counts positions from 1 in the message"
    );
    refused(
        &api,
        "POST",
        "/routes",
        json!({"paths": ["/ok", "bad"]}),
        json!({"paths": [null, PATH_MSG]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/routes",
        json!({"paths": ["/ok"], "tags": ["a", "b", 3]}),
        json!({"tags": [null, null, "expected a string"]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/consumers",
        json!({"username": "u", "tags": ["ok", "a,b"]}),
        json!({"tags": [null, "invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/plugins",
        json!({"name": "key-auth", "config": {"key_names": ["apikey", 5]}}),
        json!({"config": {"key_names": [null, "expected a string"]}}),
    )
    .await;
    let (st, out) = api
        .json(
            "POST",
            "/routes",
            json!({"paths": ["/ok"], "hosts": ["ok.com", "a*b*c"], "methods": ["GET", "get"]}),
        )
        .await;
    assert_eq!(st, 400, "{out}");
    for field in ["hosts", "methods"] {
        let errs = out["fields"][field].as_array().unwrap();
        assert_eq!(errs.len(), 2, "{out}");
        assert!(errs[0].is_null() && errs[1].is_string(), "{field}: {out}");
    }

    // A declarative document: entities at their index, and the element at its own.
    let doc = json!({"_format_version": "3.0", "services": [
        {"name": "a", "host": "h"},
        {"name": "b", "host": "h", "routes": [{"name": "r", "paths": ["/ok", "bad"]}]},
    ]});
    let (st, out) = api.json("POST", "/config", doc.clone()).await;
    assert_eq!((st, out["code"].clone()), (400, json!(14)), "{out}");
    assert_eq!(
        out["fields"],
        json!({"services": [null, {"routes": [{"paths": [null, PATH_MSG]}]}]}),
        "{out}"
    );
    let (st, out) = api.json("POST", "/config?flatten_errors=1", doc).await;
    assert_eq!(st, 400);
    let flat = out["flattened_errors"].as_array().unwrap();
    let route = flat.iter().find(|e| e["entity_type"] == "route").unwrap();
    assert_eq!(
        route["errors"],
        json!([{"type": "field", "field": "paths.2", "message": PATH_MSG}]),
        "Kong joins the 1-based position with a dot: {out}"
    );
    assert_eq!(api.version(), 0);
}

async fn a_header_regex_the_router_cannot_compile_is_refused(api: Api) {
    let bad =
        json!({"name": "r", "paths": ["/r"], "headers": {"x-version": ["v1", "~*(unclosed"]}});
    let (st, out) = api.json("POST", "/routes", bad.clone()).await;
    assert_eq!((st, out["code"].clone()), (400, json!(2)), "{out}");
    assert_eq!(
        out["fields"]["@entity"],
        json!(["Router Expression failed validation: header 'x-version': invalid regex '(unclosed': unclosed group"]),
        "{out}"
    );
    let (st, _) = api
        .json("POST", "/schemas/routes/validate", bad.clone())
        .await;
    assert_eq!(st, 400);
    let doc = json!({"_format_version": "3.0", "services": [{"name": "s", "host": "h", "routes": [bad]}]});
    let (st, out) = api.json("POST", "/config", doc).await;
    assert_eq!((st, out["code"].clone()), (400, json!(14)), "{out}");
    assert!(
        out["message"].as_str().unwrap().contains("unclosed group"),
        "{out}"
    );
    assert_eq!(api.version(), 0, "nothing reached the store");
    let good = json!({"name": "r", "paths": ["/r"], "headers": {"x-version": ["~*^v[0-9]+$"]}});
    let (st, out) = api.json("POST", "/routes", good).await;
    assert_eq!(st, 201, "{out}");
}

async fn config_documents_are_typed_unless_they_come_from_a_deck_file(api: Api) {
    let doc = json!({"_format_version": "3.0", "services": [
        {"name": "s", "host": "h", "port": 8080, "routes": [{"name": "r", "paths": ["/r"], "tags": [7]}]},
        {"name": 123, "host": "h"},
    ]});
    let (st, out) = api.json("POST", "/config", doc.clone()).await;
    assert_eq!((st, out["code"].clone()), (400, json!(14)), "{out}");
    assert_eq!(
        out["fields"],
        json!({"services": [
            {"routes": [{"tags": ["expected a string"]}]},
            {"name": "expected a string"},
        ]}),
        "Kong's /config reads JSON as typed: {out}"
    );
    assert_eq!(api.version(), 0, "nothing reached the store");
    // `control-plane apply` sends decK files, whose reader takes a number as its text.
    let (st, out) = api.json("POST", "/config?deck_scalars=1", doc).await;
    assert_eq!(st, 201, "{out}");
    let (st, svc) = api.json("GET", "/services/123", Value::Null).await;
    assert_eq!((st, svc["name"].clone()), (200, json!("123")), "{svc}");
    let (st, route) = api.json("GET", "/routes/r", Value::Null).await;
    assert_eq!((st, route["tags"].clone()), (200, json!(["7"])), "{route}");
}

on_both_backends!(
    config_documents_are_typed_unless_they_come_from_a_deck_file,
    json_values_keep_their_types_and_form_text_is_read_by_the_schema,
    errors_on_array_elements_sit_at_their_index,
    a_header_regex_the_router_cannot_compile_is_refused,
);
