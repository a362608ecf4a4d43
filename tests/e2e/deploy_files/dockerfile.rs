//! deploy/Dockerfile (and its .dockerignore) and the shell scripts in deploy/: the toolchain
//! matches rust-toolchain.toml, copied sources exist and are not ignored, the binaries it ships
//! are the workspace's, EXPOSE lists exactly the default listen ports, the runtime user is not
//! root, and every command line of our binaries uses known flags.

use std::path::Path;

use e2e::binaries::binary;
use regex::Regex;

use super::argv::{self, Invocation};
use super::help::Helps;

/// Dockerfile instructions with their continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

/// Whether `.dockerignore` patterns exclude the top-level path `src`.
fn ignored(patterns: &[String], src: &str) -> bool {
    let top = src.trim_end_matches('/');
    patterns
        .iter()
        .any(|p| p == top || p == &format!("{top}/") || p == "*")
}

pub fn check(root: &Path, rel: &str, text: &str, helps: &Helps, errors: &mut Vec<String>) {
    let ignore_file = root.join(format!("{rel}.dockerignore"));
    let patterns: Vec<String> = std::fs::read_to_string(&ignore_file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let toolchain = std::fs::read_to_string(root.join("rust-toolchain.toml")).unwrap();
    let channel = Regex::new(r#"channel\s*=\s*"([^"]+)""#).unwrap();
    let channel = channel
        .captures(&toolchain)
        .map(|c| c[1].to_string())
        .unwrap_or_default();
    let release_bin = Regex::new(r"target/release/([A-Za-z0-9_-]+)").unwrap();
    let mut exposed = std::collections::BTreeSet::new();
    let mut user = None;
    for (op, rest) in instructions(text) {
        let place = format!("{rel}: {op} {rest}");
        match op.as_str() {
            "ARG" if rest.starts_with("RUST_VERSION=") => {
                let version = rest.trim_start_matches("RUST_VERSION=");
                if version != channel {
                    errors.push(format!(
                        "{place}: RUST_VERSION {version} differs from rust-toolchain.toml's {channel}"
                    ));
                }
            }
            "COPY" if !rest.starts_with("--from") => {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                for src in &parts[..parts.len().saturating_sub(1)] {
                    if !root.join(src).exists() {
                        errors.push(format!("{place}: `{src}` does not exist in the repository"));
                    } else if ignored(&patterns, src) {
                        errors.push(format!(
                            "{place}: `{src}` is excluded by {rel}.dockerignore"
                        ));
                    }
                }
            }
            "RUN" => {
                for c in release_bin.captures_iter(&rest) {
                    if let Err(e) = binary(&c[1]) {
                        errors.push(format!(
                            "{place}: `{}` is not a workspace binary: {e}",
                            &c[1]
                        ));
                    }
                }
            }
            "EXPOSE" => exposed.extend(
                rest.split_whitespace()
                    .filter_map(|p| p.parse::<u16>().ok()),
            ),
            "USER" => user = Some(rest.clone()),
            "CMD" | "ENTRYPOINT" => match serde_json::from_str::<Vec<String>>(&rest) {
                Ok(argv) => {
                    let inv = Invocation {
                        place,
                        argv,
                        env: Default::default(),
                    };
                    argv::check(&inv, helps, errors);
                }
                Err(_) => errors.push(format!("{place}: use the exec (JSON array) form")),
            },
            _ => {}
        }
    }
    let defaults = helps.default_ports();
    if exposed != defaults {
        errors.push(format!(
            "{rel}: EXPOSE {exposed:?} differs from the binaries' default listen ports {defaults:?}"
        ));
    }
    match user.as_deref().and_then(|u| u.split(':').next()) {
        Some("root") | Some("0") | None => {
            errors.push(format!("{rel}: the runtime stage must set a non-root USER"))
        }
        Some(_) => {}
    }
}

/// Command lines of our binaries in a shell script: `"$BIN/data-plane" --flag …` up to the end
/// of the (continued) line or a shell operator.
pub fn check_script(rel: &str, text: &str, helps: &Helps, errors: &mut Vec<String>) -> usize {
    let joined = text.replace("\\\n", " ");
    let mut seen = 0;
    for (n, line) in joined.lines().enumerate() {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| w.trim_matches('"').trim_matches('\'').to_string())
            .collect();
        let Some(start) = words
            .iter()
            .position(|w| w.ends_with("/control-plane") || w.ends_with("/data-plane"))
        else {
            continue;
        };
        let argv: Vec<String> = words[start..]
            .iter()
            .take_while(|w| !["&&", "||", "|", ";", "&", ">", "2>&1", ">&2"].contains(&w.as_str()))
            .cloned()
            .collect();
        let inv = Invocation {
            place: format!("{rel}:{}", n + 1),
            argv,
            env: Default::default(),
        };
        if argv::check(&inv, helps, errors).is_some() {
            seen += 1;
        }
    }
    seen
}

#[test]
fn instructions_join_continuations() {
    let text = "# c\nFROM x AS y\nRUN a \\\n && b\nEXPOSE 1 2\n";
    assert_eq!(
        instructions(text),
        [
            ("FROM".to_string(), "x AS y".to_string()),
            ("RUN".to_string(), "a  && b".to_string()),
            ("EXPOSE".to_string(), "1 2".to_string())
        ]
    );
    assert!(ignored(&["target".into()], "target"));
    assert!(!ignored(&["**/target".into()], "proto"));
}
