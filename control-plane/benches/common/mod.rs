//! What the apply benchmarks (and the YAML reader tests) share: the generated decK file they
//! apply, the corpus's YAML files, and a seeded random generator.

/// A decK file of `n` services, each with a route and a key-auth plugin (3n entities); with
/// `changed`, that service's route path differs (a one-route change).
pub fn deck_file(n: usize, changed: Option<usize>) -> String {
    let mut out = String::from("_format_version: \"3.0\"\nservices:\n");
    for i in 0..n {
        let suffix = if changed == Some(i) { "-changed" } else { "" };
        out.push_str(&format!(
            "  - name: svc{i}\n    url: http://127.0.0.1:{}/v{i}\n    routes:\n      - name: route{i}\n        paths: [/svc{i}{suffix}]\n    plugins:\n      - name: key-auth\n        config:\n          key_names: [apikey{}]\n",
            10000 + i % 1000,
            i % 7
        ));
    }
    out
}

/// Every `.yaml`/`.yml` file under `dir`, sorted.
#[allow(dead_code)] // used by the tests that include this module, not by the benches
pub fn yaml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// xorshift64*: a fixed seed gives the same documents on every run.
#[allow(dead_code)] // used by the tests that include this module, not by the benches
pub struct Rng(pub u64);

#[allow(dead_code)]
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
