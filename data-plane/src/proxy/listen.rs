//! Kong's `proxy_listen` format, parsed once at start (settings → `workers::bind_all`): a
//! comma-separated list of `address:port [flag ...]`, e.g. `0.0.0.0:8000, 0.0.0.0:8443 ssl`.
//! `ssl` makes the listener terminate TLS; `http2`, `reuseport`, `deferred`, `bind` and
//! `backlog=N` are accepted (HTTP/2 is always on, every worker listens with `SO_REUSEPORT`);
//! any other flag is refused by name.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// One address the proxy listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub addr: SocketAddr,
    /// Kong's `ssl` flag: clients speak TLS on this address.
    pub ssl: bool,
    /// Kong's `http2` flag (informational: HTTP/2 is offered on every listener).
    pub http2: bool,
    /// Kong's `backlog=N`, when given.
    pub backlog: Option<u32>,
}

/// The whole `--proxy-listen` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyListen(pub Vec<Listen>);

/// What is wrong with a `--proxy-listen` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    #[error("proxy_listen is empty")]
    Empty,
    #[error("proxy_listen entry {index} is empty (check for a stray comma)")]
    EmptyEntry { index: usize },
    #[error(
        "proxy_listen '{entry}': '{addr}' is not an address:port (e.g. 0.0.0.0:8000 or [::]:8443)"
    )]
    Address { entry: String, addr: String },
    #[error("proxy_listen '{entry}': unknown flag '{flag}' (accepted: ssl, http2, reuseport, deferred, bind, backlog=N)")]
    UnknownFlag { entry: String, flag: String },
    #[error("proxy_listen '{entry}': flag '{flag}' is not supported by this data plane")]
    Unsupported { entry: String, flag: String },
    #[error("proxy_listen '{entry}': '{flag}' needs a positive number (backlog=N)")]
    Backlog { entry: String, flag: String },
    #[error("proxy_listen lists {addr} twice")]
    Duplicate { addr: SocketAddr },
}

impl ProxyListen {
    /// The first TLS listener, if any.
    pub fn ssl(&self) -> Option<&Listen> {
        self.0.iter().find(|l| l.ssl)
    }
}

impl FromStr for ProxyListen {
    type Err = ListenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(ListenError::Empty);
        }
        let mut out: Vec<Listen> = Vec::new();
        for (index, entry) in s.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(ListenError::EmptyEntry { index });
            }
            let l = parse_entry(entry)?;
            if out.iter().any(|o| o.addr == l.addr && l.addr.port() != 0) {
                return Err(ListenError::Duplicate { addr: l.addr });
            }
            out.push(l);
        }
        Ok(ProxyListen(out))
    }
}

fn parse_entry(entry: &str) -> Result<Listen, ListenError> {
    let mut words = entry.split_whitespace();
    let addr_text = words.next().unwrap_or_default();
    let addr: SocketAddr = addr_text.parse().map_err(|_| ListenError::Address {
        entry: entry.into(),
        addr: addr_text.into(),
    })?;
    let mut l = Listen {
        addr,
        ssl: false,
        http2: false,
        backlog: None,
    };
    for flag in words {
        match flag {
            "ssl" => l.ssl = true,
            "http2" => l.http2 = true,
            "reuseport" | "deferred" | "bind" => {}
            "proxy_protocol" => {
                return Err(ListenError::Unsupported {
                    entry: entry.into(),
                    flag: flag.into(),
                })
            }
            _ => match flag.strip_prefix("backlog=") {
                Some(n) => match n.parse::<u32>() {
                    Ok(n) if n > 0 => l.backlog = Some(n),
                    _ => {
                        return Err(ListenError::Backlog {
                            entry: entry.into(),
                            flag: flag.into(),
                        })
                    }
                },
                None => {
                    return Err(ListenError::UnknownFlag {
                        entry: entry.into(),
                        flag: flag.into(),
                    })
                }
            },
        }
    }
    Ok(l)
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        if self.ssl {
            write!(f, " ssl")?;
        }
        if self.http2 {
            write!(f, " http2")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ProxyListen, ListenError> {
        s.parse()
    }

    #[test]
    fn listen_values_parse_or_name_what_is_wrong() {
        let ok: &[(&str, &[(&str, bool)])] = &[
            ("0.0.0.0:8000", &[("0.0.0.0:8000", false)]),
            (
                "0.0.0.0:8000, 0.0.0.0:8443 ssl",
                &[("0.0.0.0:8000", false), ("0.0.0.0:8443", true)],
            ),
            (
                "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
                &[("0.0.0.0:8000", false), ("0.0.0.0:8443", true)],
            ),
            ("[::]:8443 ssl http2", &[("[::]:8443", true)]),
            ("127.0.0.1:0 ssl,127.0.0.1:0", &[("127.0.0.1:0", true), ("127.0.0.1:0", false)]),
        ];
        for (input, want) in ok {
            let got = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let got: Vec<(String, bool)> =
                got.0.iter().map(|l| (l.addr.to_string(), l.ssl)).collect();
            let want: Vec<(String, bool)> = want.iter().map(|(a, s)| (a.to_string(), *s)).collect();
            assert_eq!(got, want, "{input}");
        }
        let l = parse("0.0.0.0:8443 http2 ssl backlog=511").unwrap();
        assert_eq!(l.0[0].backlog, Some(511));
        assert!(l.0[0].http2);
        assert_eq!(l.ssl().map(|l| l.addr.port()), Some(8443));
        assert_eq!(l.0[0].to_string(), "0.0.0.0:8443 ssl http2");

        let bad: &[(&str, &str)] = &[
            ("", "proxy_listen is empty"),
            ("0.0.0.0:8000,", "entry 1 is empty"),
            ("0.0.0.0:8000 tls", "unknown flag 'tls'"),
            ("0.0.0.0:8443 ssl foo", "unknown flag 'foo'"),
            ("localhost:8000", "'localhost:8000' is not an address:port"),
            ("0.0.0.0", "'0.0.0.0' is not an address:port"),
            (
                "0.0.0.0:8000 proxy_protocol",
                "flag 'proxy_protocol' is not supported",
            ),
            (
                "0.0.0.0:8000 backlog=x",
                "'backlog=x' needs a positive number",
            ),
            ("0.0.0.0:8000, 0.0.0.0:8000 ssl", "lists 0.0.0.0:8000 twice"),
        ];
        for (input, want) in bad {
            let err = parse(input).expect_err(input).to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
