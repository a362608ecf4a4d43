//! Benchmark (not a test) of the memory `POST /config` holds at each stage of an apply of a
//! large decK file: the resident size after the body, its parse, flatten + validate, the wire
//! entities and the digests, first with nothing applied, then with that config kept as the
//! published one (as the CP keeps it) while a one-route change is applied, the unchanged
//! entities' bytes moving over from it as `Publisher::publish_plan` moves them.
//!
//! `MIMALLOC_PURGE_DELAY=0 cargo bench -p control-plane --bench apply_memory [-- N]` (the
//! variable makes freed memory leave the resident size at once, so the figures are what is
//! held; N services, each with a route and a key-auth plugin; default 10000).

use control_plane::declarative::{self, render::ProcessEnv, Source};
use proto::schema::{hash, Config, Slot};
use proto::v1;

mod common;
use common::deck_file;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The process's resident size now, in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn report(stage: &str, base: f64) {
    println!("{stage:<44} {:>7.1} MB", rss_mb() - base);
}

/// The JSON body the CLI sends for a decK file.
fn body(text: String) -> anyhow::Result<Vec<u8>> {
    let docs = declarative::render_and_parse(
        &[Source {
            label: "bench.yaml".into(),
            text,
        }],
        &ProcessEnv,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(serde_json::to_vec(&declarative::merge(&docs))?)
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let first = body(deck_file(n, None))?;
    let second = body(deck_file(n, Some(n / 2)))?;
    println!(
        "{} entities, JSON body {} bytes; resident size above the start:",
        3 * n,
        first.len()
    );
    let base = rss_mb();
    let mut kept: Option<(Config, Vec<v1::Entity>, Vec<[u8; 16]>)> = None;
    for (round, body) in [("first apply", first), ("one-route change", second)] {
        println!("{round}:");
        report("  body", base);
        let doc: serde_json::Value = serde_json::from_slice(&body)?;
        report("  + parsed tree", base);
        let existing = kept.as_ref().map(|(cfg, _, _)| cfg);
        let cfg = declarative::from_owned_documents(vec![("config".into(), doc)], existing)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        report("  + config (tree moved into it)", base);
        // As `Publisher::publish_plan` does: unchanged entities' bytes move over from the
        // published ones (nothing else holds them here), changed ones are encoded.
        let entities = match &mut kept {
            Some((old, published, _)) => {
                let plan = cfg.to_entity_plan(old, published);
                report("  + plan against the published entities", base);
                let mut from: Vec<Option<v1::Entity>> =
                    std::mem::take(published).into_iter().map(Some).collect();
                plan.into_iter()
                    .filter_map(|slot| match slot {
                        Slot::Prev(i) => from.get_mut(i).and_then(Option::take),
                        Slot::New(e) => Some(e),
                    })
                    .collect()
            }
            None => cfg.to_entities(),
        };
        report("  + wire entities", base);
        let digests: Vec<[u8; 16]> = entities.iter().map(hash::digest).collect();
        report("  + digests", base);
        drop(body);
        kept = Some((cfg, entities, digests));
        report("  kept after the apply", base);
    }
    Ok(())
}
