//! Whole-document tests: the tutorial file, nesting, references, ids and error places.

use std::collections::HashMap;

use super::*;

fn env() -> HashMap<String, String> {
    [
        ("DECK_OPENAI_API_KEY", "sk-test"),
        (
            "DECK_OPENAI_UPSTREAM_URL",
            "http://127.0.0.1:9/v1/responses",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn load_one(text: &str) -> Result<Config, LoadError> {
    load(
        &[Source {
            label: "kong.yaml".into(),
            text: text.into(),
        }],
        &env(),
    )
}

const TUTORIAL: &str = r#"
_format_version: "3.0"
services:
  - name: example-clean-service
    url: http://httpbin.konghq.com/anything
    routes:
      - name: example-clean-route
        paths: [/anything]
consumers:
  - username: tutorial-user
    keyauth_credentials:
      - key: hello_world
plugins:
  - name: key-auth
    config:
      key_names: [apikey]
  - name: ai-proxy-advanced
    config:
      balancer:
        algorithm: round-robin
      targets:
        - model:
            name: gpt-4
            provider: openai
            options:
              max_tokens: 512
              temperature: 1.0
              upstream_url: ${{ env "DECK_OPENAI_UPSTREAM_URL" }}
          route_type: llm/v1/responses
          logging: {log_payloads: true, log_statistics: true}
          auth:
            header_name: Authorization
            header_value: Bearer ${{ env "DECK_OPENAI_API_KEY" }}
          weight: 50
  - name: prometheus
    config:
      status_code_metrics: true
"#;

#[test]
fn tutorial_file_flattens_with_kong_ids() {
    let cfg = load_one(TUTORIAL).unwrap();
    assert_eq!(cfg.services.len(), 1);
    assert_eq!(cfg.services[0].host, "httpbin.konghq.com");
    assert_eq!(cfg.services[0].path.as_deref(), Some("/anything"));
    assert_eq!(
        cfg.services[0].id,
        proto::schema::ids::generate("services", "example-clean-service")
    );
    assert_eq!(
        cfg.routes[0].service.map(|s| s.id),
        Some(cfg.services[0].id)
    );
    assert_eq!(cfg.keyauth_credentials[0].consumer.id, cfg.consumers[0].id);
    assert_eq!(cfg.plugins.len(), 3);
    let ai = cfg
        .plugins
        .iter()
        .find(|p| p.name == "ai-proxy-advanced")
        .unwrap();
    assert_eq!(
        ai.config["targets"][0]["auth"]["header_value"],
        "Bearer sk-test"
    );
    assert_eq!(ai.config["balancer"]["retries"], 5, "defaults are filled");
    assert_eq!(
        ai.id,
        proto::schema::ids::plugin("ai-proxy-advanced", "", "", "")
    );
}

#[test]
fn flat_document_round_trips() {
    let cfg = load_one(TUTORIAL).unwrap();
    let doc = to_document(&cfg);
    let again = from_documents(&[("dump".into(), doc)], None).unwrap();
    assert_eq!(cfg.to_entities(), again.to_entities());
}

#[test]
fn every_error_is_reported_with_its_place() {
    let text = r#"
_format_version: "3.0"
services:
  - name: s1
    host: example.com
    routes:
      - name: r1
        paths: [anything]
plugins:
  - name: not-installed
  - name: key-auth
    service: ghost
"#;
    let errs = load_one(text).unwrap_err().errors;
    let joined = errs.join("\n");
    assert!(
        joined.contains(
            "services[0].routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)"
        ),
        "{joined}"
    );
    assert!(
        joined.contains("plugins[0].name: plugin 'not-installed' not enabled"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "plugins[1].service: invalid reference 'service: ghost' (no such entry in 'services')"
        ),
        "{joined}"
    );
}

#[test]
fn references_by_name_and_id_in_every_form() {
    let text = r#"
_format_version: "3.0"
services:
  - name: s1
    host: example.com
routes:
  - name: r1
    paths: [/a]
    service: {name: s1}
  - name: r2
    paths: [/b]
    service: s1
consumers:
  - username: alice
plugins:
  - name: prometheus
    route: r1
    consumer: alice
"#;
    let cfg = load_one(text).unwrap();
    let s1 = cfg.services[0].id;
    assert!(cfg
        .routes
        .iter()
        .all(|r| r.service.map(|s| s.id) == Some(s1)));
    assert_eq!(
        cfg.plugins[0].consumer.map(|c| c.id),
        Some(cfg.consumers[0].id)
    );
}

#[test]
fn duplicates_are_refused() {
    let text = "_format_version: \"3.0\"\nconsumers:\n  - username: x\n  - username: x\n";
    let errs = load_one(text).unwrap_err().errors;
    assert!(
        errs[0].contains("uniqueness violation: 'consumers' entity with"),
        "{errs:?}"
    );
}

#[test]
fn env_errors_name_file_and_line() {
    let text =
        "_format_version: \"3.0\"\nservices:\n  - name: s\n    host: ${{ env \"DECK_MISSING\" }}\n";
    let errs = load_one(text).unwrap_err().errors;
    assert_eq!(errs, ["kong.yaml: line 4: environment variable 'DECK_MISSING' present in state file but not set"]);
}

#[test]
fn key_auth_cannot_be_consumer_scoped() {
    let text = "_format_version: \"3.0\"\nconsumers:\n  - username: a\n    plugins:\n      - name: key-auth\n";
    let errs = load_one(text).unwrap_err().errors;
    assert_eq!(
        errs,
        ["consumers[0].plugins[0].consumer: value must be null"]
    );
}

#[test]
fn existing_ids_are_adopted_by_natural_key() {
    let first = load_one(TUTORIAL).unwrap();
    let mut existing = first.clone();
    let api_id = uuid::Uuid::new_v4();
    existing.services[0].id = api_id;
    for r in &mut existing.routes {
        r.service = Some(proto::schema::ForeignKey { id: api_id });
    }
    let doc = super::document::parse(&render::render(TUTORIAL, &env()).unwrap()).unwrap();
    let cfg = from_documents(&[("kong.yaml".into(), doc)], Some(&existing)).unwrap();
    assert_eq!(
        cfg.services[0].id, api_id,
        "the service made through the API keeps its id"
    );
    assert_eq!(
        cfg.routes[0].service.map(|s| s.id),
        Some(api_id),
        "references follow"
    );
    assert_eq!(
        cfg.to_entities(),
        existing.to_entities(),
        "so applying the file changes nothing"
    );
}

#[test]
fn merged_files_concatenate_collections() {
    let a = serde_json::json!({"_format_version": "3.0", "services": [{"name": "a", "host": "h"}]});
    let b = serde_json::json!({"_format_version": "3.0", "services": [{"name": "b", "host": "h"}], "consumers": [{"username": "u"}]});
    let merged = merge(&[("a".into(), a), ("b".into(), b)]);
    let cfg = from_documents(&[("m".into(), merged)], None).unwrap();
    assert_eq!((cfg.services.len(), cfg.consumers.len()), (2, 1));
}

fn doc(text: &str) -> (String, serde_json::Value) {
    ("kong.yaml".into(), super::document::parse(text).unwrap())
}

#[test]
fn select_tags_tag_the_file_and_leave_other_entities_alone() {
    let existing =
        load_one("_format_version: \"3.0\"\nservices:\n  - name: other\n    host: o.com\n")
            .unwrap();
    let text = "_format_version: \"3.0\"\n_info:\n  select_tags: [team-a]\nservices:\n  - name: mine\n    host: m.com\n";
    let cfg = from_documents(&[doc(text)], Some(&existing)).unwrap();
    let names: Vec<_> = cfg
        .services
        .iter()
        .map(|s| s.name.clone().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "the untagged service is kept: {names:?}");
    let mine = cfg
        .services
        .iter()
        .find(|s| s.name.as_deref() == Some("mine"))
        .unwrap();
    assert_eq!(mine.tags, Some(vec!["team-a".to_string()]));
    let clash = "_format_version: \"3.0\"\n_info:\n  select_tags: [team-a]\nservices:\n  - name: other\n    host: m.com\n";
    let errs = from_documents(&[doc(clash)], Some(&existing)).unwrap_err();
    assert!(
        errs[0]
            .message
            .contains("exists on the control plane without the select tags"),
        "{errs:?}"
    );
}

#[test]
fn lookup_tags_resolve_against_the_control_plane() {
    let existing = load_one("_format_version: \"3.0\"\nconsumers:\n  - username: foo\n    tags: [global-consumers]\n  - username: bar\n").unwrap();
    let text = "_format_version: \"3.0\"\n_info:\n  default_lookup_tags:\n    consumers: [global-consumers]\nplugins:\n  - name: prometheus\n    consumer: foo\n";
    assert!(
        from_documents(&[doc(text)], None).is_ok(),
        "offline, the reference is left to the CP"
    );
    let cfg = from_documents(&[doc(text)], Some(&existing)).unwrap();
    assert_eq!(
        cfg.plugins[0].consumer.map(|c| c.id),
        Some(existing.consumers[0].id)
    );
    let untagged = text.replace("consumer: foo", "consumer: bar");
    let errs = from_documents(&[doc(&untagged)], Some(&existing)).unwrap_err();
    assert!(
        errs[0]
            .message
            .contains("invalid reference 'consumer: bar'"),
        "{errs:?}"
    );
}

#[test]
fn info_defaults_fill_missing_fields_only() {
    let text = "_format_version: \"3.0\"\n_info:\n  defaults:\n    service:\n      port: 8080\n      retries: 2\nservices:\n  - name: a\n    host: a.com\n  - name: b\n    host: b.com\n    port: 9000\n";
    let cfg = from_documents(&[doc(text)], None).unwrap();
    let ports: Vec<_> = cfg.services.iter().map(|s| (s.port, s.retries)).collect();
    assert!(
        ports.contains(&(8080, 2)) && ports.contains(&(9000, 2)),
        "{ports:?}"
    );
    let bad = "_format_version: \"3.0\"\n_info:\n  defaults:\n    service:\n      name: x\n";
    assert_eq!(
        from_documents(&[doc(bad)], None).unwrap_err()[0].path,
        "_info.defaults.service.name"
    );
}

#[test]
fn upstreams_targets_certificates_and_credentials_nest() {
    let text = r#"
_format_version: "3.0"
upstreams:
  - name: up1
    targets:
      - target: 10.0.0.1
        weight: 50
certificates:
  - cert: "{vault://env/cert}"
    key: "{vault://env/key}"
    snis:
      - name: example.com
vaults:
  - name: env
    prefix: my-env
consumers:
  - username: c1
    basicauth_credentials: [{username: c1, password: p}]
    acls: [{group: admins}]
    jwt_secrets: [{key: k1, secret: s}]
"#;
    let cfg = load_one(text).unwrap();
    assert_eq!(cfg.targets[0].upstream.id, cfg.upstreams[0].id);
    assert_eq!(cfg.targets[0].target, "10.0.0.1:8000");
    assert_eq!(
        cfg.targets[0].id,
        proto::schema::ids::generate(
            "targets",
            &format!("targets:*:{}:10.0.0.1", cfg.upstreams[0].id)
        )
    );
    assert_eq!(cfg.snis[0].certificate.id, cfg.certificates[0].id);
    assert_eq!(cfg.acls[0].consumer.id, cfg.consumers[0].id);
    assert_eq!(cfg.jwt_secrets[0].algorithm, "HS256");
    assert_eq!(cfg.upstreams[0].healthchecks["active"]["http_path"], "/");
    let again = from_documents(&[("dump".into(), to_document(&cfg))], None).unwrap();
    assert_eq!(again.to_entities(), cfg.to_entities(), "round trip");
}

#[test]
fn enterprise_only_fields_are_refused_by_name() {
    let text = "_format_version: \"3.0\"\nplugins:\n  - name: prometheus\n    ordering: {before: {access: [key-auth]}}\nroutes:\n  - name: r\n    expression: http.path == \"/a\"\n";
    let errs = load_one(text).unwrap_err().errors.join("\n");
    assert!(
        errs.contains("plugins[0].ordering: dynamic plugin ordering"),
        "{errs}"
    );
    assert!(
        errs.contains("routes[0].expression: expression routes need"),
        "{errs}"
    );
}
