//! Store tests against a real SQLite file.

use proto::schema::{ids, Config, Service};

use super::*;

fn temp_db() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("cp-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("kong.db").display());
    (dir, url)
}

fn service(name: &str, port: u16) -> Service {
    serde_json::from_value(serde_json::json!({
        "id": ids::generate("services", name), "name": name, "host": "example.com", "port": port
    }))
    .unwrap()
}

#[tokio::test]
async fn replace_is_versioned_idempotent_and_persistent() {
    let (dir, url) = temp_db();
    let store = Store::open(&url).await.unwrap();
    let cfg = Config {
        services: vec![service("a", 80), service("b", 80)],
        ..Default::default()
    };
    let first = store.replace(&cfg.to_entities(), false).await.unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.changes.creating.len(), 2);

    let again = store.replace(&cfg.to_entities(), false).await.unwrap();
    assert!(again.changes.is_empty());
    assert_eq!(again.version, 1, "no change, no new version");

    let next = Config {
        services: vec![service("a", 8080)],
        ..Default::default()
    };
    let dry = store.replace(&next.to_entities(), true).await.unwrap();
    assert_eq!(
        (dry.changes.updating.len(), dry.changes.deleting.len()),
        (1, 1)
    );
    assert_eq!(
        store.load().await.unwrap().1.services.len(),
        2,
        "dry run writes nothing"
    );

    let applied = store.replace(&next.to_entities(), false).await.unwrap();
    assert_eq!(applied.version, 2);
    drop(store);

    let reopened = Store::open(&url).await.unwrap();
    let (version, loaded) = reopened.load().await.unwrap();
    assert_eq!(version, 2);
    assert_eq!(loaded.services.len(), 1);
    assert_eq!(loaded.services[0].port, 8080);
    assert!(
        loaded.services[0].created_at.is_none(),
        "shipped bodies carry no timestamps"
    );
    let read: serde_json::Value =
        serde_json::from_slice(&reopened.get("services", "a").await.unwrap().unwrap().json)
            .unwrap();
    assert!(
        read["created_at"].as_i64().unwrap() > 0,
        "the Admin API reads them stamped"
    );
    assert!(reopened.get("services", "a").await.unwrap().is_some());
    std::fs::remove_dir_all(dir).unwrap();
}
