//! Scenario files: the schema, its validation, discovery and content hashes.
//!
//! A scenario is a TOML file (schema in `scenarios/README.md`). Every error names the file,
//! the line and column, the field and the reason; unknown keys are errors.

use crate::fault::FaultKind;
use leaseproof_impl::protocol::{
    DriftBound, LatencyBound, LossBound, OffsetBound, RestartBound, StepBound, SuspendBound,
    Suspension,
};
use leaseproof_impl::{
    Assumptions, Breach, FaultBounds, NodeId, OracleName, Protocol, ProtocolConfig, Reference,
    Workload,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// A bad scenario file: where, which field, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.field,
            self.reason
        )
    }
}

// ---------------------------------------------------------------------------------------
// The file as written.

/// A scenario file as written; `F` is its protocol's `[protocol]` fields
/// ([`Protocol::Fields`]; the reference protocol's by default).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile<F = ProtocolConfig> {
    /// One sentence: why this scenario exists.
    #[serde(default)]
    pub description: String,
    /// Seeds `leaseproof run` runs.
    #[serde(default = "default_seeds")]
    pub seeds: u32,
    /// Seeds `cargo test` runs (default: the smaller of `seeds` and 20).
    #[serde(default)]
    pub test_seeds: Option<u32>,
    /// Exact seeds to run instead of a range (regressions).
    #[serde(default)]
    pub seed_list: Vec<u64>,
    /// Length of the safety phase (faults on), simulated.
    #[serde(default = "default_duration")]
    pub duration_ms: u64,
    /// Whether the liveness phase runs after the safety phase.
    #[serde(default = "yes")]
    pub liveness: bool,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub clocks: Clocks,
    #[serde(default)]
    pub protocol: F,
    #[serde(default)]
    pub faults: Faults,
    /// Exactly-once work: when present, the workload is this list of jobs.
    #[serde(default)]
    pub jobs: Option<JobsSection>,
    /// A critical section over several keys: when present, every client takes them all.
    #[serde(default)]
    pub locks: Option<LocksSection>,
    #[serde(default)]
    pub expect: Expect,
}

/// `[locks]`: the keys of every client's critical section and their one global order,
/// as a list (`order`) or as pairs (`before`, each `[a, b]`: a is taken before b) that must
/// chain into one total order.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocksSection {
    #[serde(default)]
    pub order: Vec<String>,
    #[serde(default)]
    pub before: Vec<Vec<String>>,
}

/// `[jobs]`: the exactly-once workload (docs/design.md, "Beyond one lease").
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSection {
    /// The jobs' idempotency keys, in the order holders work through them (unique).
    pub keys: Vec<String>,
    /// Jobs whose effect the resource rejects every time (a bad payload): retried, then
    /// dead-lettered.
    #[serde(default)]
    pub poison: Vec<String>,
    /// Definite rejections of a job before the resource dead-letters it.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_attempts() -> u32 {
    3
}

fn default_seeds() -> u32 {
    100
}
fn default_duration() -> u64 {
    60_000
}
fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    pub clients: u32,
    /// One-way latency range, uniform per message (it reorders).
    pub latency_ms: [u64; 2],
    pub loss_ratio: f64,
    /// Probability that the shell sends a second copy of a message.
    pub duplicate_ratio: f64,
    /// madsim's buggify: 1-5 s delays on 10 % of network operations.
    pub buggify: bool,
    /// Probability of a stall between the core's decision and the send (a GC pause or a
    /// scheduler hiccup after the check), and its length.
    pub send_delay_ratio: f64,
    pub send_delay_ms: [u64; 2],
    /// Draw loss, duplication and latency per seed up to the values above (swarm testing).
    pub swarm: bool,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            clients: 3,
            latency_ms: [1, 10],
            loss_ratio: 0.0,
            duplicate_ratio: 0.0,
            buggify: false,
            send_delay_ratio: 0.0,
            send_delay_ms: [0, 0],
            swarm: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Clocks {
    /// Each node's rate is drawn within ±drift_ppm of true time.
    pub drift_ppm: u32,
    /// `uniform`: anywhere in ±drift_ppm; `extreme`: exactly +drift_ppm or −drift_ppm.
    pub drift_mode: DriftMode,
    /// Each node's offset is drawn within ±offset_ms.
    pub offset_ms: u64,
    /// Fixed clocks for named nodes.
    pub pin: Vec<ClockPin>,
}

