//! A regression corpus that grows itself: `run --save-failures DIR` writes each newly failing
//! seed as a scenario file that `cargo test` runs from then on (DIR is usually
//! `scenarios/regressions/`, which the scenario harness discovers).
//!
//! A saved file is the failing seed shrunk to a minimal scripted plan with every clock
//! pinned (as `replay --shrink` writes it), or, when the script cannot keep the failure, the
//! original scenario with the seed pinned. It expects what the original expected: its
//! `always` includes the oracle that failed, so the file fails until the bug is fixed and
//! passes after. Its `sometimes` are the coverage labels the failing run reached, so a copy
//! that no longer reaches its situation (say, after the simulator's draw order changed)
//! fails as vacuous instead of passing for the wrong reason. A header comment names the
//! original file, its content hash, the seed and the oracle, and the key the corpus is
//! deduplicated by: (scenario content hash, oracle, plan hash), the plan hash being the
//! content hash of the saved scenario without its expectations and description.

use crate::run::{run_seed_isolated, RunOptions};
use crate::scenario::{content_hash, file_of, text_of, Scenario};
use crate::shrink::shrink;
use leaseproof_impl::oracle::OracleName;
use leaseproof_impl::Protocol;
use std::path::{Path, PathBuf};

/// At most this many seeds per (scenario, oracle) are shrunk and saved in one run: the
/// lowest failing ones (a broken protocol can fail every seed).
pub const SAVE_PER_ORACLE: usize = 3;

/// What saving one failing seed did.
#[derive(Clone, Debug)]
pub struct Saved {
    pub path: PathBuf,
    pub key: String,
    /// Shrunk to a minimal script (else the seed is pinned on the original scenario).
    pub shrunk: bool,
    /// False when the corpus already held a file with the same key.
    pub new: bool,
}

/// Why a failing seed could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the saved scenario does not parse: {0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error("the saved scenario cannot be written as TOML: {0}")]
    Toml(#[from] toml::ser::Error),
    #[error("the scenario text does not read back: {0}")]
    Read(#[from] toml::de::Error),
    #[error("seed {0} does not trip {1}: nothing to save")]
    Passes(u64, String),
}

/// Saves seed `seed` of `sc`, which tripped `oracle`, into `dir` (unless a file with the same
/// key is there).
pub fn save_failure<P: Protocol>(
    sc: &Scenario<P>,
    seed: u64,
    oracle: OracleName,
    dir: &Path,
) -> Result<Saved, CorpusError> {
    let (text, pinned, shrunk) = match shrink(sc, seed, Some(oracle)) {
        Ok(sh) if sh.confirmed => (sh.text, sh.seed, true),
        _ => {
            let mut f = sc.file.clone();
            f.seeds = 1;
            f.test_seeds = Some(1);
            f.seed_list = vec![seed];
            (text_of::<P>(&f)?, seed, false)
        }
    };
    let mut f = file_of::<P>(&text)?;
    let check = Scenario::<P>::parse_protocol(&sc.path, &text)?;
    let r = run_seed_isolated(&check, pinned, RunOptions::default());
    if !r.tripped(oracle) {
        return Err(CorpusError::Passes(pinned, oracle.name().into()));
    }
    f.description = String::new();
    f.expect.always.clone_from(&sc.file.expect.always);
    if !f.expect.always.iter().any(|o| o == oracle.name()) {
        f.expect.always.push(oracle.name().into());
    }
    f.expect.finds.clear();
    f.expect.sometimes.clear();
    let plan_hash = content_hash(text_of::<P>(&f)?.as_bytes());
    let key = format!("{}/{}/{plan_hash}", sc.hash, oracle.name());
    let file = dir.join(format!("{}-{}-{plan_hash}.toml", sc.name, oracle.name()));
    if let Some(existing) = find_key(dir, &key)? {
        return Ok(Saved {
            path: existing,
            key,
            shrunk,
            new: false,
        });
    }
    f.expect.sometimes = r
        .coverage
        .iter()
        .filter(|l| {
            P::EVENT_KINDS.contains(&l.as_str()) || crate::fault::coverage_labels().any(|c| c == *l)
        })
        .cloned()
        .collect();
    f.description = format!(
        "Regression: {} seed {seed} tripped {} ({}). Fails until the bug is fixed; its \
         sometimes are the coverage labels the failing run reached.",
        sc.path.display(),
        oracle.name(),
        if shrunk {
            "shrunk to a minimal scripted plan, clocks pinned"
        } else {
            "the seed pinned: its plan could not be scripted"
        }
    );
    let header = format!(
        "# leaseproof regression, saved by `leaseproof run --save-failures`\n\
         # from: {} (content hash {}) seed {seed}\n\
         # oracle: {}\n\
         # key: {key}\n\
         # run it: cargo run --release -- run {}\n\n",
        sc.path.display(),
        sc.hash,
        oracle.name(),
        file.display()
    );
    let body = format!("{header}{}", text_of::<P>(&f)?);
    Scenario::<P>::parse_protocol(&file, &body)?;
    std::fs::create_dir_all(dir).map_err(|e| CorpusError::Io(dir.to_path_buf(), e))?;
    std::fs::write(&file, body).map_err(|e| CorpusError::Io(file.clone(), e))?;
    Ok(Saved {
        path: file,
        key,
        shrunk,
        new: true,
    })
}

/// The corpus file already saved under `key`, if any.
fn find_key(dir: &Path, key: &str) -> Result<Option<PathBuf>, CorpusError> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let needle = format!("# key: {key}\n");
    let files = crate::scenario::discover(&[dir.to_path_buf()])
        .map_err(|e| CorpusError::Io(dir.to_path_buf(), e))?;
    for p in files {
        let text = std::fs::read_to_string(&p).map_err(|e| CorpusError::Io(p.clone(), e))?;
        if text.contains(&needle) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}
