//! Shrinking a failing seed to a minimal fault plan.
//!
//! A seed's plan (its network knobs, its clocks, its scripted and random faults) is written
//! out as a scripted scenario: the knobs fixed, every clock pinned, every fault a script
//! entry (faults aimed at the holder stay aimed: `"holder"`). Removing a fault changes the
//! later random draws, so the scripted scenario is first run on a few seeds until one fails
//! the same oracle; that seed is then fixed and delta debugging (Zeller's ddmin) removes
//! fault events while the run still fails. The result is confirmed by parsing the written
//! text again and running it.

use crate::clock::CLOCK_ORIGIN_NS;
use crate::plan::{describe_with, Plan, PlannedFault};
use crate::run::{run_seed_isolated, RunOptions};
use crate::scenario::{
    is_client, node_name, ClockPin, FaultAction, NodeIdx, Scenario, ScenarioError, ScriptEntry,
    SERVER,
};
use leaseproof_impl::oracle::OracleName;
use leaseproof_impl::Protocol;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// How many seeds of the scripted scenario are tried to find one that fails like the
/// original (beyond the original seed itself).
pub const RESEED_TRIES: u64 = 32;

/// What shrinking found.
#[derive(Clone, Debug, Serialize)]
pub struct Shrunk {
    pub scenario: String,
    pub original_seed: u64,
    pub oracle: String,
    /// The seed the scripted scenario fails with.
    pub seed: u64,
    pub original_faults: usize,
    /// The minimal fault events, one line each.
    pub minimal: Vec<String>,
    /// Simulator runs spent.
    pub runs: usize,
    /// The scripted scenario, as written.
    pub text: String,
    /// The written scenario, re-parsed and re-run, fails the oracle.
    pub confirmed: bool,
}

/// Why a seed could not be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("seed {0} does not trip the oracle: nothing to shrink")]
    Passes(u64),
    #[error(
        "the scripted copy of seed {seed}'s plan never trips {oracle} on seeds {seed} and \
         0..{RESEED_TRIES}: the failure depends on random draws the script cannot keep"
    )]
    NotReproduced { seed: u64, oracle: String },
    #[error("the scripted scenario does not parse: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("the scripted scenario cannot be written as TOML: {0}")]
    Toml(#[from] toml::ser::Error),
}

/// Node names for a planned fault: a fault aimed at the holder names the client it hits
/// `holder` (whoever holds when it fires), not the client the draw happened to name.
fn namer<'a>(p: &'a PlannedFault, holder: &'static str) -> impl Fn(NodeIdx) -> String + 'a {
    move |n| {
        if p.aimed() && is_client(n) {
            holder.to_string()
        } else {
            node_name(n)
        }
    }
}

fn entry(p: &PlannedFault) -> ScriptEntry {
    let name = namer(p, "holder");
    let mut e = ScriptEntry {
        at_ms: p.fault.at_ms,
        ..ScriptEntry::default()
    };
    match &p.fault.action {
        FaultAction::Pause { node, for_ms } => {
            e.pause = Some(name(*node));
            e.for_ms = Some(*for_ms);
        }
        FaultAction::Isolate { node, for_ms } => {
            e.isolate = Some(name(*node));
            e.for_ms = Some(*for_ms);
        }
        FaultAction::Cut { from, to, for_ms } => {
            e.cut = Some(vec![name(*from), name(*to)]);
            e.for_ms = Some(*for_ms);
        }
        FaultAction::Split { groups, for_ms } => {
            e.split = Some(
                groups
                    .iter()
                    .map(|g| g.iter().map(|&n| node_name(n)).collect())
                    .collect(),
            );
            e.for_ms = Some(*for_ms);
        }
        FaultAction::Crash {
            node,
            down_ms,
            lose_disk,
        } => {
            e.crash = Some(name(*node));
            e.for_ms = Some(*down_ms);
            if *lose_disk {
                e.lose = Some(if *node == SERVER { "counter" } else { "table" }.into());
            }
        }
        FaultAction::ClockStep { node, by_ms } => {
            e.clock_step = Some(name(*node));
            e.by_ms = Some(*by_ms);
        }
        FaultAction::Garbage { node } => e.garbage = Some(node_name(*node)),
        FaultAction::Stall { node, for_ms } => {
            e.stall = Some(name(*node));
            e.for_ms = *for_ms;
        }
        FaultAction::SlowLink {
            from,
            to,
            by_ms,
            for_ms,
        } => {
            e.slow = Some(vec![name(*from), name(*to)]);
            e.by_ms = Some(*by_ms as i64);
            e.for_ms = Some(*for_ms);
        }
        FaultAction::DelayWrite { node, for_ms } => {
            e.delay_write = Some(name(*node));
            e.for_ms = Some(*for_ms);
        }
    }
    e
}

