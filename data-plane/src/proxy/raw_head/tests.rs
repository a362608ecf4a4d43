//! Response heads as bytes: what they leave out, and the proxy's answers through our own
//! HTTP/1.1 loop with and without them (raw sockets on 127.0.0.1).

use std::net::SocketAddr;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use http::header::{HeaderName, CONTENT_TYPE, SET_COOKIE};

use super::RawHead;
use crate::proxy::test_state::{head_upstream, one_route_with, serving};

#[test]
fn framing_hop_by_hop_and_kong_headers_are_left_out() {
    let mut raw = RawHead::with_capacity(0);
    for (n, v) in [
        ("Server", "nginx"),
        ("Content-Length", "5"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("VIA", "upstream"),
        ("X-Kong-Request-Id", "theirs"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Date", "Sun, 29 Nov 2026 22:00:00 GMT"),
        ("X-Kong-Upstream-Latency-Note", "kept: only exact names go"),
    ] {
        raw.push_upstream(n.as_bytes(), v.as_bytes());
    }
    raw.push(b"via", b"1.1 kong/0.1.0");
    assert_eq!(
        std::str::from_utf8(raw.as_bytes()).unwrap(),
        "Server: nginx\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\
         Date: Sun, 29 Nov 2026 22:00:00 GMT\r\n\
         X-Kong-Upstream-Latency-Note: kept: only exact names go\r\nvia: 1.1 kong/0.1.0\r\n"
    );
    assert!(raw.has_date());
    let map = raw.to_map();
    assert_eq!(map.len(), 6, "{map:?}");
    let cookies: Vec<_> = map.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(
        map["x-kong-upstream-latency-note"],
        "kept: only exact names go"
    );
    assert_eq!(map["via"], "1.1 kong/0.1.0");
}

/// An upstream answering every request on a connection with `answer`.
async fn fixed_upstream(answer: &'static [u8]) -> SocketAddr {
    head_upstream(|_| answer.to_vec()).await
}

/// The answer's header lines (name lowercased, value) in order, its body, and its head as
/// sent, for `GET /f`.
async fn get(proxy: SocketAddr) -> (Vec<(String, String)>, String, String) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(b"GET /f HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"), "{head}");
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    (headers, body.to_string(), head.to_string())
}

fn values<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// An answer with a `Via`, a request id and connection headers of the upstream's own.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nServer: up\r\nVia: 1.0 upstream-proxy\r\n\
    X-Kong-Request-Id: theirs\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\
    Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok";
/// The same with a `Connection` naming a header to strip: never taken as bytes.
const NAMING: &[u8] = b"HTTP/1.1 200 OK\r\nServer: up\r\nVia: 1.0 upstream-proxy\r\n\
    X-Kong-Request-Id: theirs\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n\
    Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok";

#[tokio::test]
async fn proxied_answers_are_the_same_with_headers_as_bytes_or_as_a_map() {
    let echo = (
        "plugins",
        json!({"name": "correlation-id", "config": {"echo_downstream": true}}),
    );
    let cases = [
        // As bytes: no plugin touches response headers.
        (ANSWER, vec![], false, true),
        // As a map: a plugin sets a response header.
        (ANSWER, vec![echo], true, false),
        // As a map: the upstream's `Connection` names a header.
        (NAMING, vec![], false, false),
    ];
    for (answer, plugins, echoed, as_bytes) in cases {
        let up = fixed_upstream(answer).await;
        let gw = serving(one_route_with(up, "/f", &plugins)).await;
        let (h, body, head) = get(gw).await;
        let what = format!("{} {plugins:?}: {h:?}", String::from_utf8_lossy(answer));
        assert_eq!(body, "ok", "{what}");
        assert_eq!(values(&h, "server"), ["up"], "{what}");
        assert_eq!(values(&h, "set-cookie"), ["a=1", "b=2"], "{what}");
        assert_eq!(values(&h, "content-length"), ["2"], "{what}");
        let via = format!("1.1 kong/{}", env!("CARGO_PKG_VERSION"));
        assert_eq!(values(&h, "via"), [via.as_str()], "{what}");
        let id = values(&h, "x-kong-request-id");
        assert!(id.len() == 1 && id[0].len() == 32, "{what}");
        assert_eq!(values(&h, "x-kong-upstream-latency").len(), 1, "{what}");
        assert_eq!(values(&h, "x-kong-proxy-latency").len(), 1, "{what}");
        assert_eq!(values(&h, "connection"), ["close"], "{what}");
        for gone in ["keep-alive", "x-private"] {
            assert!(values(&h, gone).is_empty(), "{gone}: {what}");
        }
        assert_eq!(values(&h, "date").len(), 1, "{what}");
        // Names as the upstream wrote them (as nginx passes them) when the head stayed bytes;
        // lowercase through a map.
        let server = if as_bytes { "Server" } else { "server" };
        assert!(head.contains(&format!("\r\n{server}: up\r\n")), "{what}");
        let echoed_ids = values(&h, "kong-request-id").len();
        assert_eq!(echoed_ids, usize::from(echoed), "{what}");
    }
}

