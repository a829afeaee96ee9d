//! Running the checker and reporting what it found: counts, speed, each property's verdict,
//! and a short counterexample (the checker stops at the first failure) with one line per
//! step: the step number, each node's local time, the action, the outputs it caused.

use crate::{holds, Action, LeaseModel, State, ALWAYS, LIVENESS_PROPS, SAFETY_PROPS, SOMETIMES};
use leaseproof_impl::verdict::Verdict;
use serde::Serialize;
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    pub threads: usize,
    pub symmetry: bool,
    pub bfs: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepLine {
    pub step: usize,
    /// Local clock of the server and each client, in ticks.
    pub clocks: BTreeMap<String, u64>,
    pub action: String,
    pub outputs: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    /// `always` or `sometimes`.
    pub expectation: &'static str,
    /// For `always`: no counterexample. For `sometimes`: an example was reached.
    pub holds: bool,
    pub trace: Vec<StepLine>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub model: String,
    pub states: usize,
    pub unique: usize,
    pub depth: usize,
    pub seconds: f64,
    pub states_per_sec: f64,
    /// False when stopped early (Ctrl-C or the first failure).
    pub complete: bool,
    /// A closed check that ran to the end: no new state appeared, so the verdicts cover
    /// runs of any length within [`CheckReport::assumptions`].
    pub closed: bool,
    /// What "every run" means, for a closed check: the bounds every run stays within.
    pub assumptions: Option<String>,
    /// Why liveness, asked for, lies outside the protocol's assumptions at these bounds
    /// ([`crate::ModelConfig::liveness_beyond`]); absent where it lies inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_beyond: Option<String>,
    /// About n²/2⁶⁵ for n states: the chance two states shared a fingerprint (stateright
    /// keeps 64-bit fingerprints), which would hide one of them.
    pub collision_bound: f64,
    pub properties: BTreeMap<&'static str, PropertyReport>,
}

impl CheckReport {
    /// True when a safety property has a counterexample.
    #[must_use]
    pub fn safety_failed(&self) -> bool {
        SAFETY_PROPS.iter().any(|(p, _)| self.fails(p))
            || self.fails(crate::PROP_BELIEF_EXCLUSIVITY)
    }

    /// True when a wait-for cycle formed or time could not advance: the deadlock oracle
    /// and the time-lock mark are liveness failures (exit 3 in docs/design.md, "Exit
    /// codes"), checked here as `Always` properties.
    #[must_use]
    pub fn liveness_failed(&self) -> bool {
        LIVENESS_PROPS.iter().any(|p| self.fails(p))
    }

    /// The check's verdict: a safety counterexample, else a wait-for cycle or a time-lock
    /// (liveness), else a pass; a check the user interrupted proved nothing and is a usage
    /// outcome.
    #[must_use]
    pub fn verdict(&self, interrupted: bool) -> Verdict {
        if interrupted {
            Verdict::Usage
        } else if self.safety_failed() {
            Verdict::Safety
        } else if self.liveness_failed() {
            Verdict::Liveness
        } else {
            Verdict::Pass
        }
    }

    fn fails(&self, property: &str) -> bool {
        self.properties.get(property).is_some_and(|r| !r.holds)
    }
}

fn node_names(m: &LeaseModel) -> Vec<(usize, String)> {
    let mut v = vec![(crate::SERVER, leaseproof_impl::NodeId::authority(0).name())];
    v.extend((0..m.mc.clients).map(|c| {
        let id = leaseproof_impl::NodeId::client(c as u32);
        (id.0 as usize, id.name())
    }));
    v
}

/// Re-runs a path's actions to print what each step caused. Under symmetry the path's
/// states are canonical, so its clients may trade names between steps; the replay runs
/// without renaming instead, taking at each step the action whose successor has the same
/// canonical form as the path's, so every client keeps one name from start to end.
#[must_use]
pub fn explain(m: &LeaseModel, path: Vec<(State, Option<Action>)>) -> Vec<StepLine> {
    let names = node_names(m);
    let mut out = Vec::new();
    let mut raw = m.init_raw();
    let mut offered = Vec::new();
    for (i, (state, action)) in path.into_iter().enumerate() {
        let Some(action) = action else { break };
        let Some(target) = m.next_state(&state, action.clone()) else {
            break;
        };
        offered.clear();
        m.actions(&raw, &mut offered);
        // The path's own action first, if offered: without symmetry it is the one.
        offered.sort_by_key(|a| *a != action);
        let same = offered
            .drain(..)
            .find(|a| {
                m.next_state(&raw, a.clone())
                    .is_some_and(|n| n.hash == target.hash)
            })
            .expect("a canonical step is the image of a step of the unrenamed state");
        let (next, outputs) = m.apply(&raw, &same, true);
        out.push(StepLine {
            step: i + 1,
            clocks: names
                .iter()
                .map(|(idx, n)| (n.clone(), next.shown_ticks(*idx)))
                .collect(),
            action: m.format_action(&same),
            outputs,
        });
        raw = next;
    }
    out
}