impl Default for Clocks {
    fn default() -> Self {
        Clocks {
            drift_ppm: 0,
            drift_mode: DriftMode::Uniform,
            offset_ms: 1_000,
            pin: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DriftMode {
    Uniform,
    Extreme,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockPin {
    pub node: String,
    #[serde(default)]
    pub drift_ppm: i32,
    #[serde(default)]
    pub offset_ms: i64,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub script: Vec<ScriptEntry>,
    pub random: Option<RandomFaults>,
    /// Crashes inside a step, between its outputs (see `leaseproof_impl::crash_points`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_points: Option<CrashPoints>,
}

/// `[faults.crash_points]`: a crash may fall inside a server's or the resource's step, at a
/// persist-batch boundary or around a send. Each step that has such a point crashes at one
/// of them (drawn uniformly) with the node's ratio; a ratio of 0 draws nothing. The node
/// restarts from its disk after a down time drawn from `down_ms`. Within the assumptions:
/// a correct protocol orders its outputs so that any such crash is safe.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CrashPoints {
    pub server: f64,
    pub resource: f64,
    pub down_ms: [u64; 2],
}

impl Default for CrashPoints {
    fn default() -> Self {
        CrashPoints {
            server: 0.0,
            resource: 0.0,
            down_ms: [500, 5_000],
        }
    }
}

/// One scripted fault: `at_ms` and exactly one action.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEntry {
    pub at_ms: u64,
    /// How long the fault lasts (pause, isolate, cut, split, crash).
    #[serde(default)]
    pub for_ms: Option<u64>,
    #[serde(default)]
    pub pause: Option<String>,
    #[serde(default)]
    pub isolate: Option<String>,
    /// A one-way link cut: `[from, to]`.
    #[serde(default)]
    pub cut: Option<Vec<String>>,
    /// Groups that cannot reach each other.
    #[serde(default)]
    pub split: Option<Vec<Vec<String>>>,
    #[serde(default)]
    pub crash: Option<String>,
    /// What a crash loses beyond the volatile state: `counter` (server) or `table`
    /// (resource); both are beyond the assumptions.
    #[serde(default)]
    pub lose: Option<String>,
    #[serde(default)]
    pub clock_step: Option<String>,
    /// Undecodable frames sent to this node from a node outside the cluster.
    #[serde(default)]
    pub garbage: Option<String>,
    /// A client's worker gets stuck: it makes no writes while its renew loop goes on.
    /// Without `for_ms` it stays stuck for the rest of the run; heal does not end it (it is
    /// the application's state, not the network's). A restart does.
    #[serde(default)]
    pub stall: Option<String>,
    /// `[from, to]`: that link's frames take `by_ms` more for `for_ms` (a slow path, a
    /// retransmitting hop): scripted latency, where the network's own is drawn per frame.
    #[serde(default)]
    pub slow: Option<Vec<String>>,
    /// The client's next write to the resource decided at or after `at_ms` waits `for_ms`
    /// before it leaves: a GC pause between the application's check and its send, placed
    /// at one write (the scripted form of `cluster.send_delay_ratio`).
    #[serde(default)]
    pub delay_write: Option<String>,
    /// Size of a clock step (negative: backward).
    #[serde(default)]
    pub by_ms: Option<i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFaults {
    /// Fault events per seed, at most.
    pub events: u32,
    pub kinds: Vec<RandomKind>,
    /// Each seed enables a random subset of `kinds` (swarm testing).
    pub swarm: bool,
    /// Aim pauses and cuts at the holder, just before its renewal is due.
    pub aim: bool,
    pub pause_ms: [u64; 2],
    pub partition_ms: [u64; 2],
    pub down_ms: [u64; 2],
    /// Forward clock step sizes for clients; server steps stay within `safety_margin_ms`.
    pub clock_step_ms: [u64; 2],
}

impl Default for RandomFaults {
    fn default() -> Self {
        RandomFaults {
            events: 6,
            kinds: Vec::new(),
            swarm: true,
            aim: true,
            pause_ms: [1_000, 15_000],
            partition_ms: [1_000, 15_000],
            down_ms: [500, 5_000],
            clock_step_ms: [1, 2_000],
        }
    }
}

#[derive(
    Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
pub enum RandomKind {
    Pause,
    Isolate,
    Cut,
    Split,
    CrashServer,
    CrashClient,
    ClockStep,
}

impl RandomKind {
    /// Every kind, in declaration order (derived: a new kind cannot be missing).
    pub const ALL: &'static [RandomKind] = <RandomKind as strum::VariantArray>::VARIANTS;

    /// The fault record a fault of this kind makes when applied (what a scenario's
    /// `sometimes` names to require that one was drawn and fired).
    #[must_use]
    pub const fn fault_kind(self) -> FaultKind {
        match self {
            RandomKind::Pause => FaultKind::Paused,
            RandomKind::Isolate => FaultKind::Partitioned,
            RandomKind::Cut => FaultKind::LinkCut,
            RandomKind::Split => FaultKind::Split,
            RandomKind::CrashServer => FaultKind::ServerCrashed,
            RandomKind::CrashClient => FaultKind::ClientCrashed,
            RandomKind::ClockStep => FaultKind::ClockStepped,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    pub always: Vec<String>,
    pub sometimes: Vec<String>,
    pub finds: Vec<String>,
    /// Warn (without failing) when a confirmed renewal had less lease time left than this.
    pub renewal_slack_warn_ms: Option<u64>,
    /// A scenario beyond the assumptions that breaks nothing says why, with `finds = []`:
    /// for example "a server clock stepped back only lengthens its grants".
    pub safe_because: Option<String>,
}

// ---------------------------------------------------------------------------------------
// The validated scenario.

/// A node of the simulated cluster, by index: its [`NodeId`] as a vector index, so the
/// roles are numbered once, by `NodeId` ([`SERVER`], [`RESOURCE`], [`client_idx`]).
pub type NodeIdx = usize;

/// The server: the reference protocol's one authority.
pub const SERVER: NodeIdx = NodeId::authority(0).0 as usize;
/// The fenced resource.
pub const RESOURCE: NodeIdx = NodeId::RESOURCE.0 as usize;
/// The first client: clients are `FIRST_CLIENT..FIRST_CLIENT + clients`.
pub const FIRST_CLIENT: NodeIdx = client_idx(0);

/// Client `i`'s index.
#[must_use]
pub const fn client_idx(i: usize) -> NodeIdx {
    NodeId::client(i as u32).0 as usize
}

/// Whether a node index is a client's.
#[must_use]
pub const fn is_client(idx: NodeIdx) -> bool {
    node_id(idx).is_client()
}

/// The index of a protocol node id.
#[must_use]
pub const fn node_idx(id: NodeId) -> NodeIdx {
    id.0 as usize
}

/// The protocol's id of a node index.
#[must_use]
pub const fn node_id(idx: NodeIdx) -> NodeId {
    NodeId(idx as u32)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum FaultAction {
    Pause {
        node: NodeIdx,
        for_ms: u64,
    },
    Isolate {
        node: NodeIdx,
        for_ms: u64,
    },
    Cut {
        from: NodeIdx,
        to: NodeIdx,
        for_ms: u64,
    },
    Split {
        groups: Vec<Vec<NodeIdx>>,
        for_ms: u64,
    },
    Crash {
        node: NodeIdx,
        down_ms: u64,
        lose_disk: bool,
    },
    ClockStep {
        node: NodeIdx,
        by_ms: i64,
    },
    Garbage {
        node: NodeIdx,
    },
    /// A client's worker is stuck (`for_ms: None`: until the run ends).
    Stall {
        node: NodeIdx,
        for_ms: Option<u64>,
    },
    /// The client's next write to the resource waits `for_ms` before it leaves.
    DelayWrite {
        node: NodeIdx,
        for_ms: u64,
    },
    /// The link's frames take `by_ms` more for `for_ms`.
    SlowLink {
        from: NodeIdx,
        to: NodeIdx,
        by_ms: u64,
        for_ms: u64,
    },
}

impl FaultAction {
    /// The fault record it makes when applied (the engine's vocabulary: trace, coverage
    /// label, timeline shading).
    #[must_use]
    pub const fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Pause { .. } => FaultKind::Paused,
            FaultAction::Isolate { .. } => FaultKind::Partitioned,
            FaultAction::Cut { .. } => FaultKind::LinkCut,
            FaultAction::Split { .. } => FaultKind::Split,
            FaultAction::Crash { node, .. } => FaultKind::crashed(*node),
            FaultAction::ClockStep { .. } => FaultKind::ClockStepped,
            FaultAction::Garbage { .. } => FaultKind::GarbageSent,
            FaultAction::Stall { .. } => FaultKind::Stalled,
            FaultAction::DelayWrite { .. } => FaultKind::SendDelayed,
            FaultAction::SlowLink { .. } => FaultKind::LinkSlowed,
        }
    }

    /// The node a fault is recorded against (a cut: its sending end; a split: the server).
    #[must_use]
    pub fn node(&self) -> NodeIdx {
        match self {
            FaultAction::Pause { node, .. }
            | FaultAction::Isolate { node, .. }
            | FaultAction::Crash { node, .. }
            | FaultAction::ClockStep { node, .. }
            | FaultAction::Stall { node, .. }
            | FaultAction::DelayWrite { node, .. }
            | FaultAction::Garbage { node } => *node,
            FaultAction::Cut { from, .. } | FaultAction::SlowLink { from, .. } => *from,
            FaultAction::Split { .. } => SERVER,
        }
    }

    /// How long the fault lasts before it is reverted (None: an instant, or until the end).
    #[must_use]
    pub fn len_ms(&self) -> Option<u64> {
        match self {
            FaultAction::Pause { for_ms, .. }
            | FaultAction::Isolate { for_ms, .. }
            | FaultAction::Cut { for_ms, .. }
            | FaultAction::Split { for_ms, .. }
            | FaultAction::SlowLink { for_ms, .. } => Some(*for_ms),
            FaultAction::Crash { down_ms, .. } => Some(*down_ms),
            FaultAction::Stall { for_ms, .. } => *for_ms,
            FaultAction::ClockStep { .. }
            | FaultAction::Garbage { .. }
            | FaultAction::DelayWrite { .. } => None,
        }
    }

    /// The directed links a network fault clogs, among `n` nodes (none for other faults).
    #[must_use]
    pub fn links(&self, n: usize) -> Vec<(NodeIdx, NodeIdx)> {
        match self {
            FaultAction::Isolate { node, .. } => (0..n)
                .filter(|o| o != node)
                .flat_map(|o| [(*node, o), (o, *node)])
                .collect(),
            FaultAction::Cut { from, to, .. } => vec![(*from, *to)],
            FaultAction::Split { groups, .. } => {
                let mut v = Vec::new();
                for (i, g) in groups.iter().enumerate() {
                    for (j, h) in groups.iter().enumerate() {
                        if i != j {
                            for &a in g {
                                for &b in h {
                                    v.push((a, b));
                                }
                            }
                        }
                    }
                }
                v
            }
            _ => Vec::new(),
        }
    }

    /// Retargets a fault aimed at the holder at client `holder`: a node fault moves to it; a
    /// cut keeps its server end and moves its other end.
    pub fn aim_at(&mut self, holder: NodeIdx) {
        match self {
            FaultAction::Pause { node, .. }
            | FaultAction::Isolate { node, .. }
            | FaultAction::Crash { node, .. }
            | FaultAction::Stall { node, .. }
            | FaultAction::DelayWrite { node, .. } => *node = holder,
            FaultAction::Cut { from, to, .. } => {
                if *from == SERVER {
                    *to = holder;
                } else {
                    *from = holder;
                }
            }
            _ => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub at_ms: u64,
    pub action: FaultAction,
    /// Written as `"holder"`: the client holding the lease when the fault fires (client-0
    /// if nobody does).
    pub holder: bool,
}

/// Which class of faults a scenario uses (docs/design.md, "Faults").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultClass {
    WithinAssumptions,
    BeyondAssumptions,
}

/// A validated scenario of protocol `P` (the reference protocol by default).
#[derive(Clone, Debug)]
pub struct Scenario<P: Protocol = Reference> {
    pub path: PathBuf,
    pub name: String,
    /// First 8 hex digits of the SHA-256 of the file's bytes.
    pub hash: String,
    /// The file's text, as hashed (a shard's partial file carries it, so a merge judges
    /// exactly what the shards ran).
    pub text: String,
    pub file: ScenarioFile<P::Fields>,
    pub config: P::Config,
    pub clients: usize,
    pub script: Vec<Fault>,
    pub always: Vec<OracleName>,
    pub sometimes: Vec<String>,
    pub finds: Vec<OracleName>,
    /// Why the scenario is beyond its protocol's assumptions (empty: within), each breach
    /// with its field; [`Scenario::class`] is read from it.
    pub beyond: Vec<Breach>,
    /// The fault bounds its assumptions were judged on (a plug-in's envelope reads them).
    pub bounds: FaultBounds,
    /// The jobs' idempotency keys, by index (empty without `[jobs]`).
    pub job_keys: Vec<String>,
    /// A lock set's key names in the global order (key `k` is `lock_keys[k]`).
    pub lock_keys: Vec<String>,
}

/// The node names of a cluster with `clients` clients.
#[must_use]
pub fn node_name(idx: NodeIdx) -> String {
    node_id(idx).name()
}

/// The index of a node name in a cluster of `clients` clients (`holder` names client-0, a
/// placeholder a fault retargets when it fires).
#[must_use]
pub fn node_index(name: &str, clients: usize) -> Option<NodeIdx> {
    match name {
        "server" => Some(SERVER),
        // A placeholder client, retargeted at the holder when the fault fires.
        "holder" => Some(FIRST_CLIENT),
        "resource" => Some(RESOURCE),
        _ => {
            let i: usize = name.strip_prefix("client-")?.parse().ok()?;
            (i < clients).then_some(client_idx(i))
        }
    }
}

/// Content hash of a scenario file: the first 8 hex digits of its SHA-256.
#[must_use]
pub fn content_hash(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl<P: Protocol> Scenario<P> {
    /// Every oracle the scenario names, in `always` and in `finds` (the named-only
    /// oracles are judged for these: `SafetyOracles::judging`).
    #[must_use]
    pub fn named_oracles(&self) -> Vec<OracleName> {
        self.always.iter().chain(&self.finds).copied().collect()
    }

    /// Within or beyond its protocol's assumptions: beyond when it breaches any.
    #[must_use]
    pub fn class(&self) -> FaultClass {
        if self.beyond.is_empty() {
            FaultClass::WithinAssumptions
        } else {
            FaultClass::BeyondAssumptions
        }
    }

    /// Reads and validates a scenario file of protocol `P`: its `[protocol]` table's
    /// `kind` must be `P`'s name, its other fields are `P`'s own.
    pub fn load_protocol(path: &Path) -> Result<Scenario<P>, ScenarioError> {
        let bytes = std::fs::read(path).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: "(file)".into(),
            reason: format!("cannot read: {e}"),
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: "(file)".into(),
            reason: format!("not UTF-8: {e}"),
        })?;
        Scenario::parse_protocol(path, &text)
    }

    /// Parses and validates scenario text of protocol `P`; `path` names it in errors.
    pub fn parse_protocol(path: &Path, text: &str) -> Result<Scenario<P>, ScenarioError> {
        check_kind::<P>(path, text)?;
        let file: ScenarioFile<Kinded<P>> = toml::from_str(text).map_err(|e| {
            let (mut line, mut column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            // A bad value names the field it is the value of; otherwise the span is the
            // key (an unknown field) or the text at fault.
            let mut field = e
                .span()
                .and_then(|s| value_field(text, s.start))
                .or_else(|| {
                    e.span()
                        .and_then(|s| text.get(s))
                        .map(|s| s.trim().trim_matches('"').to_string())
                        .filter(|s| !s.is_empty() && s.len() < 60 && !s.contains('\n'))
                })
                .unwrap_or_else(|| "(syntax)".into());
            // A plug-in's field refused inside `[protocol]` carries the table's span:
            // point at the field itself.
            if let Some(name) = e
                .message()
                .strip_prefix("unknown field `")
                .and_then(|m| m.split('`').next())
                .filter(|_| field == "(syntax)")
            {
                field = format!("protocol.{name}");
                (line, column) = locate(text, &field);
            }
            ScenarioError {
                file: path.to_path_buf(),
                line,
                column,
                field,
                reason: if e.message().trim().is_empty() {
                    "not valid TOML here".into()
                } else {
                    e.message().trim().to_string()
                },
            }
        })?;
        validate(path, text, file.map_protocol(|k| k.0))
    }

    /// The seeds `leaseproof run` runs from `base` (or the explicit list).
    #[must_use]
    pub fn run_seeds(&self, base: u64, count: Option<u32>) -> Vec<u64> {
        if !self.file.seed_list.is_empty() {
            return self.file.seed_list.clone();
        }
        let n = count.unwrap_or(self.file.seeds);
        (0..u64::from(n)).map(|i| base.wrapping_add(i)).collect()
    }

    /// The seeds `cargo test` runs.
    #[must_use]
    pub fn test_seeds(&self) -> Vec<u64> {
        let n = self.file.test_seeds.unwrap_or(self.file.seeds.min(20));
        self.run_seeds(0, Some(n))
    }
}

impl Scenario {
    /// Reads and validates a scenario file of the reference protocol (what the binary
    /// runs): [`Scenario::load_protocol`].
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_protocol(path)
    }

    /// Parses and validates scenario text of the reference protocol; `path` names it in
    /// errors.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_protocol(path, text)
    }
}

impl<F> ScenarioFile<F> {
    /// The same file with its `[protocol]` fields mapped.
    pub fn map_protocol<G>(self, f: impl FnOnce(F) -> G) -> ScenarioFile<G> {
        ScenarioFile {
            description: self.description,
            seeds: self.seeds,
            test_seeds: self.test_seeds,
            seed_list: self.seed_list,
            duration_ms: self.duration_ms,
            liveness: self.liveness,
            cluster: self.cluster,
            clocks: self.clocks,
            protocol: f(self.protocol),
            faults: self.faults,
            jobs: self.jobs,
            locks: self.locks,
            expect: self.expect,
        }
    }
}

/// A protocol's `[protocol]` fields with `kind` set aside (checked before, by
/// [`check_kind`]), unless the fields name their kind themselves
/// ([`Protocol::FIELDS_NAME_KIND`], the reference protocol's).
struct Kinded<P: Protocol>(P::Fields);

impl<P: Protocol> Default for Kinded<P> {
    fn default() -> Self {
        Kinded(P::Fields::default())
    }
}

impl<'de, P: Protocol> Deserialize<'de> for Kinded<P> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if P::FIELDS_NAME_KIND {
            return P::Fields::deserialize(d).map(Kinded);
        }
        d.deserialize_map(KindedVisitor::<P>(std::marker::PhantomData))
    }
}

struct KindedVisitor<P>(std::marker::PhantomData<P>);

impl<'de, P: Protocol> serde::de::Visitor<'de> for KindedVisitor<P> {
    type Value = Kinded<P>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the {} protocol's fields", P::NAME)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Kinded<P>, A::Error> {
        P::Fields::deserialize(serde::de::value::MapAccessDeserializer::new(SkipKind(map)))
            .map(Kinded)
    }
}

