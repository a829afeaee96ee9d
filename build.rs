//! The build id: one hash of everything that decides what a build computes, so that shards
//! of different builds refuse to merge (`leaseproof merge`). It covers `Cargo.lock`, every
//! manifest and Rust source of the workspace's crates, `rustc -vV` and the target, plus the
//! git commit when there is one (named beside the hash, for people). It goes into partial
//! files and the merge's output, never into the main job's committed reports.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = [".", "impl", "model", "sim", "real"];

fn main() {
    let mut files = vec![PathBuf::from("Cargo.lock"), PathBuf::from("build.rs")];
    for c in CRATES {
        files.push(Path::new(c).join("Cargo.toml"));
        let src = Path::new(c).join("src");
        walk(&src, &mut files);
        println!("cargo:rerun-if-changed={}", src.display());
    }
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        h.update(f.display().to_string().as_bytes());
        h.update([0]);
        h.update(std::fs::read(f).unwrap_or_default());
        h.update([0]);
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    h.update(&version);
    h.update(std::env::var("TARGET").unwrap_or_default().as_bytes());
    let commit = git_commit();
    h.update(commit.as_bytes());
    let digest: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let id = if commit.is_empty() {
        digest
    } else {
        format!("{digest} (git {})", &commit[..commit.len().min(12)])
    };
    println!("cargo:rustc-env=LEASEPROOF_BUILD_ID={id}");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The commit checked out, or "" outside a git checkout (a source tarball).
fn git_commit() -> String {
    for f in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
