//! What the real binaries accept, read from their `--help`: flags, the env var behind each flag,
//! and defaults (the listen addresses give the default ports).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use e2e::binaries::binary;
use regex::Regex;

/// The subcommands of `control-plane` whose flags deploy files may use.
const CP_SUBCOMMANDS: &[&str] = &["serve", "apply", "diff", "validate", "dump", "cert"];

/// One command's `--help`, parsed.
#[derive(Debug, Default, Clone)]
pub struct Help {
    /// e.g. `control-plane serve`, `data-plane`.
    pub command: String,
    /// Long and short flags: `--admin-listen`, `-o`, `--help`.
    pub flags: BTreeSet<String>,
    /// Flag (long) → the env var it is also read from.
    pub env: BTreeMap<String, String>,
    /// Flag (long) → its default value.
    pub defaults: BTreeMap<String, String>,
    /// Flag (long) → the values it accepts, when clap lists them.
    pub possible: BTreeMap<String, Vec<String>>,
}

impl Help {
    pub fn parse(command: &str, text: &str) -> Help {
        let flag_line = Regex::new(r"^\s+(?:(-[A-Za-z0-9]),\s+)?(--[a-z0-9][a-z0-9-]*)").unwrap();
        let short_only = Regex::new(r"^\s+(-[A-Za-z0-9])(?:\s|$)").unwrap();
        let env = Regex::new(r"\[env: ([A-Za-z0-9_]+)=").unwrap();
        let default = Regex::new(r"\[default: ([^\]]*)\]").unwrap();
        let possible = Regex::new(r"\[possible values: ([^\]]*)\]").unwrap();
        let mut help = Help {
            command: command.to_string(),
            ..Help::default()
        };
        let mut current: Option<String> = None;
        let mut in_options = false;
        for line in text.lines() {
            if line.trim_end().ends_with("Options:") {
                in_options = true;
                continue;
            }
            if !in_options {
                continue;
            }
            if let Some(c) = flag_line.captures(line) {
                if let Some(short) = c.get(1) {
                    help.flags.insert(short.as_str().to_string());
                }
                let long = c[2].to_string();
                help.flags.insert(long.clone());
                current = Some(long);
            } else if let Some(c) = short_only.captures(line) {
                help.flags.insert(c[1].to_string());
                current = None;
            }
            let Some(flag) = current.clone() else {
                continue;
            };
            if let Some(c) = env.captures(line) {
                help.env.insert(flag.clone(), c[1].to_string());
            }
            if let Some(c) = possible.captures(line) {
                let values = c[1].split(',').map(|v| v.trim().to_string()).collect();
                help.possible.insert(flag.clone(), values);
            }
            if let Some(c) = default.captures(line) {
                help.defaults
                    .insert(flag, c[1].trim_matches('"').to_string());
            }
        }
        help
    }

    /// Every env var this command reads.
    pub fn env_vars(&self) -> BTreeSet<&str> {
        self.env.values().map(String::as_str).collect()
    }

    /// The flag read from env var `name`.
    pub fn flag_of_env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(_, e)| *e == name)
            .map(|(f, _)| f.as_str())
    }

    /// The `--*-listen` flags.
    pub fn listen_flags(&self) -> impl Iterator<Item = &str> {
        self.flags
            .iter()
            .map(String::as_str)
            .filter(|f| f.starts_with("--") && f.ends_with("-listen"))
    }
}

/// The `--help` of every command a deploy file may run.
#[derive(Debug)]
pub struct Helps {
    pub by_command: BTreeMap<String, Help>,
}

impl Helps {
    /// Runs the real binaries' `--help`.
    pub fn load() -> Helps {
        let mut by_command = BTreeMap::new();
        let mut add = |bin: &str, sub: Option<&str>| {
            let path = binary(bin).unwrap();
            let mut cmd = Command::new(&path);
            cmd.args(sub).arg("--help").env("NO_COLOR", "1");
            let out = cmd.output().unwrap();
            let name = match sub {
                Some(s) => format!("{bin} {s}"),
                None => bin.to_string(),
            };
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("--help"),
                "`{name} --help` failed ({}):\n{text}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            by_command.insert(name.clone(), Help::parse(&name, &text));
        };
        add("data-plane", None);
        add("control-plane", None);
        for sub in CP_SUBCOMMANDS {
            add("control-plane", Some(sub));
        }
        Helps { by_command }
    }

    /// The help for a command line (`control-plane serve …`, `data-plane …`); `Err` names the
    /// unknown subcommand.
    pub fn for_argv(&self, argv: &[String]) -> Option<Result<&Help, String>> {
        let bin = argv.first()?.rsplit('/').next()?;
        match bin {
            "data-plane" => self.by_command.get("data-plane").map(Ok),
            "control-plane" => match argv.get(1).filter(|a| !a.starts_with('-')) {
                Some(sub) => Some(
                    self.by_command
                        .get(&format!("control-plane {sub}"))
                        .ok_or_else(|| {
                            format!(
                                "unknown subcommand `control-plane {sub}` (known: {})",
                                CP_SUBCOMMANDS.join(", ")
                            )
                        }),
                ),
                None => self.by_command.get("control-plane").map(Ok),
            },
            _ => None,
        }
    }

    /// The default port of every `--*-listen` flag of every command.
    pub fn default_ports(&self) -> BTreeSet<u16> {
        self.by_command
            .values()
            .flat_map(|h| h.listen_flags().filter_map(|f| h.defaults.get(f)))
            .filter_map(|addr| port_of(addr))
            .collect()
    }
}

/// The port of `host:port` (also `[::]:port`, `http://host:port/path`).
pub fn port_of(addr: &str) -> Option<u16> {
    let rest = addr.split("://").last()?;
    let authority = rest.split('/').next()?;
    authority.rsplit(':').next()?.parse().ok()
}

#[test]
fn parses_clap_long_help() {
    let text = "Usage: x [OPTIONS]\n\nOptions:\n      --proxy-listen <PROXY_LISTEN>\n          Where [env: KONG_PROXY_LISTEN=] [default: 0.0.0.0:8000]\n      --cluster-dp-labels <L>\n          Labels [env: KONG_CLUSTER_DP_LABELS=] [default: \"\"]\n  -o, --output-file <OUTPUT>\n          Write\n  -h, --help\n          Print help\n";
    let help = Help::parse("x", text);
    assert!(help.flags.contains("--proxy-listen"));
    assert!(help.flags.contains("-o") && help.flags.contains("--output-file"));
    assert!(help.flags.contains("-h") && help.flags.contains("--help"));
    assert_eq!(help.env["--proxy-listen"], "KONG_PROXY_LISTEN");
    assert_eq!(help.defaults["--proxy-listen"], "0.0.0.0:8000");
    assert_eq!(help.defaults["--cluster-dp-labels"], "");
    let mtls = "Options:\n      --cluster-mtls <M>\n          x [env: KONG_CLUSTER_MTLS=] [default: shared] [possible values: shared, pki]\n";
    let mtls = Help::parse("y", mtls);
    assert_eq!(mtls.possible["--cluster-mtls"], ["shared", "pki"]);
    assert_eq!(mtls.defaults["--cluster-mtls"], "shared");
    assert_eq!(
        help.flag_of_env("KONG_PROXY_LISTEN"),
        Some("--proxy-listen")
    );
    assert_eq!(port_of("0.0.0.0:8000"), Some(8000));
    assert_eq!(port_of("http://cp:8001"), Some(8001));
    assert_eq!(port_of("[::]:8100"), Some(8100));
}