/// A table's entries without `kind`.
struct SkipKind<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for SkipKind<A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.0.next_key::<String>()? {
            if key == "kind" {
                self.0.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let key: serde::de::value::StringDeserializer<A::Error> =
                serde::de::IntoDeserializer::into_deserializer(key);
            return seed.deserialize(key).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }
}

/// `[protocol] kind` as a scenario's text writes it (`None`: absent), or `Err` when the
/// text is not TOML.
fn written_kind(text: &str) -> Result<Option<toml::Value>, toml::de::Error> {
    let table = toml::from_str::<toml::Table>(text)?;
    Ok(table.get("protocol").and_then(|p| p.get("kind")).cloned())
}

/// The name of the protocol a scenario file's text is a scenario of: its `[protocol]
/// kind`, the reference protocol's when absent; `None` when the text is not TOML or the
/// kind is not a string (the typed reader then says why, with the file and the line).
#[must_use]
pub fn protocol_of(text: &str) -> Option<String> {
    match written_kind(text).ok()? {
        None => Some(Reference::NAME.to_string()),
        Some(toml::Value::String(k)) => Some(k),
        Some(_) => None,
    }
}

/// Scenario text of protocol `P` read back as its file (no validation): what a tool that
/// edits a scenario (the regression corpus) works on.
///
/// # Errors
/// The text is not TOML of a scenario file of `P`.
pub fn file_of<P: Protocol>(text: &str) -> Result<ScenarioFile<P::Fields>, toml::de::Error> {
    let file: ScenarioFile<Kinded<P>> = toml::from_str(text)?;
    Ok(file.map_protocol(|k| k.0))
}

