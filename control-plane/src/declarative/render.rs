//! First step of `apply`: decK's `${{ … }}` templates rendered from the environment, before the
//! text is parsed. Only `DECK_`-prefixed variables may be read, as in decK.

use std::collections::HashMap;

/// Where a variable's value comes from; tests pass a map, the CLI the process environment.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

const PREFIX: &str = "DECK_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RenderError {
    pub line: usize,
    pub message: String,
}

/// Renders every `${{ expr }}` in `text`. Lines whose first non-blank character is `#` are left
/// alone, as decK does. All errors are reported, one per expression.
pub fn render(text: &str, env: &dyn Env) -> Result<String, Vec<RenderError>> {
    let mut out = String::with_capacity(text.len());
    let mut errs = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') || !line.contains("${{") {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            let Some(end) = after.find("}}") else {
                errs.push(RenderError {
                    line: i + 1,
                    message: "unclosed template expression: missing '}}'".into(),
                });
                rest = "";
                break;
            };
            match eval(after[..end].trim(), env) {
                Ok(v) => out.push_str(&v),
                Err(message) => errs.push(RenderError {
                    line: i + 1,
                    message,
                }),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Evaluates one pipeline: `env "DECK_X"` followed by `| toInt`, `| toFloat`, `| toBool` or
/// `| indent N`.
fn eval(expr: &str, env: &dyn Env) -> Result<String, String> {
    let mut stages = expr.split('|').map(str::trim);
    let head = stages.next().unwrap_or_default();
    let name = head
        .strip_prefix("env")
        .map(str::trim)
        .and_then(|s| s.strip_prefix('"'))
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| {
            format!("unsupported template expression '{expr}': expected env \"DECK_NAME\"")
        })?;
    if !name.starts_with(PREFIX) {
        return Err(format!(
            "environment variables in the state file must be prefixed with '{PREFIX}', found: '{name}'"
        ));
    }
    let mut value = env.get(name).ok_or_else(|| {
        format!("environment variable '{name}' present in state file but not set")
    })?;
    for stage in stages {
        value = apply(stage, value, name)?;
    }
    Ok(value)
}

fn apply(stage: &str, value: String, name: &str) -> Result<String, String> {
    let mut words = stage.split_whitespace();
    match (words.next(), words.next()) {
        (Some("toInt"), None) => value
            .trim()
            .parse::<i64>()
            .map(|v| v.to_string())
            .map_err(|_| format!("toInt: value of '{name}' is not an integer: '{value}'")),
        (Some("toFloat"), None) => value
            .trim()
            .parse::<f64>()
            .map(|v| v.to_string())
            .map_err(|_| format!("toFloat: value of '{name}' is not a number: '{value}'")),
        (Some("toBool"), None) => match value.trim() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".into()),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".into()),
            _ => Err(format!(
                "toBool: value of '{name}' is not a boolean: '{value}'"
            )),
        },
        (Some("indent"), Some(n)) => {
            let n: usize = n.parse().map_err(|_| format!("indent: bad width '{n}'"))?;
            let pad = " ".repeat(n);
            Ok(value
                .lines()
                .map(|l| format!("{pad}{l}"))
                .collect::<Vec<_>>()
                .join("\n"))
        }
        _ => Err(format!("unsupported template function '{stage}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_deck_variables() {
        let e = env(&[("DECK_KEY", "sk-1"), ("DECK_PORT", "8080")]);
        let out = render(
            "a: Bearer ${{ env \"DECK_KEY\" }}\nport: ${{ env \"DECK_PORT\" | toInt }}\n",
            &e,
        )
        .unwrap();
        assert_eq!(out, "a: Bearer sk-1\nport: 8080\n");
    }

    #[test]
    fn refuses_unprefixed_variables() {
        let errs = render("x: ${{ env \"HOME\" }}", &env(&[("HOME", "/root")])).unwrap_err();
        assert_eq!(
            errs[0].message,
            "environment variables in the state file must be prefixed with 'DECK_', found: 'HOME'"
        );
    }

    #[test]
    fn reports_every_unset_variable_with_its_line() {
        let errs = render(
            "a: ${{ env \"DECK_A\" }}\nb: ${{ env \"DECK_B\" }}\n",
            &env(&[]),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[1].line, 2);
        assert_eq!(
            errs[1].to_string(),
            "line 2: environment variable 'DECK_B' present in state file but not set"
        );
    }

    #[test]
    fn leaves_comment_lines_alone() {
        let text = "# ${{ env \"NOT_DECK\" }}\n";
        assert_eq!(render(text, &env(&[])).unwrap(), text);
    }

    #[test]
    fn bad_conversions_are_named() {
        let errs =
            render("p: ${{ env \"DECK_P\" | toInt }}", &env(&[("DECK_P", "x")])).unwrap_err();
        assert!(errs[0].message.contains("toInt"));
    }
}
