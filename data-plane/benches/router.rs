//! Router matching micro-benchmark (`cargo bench -p data-plane --bench router`): the cost of
//! `Router::find` on the request path with 1 and 10,000 routes, hit and miss.

use criterion::{criterion_group, criterion_main, Criterion};
use data_plane::router::{RequestInfo, RouteSpec, Router};
use http::HeaderMap;
use std::hint::black_box;
use uuid::Uuid;

fn routes(n: u128) -> Vec<RouteSpec> {
    (0..n)
        .map(|i| RouteSpec {
            id: Uuid::from_u128(i + 1),
            paths: vec![format!("/r{i:05}")],
            ..Default::default()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let headers = HeaderMap::new();
    for n in [1u128, 10_000] {
        let router = match Router::new(&routes(n)) {
            Ok(r) => r,
            Err(e) => panic!("router: {e}"),
        };
        for (name, path) in [("hit", "/r00000/v1/responses"), ("miss", "/nothing/here")] {
            let req = RequestInfo {
                method: "POST",
                host: "gateway.example.com:8000",
                path,
                headers: &headers,
                sni: None,
                https: false,
            };
            c.bench_function(&format!("find/{n}_routes/{name}"), |b| {
                b.iter(|| black_box(&router).find(black_box(&req)))
            });
        }
    }
    // A regex route among 10,000 prefix routes: regexes are always candidates.
    let mut with_regex = routes(10_000);
    with_regex.push(RouteSpec {
        id: Uuid::from_u128(99_999),
        paths: vec!["~/models/[a-z0-9-]+/chat$".into()],
        ..Default::default()
    });
    let router = match Router::new(&with_regex) {
        Ok(r) => r,
        Err(e) => panic!("router: {e}"),
    };
    let req = RequestInfo {
        method: "POST",
        host: "gateway.example.com",
        path: "/r09999/x",
        headers: &headers,
        sni: None,
        https: false,
    };
    c.bench_function("find/10000_routes_plus_regex/hit", |b| {
        b.iter(|| black_box(&router).find(black_box(&req)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
