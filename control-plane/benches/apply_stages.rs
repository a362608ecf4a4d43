//! Benchmark (not a test) of the stages `apply` runs on a large decK file, in one process, so
//! the cost of each can be seen apart from the network and the database: render, YAML parse,
//! JSON round trip, flatten + validate, wire entities (all, and reusing an earlier config's),
//! hash, diff.
//!
//! `cargo bench -p control-plane --bench apply_stages [-- N]` (N services, each with a route and
//! a key-auth plugin; default 10000).

use std::time::{Duration, Instant};

use control_plane::declarative::{self, render::ProcessEnv, Source};
use control_plane::diff;
use proto::schema::hash;

mod common;
use common::deck_file;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs `f` `runs` times and returns the median time and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    times.sort();
    match last {
        Some(v) => (times[runs / 2], v),
        None => unreachable!("runs is at least 1"),
    }
}

fn report(stage: &str, d: Duration) {
    println!("{stage:<34} {:>8.1} ms", d.as_secs_f64() * 1000.0);
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let runs = 5;
    let text = deck_file(n, None);
    let changed_text = deck_file(n, Some(n / 2));
    println!(
        "{} entities, decK file {} bytes, median of {runs} runs",
        3 * n,
        text.len()
    );
    let src = || Source {
        label: "bench.yaml".into(),
        text: text.clone(),
    };
    let (d, docs) = time(runs, || {
        declarative::render_and_parse(&[src()], &ProcessEnv)
    });
    let docs = docs.map_err(|e| anyhow::anyhow!("{e}"))?;
    report("render + YAML parse", d);
    let (d, _) = time(runs, || serde_yaml::from_str::<serde_json::Value>(&text));
    report("YAML parse (serde_yaml)", d);
    let (d, fast) = time(runs, || declarative::yaml_fast::parse(&text));
    anyhow::ensure!(
        fast.is_some(),
        "the fast YAML reader bailed on the bench file"
    );
    report("YAML parse (fast)", d);
    let (d, json) = time(runs, || serde_json::to_vec(&docs[0].1));
    let json = json?;
    report("JSON serialise (CLI → CP)", d);
    let (d, reparsed) = time(runs, || serde_json::from_slice::<serde_json::Value>(&json));
    let reparsed = reparsed?;
    report("JSON parse (CP)", d);
    let docs = vec![("config".to_string(), reparsed)];
    let (d, cfg) = time(runs, || declarative::from_documents(&docs, None));
    let cfg = cfg.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    report("flatten + validate (no existing)", d);
    let (d, again) = time(runs, || declarative::from_documents(&docs, Some(&cfg)));
    let again = again.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    report("flatten + validate (with existing)", d);
    let (d, entities) = time(runs, || again.to_entities());
    report("to_entities", d);
    let (d, _) = time(runs, || hash::of_entities(&entities));
    report("config hash", d);
    let changed = declarative::render_and_parse(
        &[Source {
            label: "bench.yaml".into(),
            text: changed_text,
        }],
        &ProcessEnv,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let changed_cfg = declarative::from_owned_documents(changed, Some(&cfg))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (d, changed) = time(runs, || changed_cfg.to_entities_reusing(&again, &entities));
    report("to_entities (reusing unchanged)", d);
    anyhow::ensure!(
        changed == changed_cfg.to_entities(),
        "reuse changed the bytes"
    );
    let (d, changes) = time(runs, || diff::compute(&entities, &changed));
    report("diff (one route changed)", d);
    anyhow::ensure!(changes.updating.len() == 1, "expected one update");
    let (d, _) = time(runs, || again.clone());
    report("config clone", d);
    // The CP's `POST /config` check, reusing the last accepted document's unchanged items.
    let parsed = |t: &str| {
        serde_json::from_slice::<serde_json::Value>(&serde_json::to_vec(
            &declarative::document::parse(t).map_err(|e| anyhow::anyhow!("{e}"))?,
        )?)
        .map_err(anyhow::Error::from)
    };
    let declarative::Checked {
        config: first,
        next: prev,
        ..
    } = declarative::from_document_reusing(
        declarative::Input::Tree(parsed(&text)?),
        || None,
        &again,
        None,
        b"",
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anyhow::ensure!(first == again, "the recording check changed the config");
    let prev = prev.ok_or_else(|| anyhow::anyhow!("nothing recorded"))?;
    let changed_doc = parsed(&deck_file(n, Some(n / 2)))?;
    let (d, reused) = time(runs, || {
        declarative::from_document_reusing(
            declarative::Input::Tree(changed_doc.clone()),
            || None,
            &again,
            Some(&prev),
            b"",
        )
    });
    let reused = reused.map_err(|e| anyhow::anyhow!("{e:?}"))?.config;
    report("flatten + validate (reusing)", d);
    anyhow::ensure!(
        reused.to_entities() == changed_cfg.to_entities(),
        "reuse changed the config"
    );
    Ok(())
}
