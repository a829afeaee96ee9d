//! One seed of a plug-in scenario ([`PluginScenario`]) on the engine: the clocks drawn
//! from the seed, the scenario's scripted faults as a [`Plan`], then the one supervisor
//! ([`crate::run`]), world ([`crate::world`]) and node shells ([`crate::shell`]) every
//! protocol runs on, generic over [`Protocol`]. The oracles read only the protocol's
//! tenure events ([`Protocol::tenure`]) and its beliefs ([`Protocol::belief`]); the
//! metrics are the tenure-based ones every protocol gets.
//!
//! What this entry point does not give a plug-in yet: the reference protocol's scenario
//! file (random faults, clock steps, stalls, send delays, buggify, crash points, garbage
//! frames, duplication, the liveness phase), which its own entry point
//! ([`crate::run::run_seed`]) reads (docs/protocols.md, "Status").

use crate::clock::NodeClock;
use crate::metrics::RunMetrics;
use crate::plan::{Plan, PlannedFault};
use crate::plugin_scenario::{PluginFault, PluginFaultKind, PluginScenario};
use crate::run::{on_seed_thread, safety_phase, start};
use crate::scenario::{Fault, FaultAction};
use crate::shell::lock;
use crate::world::{Found, NetKnobs, World};
use leaseproof_impl::Protocol;
use madsim::rand::Rng;
use madsim::runtime::Runtime;
use std::collections::BTreeSet;
use std::hash::Hasher;
use std::time::Duration;

/// What one seed of a plug-in scenario found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginSeed {
    pub seed: u64,
    pub found: Vec<Found>,
    pub trace_hash: u64,
    /// Event kinds seen and faults applied.
    pub coverage: BTreeSet<String>,
    pub metrics: RunMetrics,
    /// Each node's clock as drawn from the seed: (offset ms, drift ppm).
    pub clocks: Vec<(i64, i32)>,
    /// One line per message, event and fault (with `trace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<String>>,
    pub panic: Option<String>,
    /// A time-lock: a node whose timer fired again and again at one instant without
    /// moving on (a liveness failure).
    pub timelock: Option<String>,
}

/// Runs one seed of a plug-in scenario on a fresh thread (madsim seeds std's per-thread
/// hash keys only for the first runtime on a thread); a panic becomes the result's
/// `panic`.
#[must_use]
pub fn run_plugin_seed<P: Protocol>(
    sc: &PluginScenario<P::Config>,
    seed: u64,
    trace: bool,
) -> PluginSeed {
    on_seed_thread(seed, || {
        let mut rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
        rt.set_time_limit(Duration::from_millis(sc.duration_ms + 24 * 3_600_000));
        rt.block_on(supervise::<P>(sc.clone(), seed, trace))
    })
    .unwrap_or_else(|panic| PluginSeed {
        seed,
        found: Vec::new(),
        trace_hash: 0,
        coverage: BTreeSet::new(),
        metrics: RunMetrics::default(),
        clocks: Vec::new(),
        trace: None,
        timelock: None,
        panic: Some(panic),
    })
}

/// Draws one value in `±max` from the seed (nothing is drawn when `max` is 0).
fn draw(rng: &mut impl Rng, max: i64) -> i64 {
    if max == 0 {
        0
    } else {
        rng.gen_range(-max..=max)
    }
}

/// One seed: the clocks drawn from the seed, the scenario's faults as a plan, then the
/// engine's own supervisor ([`crate::run`]) and node shells ([`crate::shell`]) run it.
async fn supervise<P: Protocol>(
    sc: PluginScenario<P::Config>,
    seed: u64,
    trace: bool,
) -> PluginSeed {
    let n = sc.nodes();
    let mut rng = madsim::rand::thread_rng();
    let clocks: Vec<(i64, i32)> = (0..n)
        .map(|_| {
            let off = draw(&mut rng, sc.clock_offset_ms_max as i64);
            let drift = draw(&mut rng, i64::from(sc.drift_ppm_max)) as i32;
            (off, drift)
        })
        .collect();
    let plan = Plan {
        seed,
        latency_ms: sc.latency_ms,
        loss_ratio: sc.loss_ratio,
        duplicate_ratio: 0.0,
        send_delay_ratio: 0.0,
        send_delay_ms: [0, 0],
        buggify: false,
        clocks: clocks
            .iter()
            .map(|&(off, drift)| NodeClock::new(off * 1_000_000, drift))
            .collect(),
        kinds: Vec::new(),
        faults: sc
            .faults
            .iter()
            .map(|(node, f)| PlannedFault {
                fault: fault(*node, f),
            })
            .collect(),
        crash_points: None,
    };
    let mut world = World::<P>::new(
        sc.protocol.clone(),
        plan.clocks.clone(),
        NetKnobs::default(),
        trace,
    );
    world.oracles = std::mem::take(&mut world.oracles).judging(&sc.judged);
    let mut sup = start(world, &plan).await;
    safety_phase(sc.duration_ms, &plan, &mut sup).await;
    let mut w = lock(&sup.world);
    w.finish();
    PluginSeed {
        seed,
        found: std::mem::take(&mut w.found),
        trace_hash: w.hash.finish(),
        coverage: std::mem::take(&mut w.coverage),
        metrics: std::mem::take(&mut w.metrics),
        clocks,
        trace: w.trace.take().map(|lines| {
            lines
                .iter()
                .map(|l| {
                    format!(
                        "{:>12.3} ms {:<10} {:<6} {}",
                        l.t_ms, l.node, l.what, l.detail
                    )
                })
                .collect()
        }),
        panic: None,
        timelock: w.timelock.take(),
    }
}

/// A plug-in scenario's fault as the engine's fault action.
fn fault(node: usize, f: &PluginFault) -> Fault {
    let action = match f.kind {
        PluginFaultKind::Isolate => FaultAction::Isolate {
            node,
            for_ms: f.for_ms,
        },
        PluginFaultKind::Pause => FaultAction::Pause {
            node,
            for_ms: f.for_ms,
        },
        PluginFaultKind::Crash => FaultAction::Crash {
            node,
            down_ms: f.for_ms,
            lose_disk: f.lose_disk,
        },
    };
    Fault {
        at_ms: f.at_ms,
        action,
        holder: false,
    }
}
