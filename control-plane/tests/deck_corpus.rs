//! decK's own test files (`../shared/corpus/kong-deck-testdata`, folders `sync/`, `validate/`,
//! `diff/`, `dump/`) through `control-plane validate`'s code path. Every 3.0 file validates unless
//! all its errors are about a feature listed in `UNSUPPORTED` (each with the reason we skip it);
//! older formats and the files decK itself expects to fail are refused, naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use control_plane::declarative::{self, Source};

/// Errors we expect for features this gateway does not have yet: (message fragment, why).
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "not enabled; add it to the 'plugins' configuration property",
        "a plugin we do not ship yet",
    ),
    (
        "'consumer_groups' entities are not supported",
        "consumer groups are Kong Enterprise",
    ),
    (
        "consumer groups are not supported",
        "consumer-group membership is Kong Enterprise",
    ),
    (
        "consumer groups (a Kong Enterprise feature)",
        "consumer-group scoped plugins are Kong Enterprise",
    ),
    (
        "'partials' entities are not supported",
        "partials are Kong Enterprise",
    ),
    (
        "partials (a Kong Enterprise feature)",
        "plugin partials are Kong Enterprise",
    ),
    (
        "'custom_entities' entities are not supported",
        "custom entities (degraphql, graphql rate limiting) are Kong Enterprise",
    ),
    (
        "'cloned_plugins' entities are not supported",
        "cloned plugins are Kong Enterprise",
    ),
    (
        "'custom_plugins' entities are not supported",
        "custom plugin definitions are Konnect",
    ),
    (
        "'keys' entities are not supported",
        "keys and key sets are not implemented yet",
    ),
    (
        "'key_sets' entities are not supported",
        "keys and key sets are not implemented yet",
    ),
    (
        "'rbac_roles' entities are not supported",
        "RBAC is Kong Enterprise",
    ),
    (
        "'filter_chains' entities are not supported",
        "Wasm filter chains are not implemented",
    ),
    (
        "unknown field `filter_chains`",
        "Wasm filter chains are not implemented",
    ),
    (
        "only the 'default' workspace is supported",
        "workspaces are Kong Enterprise",
    ),
    (
        "expression routes need Kong's 'expressions' router flavor",
        "we route the traditional_compatible way",
    ),
    (
        "dynamic plugin ordering (a Kong Enterprise feature)",
        "dynamic plugin ordering is Kong Enterprise",
    ),
    (
        "conditional plugins (a Kong Enterprise feature)",
        "conditional plugins are Kong Enterprise",
    ),
    (
        "'degraphql_routes' entities are not supported",
        "degraphql is Kong Enterprise",
    ),
    (
        "'licenses' entities are not supported",
        "licenses are Kong Enterprise",
    ),
    (
        "'ai_models' entities are not supported",
        "AI model entities are Konnect-only",
    ),
    (
        "'vaults' entities",
        "vault types other than env are Kong Enterprise",
    ),
    ("vault '", "vault types other than env are Kong Enterprise"),
];

/// Files decK's tests expect to fail, and the field our error must name.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    ("validate/konnect_1_1.yaml", "_format_version"),
    ("validate/konnect_no_version.yaml", "_format_version"),
    // References to entities that exist neither in the file nor on the gateway.
    (
        "sync/041-plugins-nested-foreign-keys/kong3x-consumers-not-in-state-or-dump.yaml",
        ".consumer: invalid reference",
    ),
    (
        "sync/041-plugins-nested-foreign-keys/kong3x-routes-not-in-state-or-dump.yaml",
        ".route: invalid reference",
    ),
    (
        "sync/041-plugins-nested-foreign-keys/kong3x-services-not-in-state-or-dump.yaml",
        ".service: invalid reference",
    ),
    // Plugins pointing at entities managed elsewhere without `default_lookup_tags`.
    (
        "sync/029-lookup-tags-consumers/plugins_no_lookup.yaml",
        "invalid reference",
    ),
    (
        "sync/030-lookup-tags-routes/plugins_no_lookup.yaml",
        "invalid reference",
    ),
    (
        "sync/035-lookup-tags-services/plugins_no_lookup.yaml",
        "invalid reference",
    ),
    (
        "sync/034-lookup-tags-consumerGroups/plugins_no_lookup_route.yaml",
        "invalid reference",
    ),
    (
        "sync/034-lookup-tags-consumerGroups/plugins_no_lookup_service.yaml",
        "invalid reference",
    ),
    // Needs decK's --skip-consumers and the consumer on the gateway.
    (
        "sync/049-skip-consumers-default-lookup-tags/consumer-groups.yaml",
        ".consumer: invalid reference",
    ),
    // Needs real PEM text in DECK_CLIENT_CERT / DECK_CLIENT_KEY; the mock value is not one.
    (
        "sync/057-env-var-masking-tests/pem-key.yaml",
        "invalid certificate",
    ),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/kong-deck-testdata")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// decK's mock rendering: every `DECK_` variable gets a value of the type its pipeline wants.
