//! The simulator's module trees import one way: schema <- engine <- orchestration <- render.
//! schema (scenario and grid files) and render (files out) use no madsim, and render runs
//! no simulation: a file can be validated without simulating, and a report drawn from data.

use std::collections::BTreeMap;
use std::path::Path;

const LAYERS: [(&str, &[&str]); 4] = [
    ("schema", &["fault", "grid", "scenario"]),
    (
        "engine",
        &[
            "clock", "metrics", "plan", "run", "shell", "timeline", "wire", "world",
        ],
    ),
    (
        "orchestration",
        &[
            "corpus", "search", "shard", "shrink", "traced", "tune", "verdict",
        ],
    ),
    (
        "render",
        &["run_report", "svg", "timeline_svg", "tune_report"],
    ),
];

fn layer_of_module() -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for (i, (_, mods)) in LAYERS.iter().enumerate() {
        for &name in *mods {
            m.insert(name, i);
        }
    }
    m
}

/// The `crate::x` and `crate::layer::x` modules a source file names.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let mut parts = rest.split("::").map(|p| {
            p.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        });
        let first = parts.next().unwrap_or_default();
        let name = if LAYERS.iter().any(|(l, _)| *l == first) {
            parts.next().unwrap_or_default()
        } else {
            first
        };
        out.push(name);
    }
    out
}

#[test]
fn every_module_imports_only_the_layers_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer = layer_of_module();
    let mut files = 0;
    for (i, (dir, mods)) in LAYERS.iter().enumerate() {
        let on_disk: Vec<String> = std::fs::read_dir(src.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "mod.rs")
            .collect();
        assert_eq!(
            on_disk.len(),
            mods.len(),
            "{dir}/ holds {on_disk:?}: list each file here"
        );
        for m in *mods {
            let text = std::fs::read_to_string(src.join(dir).join(format!("{m}.rs"))).unwrap();
            // Code only: a comment may name what a layer must not use.
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let text = code;
            files += 1;
            for used in crate_paths(&text) {
                let Some(&l) = layer.get(used.as_str()) else {
                    continue;
                };
                assert!(
                    l <= i,
                    "{dir}/{m}.rs uses crate::{used}, of the later layer {}",
                    LAYERS[l].0
                );
            }
            if *dir == "schema" || *dir == "render" {
                assert!(!text.contains("madsim::"), "{dir}/{m}.rs uses madsim");
            }
            if *dir == "render" {
                for runs in ["run_seed", "run_many", "rerun_"] {
                    assert!(!text.contains(runs), "{dir}/{m}.rs runs seeds ({runs})");
                }
            }
        }
    }
    assert_eq!(files, 22);
}