/// The scripted scenario of `plan` keeping only `faults`, expecting `oracle` to be found by
/// `seed`.
pub fn scripted_text<P: Protocol>(
    sc: &Scenario<P>,
    plan: &Plan,
    faults: &[PlannedFault],
    oracle: OracleName,
    seed: u64,
) -> Result<String, toml::ser::Error> {
    let mut f = sc.file.clone();
    f.description = format!(
        "Shrunk from {} seed {}: {} fault event(s) of the seed's plan, scripted; fails {} \
         with seed {seed}.",
        sc.path.display(),
        plan.seed,
        faults.len(),
        oracle.name()
    );
    f.seeds = 1;
    f.test_seeds = Some(1);
    f.seed_list = vec![seed];
    f.cluster.swarm = false;
    f.cluster.latency_ms = plan.latency_ms;
    f.cluster.loss_ratio = plan.loss_ratio;
    f.cluster.duplicate_ratio = plan.duplicate_ratio;
    f.clocks.pin = plan
        .clocks
        .iter()
        .enumerate()
        .map(|(i, c)| ClockPin {
            node: node_name(i),
            drift_ppm: c.drift_ppm,
            offset_ms: (c.base_ns as i64 - CLOCK_ORIGIN_NS as i64) / 1_000_000,
        })
        .collect();
    f.faults.random = None;
    f.faults.script = faults.iter().map(entry).collect();
    f.expect.finds = vec![oracle.name().to_string()];
    f.expect.always.retain(|o| o != oracle.name());
    f.expect.sometimes.clear();
    crate::scenario::text_of::<P>(&f)
}

struct Probe<'a, P: Protocol> {
    sc: &'a Scenario<P>,
    plan: &'a Plan,
    oracle: OracleName,
    runs: usize,
}

impl<P: Protocol> Probe<'_, P> {
    fn fails(&mut self, faults: &[PlannedFault], seed: u64) -> Result<bool, ShrinkError> {
        let text = scripted_text(self.sc, self.plan, faults, self.oracle, seed)?;
        let s = Scenario::<P>::parse_protocol(&self.sc.path, &text)?;
        self.runs += 1;
        Ok(run_seed_isolated(&s, seed, RunOptions::default()).tripped(self.oracle))
    }
}

/// Zeller's ddmin: a 1-minimal subset of `items` for which `fails` holds (given it holds
/// for all of them).
fn ddmin<T: Clone>(
    items: Vec<T>,
    fails: &mut dyn FnMut(&[T]) -> Result<bool, ShrinkError>,
) -> Result<Vec<T>, ShrinkError> {
    let mut cur = items;
    if cur.is_empty() || fails(&[])? {
        return Ok(Vec::new());
    }
    let mut n = 2usize;
    while cur.len() >= 2 {
        let chunk = cur.len().div_ceil(n);
        let parts: Vec<Vec<T>> = cur.chunks(chunk).map(<[T]>::to_vec).collect();
        let mut reduced = false;
        for (i, part) in parts.iter().enumerate() {
            if fails(part)? {
                cur.clone_from(part);
                n = 2;
                reduced = true;
                break;
            }
            let complement: Vec<T> = parts
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, p)| p.iter().cloned())
                .collect();
            if parts.len() > 2 && fails(&complement)? {
                cur = complement;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= cur.len() {
                break;
            }
            n = (2 * n).min(cur.len());
        }
    }
    if cur.len() == 1 && fails(&[])? {
        cur.clear();
    }
    Ok(cur)
}

