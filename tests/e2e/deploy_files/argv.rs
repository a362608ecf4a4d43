//! One container's command line and environment checked against the binary's `--help`: every
//! flag and `KONG_*` env var must exist; what it listens on is worked out from the listen flags.

use std::collections::{BTreeMap, BTreeSet};

use super::help::{port_of, Help, Helps};

/// A command a deploy file runs: where it is, its argv and its environment (`None` for a value
/// the file does not give, e.g. a Kubernetes `valueFrom`).
#[derive(Debug, Clone)]
pub struct Invocation {
    pub place: String,
    pub argv: Vec<String>,
    pub env: BTreeMap<String, Option<String>>,
}

/// What a checked invocation runs and listens on.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// `control-plane serve`, `data-plane`, …
    pub command: String,
    /// Listen flag → port (from the flag, its env var or its default).
    pub listen: BTreeMap<String, u16>,
    /// Effective value of each flag given by argv, env or default.
    pub values: BTreeMap<String, String>,
}

impl Checked {
    pub fn ports(&self) -> BTreeSet<u16> {
        self.listen.values().copied().collect()
    }
}

/// Env vars that must belong to the binary when set: Kong's and the database URL.
fn is_ours(name: &str) -> bool {
    name.starts_with("KONG_") || name == "DATABASE_URL" || name == "DECK_KONG_ADDR"
}

/// Checks `inv`; errors go to `errors`. `None` when the argv is not one of our binaries.
pub fn check(inv: &Invocation, helps: &Helps, errors: &mut Vec<String>) -> Option<Checked> {
    let help = match helps.for_argv(&inv.argv)? {
        Ok(help) => help,
        Err(e) => {
            errors.push(format!("{}: {e}", inv.place));
            return None;
        }
    };
    let skip = if help.command.contains(' ') { 2 } else { 1 };
    let mut values = BTreeMap::new();
    let args = &inv.argv[skip.min(inv.argv.len())..];
    for (i, arg) in args.iter().enumerate() {
        if !arg.starts_with('-') || arg == "-" {
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        if !help.flags.contains(flag) {
            errors.push(format!(
                "{}: unknown flag `{flag}` (not in `{} --help`)",
                inv.place, help.command
            ));
            continue;
        }
        let value = inline.or_else(|| args.get(i + 1).filter(|v| !v.starts_with('-')).cloned());
        if let Some(v) = value {
            values.insert(flag.to_string(), v);
        }
    }
    let known_env = help.env_vars();
    for (name, value) in &inv.env {
        if is_ours(name) && !known_env.contains(name.as_str()) {
            errors.push(format!(
                "{}: unknown env var `{name}` (not read by `{}`, see its --help)",
                inv.place, help.command
            ));
            continue;
        }
        if let (Some(flag), Some(v)) = (help.flag_of_env(name), value) {
            values.entry(flag.to_string()).or_insert_with(|| v.clone());
        }
    }
    for (flag, value) in &values {
        let allowed = help.possible.get(flag);
        if allowed.is_some_and(|a| !a.contains(value)) {
            errors.push(format!(
                "{}: `{flag}` value `{value}` is not one of {:?} (`{} --help`)",
                inv.place,
                allowed.unwrap_or(&Vec::new()),
                help.command
            ));
        }
    }
    for (flag, default) in &help.defaults {
        values
            .entry(flag.clone())
            .or_insert_with(|| default.clone());
    }
    let mut listen = BTreeMap::new();
    for flag in help.listen_flags() {
        match values.get(flag).map(|v| (v, port_of(v))) {
            Some((_, Some(port))) => {
                listen.insert(flag.to_string(), port);
            }
            Some((v, None)) => {
                errors.push(format!("{}: `{flag}` value `{v}` has no port", inv.place))
            }
            None => {}
        }
    }
    Some(Checked {
        command: help.command.clone(),
        listen,
        values,
    })
}

/// Checks that `port`, used by `what`, is one `checked` listens on.
pub fn expect_port(
    place: &str,
    what: &str,
    port: u16,
    checked: &Checked,
    errors: &mut Vec<String>,
) {
    if !checked.ports().contains(&port) {
        errors.push(format!(
            "{place}: {what} port {port} is not a port `{}` listens on here ({})",
            checked.command,
            describe_listen(checked)
        ));
    }
}

fn describe_listen(checked: &Checked) -> String {
    let parts: Vec<String> = checked
        .listen
        .iter()
        .map(|(f, p)| format!("{f} → {p}"))
        .collect();
    if parts.is_empty() {
        "it listens on nothing".into()
    } else {
        parts.join(", ")
    }
}

/// The help of a command, for a test of a synthetic invocation.
#[cfg(test)]
pub fn fake_helps() -> Helps {
    let dp = "Options:\n      --control-plane <CP>\n          x [env: KONG_CLUSTER_CONTROL_PLANE=]\n      --status-listen <S>\n          x [env: KONG_STATUS_LISTEN=] [default: 0.0.0.0:8100]\n  -h, --help\n          Print help\n";
    let mut by_command = BTreeMap::new();
    by_command.insert("data-plane".to_string(), Help::parse("data-plane", dp));
    Helps { by_command }
}

#[test]
fn unknown_flags_and_env_vars_are_named() {
    let helps = fake_helps();
    let inv = Invocation {
        place: "deploy/x.yaml: dp".into(),
        argv: ["data-plane", "--control-plane", "cp:8005", "--bogus-flag=1"]
            .map(String::from)
            .to_vec(),
        env: [
            (
                "KONG_STATUS_LISTEN".to_string(),
                Some("0.0.0.0:9100".into()),
            ),
            ("KONG_NOPE".to_string(), Some("x".into())),
            ("POD_NAME".to_string(), None),
        ]
        .into(),
    };
    let mut errors = Vec::new();
    let checked = check(&inv, &helps, &mut errors).unwrap();
    assert_eq!(
        errors,
        [
            "deploy/x.yaml: dp: unknown flag `--bogus-flag` (not in `data-plane --help`)",
            "deploy/x.yaml: dp: unknown env var `KONG_NOPE` (not read by `data-plane`, see its --help)"
        ]
    );
    assert_eq!(checked.listen["--status-listen"], 9100);
    assert_eq!(checked.values["--control-plane"], "cp:8005");
    let mut errors = Vec::new();
    expect_port("p", "status", 8100, &checked, &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("--status-listen → 9100"), "{errors:?}");
}