/// Drives a spawned checker to the end (or until `stop()`), reporting progress.
#[allow(clippy::disallowed_methods)] // the checker's wall time is a measurement, not an input
pub fn drive<C: Checker<LeaseModel>>(
    checker: C,
    progress: &dyn Fn(usize, usize),
    stop: &dyn Fn() -> bool,
) -> CheckReport {
    let started = std::time::Instant::now();
    let mut stopped = false;
    while !checker.is_done() {
        if stop() {
            stopped = true;
            break;
        }
        progress(checker.state_count(), checker.unique_state_count());
        // Often enough that the measured time is the checker's (to 5 ms), not the poll's.
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = started.elapsed().as_secs_f64();
    let m = checker.model();
    let mut properties = BTreeMap::new();
    // stateright checks every `Always` property as one; the violating state at the end of
    // its path says which failed, and they share the path's trace.
    let violation = checker.discovery(m.checked());
    let last = violation.as_ref().map(|p| p.last_state().clone());
    let trace = violation.map_or_else(Vec::new, |p| explain(m, p.into_vec()));
    for name in ALWAYS
        .into_iter()
        .filter(|n| *n != crate::PROP_LIVENESS || m.mc.liveness)
        .filter(|n| *n != crate::PROP_BELIEF_EXCLUSIVITY || m.belief_checked || m.checked() == *n)
    {
        let holds = last.as_ref().is_none_or(|s| holds(name, s));
        properties.insert(
            name,
            PropertyReport {
                expectation: "always",
                holds,
                trace: if holds { Vec::new() } else { trace.clone() },
            },
        );
    }
    // The `Sometimes` properties are recorded by the model (no path is printed for them).
    let reached = m.reached();
    for (name, bit) in SOMETIMES
        .into_iter()
        .filter(|(n, _)| *n != crate::PROP_TWO_BELIEVERS || !m.belief_checked)
    {
        properties.insert(
            name,
            PropertyReport {
                expectation: "sometimes",
                holds: reached & bit != 0,
                trace: Vec::new(),
            },
        );
    }
    let states = checker.state_count();
    let report = CheckReport {
        model: m.mc.to_string(),
        states,
        unique: checker.unique_state_count(),
        depth: checker.max_depth(),
        seconds,
        states_per_sec: if seconds > 0.0 {
            states as f64 / seconds
        } else {
            0.0
        },
        complete: false,
        closed: false,
        assumptions: None,
        liveness_beyond: None,
        collision_bound: 0.0,
        properties,
    };
    let failed = report.safety_failed() || report.liveness_failed();
    let complete = !stopped && !failed;
    let n = report.unique as f64;
    CheckReport {
        complete,
        // Never closed when anything cut the search.
        closed: complete && m.mc.closed,
        assumptions: m.mc.closed.then(|| m.mc.assumptions()),
        liveness_beyond: m.mc.liveness_beyond(),
        collision_bound: n * n / 2f64.powi(65),
        ..report
    }
}

/// Checks a model to completion (or to the first failure), single call.
pub fn check(
    m: LeaseModel,
    opts: CheckOptions,
    progress: &dyn Fn(usize, usize),
    stop: &dyn Fn() -> bool,
) -> CheckReport {
    // The model reduces symmetry itself (it offers canonical states only) rather than
    // through stateright's `symmetry_fn`, which only DFS honours and which fingerprints each
    // state twice; so BFS is reduced too.
    let b = m
        .with_symmetry(opts.symmetry)
        .checker()
        .threads(opts.threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if opts.bfs {
        drive(b.spawn_bfs(), progress, stop)
    } else {
        drive(b.spawn_dfs(), progress, stop)
    }
}