/// A scenario file of protocol `P` as text; a plug-in's `[protocol]` table names its kind
/// (its fields do not carry it).
///
/// # Errors
/// The file cannot be written as TOML.
pub fn text_of<P: Protocol>(f: &ScenarioFile<P::Fields>) -> Result<String, toml::ser::Error> {
    if P::FIELDS_NAME_KIND {
        return toml::to_string(f);
    }
    let mut t = toml::Table::try_from(f)?;
    if let Some(toml::Value::Table(p)) = t.get_mut("protocol") {
        p.insert("kind".into(), toml::Value::String(P::NAME.into()));
    }
    toml::to_string(&t)
}

/// A file of another protocol is refused before its fields are read: `[protocol] kind`
/// must be `P`'s name (`"reference"` when absent). The error points at the value.
fn check_kind<P: Protocol>(path: &Path, text: &str) -> Result<(), ScenarioError> {
    // A file that is not TOML is reported by the typed parse, with its span.
    let Ok(written) = written_kind(text) else {
        return Ok(());
    };
    let written = written.as_ref();
    let kind = match written {
        None => Reference::NAME,
        Some(toml::Value::String(k)) => k.as_str(),
        Some(other) => {
            let (line, column) = locate(text, "protocol.kind");
            return Err(ScenarioError {
                file: path.to_path_buf(),
                line,
                column,
                field: "protocol.kind".into(),
                reason: format!("{other} is not a protocol's name (a string)"),
            });
        }
    };
    if kind == P::NAME {
        return Ok(());
    }
    let (line, key_column) = locate(text, "protocol.kind");
    let column = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(value_start)
        .map_or(key_column, |at| at + 1);
    Err(ScenarioError {
        file: path.to_path_buf(),
        line,
        column,
        field: "protocol.kind".into(),
        reason: if written.is_none() {
            format!(
                "missing: without it a scenario is the reference protocol's; this reads \
                 scenarios of the {} protocol, so write kind = \"{}\" in [protocol]",
                P::NAME,
                P::NAME
            )
        } else {
            format!(
                "unknown variant `{kind}`, expected `{}`: this reads scenarios of the {} \
                 protocol (a plug-in's scenarios run from its own crate's tests: \
                 docs/protocols.md)",
                P::NAME,
                P::NAME
            )
        },
    })
}

/// Where a `key = value` line's value begins (0-based, after the `=` and its spaces).
fn value_start(line: &str) -> Option<usize> {
    let eq = line.find('=')?;
    let after = &line[eq + 1..];
    Some(eq + 1 + (after.len() - after.trim_start().len()))
}

/// The dotted path of the field whose value starts at `offset`, for a `key = value` line
/// (`protocol.ttl_ms` for `ttl_ms = "x"` under `[protocol]`); `None` when the offset is
/// not a plain line's value (a key, an inline table's entry, an array's element).
fn value_field(text: &str, offset: usize) -> Option<String> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |n| n + 1);
    let line = text.get(start..)?.lines().next()?;
    let key = line.split_once('=')?.0.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !bare || offset != start + value_start(line)? {
        return None;
    }
    Some(match table_at(text, start) {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// The table the text at `offset` is in: the last `[header]` before it (`None`: the
/// top level).
pub(crate) fn table_at(text: &str, offset: usize) -> Option<String> {
    text[..offset.min(text.len())]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_string())
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |n| offset - n - 1) + 1;
    (line, column)
}

/// Finds where a dotted field path (`protocol.ttl_ms`, `faults.script[2].pause`) is
/// written; falls back to its table's header, then to line 1.
#[must_use]
pub fn locate(text: &str, path: &str) -> (usize, usize) {
    let mut table = String::new();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut header_line: Option<(usize, usize)> = None;
    let (want_table, want_key) = match path.rsplit_once('.') {
        Some((t, k)) => (t.to_string(), k.to_string()),
        None => (String::new(), path.to_string()),
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let indent = raw.len() - line.len();
        if let Some(h) = line.strip_prefix("[[") {
            let name = h.split("]]").next().unwrap_or("").trim().to_string();
            let i = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{i}]");
            *i += 1;
        } else if let Some(h) = line.strip_prefix('[') {
            table = h.split(']').next().unwrap_or("").trim().to_string();
        } else if let Some((k, _)) = line.split_once('=') {
            let k = k.trim().trim_matches('"');
            let full = if table.is_empty() {
                k.to_string()
            } else {
                format!("{table}.{k}")
            };
            if full == path {
                return (n + 1, indent + 1);
            }
            // An inline table or dotted key (`protocol = { ttl_ms = 1 }`) mentions it too.
            if full == want_table && line.contains(&want_key) && header_line.is_none() {
                header_line = Some((n + 1, indent + 1));
            }
            continue;
        } else {
            continue;
        }
        if table == want_table && header_line.is_none() {
            header_line = Some((n + 1, indent + 1));
        }
    }
    header_line
        .or_else(|| locate_inline_entry(text, path))
        .unwrap_or((1, 1))
}

/// Finds `table.array[i].key` when the array is written inline (`script = [{ .. }, { .. }]`,
/// over one line or many): the key inside the i-th inline table, or that table's `{`.
fn locate_inline_entry(text: &str, path: &str) -> Option<(usize, usize)> {
    let (array, rest) = path.split_once('[')?;
    let (index, key) = rest.split_once("].")?;
    let index: usize = index.parse().ok()?;
    let (line, _) = locate(text, array);
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    // `locate` falls back to a table's header or line 1: only the array's own key will do.
    let written = text[line_start..].lines().next()?.trim_start();
    if !written
        .trim_start_matches('"')
        .starts_with(array.rsplit('.').next()?)
    {
        return None;
    }
    let after_eq = line_start + text[line_start..].find('=')? + 1;
    let bytes = text.as_bytes();
    let (mut depth, mut entries, mut in_string) = (0usize, 0usize, false);
    let mut entry_start = None;
    let mut i = after_eq;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'#' => {
                    i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                    continue;
                }
                b'[' | b'{' => {
                    depth += 1;
                    if c == b'{' && depth == 2 {
                        if entries == index {
                            entry_start = Some(i);
                        }
                        entries += 1;
                    }
                }
                b']' | b'}' => {
                    if depth == 2 && entry_start.is_some() {
                        break;
                    }
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        break;
                    }
                }
                _ if depth == 2
                    && entry_start.is_some()
                    && bytes[i..].starts_with(key.as_bytes()) =>
                {
                    let before_ok = !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_';
                    let tail = bytes[i + key.len()..].trim_ascii_start();
                    if before_ok && tail.starts_with(b"=") {
                        return Some(line_col(text, i));
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    entry_start.map(|o| line_col(text, o))
}

/// Where validation errors point: the file and its text, to locate a field in.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn err(&self, field: &str, reason: String) -> ScenarioError {
        let (line, column) = locate(self.text, field);
        ScenarioError {
            file: self.path.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            reason,
        }
    }
}

