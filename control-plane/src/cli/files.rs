//! Reading the files named on the command line; a folder stands for its YAML and JSON files.

use std::path::{Path, PathBuf};

use crate::declarative::Source;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}: no .yaml, .yml or .json files in this folder")]
    EmptyDir(String),
}

pub fn read(paths: &[PathBuf]) -> Result<Vec<Source>, FilesError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| err(p, source))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    matches!(
                        f.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            if found.is_empty() {
                return Err(FilesError::EmptyDir(p.display().to_string()));
            }
            found.sort();
            for f in found {
                out.push(one(&f)?);
            }
        } else {
            out.push(one(p)?);
        }
    }
    Ok(out)
}

fn one(p: &Path) -> Result<Source, FilesError> {
    let text = if p.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|source| err(p, source))?
    } else {
        std::fs::read_to_string(p).map_err(|source| err(p, source))?
    };
    Ok(Source {
        label: p.display().to_string(),
        text,
    })
}

fn err(p: &Path, source: std::io::Error) -> FilesError {
    FilesError::Read {
        path: p.display().to_string(),
        source,
    }
}
