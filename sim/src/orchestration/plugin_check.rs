//! Many seeds of a plug-in scenario, and the verdict: within the protocol's assumptions
//! every judged oracle holds on every seed; beyond them each oracle the scenario `finds`
//! is found by some seed (and the first seed that finds it replays exactly:
//! [`run_plugin_seed`] with the trace on).

use crate::plugin::{run_plugin_seed, PluginSeed};
use crate::plugin_scenario::PluginScenario;
use leaseproof_impl::verdict::Verdict;
use leaseproof_impl::{OracleName, Protocol};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// The first seed on which an oracle failed, and what it saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FirstFound {
    pub seed: u64,
    pub at_ms: f64,
    pub violation: String,
}

/// What a plug-in scenario's seeds found, judged.
#[derive(Clone, Debug, Serialize)]
pub struct PluginVerdict {
    pub scenario: String,
    pub protocol: &'static str,
    pub seeds: Range<u64>,
    /// Why the scenario is beyond the protocol's assumptions (empty: within).
    pub beyond: Vec<String>,
    pub judged: Vec<OracleName>,
    pub finds: Vec<OracleName>,
    /// Every oracle that failed on some seed, with its first seed.
    pub found: BTreeMap<OracleName, FirstFound>,
    /// Seeds whose run panicked.
    pub panics: Vec<(u64, String)>,
    /// Seeds whose run reached a time-lock, with what froze.
    pub timelocks: Vec<(u64, String)>,
    pub verdict: Verdict,
}

impl PluginVerdict {
    /// Judged oracles that failed although the scenario does not expect to find them.
    #[must_use]
    pub fn broken(&self) -> Vec<OracleName> {
        self.found
            .keys()
            .copied()
            .filter(|o| self.judged.contains(o) && !self.finds.contains(o))
            .collect()
    }

    /// Oracles the scenario expects to find that no seed found.
    #[must_use]
    pub fn missing(&self) -> Vec<OracleName> {
        self.finds
            .iter()
            .copied()
            .filter(|o| !self.found.contains_key(o))
            .collect()
    }
}

/// Runs `seeds` of a plug-in scenario on the generic engine and judges them.
#[must_use]
pub fn check_plugin<P: Protocol>(
    sc: &PluginScenario<P::Config>,
    seeds: Range<u64>,
) -> PluginVerdict {
    let mut found = BTreeMap::new();
    let mut panics = Vec::new();
    let mut timelocks = Vec::new();
    for seed in seeds.clone() {
        let r: PluginSeed = run_plugin_seed::<P>(sc, seed, false);
        if let Some(p) = r.panic {
            panics.push((seed, p));
        }
        if let Some(t) = r.timelock {
            timelocks.push((seed, t));
        }
        for f in &r.found {
            found
                .entry(f.violation.oracle())
                .or_insert_with(|| FirstFound {
                    seed,
                    at_ms: f.true_ns as f64 / 1e6,
                    violation: f.violation.to_string(),
                });
        }
    }
    let mut v = PluginVerdict {
        scenario: sc.name.clone(),
        protocol: P::NAME,
        seeds,
        beyond: sc
            .beyond
            .iter()
            .map(|b| format!("{}: {}", b.field, b.reason))
            .collect(),
        judged: sc.judged.clone(),
        finds: sc.finds.clone(),
        found,
        panics,
        timelocks,
        verdict: Verdict::Pass,
    };
    v.verdict = if !v.panics.is_empty() {
        Verdict::Crash
    } else if !v.broken().is_empty() {
        Verdict::Safety
    } else if !v.missing().is_empty() {
        Verdict::FindsNotFound
    } else if !v.timelocks.is_empty() {
        Verdict::Liveness
    } else {
        Verdict::Pass
    };
    v
}

impl fmt::Display for PluginVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = if self.beyond.is_empty() {
            "within"
        } else {
            "beyond"
        };
        writeln!(
            f,
            "{} ({} protocol, {class} its assumptions), seeds {}..{}: {:?}",
            self.scenario, self.protocol, self.seeds.start, self.seeds.end, self.verdict
        )?;
        for b in &self.beyond {
            writeln!(f, "  beyond: {b}")?;
        }
        for (o, ff) in &self.found {
            let role = if self.finds.contains(o) {
                "found"
            } else if self.judged.contains(o) {
                "VIOLATED"
            } else {
                "also tripped"
            };
            writeln!(
                f,
                "  {role} {o}: seed {} at {:.3} ms: {}",
                ff.seed, ff.at_ms, ff.violation
            )?;
        }
        for o in self.missing() {
            writeln!(f, "  not found {o} on any seed")?;
        }
        for (s, p) in &self.panics {
            writeln!(f, "  seed {s} panicked: {p}")?;
        }
        for (s, t) in &self.timelocks {
            writeln!(f, "  seed {s}: {t}")?;
        }
        Ok(())
    }
}
