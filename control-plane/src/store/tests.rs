//! Store tests, each run against a real SQLite file and a real PostgreSQL server
//! (`e2e::postgres`, started per test in a temp dir).

use e2e::postgres::Postgres;
use proto::schema::{ids, Config, Service};

use super::*;

/// A fresh database of one backend; the files and server go away on drop.
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(Postgres),
}

impl Db {
    fn sqlite() -> (Self, String) {
        let dir = std::env::temp_dir().join(format!("cp-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("kong.db").display());
        (Self::Sqlite(dir), url)
    }

    fn postgres() -> (Self, String) {
        let pg = Postgres::start().unwrap();
        let url = pg.create_database().unwrap();
        (Self::Postgres(pg), url)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        match self {
            Db::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Db::Postgres(pg) => {
                if std::thread::panicking() {
                    eprintln!("--- PostgreSQL log ---\n{}", pg.log_text());
                }
            }
        }
    }
}

fn service(name: &str, port: u16) -> Service {
    serde_json::from_value(serde_json::json!({
        "id": ids::generate("services", name), "name": name, "host": "example.com", "port": port
    }))
    .unwrap()
}

fn config(services: Vec<Service>) -> Config {
    Config {
        services,
        ..Default::default()
    }
}

async fn replace_is_versioned_idempotent_and_persistent(url: &str) {
    let store = Store::open(url).await.unwrap();
    let cfg = config(vec![service("a", 80), service("b", 80)]);
    let first = store.replace(&cfg.to_entities(), false).await.unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.changes.creating.len(), 2);

    let again = store.replace(&cfg.to_entities(), false).await.unwrap();
    assert!(again.changes.is_empty());
    assert_eq!(again.version, 1, "no change, no new version");

    let next = config(vec![service("a", 8080)]);
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

    let reopened = Store::open(url).await.unwrap();
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
    let by_id = ids::generate("services", "a").to_string();
    assert!(reopened.get("services", &by_id).await.unwrap().is_some());
    assert_eq!(reopened.list("services").await.unwrap().len(), 1);
    assert!(reopened.ping().await);
}

#[tokio::test]
async fn replace_is_versioned_idempotent_and_persistent_on_sqlite() {
    let (_db, url) = Db::sqlite();
    replace_is_versioned_idempotent_and_persistent(&url).await;
}

#[tokio::test]
async fn replace_is_versioned_idempotent_and_persistent_on_postgres() {
    let (_db, url) = Db::postgres();
    replace_is_versioned_idempotent_and_persistent(&url).await;
}

/// Two stores on one database, as two CPs: a write based on a config older than the database's
/// is refused, and concurrent writes get distinct, increasing versions.
async fn two_writers_share_one_version_sequence(url: &str) {
    let a = Store::open(url).await.unwrap();
    let b = Store::open(url).await.unwrap();
    let first = a
        .replace(&config(vec![service("a", 80)]).to_entities(), false)
        .await
        .unwrap();
    assert_eq!(first.version, 1);

    // `b` has not loaded version 1: writing its older view would undo `a`'s write.
    let stale = b
        .replace(&config(vec![service("b", 80)]).to_entities(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::Stale {
                seen: 0,
                current: 1
            }
        ),
        "{stale}"
    );
    assert_eq!(
        b.load().await.unwrap().1.services.len(),
        1,
        "nothing written"
    );

    // Concurrent writers, each retrying on a stale base until its service is stored.
    let mut tasks = Vec::new();
    for i in 0..8u16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            loop {
                let (_, mut cfg) = store.load().await.unwrap();
                cfg.services.push(service(&format!("s{i}"), 80));
                match store.replace(&cfg.to_entities(), false).await {
                    Ok(applied) => return applied.version,
                    Err(StoreError::Stale { .. }) => continue,
                    Err(e) => panic!("write {i}: {e}"),
                }
            }
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<u64>>(), "one version each");
    let (version, cfg) = a.load().await.unwrap();
    assert_eq!((version, cfg.services.len()), (9, 9));
}