/// Validates a parsed file section by section, then classifies it.
fn validate<P: Protocol>(
    path: &Path,
    text: &str,
    file: ScenarioFile<P::Fields>,
) -> Result<Scenario<P>, ScenarioError> {
    let src = Source { path, text };
    let clients = validate_cluster(&src, &file)?;
    let (config, job_keys, lock_keys) = validate_protocol::<P>(&src, &file)?;
    let (drift, offsets) = validate_clocks(&src, &file, clients)?;
    let mut bounds = FaultBounds {
        drift,
        offsets,
        ..FaultBounds::default()
    };
    let script = validate_script(&src, &file, clients, &mut bounds)?;
    validate_random(&src, &file)?;
    bounds.steps.extend(random_client_steps(&file));
    bounds.restarts.extend(random_client_restarts(&file));
    validate_crash_points(&src, &file)?;
    let (mut always, finds) = validate_expect::<P, _>(&src, &file, &config)?;
    bounds.suspends = suspends(&file);
    // A slowed link's frames take its extra on top of the network's longest.
    let slowest = script
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f.action {
            FaultAction::SlowLink { by_ms, .. } => Some((i, by_ms)),
            _ => None,
        })
        .max_by_key(|&(_, by)| by);
    bounds.latency = Some(LatencyBound {
        field: slowest.map_or_else(
            || "cluster.latency_ms".into(),
            |(i, _)| format!("faults.script[{i}].slow"),
        ),
        ms: file.cluster.latency_ms[1].saturating_add(slowest.map_or(0, |(_, by)| by)),
        min_ms: file.cluster.latency_ms[0],
    });
    let beyond = config.breaches(&bounds);
    check_class::<P, _>(&src, &file, &config, &beyond, &finds)?;
    check_oracle_assumptions::<P>(&src, &config, &bounds, &always)?;
    // Within a plug-in's assumptions belief-exclusivity is judged without being named,
    // where the plug-in claims it (`Protocol::BELIEF_IMPLICIT`; the reference protocol's
    // scenarios name it where they want it, and keep their verdicts).
    let belief = OracleName::BeliefExclusivity;
    if P::BELIEF_IMPLICIT
        && beyond.is_empty()
        && !always.contains(&belief)
        && !finds.contains(&belief)
        && config.oracle_breaches(belief, &bounds).is_empty()
    {
        always.push(belief);
    }
    let name = path
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    Ok(Scenario {
        path: path.to_path_buf(),
        name,
        hash: content_hash(text.as_bytes()),
        text: text.to_string(),
        config,
        clients,
        script,
        always,
        sometimes: file.expect.sometimes.clone(),
        finds,
        beyond,
        bounds,
        job_keys,
        lock_keys,
        file,
    })
}

/// `seeds`, `duration_ms` and `[cluster]`; returns the number of clients.
fn validate_cluster<F>(src: &Source, file: &ScenarioFile<F>) -> Result<usize, ScenarioError> {
    let c = &file.cluster;
    if c.clients == 0 || c.clients > 64 {
        return Err(src.err(
            "cluster.clients",
            format!("{} is not between 1 and 64", c.clients),
        ));
    }
    if file.seeds == 0 || file.seeds > 10_000_000 {
        return Err(src.err(
            "seeds",
            format!("{} is not between 1 and 10000000", file.seeds),
        ));
    }
    if file.test_seeds == Some(0) {
        return Err(src.err("test_seeds", "must be at least 1".into()));
    }
    if file.duration_ms == 0 || file.duration_ms > 86_400_000 {
        return Err(src.err(
            "duration_ms",
            format!(
                "{} ms is not between 1 and 86400000 (one day)",
                file.duration_ms
            ),
        ));
    }
    check_range(src, "cluster.latency_ms", c.latency_ms, false)?;
    let hi = c.latency_ms[1];
    if hi > 600_000 {
        return Err(src.err("cluster.latency_ms", format!("{hi} ms is above 600000 ms")));
    }
    for (field, r, max_ok) in [
        ("cluster.loss_ratio", c.loss_ratio, 0.99),
        ("cluster.duplicate_ratio", c.duplicate_ratio, 1.0),
        ("cluster.send_delay_ratio", c.send_delay_ratio, 1.0),
    ] {
        check_ratio(src, field, r, max_ok)?;
    }
    check_range(src, "cluster.send_delay_ms", c.send_delay_ms, false)?;
    Ok(c.clients as usize)
}

/// A ratio field: a number between 0 and `max`.
fn check_ratio(src: &Source, field: &str, r: f64, max: f64) -> Result<(), ScenarioError> {
    if !(0.0..=max).contains(&r) || r.is_nan() {
        return Err(src.err(field, format!("{r} is not between 0 and {max}")));
    }
    Ok(())
}

/// A `[min, max]` field: ordered, and with a positive maximum when `positive`.
fn check_range(
    src: &Source,
    field: &str,
    [a, b]: [u64; 2],
    positive: bool,
) -> Result<(), ScenarioError> {
    if a > b {
        return Err(src.err(
            field,
            format!("[{a}, {b}]: the minimum is above the maximum"),
        ));
    }
    if positive && b == 0 {
        return Err(src.err(field, "the maximum must be positive".into()));
    }
    Ok(())
}

/// A validated config, the job keys and the lock set's keys in order.
type Configured<P> = (<P as Protocol>::Config, Vec<String>, Vec<String>);

/// `[jobs]`, `[locks]` and `[protocol]`: the validated config, the job keys and the lock
/// set's keys in order.
fn validate_protocol<P: Protocol>(
    src: &Source,
    file: &ScenarioFile<P::Fields>,
) -> Result<Configured<P>, ScenarioError> {
    let (jobs, job_keys) = match &file.jobs {
        None => (leaseproof_impl::Jobs::NONE, Vec::new()),
        Some(j) => validate_jobs(j).map_err(|(field, reason)| src.err(field, reason))?,
    };
    let lock_keys = match &file.locks {
        None => Vec::new(),
        Some(l) => lock_order(l).map_err(|(field, reason)| src.err(field, reason))?,
    };
    let workload = Workload {
        jobs,
        lock_keys: lock_keys.len() as u8,
    };
    let config = P::configure(&file.protocol, workload).map_err(|e| {
        let field = if ["jobs", "locks"].contains(&e.field)
            || e.field.starts_with("jobs.")
            || e.field.starts_with("locks.")
        {
            e.field.to_string()
        } else {
            format!("protocol.{}", e.field)
        };
        src.err(&field, e.reason)
    })?;
    Ok((config, job_keys, lock_keys))
}

/// `[clocks]`; returns how far each configured clock may drift, and how far its offset
/// from true time may be.
fn validate_clocks<F>(
    src: &Source,
    file: &ScenarioFile<F>,
    clients: usize,
) -> Result<(Vec<DriftBound>, Vec<OffsetBound>), ScenarioError> {
    if file.clocks.drift_ppm >= 1_000_000 {
        return Err(src.err(
            "clocks.drift_ppm",
            format!("{} is not below 1000000", file.clocks.drift_ppm),
        ));
    }
    let mut drift = vec![DriftBound {
        field: "clocks.drift_ppm".into(),
        ppm: file.clocks.drift_ppm,
    }];
    let mut offsets: Vec<OffsetBound> = (file.clocks.offset_ms > 0)
        .then(|| OffsetBound {
            field: "clocks.offset_ms".into(),
            ms: file.clocks.offset_ms,
        })
        .into_iter()
        .collect();
    for (i, pin) in file.clocks.pin.iter().enumerate() {
        if node_index(&pin.node, clients).is_none() {
            return Err(src.err(
                &format!("clocks.pin[{i}].node"),
                format!("no node named {:?} (nodes: {})", pin.node, names(clients)),
            ));
        }
        if pin.drift_ppm.unsigned_abs() >= 1_000_000 {
            return Err(src.err(
                &format!("clocks.pin[{i}].drift_ppm"),
                format!("{} is not within ±999999", pin.drift_ppm),
            ));
        }
        drift.push(DriftBound {
            field: format!("clocks.pin[{i}].drift_ppm"),
            ppm: pin.drift_ppm.unsigned_abs(),
        });
        if pin.offset_ms != 0 {
            offsets.push(OffsetBound {
                field: format!("clocks.pin[{i}].offset_ms"),
                ms: pin.offset_ms.unsigned_abs(),
            });
        }
    }
    Ok((drift, offsets))
}