/// Shrinks `seed` of `sc`: the oracle is `oracle`, or the seed's first violation.
pub fn shrink<P: Protocol>(
    sc: &Scenario<P>,
    seed: u64,
    oracle: Option<OracleName>,
) -> Result<Shrunk, ShrinkError> {
    let r = run_seed_isolated(sc, seed, RunOptions::default());
    let oracle = match oracle {
        Some(o) if r.tripped(o) => o,
        Some(_) => return Err(ShrinkError::Passes(seed)),
        None => r
            .found
            .first()
            .map(|f| f.violation.oracle())
            .or(r.liveness.as_ref().map(|v| v.oracle()))
            .ok_or(ShrinkError::Passes(seed))?,
    };
    let plan = r.plan.clone().ok_or(ShrinkError::Passes(seed))?;
    let mut probe = Probe {
        sc,
        plan: &plan,
        oracle,
        runs: 1,
    };
    let all = plan.faults.clone();
    let mut chosen = None;
    for s in std::iter::once(seed).chain((0..RESEED_TRIES).filter(|&s| s != seed)) {
        if probe.fails(&all, s)? {
            chosen = Some(s);
            break;
        }
    }
    let Some(fixed) = chosen else {
        return Err(ShrinkError::NotReproduced {
            seed,
            oracle: oracle.name().into(),
        });
    };
    let minimal = ddmin(all.clone(), &mut |faults| probe.fails(faults, fixed))?;
    let text = scripted_text(sc, &plan, &minimal, oracle, fixed)?;
    let confirmed = {
        let s = Scenario::<P>::parse_protocol(&sc.path, &text)?;
        probe.runs += 1;
        run_seed_isolated(&s, fixed, RunOptions::default()).tripped(oracle)
    };
    Ok(Shrunk {
        scenario: sc.name.clone(),
        original_seed: seed,
        oracle: oracle.name().into(),
        seed: fixed,
        original_faults: all.len(),
        minimal: minimal.iter().map(line).collect(),
        runs: probe.runs,
        text,
        confirmed,
    })
}

/// One fault event in words; an aimed fault names "the holder", not the client drawn.
fn line(p: &PlannedFault) -> String {
    let name = namer(p, "the holder");
    format!(
        "at {} ms: {}",
        p.fault.at_ms,
        describe_with(&p.fault.action, &name)
    )
}

impl Shrunk {
    /// Writes the scripted scenario as `<dir>/<scenario>-<seed>-shrunk.toml`.
    pub fn write(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        let p = dir.join(format!(
            "{}-{}-shrunk.toml",
            self.scenario, self.original_seed
        ));
        std::fs::write(&p, &self.text)?;
        Ok(p)
    }

    /// A few lines for the terminal.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "shrunk {} seed {}: {} of {} fault events still trip {} (scripted, seed {}; {} runs; {})",
            self.scenario,
            self.original_seed,
            self.minimal.len(),
            self.original_faults,
            self.oracle,
            self.seed,
            self.runs,
            if self.confirmed {
                "confirmed by re-running the written scenario"
            } else {
                "NOT confirmed: the written scenario passes"
            }
        );
        if self.minimal.is_empty() {
            let _ = writeln!(
                s,
                "  no fault event needed: the network knobs and clocks alone trip it"
            );
        }
        for m in &self.minimal {
            let _ = writeln!(s, "  {m}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_one_needed_item() {
        let mut calls = 0;
        let got = ddmin((0..16).collect(), &mut |xs: &[i32]| {
            calls += 1;
            Ok(xs.contains(&11))
        })
        .unwrap();
        assert_eq!(got, vec![11]);
        assert!(calls < 40, "{calls}");
    }

    #[test]
    fn ddmin_keeps_a_needed_pair() {
        let got = ddmin((0..10).collect(), &mut |xs: &[i32]| {
            Ok(xs.contains(&2) && xs.contains(&7))
        })
        .unwrap();
        assert_eq!(got, vec![2, 7]);
    }

    #[test]
    fn ddmin_returns_nothing_when_nothing_is_needed() {
        let got = ddmin(vec![1, 2, 3], &mut |_: &[i32]| Ok(true)).unwrap();
        assert!(got.is_empty());
    }
}
