//! What `apply` and `diff` print: decK's lines (`creating service svc1`, `updating plugin …`
//! with a field-level JSON diff, `deleting …`) and the `Summary:` block. Values that came from
//! `DECK_` variables are printed as `[masked]`, as decK does.

use serde_json::Value;

/// Prints the changes in a `POST /config` answer. `secrets` are rendered `DECK_` values.
/// A closed stdout (`| head`) is not an error.
pub fn print_changes(body: &Value, secrets: &[String]) {
    let mut out = String::new();
    render(&mut out, body, secrets);
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
}

/// decK's `--json-output`: `{changes: {creating, updating, deleting}, summary, warnings, errors}`,
/// with `DECK_` values masked and credentials fingerprinted.
pub fn print_json(body: &Value, secrets: &[String]) {
    let text = json_report(body, secrets);
    let _ = std::io::Write::write_all(
        &mut std::io::stdout().lock(),
        format!("{text}\n").as_bytes(),
    );
}

fn json_report(body: &Value, secrets: &[String]) -> String {
    let list = |k: &str| -> Vec<Value> {
        body["changes"][k]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let mut entry = serde_json::json!({"name": c["name"], "kind": c["kind"]});
                if c.get("new").is_some() {
                    entry["body"] =
                        serde_json::json!({"old": redact(&c["old"]), "new": redact(&c["new"])});
                }
                entry
            })
            .collect()
    };
    let (creating, updating, deleting) = (list("creating"), list("updating"), list("deleting"));
    let summary = serde_json::json!({
        "creating": creating.len(),
        "updating": updating.len(),
        "deleting": deleting.len(),
        "total": creating.len() + updating.len() + deleting.len(),
    });
    let out = serde_json::json!({
        "changes": {"creating": creating, "updating": updating, "deleting": deleting},
        "summary": summary,
        "warnings": [],
        "errors": [],
    });
    mask(
        &serde_json::to_string_pretty(&out).unwrap_or_default(),
        secrets,
    )
}

macro_rules! emit {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

fn render(out: &mut String, body: &Value, secrets: &[String]) {
    let changes = &body["changes"];
    let list = |k: &str| changes[k].as_array().cloned().unwrap_or_default();
    let (creating, updating, deleting) = (list("creating"), list("updating"), list("deleting"));
    for c in &creating {
        emit!(
            out,
            "creating {} {}",
            text(&c["kind"]),
            mask(text(&c["name"]), secrets)
        );
    }
    for c in &updating {
        emit!(
            out,
            "updating {} {}  {{",
            text(&c["kind"]),
            mask(text(&c["name"]), secrets)
        );
        for line in json_diff(&c["old"], &c["new"]) {
            emit!(out, "{}", mask(&line, secrets));
        }
        emit!(out, " }}\n");
    }
    for c in &deleting {
        emit!(
            out,
            "deleting {} {}",
            text(&c["kind"]),
            mask(text(&c["name"]), secrets)
        );
    }
    emit!(out, "Summary:");
    emit!(out, "  Created: {}", creating.len());
    emit!(out, "  Updated: {}", updating.len());
    emit!(out, "  Deleted: {}", deleting.len());
    if body["dry_run"] != Value::Bool(true) {
        emit!(
            out,
            "config version {} (hash {})",
            body["version"].as_u64().unwrap_or(0),
            text(&body["config_hash"])
        );
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn mask(line: &str, secrets: &[String]) -> String {
    let mut out = line.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "[masked]");
    }
    out
}

/// decK's update diff: the pretty JSON of both versions, unchanged lines indented by three
/// spaces, removed ones prefixed `-  `, added ones `+  `.
pub fn json_diff(old: &Value, new: &Value) -> Vec<String> {
    let a = pretty_lines(old);
    let b = pretty_lines(new);
    // Longest common subsequence over lines; entities are small.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("   {}", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("-  {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+  {}", b[j]));
            j += 1;
        }
    }
    out
}

/// Fields whose values are credentials: never printed, only a short fingerprint, so a change is
/// still visible without showing the secret (old values are not in the environment to mask).
const SENSITIVE: &[&str] = &[
    "header_value",
    "param_value",
    "password",
    "secret",
    "client_secret",
    "aws_secret_access_key",
    "azure_client_secret",
    "gcp_service_account_json",
];

fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) if SENSITIVE.contains(&k.as_str()) => {
                        (k.clone(), Value::String(fingerprint(s)))
                    }
                    other => (k.clone(), redact(other)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn fingerprint(secret: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(secret.as_bytes());
    format!("[masked:{:02x}{:02x}]", digest[0], digest[1])
}

/// The object's fields, one per line, pretty-printed (decK prints the inner lines only).
fn pretty_lines(v: &Value) -> Vec<String> {
    let text = serde_json::to_string_pretty(&redact(v)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() >= 2 {
        lines[1..lines.len() - 1]
            .iter()
            .map(|l| l.strip_prefix("  ").unwrap_or(l).to_string())
            .collect()
    } else {
        Vec::new()
    }
}

/// The values that `${{ env "DECK_…" }}` expressions in `texts` render to, for masking.
pub fn deck_values(texts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for t in texts {
        for part in t.split("env \"").skip(1) {
            if let Some((name, _)) = part.split_once('"') {
                if let Ok(v) = std::env::var(name) {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
            }
        }
    }
    // Longest first, so a value containing another is masked whole.
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_diff_marks_changed_fields_like_deck() {
        let lines = json_diff(
            &json!({"host": "a", "port": 80}),
            &json!({"host": "a", "port": 8080}),
        );
        assert_eq!(
            lines,
            [
                "   \"host\": \"a\",",
                "-  \"port\": 80",
                "+  \"port\": 8080"
            ]
        );
    }

    #[test]
    fn credentials_never_print_but_changes_show() {
        let lines = json_diff(
            &json!({"auth": {"header_value": "Bearer sk-old"}}),
            &json!({"auth": {"header_value": "Bearer sk-new"}}),
        );
        let all = lines.join("\n");
        assert!(!all.contains("sk-old") && !all.contains("sk-new"), "{all}");
        assert!(
            lines.iter().any(|l| l.starts_with("-  "))
                && lines.iter().any(|l| l.starts_with("+  ")),
            "{all}"
        );
    }

    #[test]
    fn json_output_has_decks_shape() {
        let body = json!({"changes": {
            "creating": [{"kind": "service", "name": "a", "id": "1"}],
            "updating": [{"kind": "plugin", "name": "p", "id": "2",
                          "old": {"auth": {"header_value": "Bearer sk-1"}}, "new": {"auth": {"header_value": "Bearer sk-2"}}}],
            "deleting": []}});
        let text = json_report(&body, &["sk-2".into()]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["summary"],
            json!({"creating": 1, "updating": 1, "deleting": 0, "total": 2})
        );
        assert_eq!(
            v["changes"]["creating"][0],
            json!({"name": "a", "kind": "service"})
        );
        assert!(!text.contains("sk-1") && !text.contains("sk-2"), "{text}");
        assert_eq!(v["errors"], json!([]));
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask("Bearer sk-123", &["sk-123".into()]), "Bearer [masked]");
    }
}
