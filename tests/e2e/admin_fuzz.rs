//! Property-based testing of the Admin API with schemathesis, driven by Kong's own OpenAPI spec
//! (`../shared/corpus/kong-admin-openapi-3.9/openapi.yaml`): thousands of generated requests,
//! valid and not, against a real control plane. None may get a 5xx, every answer must carry the
//! content type the spec names, a deleted entity must be gone and a created one readable. The CP
//! must still answer afterwards.
//!
//! Kong's spec is stricter than Kong itself in places (no explicit nulls, 200 where Kong answers
//! 201, `username` required where `custom_id` suffices), so response-shape conformance is
//! checked by `control-plane/tests/openapi_conformance.rs` with those differences spelled out,
//! not here.

use std::process::Command;

use e2e::binaries::repo_file;
use e2e::cluster::spawn_cp;
use e2e::http::HttpClient;
use e2e::tempdir::TempDir;

/// Endpoints of the spec we do not serve (Enterprise, DB-less-only or debug endpoints); they
/// answer 404, which schemathesis would only report as missing test data.
const NOT_SERVED: &str =
    "^/(key-sets|keys|endpoints|timers|status/dns|debug|filter-chains)|filter-chains|\\{endpoint\\}|\\}plugins";

/// The Python interpreter with schemathesis importable (tests/run installs it).
fn python() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import schemathesis"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{python} cannot import schemathesis: run tests/run, or `pip install schemathesis`"
    );
    python
}

#[tokio::test]
async fn admin_api_survives_schemathesis() {
    let python = python();
    let spec = repo_file("../shared/corpus/kong-admin-openapi-3.9/openapi.yaml");
    assert!(spec.exists(), "Kong's OpenAPI spec not found at {spec:?}");
    let dir = TempDir::new("admin-fuzz").unwrap();
    let mut cp = spawn_cp(&dir).await.unwrap();
    let out = tokio::process::Command::new(&python)
        .args(["-m", "schemathesis.cli", "run"])
        .arg(&spec)
        .args(["--url", &cp.admin_url()])
        .args([
            "--checks",
            "not_a_server_error,content_type_conformance,use_after_free,ensure_resource_availability",
        ])
        .args(["--exclude-path-regex", NOT_SERVED])
        .args(["--max-examples", "30", "--seed", "20261129", "--workers", "1"])
        .args(["--generation-database", "none", "--no-color"])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}\n{}",
        cp.process.diagnostics()
    );
    // The run really exercised the API: most of the spec's operations, thousands of cases.
    let tested = number_after(&stdout, "Tested:").unwrap_or(0);
    assert!(tested >= 100, "only {tested} operations tested:\n{stdout}");
    let cases = number_after(&stdout, "Test cases:").unwrap_or(0);
    assert!(
        cases >= 1000,
        "only {cases} test cases generated:\n{stdout}"
    );
    cp.process.ensure_running().unwrap();
    let client = HttpClient::new();
    let status = client
        .get(&format!("{}/status", cp.admin_url()))
        .await
        .unwrap();
    assert!(status.status.is_success(), "CP /status after the run");
    let log = cp.process.log_text();
    assert!(!log.contains("panicked"), "the CP panicked:\n{log}");
}

/// The first number after `label` in schemathesis' summary (e.g. `Tested: 119`,
/// `Test cases:\n  6216 generated`).
fn number_after(text: &str, label: &str) -> Option<u64> {
    let rest = &text[text.find(label)? + label.len()..];
    let digits: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
