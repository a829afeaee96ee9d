//! The workspace's stated minimum Rust (`rust-version`, which README repeats) is the highest
//! `rust-version` among the crates `Cargo.lock` pins: a lower claim would promise a build
//! that fails, a higher one would refuse toolchains that work.

use std::path::{Path, PathBuf};

fn version(s: &str) -> Vec<u64> {
    s.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn registry_sources() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cargo"),
        PathBuf::from,
    );
    let Ok(dirs) = std::fs::read_dir(home.join("registry/src")) else {
        return Vec::new();
    };
    dirs.filter_map(|d| d.ok().map(|d| d.path())).collect()
}

fn field<'a>(v: &'a toml::Value, path: &[&str]) -> Option<&'a toml::Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

#[test]
fn rust_version_is_the_highest_among_the_locked_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let stated = field(&manifest, &["workspace", "package", "rust-version"])
        .and_then(toml::Value::as_str)
        .expect("[workspace.package] rust-version");
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.lock")).unwrap()).unwrap();
    let sources = registry_sources();
    let (mut highest, mut by, mut read) = (Vec::new(), String::new(), 0);
    for p in lock["package"].as_array().unwrap() {
        if !p
            .get("source")
            .and_then(toml::Value::as_str)
            .is_some_and(|s| s.starts_with("registry+"))
        {
            continue;
        }
        let dir = format!(
            "{}-{}",
            p["name"].as_str().unwrap(),
            p["version"].as_str().unwrap()
        );
        // Crates for other platforms (windows-sys, wasm-bindgen, ...) are never downloaded
        // here; they are not built on this machine either.
        let Some(text) = sources
            .iter()
            .find_map(|s| std::fs::read_to_string(s.join(&dir).join("Cargo.toml")).ok())
        else {
            continue;
        };
        read += 1;
        let m: toml::Value = toml::from_str(&text).unwrap();
        if let Some(rv) = field(&m, &["package", "rust-version"]).and_then(toml::Value::as_str) {
            if version(rv) > highest {
                highest = version(rv);
                by = format!("{dir} ({rv})");
            }
        }
    }
    assert!(
        read > 50,
        "read only {read} locked crates' manifests from the cargo registry"
    );
    // 1.88 and 1.88.0 state the same minimum.
    let trim = |mut v: Vec<u64>| {
        while v.last() == Some(&0) && v.len() > 2 {
            v.pop();
        }
        v
    };
    assert_eq!(
        trim(version(stated)),
        trim(highest),
        "Cargo.toml states rust-version {stated}; the highest among the locked crates is {by}"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("({stated} or newer")),
        "README.md must state the same minimum Rust, {stated}"
    );
}