#[tokio::test]
async fn two_writers_share_one_version_sequence_on_sqlite() {
    let (_db, url) = Db::sqlite();
    two_writers_share_one_version_sequence(&url).await;
}

#[tokio::test]
async fn two_writers_share_one_version_sequence_on_postgres() {
    let (_db, url) = Db::postgres();
    two_writers_share_one_version_sequence(&url).await;
}

#[tokio::test]
async fn postgres_announces_each_committed_version() {
    let (_db, url) = Db::postgres();
    let follower = Store::open(&url).await.unwrap();
    let writer = Store::open(&url).await.unwrap();
    let mut listener = follower.listen().await.unwrap().unwrap();
    writer
        .replace(&config(vec![service("a", 80)]).to_entities(), true)
        .await
        .unwrap();
    writer
        .replace(&config(vec![service("a", 80)]).to_entities(), false)
        .await
        .unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), listener.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev, Event::Version(1), "the dry run announced nothing");
}

#[tokio::test]
async fn sqlite_has_no_listener() {
    let (_db, url) = Db::sqlite();
    let store = Store::open(&url).await.unwrap();
    assert!(store.listen().await.unwrap().is_none());
    assert_eq!(store.backend(), "sqlite");
}

/// Databases created before the migrations moved to `migrations/sqlite/` recorded this
/// checksum; a different one would make sqlx refuse to open them.
#[test]
fn sqlite_migration_is_byte_identical_to_the_released_one() {
    let migrator = sqlx::migrate!("../migrations/sqlite");
    let first = &migrator.migrations[0];
    assert_eq!((first.version, first.description.as_ref()), (1, "init"));
    assert_eq!(
        hex(&first.checksum),
        "907ca1fd445dd8249f9b086b6c38a046f9be77fb757d396e9728f23b461ad4aff0d206d083d7a631c7c325da571ae1d2"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn unknown_database_urls_are_refused_by_name() {
    let err = Store::open("mysql://root@localhost/kong")
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("'mysql://root@localhost/kong'"), "{msg}");
    assert!(msg.contains("postgres://"), "{msg}");
}

#[tokio::test]
async fn postgres_shares_dp_rows_between_cps() {
    let (_db, url) = Db::postgres();
    let store = Store::open(&url).await.unwrap();
    assert!(store.shares_nodes());
    let row = |connected: bool, last_seen: i64| NodeRow {
        id: "dp-1".into(),
        connected,
        last_seen,
        body: format!(r#"{{"id":"dp-1","last_seen":{last_seen}}}"#),
    };
    let load = async |alive_after: i64| {
        let rows = store.load_nodes(alive_after).await.unwrap();
        rows.into_iter()
            .map(|r| (r.cp_id, r.connected))
            .collect::<Vec<_>>()
    };
    store
        .save_nodes("cp-a", 100, &[row(true, 100)], 0)
        .await
        .unwrap();
    assert_eq!(load(0).await, [("cp-a".to_string(), true)]);

    // The DP moved to cp-b; cp-a noticing the lost stream afterwards changes nothing.
    store
        .save_nodes("cp-b", 200, &[row(true, 200)], 0)
        .await
        .unwrap();
    store
        .save_nodes("cp-a", 201, &[row(false, 100)], 0)
        .await
        .unwrap();
    assert_eq!(load(0).await, [("cp-b".to_string(), true)]);

    // cp-b stops refreshing its heartbeat: its DPs no longer count as connected.
    assert_eq!(load(201).await, [("cp-b".to_string(), false)]);

    // Rows last seen before the purge cutoff go.
    store.save_nodes("cp-a", 300, &[], 250).await.unwrap();
    assert!(load(0).await.is_empty());
}

#[tokio::test]
async fn sqlite_keeps_dp_rows_in_memory_only() {
    let (_db, url) = Db::sqlite();
    let store = Store::open(&url).await.unwrap();
    assert!(!store.shares_nodes());
    let row = NodeRow {
        id: "dp-1".into(),
        connected: true,
        last_seen: 1,
        body: "{}".into(),
    };
    store.save_nodes("cp-a", 1, &[row], 0).await.unwrap();
    assert!(store.load_nodes(0).await.unwrap().is_empty());
}

#[test]
fn passwords_are_masked_in_messages() {
    assert_eq!(
        redacted("mysql://kong:s3cret@db:3306/kong"),
        "mysql://kong:***@db:3306/kong"
    );
    assert_eq!(redacted("mysql://db/kong"), "mysql://db/kong");
    assert_eq!(redacted("kong.db"), "kong.db");
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    let port = e2e::ports::free_port().unwrap();
    let url = format!("postgres://kong:s3cret@127.0.0.1:{port}/kong");
    let msg = Store::open(&url).await.err().unwrap().to_string();
    assert!(
        msg.contains(&format!(
            "cannot open the database at postgres://kong:***@127.0.0.1:{port}/kong"
        )),
        "{msg}"
    );
    assert!(!msg.contains("s3cret"), "{msg}");
}

/// More rows than one PostgreSQL batch (`sql::BATCH`): created, updated and deleted in full.
async fn large_replace_spans_batches(url: &str) {
    let store = Store::open(url).await.unwrap();
    let n = 3 * sql::BATCH + 1;
    let many = config((0..n).map(|i| service(&format!("s{i}"), 80)).collect());
    let first = store.replace(&many.to_entities(), false).await.unwrap();
    assert_eq!(first.changes.creating.len(), n);
    assert_eq!(store.list("services").await.unwrap().len(), n);

    let mut changed = config((0..n).map(|i| service(&format!("s{i}"), 81)).collect());
    changed.services.truncate(n - (sql::BATCH + 500));
    let applied = store.replace(&changed.to_entities(), false).await.unwrap();
    assert_eq!(applied.changes.updating.len(), changed.services.len());
    assert_eq!(applied.changes.deleting.len(), n - changed.services.len());
    let (version, loaded) = store.load().await.unwrap();
    assert_eq!(version, 2);
    assert_eq!(loaded.services.len(), changed.services.len());
    assert!(loaded.services.iter().all(|s| s.port == 81));
    let one = store.get("services", "s0").await.unwrap().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&one.json).unwrap();
    assert_eq!(
        body["name"], "s0",
        "the unique name column is filled: {body}"
    );
}

#[tokio::test]
async fn large_replace_spans_batches_on_sqlite() {
    let (_db, url) = Db::sqlite();
    large_replace_spans_batches(&url).await;
}

#[tokio::test]
async fn large_replace_spans_batches_on_postgres() {
    let (_db, url) = Db::postgres();
    large_replace_spans_batches(&url).await;
}

/// The diff is taken against the caller's entities only while the database is still at the
/// version the caller names; otherwise the stored rows decide.
async fn known_entities_are_used_only_at_their_version(url: &str) {
    let store = Store::open(url).await.unwrap();
    let cfg = config(vec![service("a", 80)]);
    let entities = cfg.to_entities();
    store.replace(&entities, false).await.unwrap();
    // At version 1 the caller claims nothing is stored: its claim is taken.
    let trusted = store
        .replace_known(Some((1, &[])), &entities, true)
        .await
        .unwrap();
    assert_eq!(trusted.changes.creating.len(), 1);
    // A claim about another version is ignored: the rows say nothing changes.
    let ignored = store
        .replace_known(Some((7, &[])), &entities, true)
        .await
        .unwrap();
    assert!(ignored.changes.is_empty(), "{:?}", ignored.changes);
}

#[tokio::test]
async fn known_entities_are_used_only_at_their_version_on_sqlite() {
    let (_db, url) = Db::sqlite();
    known_entities_are_used_only_at_their_version(&url).await;
}

#[tokio::test]
async fn known_entities_are_used_only_at_their_version_on_postgres() {
    let (_db, url) = Db::postgres();
    known_entities_are_used_only_at_their_version(&url).await;
}