/// Random clock steps as bounds: a client's clock may step forward by up to
/// `clock_step_ms`'s maximum, at any time (the authority's steps are drawn within its
/// protocol's own allowance, `Protocol::authority_steps_ms`, so they stay inside).
fn random_client_steps<F>(file: &ScenarioFile<F>) -> Option<StepBound> {
    let r = file.faults.random.as_ref()?;
    (r.events > 0 && r.kinds.contains(&RandomKind::ClockStep)).then(|| StepBound {
        field: "faults.random.kinds".into(),
        authority: false,
        at_ms: 0,
        by_ms: r.clock_step_ms[1].max(1) as i64,
    })
}

/// Random client crashes as a restart bound: the shortest down time `down_ms` allows.
fn random_client_restarts<F>(file: &ScenarioFile<F>) -> Option<RestartBound> {
    let r = file.faults.random.as_ref()?;
    (r.events > 0 && r.kinds.contains(&RandomKind::CrashClient)).then(|| RestartBound {
        field: "faults.random.kinds".into(),
        down_ms: r.down_ms[0],
    })
}

/// The fault script: ordered in time, every node named exists, one action per entry. Adds
/// its clock steps and its crashes that lose a disk to `bounds`.
fn validate_script<F>(
    src: &Source,
    file: &ScenarioFile<F>,
    clients: usize,
    bounds: &mut FaultBounds,
) -> Result<Vec<Fault>, ScenarioError> {
    let mut script = Vec::new();
    let mut last_at = 0;
    for (i, e) in file.faults.script.iter().enumerate() {
        let entry = Entry { src, i, e, clients };
        if e.at_ms < last_at {
            return Err(entry.err(
                "at_ms",
                format!(
                    "{} ms goes back in time (the entry before is at {last_at} ms)",
                    e.at_ms
                ),
            ));
        }
        if e.at_ms > file.duration_ms {
            return Err(entry.err(
                "at_ms",
                format!(
                    "{} ms is after the safety phase ends ({} ms)",
                    e.at_ms, file.duration_ms
                ),
            ));
        }
        last_at = e.at_ms;
        let action = entry.action()?;
        match action {
            FaultAction::ClockStep { node, by_ms } => bounds.steps.push(StepBound {
                field: format!("faults.script[{i}].by_ms"),
                authority: node == SERVER,
                at_ms: e.at_ms,
                by_ms,
            }),
            FaultAction::Crash { node, down_ms, .. } if is_client(node) => {
                bounds.restarts.push(RestartBound {
                    field: format!("faults.script[{i}].crash"),
                    down_ms,
                });
            }
            FaultAction::Crash {
                node,
                lose_disk: true,
                ..
            } => bounds.losses.push(LossBound {
                field: format!("faults.script[{i}].lose"),
                what: if node == SERVER {
                    "server's token counter"
                } else {
                    "resource's table"
                }
                .into(),
            }),
            _ => {}
        }
        script.push(entry.fault(action)?);
    }
    Ok(script)
}

/// One entry of the fault script, being validated.
struct Entry<'a> {
    src: &'a Source<'a>,
    i: usize,
    e: &'a ScriptEntry,
    clients: usize,
}

