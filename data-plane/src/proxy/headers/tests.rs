//! The upstream request headers through the real proxy (raw sockets on 127.0.0.1): `Host`, the
//! `X-Forwarded-*` family, `X-Real-IP` and `X-Kong-Request-Id`, with and without the client's
//! own `X-Forwarded-For`.

use std::net::SocketAddr;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::plugins::key_auth::ConsumerHeaders;
use crate::proxy::test_state::{head_upstream, one_route, serving};

/// An upstream answering each request with its head as the body.
async fn head_echo() -> SocketAddr {
    head_upstream(|head| {
        let mut answer =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", head.len()).into_bytes();
        answer.extend_from_slice(head);
        answer
    })
    .await
}

/// The proxy with one route `/f` to `up`.
async fn proxy(up: SocketAddr) -> SocketAddr {
    serving(one_route(up, "/f")).await
}

/// The head the upstream got for `GET /f` with `lines` (each ending in CRLF).
async fn upstream_head(proxy: SocketAddr, lines: &str) -> String {
    upstream_head_for(proxy, "/f", lines).await
}

/// The head the upstream got for `GET path` with `lines`.
async fn upstream_head_for(proxy: SocketAddr, path: &str, lines: &str) -> String {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\n{lines}connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The values of header `name` in `head`, in order.
fn values(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[tokio::test]
async fn forwarded_headers_as_kongs_nginx_sets_them() {
    let up = head_echo().await;
    let gw = proxy(up).await;
    let port = gw.port().to_string();

    let head = upstream_head(gw, "host: example.com:8000\r\n").await;
    assert_eq!(values(&head, "host"), [format!("127.0.0.1:{}", up.port())]);
    assert_eq!(values(&head, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(values(&head, "x-real-ip"), ["127.0.0.1"]);
    assert_eq!(values(&head, "x-forwarded-proto"), ["http"]);
    assert_eq!(values(&head, "x-forwarded-host"), ["example.com"]);
    assert_eq!(
        values(&head, "x-forwarded-port"),
        std::slice::from_ref(&port)
    );
    let id = values(&head, "x-kong-request-id");
    assert!(id.len() == 1 && id[0].len() == 32, "{head}");

    // The client's own X-Forwarded-For (the first of them) gets the address appended; a Host
    // without a port is X-Forwarded-Host as it is.
    let head = upstream_head(
        gw,
        "host: example.com\r\nx-forwarded-for: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\n\
         x-forwarded-host: spoofed\r\nx-forwarded-port: 1\r\n",
    )
    .await;
    assert_eq!(values(&head, "x-forwarded-for"), ["10.0.0.1, 127.0.0.1"]);
    assert_eq!(values(&head, "x-forwarded-host"), ["example.com"]);
    assert_eq!(values(&head, "x-forwarded-port"), [port]);
    assert_eq!(values(&head, "host"), [format!("127.0.0.1:{}", up.port())]);
}

/// The encoder's head with `fwd` written beside the client's map, as sorted lines.
fn encoded(h: &http::HeaderMap, fwd: Option<&super::Forwarded>) -> Vec<String> {
    let mut out = Vec::new();
    let auth = http::uri::Authority::from_static("up.example:8080");
    let m = http::Method::GET;
    crate::proxy::h1::encode::head(&mut out, &m, "/", h, fwd, &auth, true, None).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn written_beside_the_map_equals_set_in_the_map() {
    use http::{HeaderMap, HeaderValue};
    let v = HeaderValue::from_static;
    let client_headers: [&[(&str, &str)]; 6] = [
        &[],
        &[("host", "client.example"), ("accept", "*/*")],
        &[
            ("host", "client.example"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-real-ip", "1.1.1.1"),
            ("x-forwarded-proto", "https"),
        ],
        &[
            ("x-forwarded-host", "spoofed"),
            ("x-forwarded-port", "1"),
            ("x-kong-request-id", "mine"),
            ("x-forwarded-hostname", "not ours"),
            ("x-other", "kept"),
        ],
        &[("Host", "a"), ("X-Forwarded-Port", "2"), ("apikey", "k")],
        &[
            ("x-consumer-id", "spoofed"),
            ("x-consumer-custom-id", "spoofed"),
            ("x-anonymous-consumer", "true"),
            ("x-consumer-idx", "kept"),
        ],
    ];
    let consumer = proto::schema::Consumer {
        id: uuid::Uuid::from_u128(7),
        username: Some("alice".into()),
        custom_id: None,
        tags: None,
        created_at: None,
        updated_at: None,
    };
    let consumers = [
        None,
        Some(ConsumerHeaders::new(
            &consumer,
            Some(&uuid::Uuid::from_u128(8)),
        )),
        Some(ConsumerHeaders::new(&consumer, None).anonymous()),
    ];
    let mut checked = 0;
    for client in client_headers {
        let mut h = HeaderMap::new();
        for (n, val) in client {
            h.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(val).unwrap(),
            );
        }
        for mask in 0..48u8 {
            let fwd = super::Forwarded {
                host: (mask & 1 != 0).then(|| v("up.example:8080")),
                forwarded_for: v("10.0.0.1, 127.0.0.1"),
                real_ip: v("127.0.0.1"),
                proto: v(if mask & 8 != 0 { "https" } else { "http" }),
                forwarded_host: (mask & 2 != 0).then(|| v("client.example")),
                port: (mask & 4 != 0).then(|| v("8000")),
                request_id: (mask & 8 != 0).then(|| v("0123456789abcdef0123456789abcdef")),
                consumer: consumers[usize::from(mask / 16)].clone(),
            };
            let beside = encoded(&h, Some(&fwd));
            let mut set = h.clone();
            fwd.clone().apply(&mut set);
            assert_eq!(beside, encoded(&set, None), "{client:?} mask {mask}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * 48);
}

#[tokio::test]
async fn key_auth_consumer_headers_reach_the_upstream_written_beside_or_set() {
    let up = head_echo().await;
    let (alice, cred) = (
        "00000000-0000-0000-0000-00000000a11c",
        "00000000-0000-0000-0000-00000000c2ed",
    );
    let consumer = [
        ("plugins", json!({"name": "key-auth", "config": {}})),
        ("consumers", json!({"id": alice, "username": "alice"})),
        (
            "keyauth_credentials",
            json!({"id": cred, "key": "k1", "consumer": {"id": alice}}),
        ),
    ];
    // Written beside the map (nothing after key-auth reads headers), and set in the map (a
    // request-transformer runs after key-auth): the upstream sees the same.
    let transformer = (
        "plugins",
        json!({"name": "request-transformer", "config": {"add": {"headers": ["x-t:1"]}}}),
    );
    let mut with_transformer = consumer.to_vec();
    with_transformer.push(transformer);
    for (extra, transformed) in [(consumer.to_vec(), false), (with_transformer, true)] {
        let state = crate::proxy::test_state::one_route_with(up, "/f", &extra);
        let gw = serving(state).await;
        // A client's own consumer headers never reach the upstream.
        let head = upstream_head(
            gw,
            "host: gw\r\napikey: k1\r\nx-consumer-custom-id: spoofed\r\n\
             x-anonymous-consumer: true\r\nx-consumer-username: mallory\r\n",
        )
        .await;
        assert_eq!(values(&head, "x-consumer-id"), [alice], "{head}");
        assert_eq!(values(&head, "x-consumer-username"), ["alice"], "{head}");
        assert_eq!(values(&head, "x-credential-identifier"), [cred], "{head}");
        assert!(values(&head, "x-consumer-custom-id").is_empty(), "{head}");
        assert!(values(&head, "x-anonymous-consumer").is_empty(), "{head}");
        assert_eq!(values(&head, "apikey"), ["k1"], "{head}");
        let t = if transformed { vec!["1"] } else { vec![] };
        assert_eq!(values(&head, "x-t"), t, "{head}");
    }
}

#[tokio::test]
async fn a_route_preserving_the_host_sends_the_clients_own() {
    let up = head_echo().await;
    let state = crate::proxy::test_state::one_route_with(
        up,
        "/f",
        &[(
            "routes",
            json!({"name": "keep", "paths": ["/keep"], "preserve_host": true,
                   "service": {"id": "00000000-0000-0000-0000-0000000000a1"}}),
        )],
    );
    let gw = serving(state).await;
    let head = upstream_head_for(gw, "/keep", "host: Client.Example:8000\r\n").await;
    assert_eq!(values(&head, "host"), ["Client.Example:8000"]);
    assert_eq!(values(&head, "x-forwarded-host"), ["Client.Example"]);
    // The route without it: the service's `host:port`.
    let head = upstream_head(gw, "host: client.example\r\n").await;
    assert_eq!(values(&head, "host"), [format!("127.0.0.1:{}", up.port())]);
}
