//! Where the workspace's binaries are: next to the running test, `$CARGO_TARGET_DIR/debug` or
//! `<workspace>/target/debug`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

/// The directories searched for binaries, most specific first.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // A test binary lives in `<target>/<profile>/deps/`; its binaries one level up.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            dirs.push(profile_dir.to_path_buf());
        }
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        let target = PathBuf::from(target);
        let target = if target.is_relative() {
            workspace_root().join(target)
        } else {
            target
        };
        dirs.push(target.join("debug"));
    }
    dirs.push(workspace_root().join("target").join("debug"));
    dirs
}

/// The path of the workspace binary `name` (`control-plane`, `data-plane`, `mock-llm`).
pub fn binary(name: &str) -> Result<PathBuf> {
    let dirs = candidate_dirs();
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Ok(found);
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "binary `{name}` not found (searched {}); run `cargo build --workspace --bins` first",
        searched.join(", ")
    )
}

/// Path to a file in the repository, e.g. `deploy/examples/kong.yaml`.
pub fn repo_file(relative: &str) -> PathBuf {
    workspace_root().join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("tests").is_dir());
    }

    #[test]
    fn missing_binary_says_how_to_build() {
        let err = binary("no-such-binary-e2e").unwrap_err().to_string();
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
    }
}
