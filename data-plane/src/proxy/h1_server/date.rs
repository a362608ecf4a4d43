//! The `Date` header of the client-facing HTTP/1.1 loop's responses (`h1_server::write`), as
//! hyper and nginx send it: formatted at most once a second per worker thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// `Sun, 06 Nov 1994 08:49:37 GMT`
const LEN: usize = 29;

thread_local! {
    static CACHE: RefCell<(u64, [u8; LEN])> = const { RefCell::new((u64::MAX, [0; LEN])) };
}

/// Appends the current date in IMF-fixdate form to `out`.
pub fn extend(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            let s = httpdate::fmt_http_date(now);
            if s.len() == LEN {
                c.1.copy_from_slice(s.as_bytes());
                c.0 = secs;
            } else {
                out.extend_from_slice(s.as_bytes());
                return;
            }
        }
        out.extend_from_slice(&c.1);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_date_is_an_http_date_of_now() {
        let mut out = Vec::new();
        super::extend(&mut out);
        let s = String::from_utf8(out).unwrap();
        let t = httpdate::parse_http_date(&s).unwrap();
        let diff = std::time::SystemTime::now()
            .duration_since(t)
            .unwrap_or_default();
        assert!(diff.as_secs() <= 2, "{s}");
        let mut again = Vec::new();
        super::extend(&mut again);
        assert_eq!(again.len(), 29);
    }
}