#[test]
fn get_remove_and_set_work_alike_on_bytes_and_on_a_map() {
    let upstream = [
        ("Content-Type", "text/event-stream; charset=utf-8"),
        ("Set-Cookie", "a=1"),
        ("Date", "Sun, 29 Nov 2026 22:00:00 GMT"),
        ("set-cookie", "b=2"),
        ("X-Other", "kept"),
    ];
    let mut raw = RawHead::with_capacity(0);
    let mut map = http::HeaderMap::new();
    for (n, v) in upstream {
        raw.push_upstream(n.as_bytes(), v.as_bytes());
        map.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (mut as_bytes, _) = http::Response::new(()).into_parts();
    as_bytes.extensions.insert(raw);
    let (mut as_map, _) = http::Response::new(()).into_parts();
    as_map.headers = map;
    for head in [&mut as_bytes, &mut as_map] {
        let ct = super::get(head, &CONTENT_TYPE);
        assert_eq!(ct, Some(&b"text/event-stream; charset=utf-8"[..]));
        let name = HeaderName::from_static;
        assert_eq!(super::get(head, &name("nope")), None);
        super::remove(head, &SET_COOKIE);
        super::set(head, &CONTENT_TYPE, "text/event-stream");
        super::set(head, &name("x-kong-llm-model"), "openai/gpt-4o");
        super::set(head, &name("x-bad"), "a\nb");
        assert_eq!(super::get(head, &SET_COOKIE), None);
        let ct = super::get(head, &CONTENT_TYPE);
        assert_eq!(ct, Some(&b"text/event-stream"[..]));
        let model = super::get(head, &name("x-kong-llm-model"));
        assert_eq!(model, Some(&b"openai/gpt-4o"[..]));
        assert_eq!(super::get(head, &name("x-other")), Some(&b"kept"[..]));
        assert_eq!(super::get(head, &name("x-bad")), None);
    }
    // The bytes and the map now say the same.
    let raw = as_bytes.extensions.get::<RawHead>().unwrap();
    assert!(raw.has_date());
    assert_eq!(raw.to_map(), as_map.headers);
    let mut raw = raw.clone();
    raw.remove("DATE");
    assert!(!raw.has_date() && raw.get("date").is_none());
}

#[test]
fn heads_past_the_line_index_are_searched_alike() {
    // 40 lines: more than the index keeps; removals in and past it re-index the rest.
    let mut raw = RawHead::with_capacity(0);
    let mut map = http::HeaderMap::new();
    for i in 0..40 {
        let (n, v) = (format!("X-H{i}"), format!("v{i}"));
        raw.push_upstream(n.as_bytes(), v.as_bytes());
        map.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    for i in [0, 31, 32, 39] {
        assert_eq!(
            raw.get(&format!("x-h{i}")),
            Some(format!("v{i}").as_bytes())
        );
    }
    for i in [3, 35] {
        raw.remove(&format!("X-h{i}"));
        map.remove(format!("x-h{i}"));
    }
    assert_eq!(raw.get("x-h3"), None);
    assert_eq!(raw.get("x-h4"), Some(&b"v4"[..]));
    assert_eq!(raw.get("x-h36"), Some(&b"v36"[..]));
    assert_eq!(raw.to_map(), map);
    // Down to 33 lines after 5 more removals: indexed again, and still found.
    for i in [10, 11, 12, 13, 14] {
        raw.remove(&format!("x-h{i}"));
        map.remove(format!("x-h{i}"));
    }
    raw.push(b"X-Last", b"end");
    map.append("x-last", "end".parse().unwrap());
    for (n, v) in &map {
        assert_eq!(raw.get(n.as_str()), Some(v.as_bytes()), "{n}");
    }
    assert_eq!(raw.to_map(), map);
}
