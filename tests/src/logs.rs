//! Reading the binaries' logs: ANSI colour codes stripped, addresses picked out of lines.

use std::net::SocketAddr;

use regex::Regex;

/// Removes ANSI escape sequences (`ESC [ ... letter`) so log lines can be matched as text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// Finds the first `IP:PORT` that follows `phrase` on one line, e.g. after
/// `admin API listening on`. Tolerates `addr=` style fields between the two.
pub fn address_after(log: &str, phrase: &str) -> Option<SocketAddr> {
    let pattern = format!(
        r"{}\D{{0,20}}?(\d+\.\d+\.\d+\.\d+:\d+)",
        regex::escape(phrase)
    );
    let re = Regex::new(&pattern).ok()?;
    log.lines()
        .find_map(|line| re.captures(line))
        .and_then(|caps| caps.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours() {
        let line =
            "\u{1b}[2m2025\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m admin API listening on 127.0.0.1:4000";
        assert_eq!(
            strip_ansi(line),
            "2025  INFO admin API listening on 127.0.0.1:4000"
        );
    }

    #[test]
    fn finds_addresses() {
        let log = "x\n INFO proxy listening on 127.0.0.1:4001\n INFO status listening on addr=127.0.0.1:4002\n";
        assert_eq!(
            address_after(log, "proxy listening on"),
            Some("127.0.0.1:4001".parse().unwrap())
        );
        assert_eq!(
            address_after(log, "status listening on"),
            Some("127.0.0.1:4002".parse().unwrap())
        );
        assert_eq!(address_after(log, "admin API listening on"), None);
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
