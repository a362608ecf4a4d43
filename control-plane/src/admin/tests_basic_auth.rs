//! Admin API tests for basic-auth passwords (stored as Kong's salted SHA-1 digest, never plain,
//! through single-entity writes and `POST /config`) and for `/schemas/{entity}/validate`
//! giving the answers of the write it stands for.

use serde_json::{json, Value};
use uuid::Uuid;

use super::basic_auth::hash;
use super::tests::{on_both_backends, Api};

async fn consumer(api: &Api, username: &str) -> Uuid {
    let (st, c) = api
        .json("POST", "/consumers", json!({"username": username}))
        .await;
    assert_eq!(st, 201, "{c}");
    Uuid::parse_str(c["id"].as_str().unwrap()).unwrap()
}

async fn basic_auth_passwords_are_stored_and_returned_hashed(api: Api) {
    let c = consumer(&api, "u").await;
    let digest = hash(&c, "s3cret");
    let (st, cred) = api
        .json(
            "POST",
            "/consumers/u/basic-auth",
            json!({"username": "alice", "password": "s3cret"}),
        )
        .await;
    assert_eq!(st, 201, "{cred}");
    assert_eq!(cred["password"], digest.as_str(), "{cred}");
    let id = cred["id"].as_str().unwrap().to_string();

    // Every read has the digest, never the plain password.
    for path in [
        format!("/basic-auths/{id}"),
        "/basic-auths/alice".to_string(),
        format!("/consumers/u/basic-auth/{id}"),
    ] {
        let (st, got) = api.json("GET", &path, Value::Null).await;
        assert_eq!(
            (st, got["password"].clone()),
            (200, json!(digest)),
            "{path}"
        );
    }
    let (_, list) = api.json("GET", "/basic-auths", Value::Null).await;
    assert!(!list.to_string().contains("s3cret"), "{list}");

    // A PATCH of other fields keeps the digest (not hashed twice).
    let version = api.version();
    let (st, patched) = api
        .json(
            "PATCH",
            &format!("/basic-auths/{id}"),
            json!({"tags": ["t"]}),
        )
        .await;
    assert_eq!(
        (st, patched["password"].clone()),
        (200, json!(digest)),
        "{patched}"
    );
    assert!(api.version() > version);
    // Writing the digest back as it is (what a dump holds) keeps it too.
    let (st, put) = api
        .json(
            "PUT",
            &format!("/basic-auths/{id}"),
            json!({"username": "alice", "password": digest, "consumer": {"id": c}, "tags": ["t"]}),
        )
        .await;
    assert_eq!((st, put["password"].clone()), (200, json!(digest)), "{put}");
    // A new password is hashed.
    let (st, changed) = api
        .json(
            "PATCH",
            &format!("/basic-auths/{id}"),
            json!({"password": "other"}),
        )
        .await;
    assert_eq!(st, 200, "{changed}");
    assert_eq!(changed["password"], hash(&c, "other").as_str());
    // No password: refused, nothing stored.
    let (st, bad) = api
        .json(
            "POST",
            "/consumers/u/basic-auth",
            json!({"username": "bob"}),
        )
        .await;
    assert_eq!(st, 400, "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("password"),
        "{bad}"
    );
}

fn config(password: &str, transform: Option<bool>) -> Value {
    let mut doc = json!({
        "_format_version": "3.0",
        "consumers": [{
            "username": "u",
            "basicauth_credentials": [{"username": "alice", "password": password}]
        }]
    });
    if let Some(t) = transform {
        doc["_transform"] = json!(t);
    }
    doc
}

async fn declarative_basic_auth_passwords_are_hashed_once(api: Api) {
    let (st, out) = api.json("POST", "/config", config("s3cret", None)).await;
    assert_eq!(st, 201, "{out}");
    let (_, list) = api.json("GET", "/basic-auths", Value::Null).await;
    let cred = &list["data"][0];
    let c = Uuid::parse_str(cred["consumer"]["id"].as_str().unwrap()).unwrap();
    let digest = hash(&c, "s3cret");
    assert_eq!(cred["password"], digest.as_str(), "{list}");
    let version = api.version();

    // The same file again, and a dump of it (the digest), change nothing.
    for doc in [config("s3cret", None), config(&digest, None)] {
        let (st, out) = api.json("POST", "/config", doc).await;
        assert_eq!(st, 201, "{out}");
        assert_eq!(api.version(), version, "{out}");
    }
    // `_transform: false`: the password is taken as a digest already.
    let (st, out) = api
        .json("POST", "/config", config("0123abcd", Some(false)))
        .await;
    assert_eq!(st, 201, "{out}");
    let (_, list) = api.json("GET", "/basic-auths", Value::Null).await;
    assert_eq!(list["data"][0]["password"], "0123abcd", "{list}");
}

async fn validate_answers_as_the_write_would(api: Api) {
    consumer(&api, "u").await;
    let ok = json!({"message": "schema validation successful"});
    let cred = json!({"username": "alice", "password": "p", "consumer": {"username": "u"}});
    let (st, body) = api
        .json("POST", "/schemas/basic-auths/validate", cred.clone())
        .await;
    assert_eq!((st, body), (200, ok.clone()));
    let (st, body) = api
        .json(
            "POST",
            "/schemas/basicauth_credentials/validate",
            cred.clone(),
        )
        .await;
    assert_eq!((st, body), (200, ok.clone()));
    // A dangling reference: Kong's foreign-key error, as a POST would give.
    let dangling = json!({"username": "x", "password": "p", "consumer": {"id": Uuid::new_v4()}});
    let (st, body) = api
        .json("POST", "/schemas/basic-auths/validate", dangling.clone())
        .await;
    let (post_st, post_body) = api.json("POST", "/basic-auths", dangling).await;
    assert_eq!((st, body["code"].clone()), (400, json!(4)), "{body}");
    assert_eq!((st, &body), (post_st, &post_body));
    // A taken unique field: 409, as the POST.
    api.json(
        "POST",
        "/consumers/u/basic-auth",
        json!({"username": "alice", "password": "p"}),
    )
    .await;
    let (st, body) = api
        .json("POST", "/schemas/basic-auths/validate", cred)
        .await;
    assert_eq!((st, body["code"].clone()), (409, json!(5)), "{body}");
    // A bad id, an unknown entity.
    let (st, body) = api
        .json(
            "POST",
            "/schemas/services/validate",
            json!({"id": "nope", "host": "h"}),
        )
        .await;
    assert_eq!(
        (st, body["fields"]["id"].clone()),
        (400, json!("expected a valid UUID"))
    );
    let (st, body) = api
        .json("POST", "/schemas/nothing/validate", json!({}))
        .await;
    assert_eq!(
        (st, body["message"].clone()),
        (400, json!("No entity named 'nothing'"))
    );
    assert_eq!(api.version(), 2, "validation wrote nothing");
}

on_both_backends!(
    basic_auth_passwords_are_stored_and_returned_hashed,
    declarative_basic_auth_passwords_are_hashed_once,
    validate_answers_as_the_write_would,
);
