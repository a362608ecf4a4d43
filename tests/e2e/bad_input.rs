//! Bad decK files: `apply` (and offline `validate`) exit non-zero, name the place of each error in
//! the file, and the control plane and its data plane keep their previous config.

use e2e::cluster;
use serde_json::Value;

use crate::fixture::{example_file, Gateway, CONSUMER_KEY};

/// A valid file that would replace the whole config if it were accepted; each case breaks it.
const VALID: &str = r#"_format_version: "3.0"
services:
  - name: bad-input-service
    url: http://127.0.0.1:9/
    routes:
      - name: bad-input-route
        paths:
          - /bad-input
plugins:
  - name: key-auth
    config:
      key_names:
        - apikey
"#;

struct Case {
    name: &'static str,
    yaml: String,
    /// Every one of these must appear in stderr.
    expected: Vec<String>,
    /// The line stderr must point at (`line N` or `:N`), when the error is about a line.
    line: Option<usize>,
}

fn cases() -> Vec<Case> {
    let unset = VALID.replace("- apikey", r#"- ${{ env "DECK_NOPE" }}"#);
    let unset_line = unset
        .lines()
        .position(|l| l.contains("DECK_NOPE"))
        .map(|i| i + 1)
        .unwrap_or(0);
    vec![
        Case {
            name: "unknown plugin",
            yaml: format!("{VALID}  - name: not-installed\n"),
            expected: vec!["plugins[1].name".into(), "not-installed".into()],
            line: None,
        },
        Case {
            name: "route path without a leading /",
            yaml: VALID.replace("- /bad-input", "- bad-input"),
            expected: vec!["services[0].routes[0].paths[0]".into()],
            line: None,
        },
        Case {
            name: "unknown field",
            yaml: VALID.replace("    url: http", "    colour: red\n    url: http"),
            expected: vec!["services[0]".into(), "colour".into()],
            line: None,
        },
        Case {
            name: "unsupported _format_version",
            yaml: VALID.replace(r#""3.0""#, r#""4.0""#),
            expected: vec!["_format_version".into()],
            line: None,
        },
        Case {
            name: "unset DECK_ variable",
            yaml: unset,
            expected: vec!["DECK_NOPE".into()],
            line: Some(unset_line),
        },
        Case {
            name: "variable without the DECK_ prefix",
            yaml: VALID.replace("- apikey", r#"- ${{ env "HOME" }}"#),
            expected: vec!["DECK_".into(), "HOME".into()],
            line: None,
        },
    ]
}

/// The Admin API's view of every entity kind.
async fn admin_state(gw: &Gateway) -> Vec<Value> {
    let mut state = Vec::new();
    for path in ["/services", "/routes", "/consumers", "/plugins"] {
        state.push(gw.cp.get_json(&gw.client, path).await.unwrap());
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_with_their_place_and_change_nothing() {
    let gw = Gateway::start("bad-input", 1).await;
    gw.apply_example().await;
    let dp = &gw.dps[0];
    let before = admin_state(&gw).await;
    assert!(
        before[0].to_string().contains("example-clean-service"),
        "services after apply: {}",
        before[0]
    );
    let hash_before = dp.config_hash(&gw.client).await.unwrap();

    let env = gw.deck_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let good = cluster::validate(&[&example_file()], &env).await.unwrap();
    assert!(
        good.success,
        "validate of the example:\n{}",
        good.describe()
    );

    for (i, case) in cases().iter().enumerate() {
        let file = gw.dir.write(&format!("bad-{i}.yaml"), &case.yaml).unwrap();
        for (verb, out) in [
            ("apply", gw.apply(&file).await),
            ("validate", cluster::validate(&[&file], &env).await.unwrap()),
        ] {
            assert!(
                !out.success,
                "{verb} accepted a file with {}:\n{}",
                case.name,
                out.describe()
            );
            for piece in &case.expected {
                assert!(
                    out.stderr.contains(piece.as_str()),
                    "{verb} with {}: stderr does not name `{piece}`:\n{}",
                    case.name,
                    out.describe()
                );
            }
            if let Some(line) = case.line {
                assert!(
                    out.stderr.contains(&format!("line {line}"))
                        || out.stderr.contains(&format!(":{line}")),
                    "{verb}: no line number {line} for {}:\n{}",
                    case.name,
                    out.describe()
                );
            }
        }
        assert_eq!(
            admin_state(&gw).await,
            before,
            "state changed after {}",
            case.name
        );
    }

    assert_eq!(dp.config_hash(&gw.client).await.unwrap(), hash_before);
    let r = gw.tutorial_request(dp, Some(CONSUMER_KEY), None).await;
    assert_eq!(r.status, 200, "the DP stopped serving: {}", r.text());
}
