//! `a=1&b=2&b=3` arguments (query strings and form-urlencoded bodies) as an ordered list of
//! names with their values, and Kong's remove/rename/replace/add/append on them.

use super::env::Changes;
use crate::plugins::log::capture::decode;

/// Arguments in first-seen order; a name without `=` has no value (`None`).
#[derive(Debug, Default, PartialEq)]
pub struct Args(pub Vec<(String, Vec<Option<String>>)>);

impl Args {
    pub fn parse(s: &str) -> Self {
        let mut a = Args::default();
        for pair in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (decode(k), Some(decode(v))),
                None => (decode(pair), None),
            };
            match a.0.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vs)) => vs.push(v),
                None => a.0.push((k, vec![v])),
            }
        }
        a
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (k, vs) in &self.0 {
            for v in vs {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(&encode(k));
                if let Some(v) = v {
                    out.push('=');
                    out.push_str(&encode(v));
                }
            }
        }
        out
    }

    fn pos(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|(n, _)| n == name)
    }

    /// Kong's order: remove, rename, replace (only existing), add (only missing), append.
    pub fn transform(&mut self, c: &Changes<'_>) {
        for name in c.remove {
            self.0.retain(|(n, _)| n != name);
        }
        for (from, to) in &c.rename {
            if let Some(i) = self.pos(from) {
                let (_, vs) = self.0.remove(i);
                self.0.retain(|(n, _)| n != to);
                self.0.push((to.to_string(), vs));
            }
        }
        for (name, value) in &c.replace {
            if let Some(i) = self.pos(name) {
                self.0[i].1 = vec![Some(value.to_string())];
            }
        }
        for (name, value) in &c.add {
            if self.pos(name).is_none() {
                self.0
                    .push((name.to_string(), vec![Some(value.to_string())]));
            }
        }
        for (name, value) in &c.append {
            match self.pos(name) {
                Some(i) => self.0[i].1.push(Some(value.to_string())),
                None => self
                    .0
                    .push((name.to_string(), vec![Some(value.to_string())])),
            }
        }
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::env::Env;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn kong_order_on_arguments() {
        let mut a = Args::parse("drop=1&old=x&keep=k&flag&multi=1");
        let env = Env::default();
        let (remove, rename, replace, add, append) = (
            v(&["drop"]),
            v(&["old:new"]),
            v(&["keep:K", "absent:no"]),
            v(&["keep:ignored", "added:a b"]),
            v(&["multi:2", "fresh:f"]),
        );
        a.transform(&Changes {
            remove: &remove,
            rename: env.pairs(&rename).unwrap(),
            replace: env.pairs(&replace).unwrap(),
            add: env.pairs(&add).unwrap(),
            append: env.pairs(&append).unwrap(),
        });
        assert_eq!(
            a.encode(),
            "keep=K&flag&multi=1&multi=2&new=x&added=a%20b&fresh=f"
        );
    }

    #[test]
    fn round_trip_decodes_and_encodes() {
        let a = Args::parse("a%20b=c+d");
        assert_eq!(
            a.0,
            vec![("a b".to_string(), vec![Some("c d".to_string())])]
        );
        assert_eq!(a.encode(), "a%20b=c%20d");
    }
}