fn mock_env(text: &str) -> HashMap<String, String> {
    let re = regex_lite(text);
    re.into_iter()
        .map(|(name, func)| {
            let v = match func.as_deref() {
                Some("toInt") => "42",
                Some("toFloat") => "4.2",
                Some("toBool") => "false",
                // Numbers turn into text where text is wanted, so "1" suits hosts and ports alike.
                _ => "1",
            };
            (name, v.to_string())
        })
        .collect()
}

/// (variable, first pipeline function) for each `env "DECK_…"` in the text.
fn regex_lite(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for part in text.split("env \"").skip(1) {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let func = rest
            .split("}}")
            .next()
            .and_then(|p| p.split('|').nth(1))
            .map(|f| f.split_whitespace().next().unwrap_or("").to_string());
        out.push((name.to_string(), func));
    }
    out
}

#[test]
fn deck_corpus_validates_or_fails_for_a_listed_reason() {
    let root = corpus();
    let mut all = Vec::new();
    for dir in ["sync", "validate", "diff", "dump"] {
        files(&root.join(dir), &mut all);
    }
    assert!(
        all.len() > 300,
        "corpus not found or too small at {}",
        root.display()
    );
    let (mut valid, mut skipped, mut old_format, mut problems) = (0, Vec::new(), 0, Vec::new());
    for path in &all {
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let env = mock_env(&text);
        let result = declarative::load(
            &[Source {
                label: rel.clone(),
                text: text.clone(),
            }],
            &env,
        );
        let expected = EXPECTED_FAILURES.iter().find(|(f, _)| *f == rel);
        let is_3x =
            text.contains("_format_version: \"3.0\"") || text.contains("_format_version: '3.0'");
        match (result, expected) {
            (Err(e), Some((_, field))) => {
                if !e.errors.iter().any(|l| l.contains(field)) {
                    problems.push(format!(
                        "{rel}: expected an error naming `{field}`, got {:?}",
                        e.errors
                    ));
                }
            }
            (Ok(_), Some(_)) => problems.push(format!(
                "{rel}: decK expects this file to fail, it validated"
            )),
            (Ok(_), None) if is_3x => valid += 1,
            (Ok(_), None) => problems.push(format!("{rel}: a pre-3.0 file validated")),
            (Err(e), None) if !is_3x => {
                if e.errors.iter().any(|l| l.contains("_format_version")) {
                    old_format += 1;
                } else {
                    problems.push(format!(
                        "{rel}: pre-3.0 file refused without naming _format_version: {:?}",
                        e.errors
                    ));
                }
            }
            (Err(e), None) => {
                let reasons: Vec<&str> = e
                    .errors
                    .iter()
                    .map(|l| {
                        UNSUPPORTED
                            .iter()
                            .find(|(frag, _)| l.contains(frag))
                            .map(|(_, why)| *why)
                    })
                    .collect::<Option<Vec<_>>>()
                    .unwrap_or_default();
                if reasons.is_empty() {
                    problems.push(format!(
                        "{rel}: refused for a reason not listed as unsupported: {:?}",
                        e.errors
                    ));
                } else {
                    skipped.push(format!("{rel}: {}", reasons[0]));
                }
            }
        }
    }
    println!(
        "decK corpus: {} files, {valid} valid, {old_format} pre-3.0 refused, {} skipped:",
        all.len(),
        skipped.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(
        problems.is_empty(),
        "{} corpus files misjudged:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // A floor, so a regression that refuses good files cannot hide among the skips.
    assert!(valid >= 95, "only {valid} corpus files validated");
}