impl Entry<'_> {
    fn err(&self, key: &str, reason: String) -> ScenarioError {
        self.src
            .err(&format!("faults.script[{}].{key}", self.i), reason)
    }

    fn node(&self, key: &str, name: &str) -> Result<NodeIdx, ScenarioError> {
        node_index(name, self.clients).ok_or_else(|| {
            self.err(
                key,
                format!("no node named {name:?} (nodes: {})", names(self.clients)),
            )
        })
    }

    fn need_for(&self) -> Result<u64, ScenarioError> {
        self.e
            .for_ms
            .filter(|&d| d > 0)
            .ok_or_else(|| self.err("for_ms", "this fault needs a positive for_ms".into()))
    }

    /// The entry's one action, with its nodes resolved.
    fn action(&self) -> Result<FaultAction, ScenarioError> {
        let e = self.e;
        let actions = [
            e.pause.is_some(),
            e.isolate.is_some(),
            e.cut.is_some(),
            e.split.is_some(),
            e.crash.is_some(),
            e.clock_step.is_some(),
            e.garbage.is_some(),
            e.stall.is_some(),
            e.delay_write.is_some(),
            e.slow.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        if actions != 1 {
            return Err(self.err(
                "at_ms",
                format!(
                    "an entry needs exactly one of pause, isolate, cut, split, crash, clock_step, \
                     garbage, stall, delay_write, slow (found {actions})"
                ),
            ));
        }
        if e.lose.is_some() && e.crash.is_none() {
            return Err(self.err("lose", "lose goes with crash".into()));
        }
        if e.by_ms.is_some() && e.clock_step.is_none() && e.slow.is_none() {
            return Err(self.err("by_ms", "by_ms goes with clock_step or slow".into()));
        }
        if let Some(n) = &e.pause {
            Ok(FaultAction::Pause {
                node: self.node("pause", n)?,
                for_ms: self.need_for()?,
            })
        } else if let Some(n) = &e.isolate {
            Ok(FaultAction::Isolate {
                node: self.node("isolate", n)?,
                for_ms: self.need_for()?,
            })
        } else if let Some(pair) = &e.cut {
            self.cut(pair)
        } else if let Some(groups) = &e.split {
            self.split(groups)
        } else if let Some(n) = &e.crash {
            self.crash(n)
        } else if let Some(n) = &e.stall {
            self.stall(n)
        } else if let Some(pair) = &e.slow {
            self.slow(pair)
        } else if let Some(n) = &e.delay_write {
            Ok(FaultAction::DelayWrite {
                node: self.client("delay_write", n, "only a client's writes can be delayed")?,
                for_ms: self.need_for()?,
            })
        } else if let Some(n) = &e.garbage {
            Ok(FaultAction::Garbage {
                node: self.node("garbage", n)?,
            })
        } else {
            self.clock_step()
        }
    }

    /// A directed link `[from, to]` named by `field`: two nodes, not one twice.
    fn link(&self, field: &str, pair: &[String]) -> Result<(NodeIdx, NodeIdx), ScenarioError> {
        if pair.len() != 2 {
            return Err(self.err(field, format!("needs [from, to], got {} names", pair.len())));
        }
        let (from, to) = (self.node(field, &pair[0])?, self.node(field, &pair[1])?);
        if from == to {
            return Err(self.err(
                field,
                "from and to are the same node: a link joins two different nodes".into(),
            ));
        }
        Ok((from, to))
    }

    /// A client named by `field`; `why` says what only a client can do.
    fn client(&self, field: &str, n: &str, why: &str) -> Result<NodeIdx, ScenarioError> {
        let k = self.node(field, n)?;
        if !is_client(k) {
            return Err(self.err(field, format!("{n:?} is not a client: {why}")));
        }
        Ok(k)
    }

    fn cut(&self, pair: &[String]) -> Result<FaultAction, ScenarioError> {
        let (from, to) = self.link("cut", pair)?;
        Ok(FaultAction::Cut {
            from,
            to,
            for_ms: self.need_for()?,
        })
    }

    fn split(&self, groups: &[Vec<String>]) -> Result<FaultAction, ScenarioError> {
        if groups.len() < 2 {
            return Err(self.err("split", "needs at least two groups".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut idx = Vec::new();
        for g in groups {
            let mut gi = Vec::new();
            for n in g {
                let k = self.node("split", n)?;
                if !seen.insert(k) {
                    return Err(self.err("split", format!("{n:?} is in two groups")));
                }
                gi.push(k);
            }
            idx.push(gi);
        }
        Ok(FaultAction::Split {
            groups: idx,
            for_ms: self.need_for()?,
        })
    }

    /// A crash; the server can lose its counter, the resource its table.
    fn crash(&self, n: &str) -> Result<FaultAction, ScenarioError> {
        let k = self.node("crash", n)?;
        let lose_disk = match (k, self.e.lose.as_deref()) {
            (_, None) => false,
            (SERVER, Some("counter")) | (RESOURCE, Some("table")) => true,
            (_, Some(what)) => {
                return Err(self.err(
                    "lose",
                    format!(
                        "{what:?} cannot be lost by {n}: the server can lose \"counter\", \
                         the resource \"table\" (clients keep nothing)"
                    ),
                ))
            }
        };
        Ok(FaultAction::Crash {
            node: k,
            down_ms: self.need_for()?,
            lose_disk,
        })
    }

    fn slow(&self, pair: &[String]) -> Result<FaultAction, ScenarioError> {
        let (from, to) = self.link("slow", pair)?;
        let by_ms = match self.e.by_ms {
            Some(b) if b > 0 => b.unsigned_abs(),
            _ => {
                return Err(self.err(
                    "by_ms",
                    "a slowed link needs a positive by_ms (the extra latency)".into(),
                ))
            }
        };
        Ok(FaultAction::SlowLink {
            from,
            to,
            by_ms,
            for_ms: self.need_for()?,
        })
    }

    fn stall(&self, n: &str) -> Result<FaultAction, ScenarioError> {
        let k = self.client("stall", n, "only a client's worker can stall")?;
        if self.e.for_ms == Some(0) {
            return Err(self.err(
                "for_ms",
                "a stall needs a positive for_ms, or none (stuck until the run ends)".into(),
            ));
        }
        Ok(FaultAction::Stall {
            node: k,
            for_ms: self.e.for_ms,
        })
    }

    /// A clock step.
    fn clock_step(&self) -> Result<FaultAction, ScenarioError> {
        let n = self.e.clock_step.as_deref().unwrap_or_default();
        let k = self.node("clock_step", n)?;
        let by_ms = self
            .e
            .by_ms
            .filter(|&b| b != 0)
            .ok_or_else(|| self.err("by_ms", "a clock step needs a non-zero by_ms".into()))?;
        Ok(FaultAction::ClockStep { node: k, by_ms })
    }

    /// The fault, aimed at the holder when it names `"holder"` (which a split cannot, and a
    /// cut only with the server on its other end).
    fn fault(&self, action: FaultAction) -> Result<Fault, ScenarioError> {
        let e = self.e;
        let names_holder = [
            &e.pause,
            &e.isolate,
            &e.crash,
            &e.clock_step,
            &e.stall,
            &e.delay_write,
        ]
        .iter()
        .any(|n| n.as_deref() == Some("holder"))
            || e.cut.iter().flatten().any(|n| n == "holder");
        if names_holder && e.split.is_some() {
            return Err(self.err("split", "\"holder\" cannot be used in a split".into()));
        }
        if let FaultAction::Cut { from, to, .. } = action {
            if names_holder && from != SERVER && to != SERVER {
                return Err(self.err(
                    "cut",
                    "a cut that names \"holder\" must have the server on its other end".into(),
                ));
            }
        }
        Ok(Fault {
            at_ms: e.at_ms,
            action,
            holder: names_holder,
        })
    }
}

/// `[faults.crash_points]`: ratios in [0, 1], a down time ordered and positive.
fn validate_crash_points<F>(src: &Source, file: &ScenarioFile<F>) -> Result<(), ScenarioError> {
    let Some(c) = &file.faults.crash_points else {
        return Ok(());
    };
    check_ratio(src, "faults.crash_points.server", c.server, 1.0)?;
    check_ratio(src, "faults.crash_points.resource", c.resource, 1.0)?;
    check_range(src, "faults.crash_points.down_ms", c.down_ms, true)
}

/// `[faults.random]`: ranges ordered and positive, a bounded event count with kinds.
fn validate_random<F>(src: &Source, file: &ScenarioFile<F>) -> Result<(), ScenarioError> {
    let Some(r) = &file.faults.random else {
        return Ok(());
    };
    for (field, [a, b]) in [
        ("faults.random.pause_ms", r.pause_ms),
        ("faults.random.partition_ms", r.partition_ms),
        ("faults.random.down_ms", r.down_ms),
        ("faults.random.clock_step_ms", r.clock_step_ms),
    ] {
        check_range(src, field, [a, b], field != "faults.random.clock_step_ms")?;
    }
    if r.events > 10_000 {
        return Err(src.err(
            "faults.random.events",
            format!("{} is above 10000", r.events),
        ));
    }
    if r.events > 0 && r.kinds.is_empty() {
        return Err(src.err(
            "faults.random.kinds",
            "random events need at least one kind".into(),
        ));
    }
    Ok(())
}

/// `[expect]`: known oracles, none both in always and finds, known coverage labels, and
/// something expected. Returns `always` and `finds`.
fn validate_expect<P: Protocol, F>(
    src: &Source,
    file: &ScenarioFile<F>,
    config: &P::Config,
) -> Result<(Vec<OracleName>, Vec<OracleName>), ScenarioError> {
    let oracles = |field: &str, list: &[String]| {
        list.iter()
            .map(|s| OracleName::parse(s).map_err(|r| src.err(field, r)))
            .collect::<Result<Vec<_>, _>>()
    };
    let always = oracles("expect.always", &file.expect.always)?;
    let finds = oracles("expect.finds", &file.expect.finds)?;
    if let Some(o) = always.iter().find(|o| finds.contains(o)) {
        return Err(src.err(
            "expect.finds",
            format!("{o} is both in always and in finds"),
        ));
    }
    // A protocol without a liveness claim has no liveness phase to judge these in.
    let claims_liveness = leaseproof_impl::claims_liveness::<P>(config);
    for (field, list) in [("expect.always", &always), ("expect.finds", &finds)] {
        if let Some(o) = list.iter().find(|o| !o.is_safety() && !claims_liveness) {
            return Err(src.err(
                field,
                format!(
                    "the {} protocol makes no liveness claim (Protocol::liveness_bound_ns), \
                     so {o} cannot be judged",
                    P::NAME
                ),
            ));
        }
    }
    for s in &file.expect.sometimes {
        let is_fault_label = crate::fault::coverage_labels().any(|l| l == s);
        if !P::EVENT_KINDS.contains(&s.as_str()) && !is_fault_label {
            let mut all: Vec<&str> = P::EVENT_KINDS
                .iter()
                .copied()
                .chain(crate::fault::coverage_labels())
                .collect();
            all.sort_unstable();
            return Err(src.err(
                "expect.sometimes",
                format!(
                    "unknown coverage label {s:?}; expected one of {}",
                    all.join(", ")
                ),
            ));
        }
    }
    if always.is_empty() && finds.is_empty() {
        return Err(src.err(
            "expect.always",
            "a scenario must expect something: list oracles in always or in finds".into(),
        ));
    }
    Ok((always, finds))
}

/// The faults that can hold a core between its steps: scripted and random pauses, stalls
/// between a decision and its send, buggify's delays.
fn suspends<F>(file: &ScenarioFile<F>) -> Vec<SuspendBound> {
    let mut out: Vec<SuspendBound> = file
        .faults
        .script
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let (name, what, kind) = if e.pause.is_some() {
                ("pause", "a pause", Suspension::Pause)
            } else if e.delay_write.is_some() {
                (
                    "delay_write",
                    "a write delayed after its decision",
                    Suspension::StallBeforeSend,
                )
            } else {
                return None;
            };
            Some(SuspendBound {
                field: format!("faults.script[{i}].{name}"),
                what: what.into(),
                kind,
                ms: e.for_ms.unwrap_or(u64::MAX),
            })
        })
        .collect();
    let random = file
        .faults
        .random
        .as_ref()
        .filter(|r| r.events > 0 && r.kinds.contains(&RandomKind::Pause));
    let c = &file.cluster;
    for (on, field, what, kind, ms) in [
        (
            random.is_some(),
            "faults.random.kinds",
            "a random pause",
            Suspension::Pause,
            random.map_or(0, |r| r.pause_ms[1]),
        ),
        (
            c.send_delay_ratio > 0.0,
            "cluster.send_delay_ratio",
            "a stall between a decision and its send",
            Suspension::StallBeforeSend,
            c.send_delay_ms[1],
        ),
        // madsim's buggify delays are its own (1-5 s on 10 % of operations, by its doc);
        // no scenario field bounds them.
        (
            c.buggify,
            "cluster.buggify",
            "a buggify delay",
            Suspension::Buggify,
            u64::MAX,
        ),
    ] {
        if on {
            out.push(SuspendBound {
                field: field.into(),
                what: what.into(),
                kind,
                ms,
            });
        }
    }
    out
}

/// Every breach as `field: reason`, for an error that lists them all.
pub(crate) fn breach_list(breaches: &[Breach]) -> String {
    let each: Vec<String> = breaches
        .iter()
        .map(|b| format!("{}: {}", b.field, b.reason))
        .collect();
    each.join("; ")
}

/// An oracle in `always` must lie within the protocol's assumptions for that oracle
/// ([`Assumptions::oracle_breaches`]): belief exclusivity, for one, is not claimed under
/// pauses.
fn check_oracle_assumptions<P: Protocol>(
    src: &Source,
    config: &P::Config,
    bounds: &FaultBounds,
    always: &[OracleName],
) -> Result<(), ScenarioError> {
    for &o in always {
        let breaches = config.oracle_breaches(o, bounds);
        if breaches.is_empty() {
            continue;
        }
        return Err(src.err(
            "expect.always",
            format!(
                "{o} is outside the assumptions of the {} protocol for it ({}): list it in \
                 finds, or drop those faults",
                P::NAME,
                breach_list(&breaches)
            ),
        ));
    }
    Ok(())
}

/// What a scenario within or beyond the protocol's assumptions (`breaches`: none, or why it
/// is beyond) must say: the correct protocol beyond them says what it finds.
fn check_class<P: Protocol, F>(
    src: &Source,
    file: &ScenarioFile<F>,
    config: &P::Config,
    breaches: &[Breach],
    finds: &[OracleName],
) -> Result<(), ScenarioError> {
    let beyond = !breaches.is_empty();
    let safe_because = file.expect.safe_because.as_deref().map(str::trim);
    if safe_because == Some("") {
        return Err(src.err(
            "expect.safe_because",
            "must say why the faults break nothing".into(),
        ));
    }
    if safe_because.is_some() && !finds.is_empty() {
        return Err(src.err(
            "expect.safe_because",
            "says the scenario stays safe, but finds lists what breaks: keep one".into(),
        ));
    }
    if safe_because.is_some() && !beyond {
        return Err(src.err(
            "expect.safe_because",
            "only a scenario beyond the assumptions declares why it stays safe (within them, \
             staying safe is the rule)"
                .into(),
        ));
    }
    if beyond && finds.is_empty() && safe_because.is_none() && P::variant(config) == "correct" {
        return Err(src.err(
            "expect.finds",
            format!(
                "this scenario uses faults beyond the assumptions of the {} protocol ({}): say \
                 which oracle it finds, or that it stays safe with finds = [] and \
                 safe_because = \"why\"",
                P::NAME,
                breach_list(breaches)
            ),
        ));
    }
    Ok(())
}

/// Every name in `names` is non-empty and listed once; the error names `field`.
fn distinct_names(
    field: &'static str,
    names: &[String],
    empty: &str,
    why_once: &str,
) -> Result<(), (&'static str, String)> {
    let mut seen = std::collections::BTreeSet::new();
    for k in names {
        if k.trim().is_empty() {
            return Err((field, empty.into()));
        }
        if !seen.insert(k.as_str()) {
            return Err((field, format!("{k:?} is listed twice: {why_once}")));
        }
    }
    Ok(())
}

/// The one global key order of `[locks]`: `order` as written (no key twice), or the chain
/// that `before` pairs form (no cycle, and every two keys ordered).
fn lock_order(l: &LocksSection) -> Result<Vec<String>, (&'static str, String)> {
    let max = leaseproof_impl::config::MAX_LOCK_KEYS;
    if !l.order.is_empty() && !l.before.is_empty() {
        return Err((
            "locks.before",
            "give the order once: either order or before, not both".into(),
        ));
    }
    let order = if l.before.is_empty() {
        distinct_names(
            "locks.order",
            &l.order,
            "a key name is empty",
            "the order must be a total order",
        )?;
        l.order.clone()
    } else {
        let mut keys: Vec<String> = Vec::new();
        let mut edges = std::collections::BTreeSet::new();
        for pair in &l.before {
            let [a, b] = pair.as_slice() else {
                return Err((
                    "locks.before",
                    format!("each entry is [first, then]; got {} names", pair.len()),
                ));
            };
            if a == b {
                return Err(("locks.before", format!("{a:?} is before itself")));
            }
            for k in [a, b] {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            edges.insert((a.clone(), b.clone()));
        }
        // Kahn's algorithm, requiring one choice at every step (a total order).
        let mut order = Vec::new();
        let mut left = keys.clone();
        while !left.is_empty() {
            let free: Vec<&String> = left
                .iter()
                .filter(|k| !edges.iter().any(|(a, b)| b == *k && left.contains(a)))
                .collect();
            match free.as_slice() {
                [] => {
                    return Err((
                        "locks.before",
                        format!(
                            "the pairs form a cycle among {}: that is no order",
                            left.join(", ")
                        ),
                    ))
                }
                [one] => {
                    let one = (*one).clone();
                    left.retain(|k| *k != one);
                    order.push(one);
                }
                [a, b, ..] => {
                    return Err((
                        "locks.before",
                        format!("{a:?} and {b:?} are not ordered: the order must be total"),
                    ))
                }
            }
        }
        order
    };
    if order.len() < 2 || order.len() > max {
        return Err((
            "locks.order",
            format!("{} keys: a lock set has between 2 and {max}", order.len()),
        ));
    }
    Ok(order)
}

/// Checks `[jobs]`: unique, non-empty keys (at most [`leaseproof_impl::Jobs::MAX`]), poison
/// keys among them, a positive retry budget.
fn validate_jobs(
    j: &JobsSection,
) -> Result<(leaseproof_impl::Jobs, Vec<String>), (&'static str, String)> {
    let max = leaseproof_impl::Jobs::MAX as usize;
    if j.keys.is_empty() || j.keys.len() > max {
        return Err((
            "jobs.keys",
            format!("{} keys: list between 1 and {max}", j.keys.len()),
        ));
    }
    distinct_names(
        "jobs.keys",
        &j.keys,
        "an idempotency key is empty",
        "idempotency keys must be unique",
    )?;
    let mut poison = 0u64;
    for p in &j.poison {
        let Some(i) = j.keys.iter().position(|k| k == p) else {
            return Err(("jobs.poison", format!("{p:?} is not one of jobs.keys")));
        };
        if poison & (1 << i) != 0 {
            return Err(("jobs.poison", format!("{p:?} is listed twice")));
        }
        poison |= 1 << i;
    }
    if j.attempts == 0 || j.attempts > 1_000 {
        return Err((
            "jobs.attempts",
            format!("{} is not between 1 and 1000", j.attempts),
        ));
    }
    Ok((
        leaseproof_impl::Jobs {
            count: j.keys.len() as u32,
            poison,
            attempts: j.attempts,
        },
        j.keys.clone(),
    ))
}

fn names(clients: usize) -> String {
    let mut v = vec![
        "server".to_string(),
        "resource".to_string(),
        "holder".to_string(),
    ];
    v.extend((0..clients).map(|i| format!("client-{i}")));
    v.join(", ")
}

/// The one discovery function for `run` and `cargo test`: every `*.toml` below the given
/// paths, sorted, skipping any `tune/` folder (grid files for `leaseproof tune`).
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", p.display()),
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "tune") {
                continue;
            }
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}
