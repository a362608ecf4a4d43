//! The decK-style commands (`apply`, `diff`, `validate`, `dump`): files are rendered here, on the
//! user's machine where the `DECK_` variables live, then sent to the CP's Admin API, which checks
//! them; when it refuses them they are checked here too, so errors name their file and place.

pub mod cert;
mod client;
mod files;
mod report;
mod wait;

use std::io::Write;

use serde_json::Value;

use crate::declarative::{self, render, render::ProcessEnv};
use crate::settings::{ApplyArgs, DumpArgs, ValidateArgs};
use client::AdminClient;

/// Why a command failed; `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Files(#[from] files::FilesError),
    #[error("invalid configuration, nothing was changed:\n{}", indent(&.0.errors))]
    Invalid(declarative::LoadError),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error("the control plane refused the configuration (HTTP {status}), nothing was changed:\n{message}")]
    Refused { status: u16, message: String },
    #[error(transparent)]
    Wait(#[from] wait::WaitError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// `apply` and `diff` (= `apply --dry-run`).
pub async fn apply(args: &ApplyArgs, dry_run: bool) -> Result<(), CliError> {
    let sources = files::read(&args.files)?;
    let client = AdminClient::new(&args.admin.admin_url)?;
    // decK's file reader takes `key: 12345` as the text "12345"; the CP reads typed values
    // unless told the document is a decK file.
    let path = if dry_run || args.dry_run {
        "/config?deck_scalars=1&dry_run=1"
    } else {
        "/config?deck_scalars=1"
    };
    // One file and no --select-tag: its rendered text goes as it is, and the CP reads it (only
    // the items that changed since the last apply, when it is of the usual shape). Otherwise the
    // files are read here, tagged and merged, and the document goes as JSON.
    let whole = match (sources.as_slice(), args.select_tags.is_empty()) {
        ([only], true) => render::render(&only.text, &ProcessEnv).ok(),
        _ => None,
    };
    let (remote, docs) = match whole {
        Some(text) => (client.post_text(path, text).await, None),
        None => {
            let mut docs =
                declarative::render_and_parse(&sources, &ProcessEnv).map_err(CliError::Invalid)?;
            select_tags(&mut docs, &args.select_tags)?;
            let remote = match docs.as_slice() {
                [(_, only)] => client.post_json(path, only).await,
                _ => client.post_json(path, &declarative::merge(&docs)).await,
            };
            (remote, Some(docs))
        }
    };
    // The CP checks the document with the same code (plus what needs its state). When it refuses
    // it, or cannot be reached, the files are checked here too, so errors name the file and
    // place they come from; an accepted apply does not pay for a second check.
    let body = match remote {
        Ok((status, body)) if (200..300).contains(&status) => {
            // The process ends soon: the trees are left to it rather than freed node by node.
            std::mem::forget(docs);
            body
        }
        other => {
            let docs = match docs {
                Some(docs) => docs,
                None => {
                    let mut docs = declarative::render_and_parse(&sources, &ProcessEnv)
                        .map_err(CliError::Invalid)?;
                    select_tags(&mut docs, &args.select_tags)?;
                    docs
                }
            };
            if let Ok(Some(errs)) =
                tokio::task::spawn_blocking(move || declarative::from_documents(&docs, None).err())
                    .await
            {
                return Err(CliError::Invalid(declarative::LoadError {
                    errors: errs.iter().map(ToString::to_string).collect(),
                }));
            }
            let (status, body) = other?;
            return Err(CliError::Refused {
                status,
                message: refusal(&body),
            });
        }
    };
    let texts: Vec<&str> = sources.iter().map(|s| s.text.as_str()).collect();
    let secrets = report::deck_values(&texts);
    if args.json_output {
        report::print_json(&body, &secrets);
    } else {
        report::print_changes(&body, &secrets);
    }
    match args.wait {
        Some(secs) if !(dry_run || args.dry_run) => {
            let target = wait::Target {
                version: body["version"].as_u64().unwrap_or(0),
                hash: body["config_hash"].as_str().unwrap_or_default().to_string(),
            };
            wait::wait(&client, &target, std::time::Duration::from_secs(secs)).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// decK's `--select-tag`: the tags go into every file's `_info.select_tags`; a file that names
/// other select tags is an error, as in decK.
fn select_tags(docs: &mut [(String, serde_json::Value)], tags: &[String]) -> Result<(), CliError> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut errors = Vec::new();
    for (label, doc) in docs.iter_mut() {
        let Some(map) = doc.as_object_mut() else {
            continue;
        };
        let info = map.entry("_info").or_insert_with(|| serde_json::json!({}));
        let Some(info) = info.as_object_mut() else {
            continue;
        };
        match info.get("select_tags") {
            Some(existing) if existing != &serde_json::json!(tags) => errors.push(format!(
                "{label}: _info.select_tags {existing} differ from --select-tag {tags:?}; give them in one place"
            )),
            _ => {
                info.insert("select_tags".into(), serde_json::json!(tags));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Invalid(declarative::LoadError { errors }))
    }
}

/// `validate`: everything `apply` checks, offline.
pub fn validate(args: &ValidateArgs) -> Result<(), CliError> {
    let sources = files::read(&args.files)?;
    let cfg = declarative::load(&sources, &ProcessEnv).map_err(CliError::Invalid)?;
    println!(
        "configuration is valid: {} services, {} routes, {} consumers, {} key-auth credentials, {} plugins",
        cfg.services.len(),
        cfg.routes.len(),
        cfg.consumers.len(),
        cfg.keyauth_credentials.len(),
        cfg.plugins.len()
    );
    Ok(())
}

/// Admin API collections and the decK key each is dumped under, parents first.
const DUMPED: &[(&str, &str)] = &[
    ("/certificates", "certificates"),
    ("/ca_certificates", "ca_certificates"),
    ("/vaults", "vaults"),
    ("/services", "services"),
    ("/routes", "routes"),
    ("/snis", "snis"),
    ("/upstreams", "upstreams"),
    ("/targets", "targets"),
    ("/consumers", "consumers"),
    ("/key-auths", "keyauth_credentials"),
    ("/basic-auths", "basicauth_credentials"),
    ("/hmac-auths", "hmacauth_credentials"),
    ("/jwts", "jwt_secrets"),
    ("/acls", "acls"),
    ("/oauth2", "oauth2_credentials"),
    ("/mtls-auths", "mtls_auth_credentials"),
    ("/plugins", "plugins"),
];

/// `dump`: the CP's entities as one flat decK document in YAML.
pub async fn dump(args: &DumpArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.admin_url)?;
    let mut doc = serde_json::Map::new();
    doc.insert("_format_version".into(), "3.0".into());
    for (path, key) in DUMPED {
        let (status, body) = client.get(path).await?;
        if status != 200 {
            return Err(CliError::Refused {
                status,
                message: refusal(&body),
            });
        }
        let data = body
            .get("data")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        if data.as_array().is_some_and(|a| !a.is_empty()) {
            doc.insert((*key).into(), data);
        }
    }
    // basic-auth passwords come out as their stored digests: `_transform: false` tells `apply`
    // (here or on a new CP) to take them as they are, as Kong's own export does.
    if doc.contains_key("basicauth_credentials") {
        doc.insert("_transform".into(), Value::Bool(false));
    }
    let yaml = serde_yaml::to_string(&Value::Object(doc)).unwrap_or_default();
    match &args.output {
        Some(path) => std::fs::write(path, yaml).map_err(|source| CliError::Write {
            path: path.display().to_string(),
            source,
        }),
        None => {
            let _ = std::io::stdout().write_all(yaml.as_bytes());
            Ok(())
        }
    }
}

fn refusal(body: &Value) -> String {
    if let Some(errs) = body.get("errors").and_then(Value::as_array) {
        let lines: Vec<String> = errs
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e["path"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        return indent(&lines);
    }
    body.get("message")
        .and_then(Value::as_str)
        .map_or_else(|| body.to_string(), str::to_string)
}

fn indent(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_tag_flag_fills_or_conflicts_with_the_file() {
        let mut docs = vec![("a.yaml".to_string(), json!({"_format_version": "3.0"}))];
        select_tags(&mut docs, &["team-a".into()]).unwrap();
        assert_eq!(docs[0].1["_info"]["select_tags"], json!(["team-a"]));
        let mut other = vec![(
            "b.yaml".to_string(),
            json!({"_info": {"select_tags": ["team-b"]}}),
        )];
        let err = select_tags(&mut other, &["team-a".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("b.yaml: _info.select_tags"), "{err}");
    }
}
