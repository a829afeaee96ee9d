//! leaseproof: prove lease / fencing-token locks safe, or show exactly how they break.
//!
//! Bare `leaseproof` (what `cargo run --release` runs) is the main job: every scenario, then
//! the reports. Exit codes are the same for every subcommand (see `--help`).

mod agree;
mod junit;
mod merge;
mod real_run;
mod report;
mod soak;

/// mimalloc instead of the system allocator: the model checker allocates and frees a state
/// part per step, and glibc's malloc and free took about a quarter of a closed check's time
/// (`perf record`, reports/bench.md). Allocation order never reaches a result.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use leaseproof::catalog;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leaseproof_model::ModelConfig;
use leaseproof_sim::run::SeedResult;
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::run_report;
use leaseproof_sim::scenario::{discover, Scenario};
use leaseproof_sim::shard::ShardSpec;
use leaseproof_sim::verdict::{self, judge, run_many, worst, ScenarioReport, EXIT_OK, EXIT_USAGE};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXIT_CODES: &str = "Exit codes: 0 everything expected held; 1 a safety oracle failed (or a \
`finds` was not found, or a `sometimes` was never reached); 2 usage error or bad input; 3 a \
liveness failure; 4 a crash (panic) inside a run; 5 nondeterminism detected.";

#[derive(Parser)]
#[command(name = "leaseproof", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (default: every file under scenarios/, skipping scenarios/tune/).
    Run(RunArgs),
    /// Run many seeds of one scenario.
    Sweep {
        scenario: PathBuf,
        #[arg(long)]
        seeds: u32,
        #[arg(long, default_value_t = 0)]
        start: u64,
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long)]
        json: bool,
        /// Run only the I-th of N shards of the seeds (see `run --shard`).
        #[arg(long, value_parser = merge::parse_shard)]
        shard: Option<ShardSpec>,
        /// Where to write the reports (with --shard: the partial file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write JUnit XML (one test case per scenario; failures carry the oracle, the class
        /// and the replay command) for CI test tabs.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Join the partial files of sharded runs (`run --shard I/N`, `sweep --shard I/N`) into
    /// the reports one unsharded run writes: the same numbers, timelines drawn from the
    /// shards' records; exits with that run's exit code.
    Merge(merge::MergeArgs),
    /// Long runs: cycle through the scenarios with fresh seeds until the time is up, a
    /// summary every minute, failures saved (--save-failures), resumable from its state
    /// file; Ctrl-C stops it with a summary.
    Soak(soak::SoakArgs),
    /// Model-check the protocol with stateright (exhaustive within the bounds).
    Check(CheckArgs),
    /// Serve stateright's Explorer for the model (blocks; open the address in a browser).
    Explore {
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Sweep lease timeouts (TTL x renew x pauses x drift x latency x fencing) and write a
    /// report with plots and a recommendation into reports/tune-<name>/.
    #[command(after_help = TUNE_HELP)]
    Tune(TuneArgs),
    /// Every known-bug variant, caught by the simulator and the model checker, shrunk;
    /// writes reports/bug-catalog.md and .json.
    Catalog {
        #[arg(long)]
        json: bool,
        /// Worker threads (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Also write JUnit XML (one test case per variant and reproduction; failures carry the oracle, the class
        /// and the replay command) for CI test tabs.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Run only the I-th of N shards of the catalog (split by variant: a variant's
        /// searches, shrink, twin and model check stay in one shard) and write its partial
        /// file into --out (default reports/shards/); `leaseproof merge` joins them.
        #[arg(long, value_parser = merge::parse_shard)]
        shard: Option<ShardSpec>,
        /// Where to write bug-catalog.json and .md (default reports/); with --shard, the
        /// partial file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replay one seed: the derived plan, the event timeline, the trace hash.
    /// Run one real node over TCP on loopback (started by `real`; partial).
    Serve(real_run::ServeArgs),
    /// Run a scenario's cluster as real processes on loopback, playing its fault plan with
    /// real mechanisms (signals, restarts, the fault proxy, software clocks), and judge the
    /// events with the simulator's oracles and the disks against the log; writes the same
    /// reports as `run`, timelines included.
    Real(real_run::RealArgs),
    /// The simulator's predictions checked against real processes: every scenario of
    /// real/agree.toml in both, compared against its committed tolerances; writes
    /// reports/sim-vs-real.md and exits 1 on any excess.
    Agree(agree::AgreeArgs),
    Replay {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        /// Refuse to replay if the scenario's content hash differs.
        #[arg(long)]
        hash: Option<String>,
        /// Also print every message sent and received.
        #[arg(long)]
        trace: bool,
        /// Shrink the seed's fault plan to a minimal scripted scenario (written to
        /// reports/shrunk/), confirm it fails, and replay that instead.
        #[arg(long)]
        shrink: bool,
        /// With --shrink: the oracle to keep failing (default: the seed's first violation).
        #[arg(long, requires = "shrink")]
        oracle: Option<String>,
    },
}

/// Help for a bound: what it is, and its default for the correct protocol.
fn bound_help(what: &str, default: impl std::fmt::Display) -> String {
    format!("{what} [default: {default}, or the variant's catalog bound]")
}

/// The model's bounds. A flag left out takes its value from the bounds at which the
/// catalog shows the variant's bug (`leaseproof_model::variants::bounds`), which for the
/// correct protocol are the pinned defaults ([`ModelConfig::default`]).
#[derive(clap::Args, Clone, Default, PartialEq, Eq)]
struct ModelArgs {
    /// The protocol to model-check: the reference protocol (every bound flag below
    /// applies), or a real system (docs/protocols/): its named checks, chosen with
    /// `--variant` (default `correct`), at their own bounds.
    #[arg(long, default_value = "reference", value_parser = protocol_names())]
    protocol: String,
    #[arg(long, help = bound_help("Clients in the model (at most 3)", ModelConfig::default().clients))]
    clients: Option<usize>,
    /// A known-bug variant, or the correct protocol. A variant brings the bounds at which
    /// the catalog finds its bug (printed on the model line); a flag given overrides them.
    #[arg(long, default_value = "correct", value_parser = variant_names())]
    variant: String,
    #[arg(long, conflicts_with = "closed", help = bound_help(
        "A bounded check: global time stops at this many ticks (at most 24; 1 tick = 1 ms of \
         the model's protocol config)",
        ModelConfig::default().max_time,
    ))]
    max_time: Option<u64>,
    /// A closed check: no time bound, explore until no new state appears (time, counters
    /// and dead data normalised); exit 2 if the configuration cannot close.
    #[arg(long)]
    closed: bool,
    /// The most ticks one pause may hold back a client's due timer (a per-client
    /// counter; default: unbounded in a closed check, a budget of 8 ticks per run in a
    /// bounded one).
    #[arg(long)]
    max_pause: Option<u8>,
    /// How long a client rests after releasing before it wants the key again, in ticks
    /// (default: 2 in a closed check, where the workload repeats; 1000 in a bounded one,
    /// where each client acquires once).
    #[arg(long)]
    think: Option<u64>,
    #[arg(long, help = bound_help(
        "ε: the largest spread between any two clocks, in ticks (at most 1)",
        ModelConfig::default().spread,
    ))]
    spread: Option<u64>,
    #[arg(long, help = bound_help(
        "How many times one clock may run a tick ahead of the others (drift within ε)",
        ModelConfig::default().drift_moves,
    ))]
    drift_moves: Option<u8>,
    #[arg(long, help = bound_help(
        "A message is delivered within this many ticks or lost",
        ModelConfig::default().max_delay,
    ))]
    max_delay: Option<u8>,
    #[arg(long, help = bound_help(
        "How many messages the network may lose in one run",
        ModelConfig::default().losses,
    ))]
    losses: Option<u8>,
    /// Client GC pauses on (the default, but for variants whose catalog bounds have none).
    #[arg(long, overrides_with = "no_pauses")]
    pauses: bool,
    #[arg(long)]
    no_pauses: bool,
    #[arg(long, help = bound_help("Server crashes (at most 2)", ModelConfig::default().crashes))]
    crashes: Option<u8>,
    /// A duplicating network (small configs only).
    #[arg(long)]
    duplicating: bool,
    /// Allow one forward clock step of a client.
    #[arg(long)]
    clock_step: bool,
    /// Clocks with a rate: 1/R lets a clock run one tick ahead of the slowest at most once
    /// every R global ticks (within ε; it replaces the count of --drift-moves).
    #[arg(long, value_name = "1/R")]
    rate_skew: Option<String>,
    /// The validity margin ttl − L in ticks [default: 2ε, what the spread needs]; smaller
    /// is beyond the assumptions (how much drift a margin survives, with --rate-skew).
    #[arg(long)]
    margin: Option<u64>,
    /// Liveness: on every fault-free continuation, a client that wants the lease holds
    /// within its bound (a per-client counter of fault-free ticks waited; exit 3 past it).
    #[arg(long)]
    liveness: bool,
    /// The lease's TTL in ticks (at least 6; the renew interval stays 3, the requeue
    /// interval 2) [default: 6]
    #[arg(long)]
    ttl: Option<u64>,
    /// The server's fresh window for a queued waiter, in ticks (below L = ttl − 2ε; with
    /// --liveness, above the requeue interval 2 + 2 × --max-delay) [default: 3]
    #[arg(long)]
    fresh_window: Option<u64>,
    /// A server crash may also fall inside a step, between its outputs (at a persist-batch
    /// boundary or around a send), within the --crashes budget.
    #[arg(long, overrides_with = "no_crash_points")]
    crash_points: bool,
    /// No crash points (for a variant whose catalog bounds have them).
    #[arg(long)]
    no_crash_points: bool,
    #[arg(long, help = bound_help(
        "At most this many messages in flight per link (a send beyond it is lost)",
        ModelConfig::default().link_capacity,
    ))]
    link_capacity: Option<u8>,
    #[arg(long, help = bound_help(
        "How long a holder works before it releases, in ticks",
        ModelConfig::default().hold,
    ))]
    hold: Option<u64>,
    #[arg(long, help = bound_help(
        "Exactly-once work: the holder works through this many jobs (at most 3; 0: plain \
         writes; the no-idempotency variant needs at least 1)",
        ModelConfig::default().jobs,
    ))]
    jobs: Option<u32>,
    #[arg(long, help = bound_help(
        "A critical section over this many keys taken in one global order (at most 2; the \
         lock-order-inversion variant needs 2)",
        ModelConfig::default().keys,
    ))]
    keys: Option<u8>,
}

impl ModelArgs {
    /// The pinned model defaults (what `check` with no flags runs).
    fn defaults() -> ModelArgs {
        ModelArgs {
            variant: leaseproof_impl::Variant::Correct.name().into(),
            ..ModelArgs::default()
        }
    }

    /// The main job's closed check ([`MAIN_CLOSED_FLAGS`]).
    fn main_closed() -> ModelArgs {
        ModelArgs {
            closed: true,
            link_capacity: Some(1),
            crashes: Some(0),
            losses: Some(0),
            drift_moves: Some(0),
            max_pause: Some(2),
            ..ModelArgs::defaults()
        }
    }

    /// The main job's closed liveness check ([`MAIN_LIVENESS_FLAGS`]): two clients, pauses
    /// unbounded, one crash at any crash point, messages delivered in the tick they are
    /// sent.
    fn main_liveness() -> ModelArgs {
        ModelArgs {
            closed: true,
            liveness: true,
            crash_points: true,
            max_delay: Some(0),
            losses: Some(0),
            drift_moves: Some(0),
            ..ModelArgs::defaults()
        }
    }

    /// The main job's closed check of the fault models ([`MAIN_FAULTS_FLAGS`]): the closed
    /// check's bounds with one client, a crash at any crash point, and clocks at a rate.
    fn main_faults() -> ModelArgs {
        ModelArgs {
            clients: Some(1),
            crashes: Some(1),
            crash_points: true,
            drift_moves: Some(1),
            rate_skew: Some("1/3".into()),
            ..ModelArgs::main_closed()
        }
    }

    /// Whether the reference protocol is checked (the default: the flag's own, or empty in
    /// the `ModelArgs` the main job builds).
    fn is_reference(&self) -> bool {
        self.protocol.is_empty() || self.protocol == leaseproof_impl::ProtocolKind::Reference.name()
    }

    /// No bound flag given (the correct reference protocol at its defaults): `check` then
    /// runs the closed suite ([`check_suite`]).
    fn is_bare(&self) -> bool {
        let bare = ModelArgs {
            protocol: self.protocol.clone(),
            ..ModelArgs::defaults()
        };
        self.is_reference() && *self == bare
    }

    /// The variant's catalog bounds, with every flag given put over them.
    fn config(&self) -> anyhow::Result<ModelConfig> {
        // The reference protocol's own model driver; the real systems' checks run on the
        // generic one (`plugin_check`), routed before this is called.
        if !self.is_reference() {
            anyhow::bail!(
                "--protocol {}: the bound flags apply to the reference protocol only",
                self.protocol
            );
        }
        let variant = leaseproof_impl::Variant::parse(&self.variant)
            .map_err(|e| anyhow::anyhow!("--variant: {e}"))?;
        let (base, _) = leaseproof_model::variants::bounds(variant);
        let closed = self.closed;
        let think = if closed {
            leaseproof_model::THINK_CLOSED
        } else {
            leaseproof_model::THINK_BOUNDED
        };
        Ok(ModelConfig {
            clients: self.clients.unwrap_or(base.clients),
            variant,
            max_time: self.max_time.unwrap_or(base.max_time),
            closed,
            think: self.think.unwrap_or(think),
            max_pause: self.max_pause,
            spread: self.spread.unwrap_or(base.spread),
            pauses: match (self.pauses, self.no_pauses) {
                (_, true) => false,
                (true, _) => true,
                _ => base.pauses,
            },
            crashes: self.crashes.unwrap_or(base.crashes),
            duplicating: self.duplicating || base.duplicating,
            clock_step: self.clock_step || base.clock_step,
            crash_points: !self.no_crash_points && (self.crash_points || base.crash_points),
            rate_skew: match &self.rate_skew {
                Some(t) => Some(leaseproof_model::parse_rate_skew(t).map_err(anyhow::Error::msg)?),
                None => base.rate_skew,
            },
            margin: self.margin.or(base.margin),
            liveness: self.liveness || base.liveness,
            ttl: self.ttl.unwrap_or(base.ttl),
            fresh_window: self.fresh_window.unwrap_or(base.fresh_window),
            drift_moves: self.drift_moves.unwrap_or(base.drift_moves),
            max_delay: self.max_delay.unwrap_or(base.max_delay),
            losses: self.losses.unwrap_or(base.losses),
            link_capacity: self.link_capacity.unwrap_or(base.link_capacity),
            hold: self.hold.unwrap_or(base.hold),
            jobs: self.jobs.unwrap_or(base.jobs),
            keys: self.keys.unwrap_or(base.keys),
        })
    }
}

/// Every protocol's name: the reference protocol's kinds, then the real systems'.
fn all_protocols() -> impl Iterator<Item = &'static str> {
    leaseproof_impl::ProtocolKind::ALL
        .iter()
        .map(|k| k.name())
        .chain(leaseproof_protocols::checks::PROTOCOLS)
}

/// Every protocol's name, listed by `--help` and checked by clap.
fn protocol_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(all_protocols())
}

/// Every variant's name, listed by `--help` and checked by clap.
/// The reference protocol's variants, then the real systems' named checks (each
/// protocol takes its own: `check --protocol P --variant NAME` refuses another's).
fn variant_names() -> clap::builder::PossibleValuesParser {
    let mut names: Vec<&'static str> = leaseproof_impl::Variant::ALL
        .iter()
        .map(|v| v.name())
        .collect();
    for c in leaseproof_protocols::checks::CHECKS {
        if !names.contains(&c.name) {
            names.push(c.name);
        }
    }
    clap::builder::PossibleValuesParser::new(names)
}

impl CheckArgs {
    /// A check as the main job runs it: symmetry, the default search order (depth first
    /// when bounded, breadth first when closed), every core, text.
    fn main(model: ModelArgs) -> CheckArgs {
        CheckArgs {
            model,
            symmetry: true,
            no_symmetry: false,
            threads: None,
            dfs: false,
            bfs: false,
            json: false,
            junit: None,
            all_protocols: false,
            report: PathBuf::new(),
        }
    }
}

#[derive(clap::Args, Clone)]
struct CheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Symmetry reduction over clients (default; the model explores one state per orbit of
    /// client renamings, under DFS and BFS alike).
    #[arg(long, overrides_with = "no_symmetry")]
    symmetry: bool,
    #[arg(long)]
    no_symmetry: bool,
    /// Checker threads (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Depth-first search (the default for a bounded check).
    #[arg(long, overrides_with = "bfs")]
    dfs: bool,
    /// Breadth-first search (shortest counterexamples; the default for a closed check,
    /// whose paths run thousands of steps deep: stateright's depth-first search carries
    /// each pending state's path, so there it takes more memory and time).
    #[arg(long)]
    bfs: bool,
    #[arg(long)]
    json: bool,
    /// Also write JUnit XML (one test case per property; a failure carries its class and
    /// its counterexample) for CI test tabs.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Check every protocol leaseproof knows, each at these bounds, one after the other,
    /// and write one JSON report of them all (`--report`); exits with the worst verdict.
    /// The main job checks only those whose checks fit its time (docs/protocols.md).
    #[arg(long, conflicts_with_all = ["protocol", "junit", "json"])]
    all_protocols: bool,
    /// Where `--all-protocols` writes its report.
    #[arg(
        long,
        value_name = "FILE",
        requires = "all_protocols",
        default_value = "reports/check-all-protocols.json"
    )]
    report: PathBuf,
}

const TUNE_HELP: &str = "Exit codes: 0 a recommendation for every pause level; 1 some pause \
level has no swept TTL that meets the targets (the report says which and why); 2 bad input (a \
grid file error, or a target below 3/N that N seeds cannot measure); 4 a run crashed.";

#[derive(clap::Args)]
struct TuneArgs {
    /// A built-in preset: k8s, etcd, chubby, consul, dynamodb, patroni, tiered (default: k8s).
    #[arg(long, conflicts_with = "grid")]
    preset: Option<String>,
    /// A grid file (see scenarios/tune/ and scenarios/README.md).
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Seeds per cell (default: the grid file's `seeds`).
    #[arg(long)]
    seeds: Option<u32>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Report folder (default: reports/tune-<name>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Highest acceptable fraction of runs with a false preemption (default: [target]).
    #[arg(long)]
    target_false_preemption: Option<f64>,
    /// Highest acceptable failover p99 in ms (default: [target], else none).
    #[arg(long)]
    target_failover_ms: Option<u64>,
    /// Recommend only for the pause level nearest this p99 (default: [target], else every
    /// level).
    #[arg(long)]
    pause_p99_ms: Option<u64>,
    /// Run only the I-th of N shards of the (cell, seed) work and write its partial file
    /// into --out (default reports/shards/); `leaseproof merge` joins the shards into the
    /// report one unsharded sweep writes.
    #[arg(long, value_parser = merge::parse_shard)]
    shard: Option<ShardSpec>,
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// Scenario files or folders.
    paths: Vec<PathBuf>,
    /// Seeds per scenario (default: each file's `seeds`).
    #[arg(long)]
    seeds: Option<u32>,
    /// First seed: a number, or `random` to explore new seeds (the base is printed).
    #[arg(long, default_value = "0")]
    seed_base: String,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// One JSON document on stdout.
    #[arg(long)]
    json: bool,
    /// Run up to 20 seeds of each scenario twice and compare trace hashes (exit 5 on a
    /// mismatch).
    #[arg(long)]
    check_determinism: bool,
    /// Where to write the run reports (default: `reports/` for the whole `scenarios/`
    /// folder; `reports/runs/` for chosen files, so checking one scenario does not replace
    /// the main job's reports).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only the I-th of N shards of the seeds (1-based: 2/4 is the second of four) and
    /// write its partial file, shard-I-of-N.json, into --out (default reports/shards/);
    /// `leaseproof merge` joins the N files into the reports one unsharded run writes. A
    /// shard exits 0 whenever it wrote its file (findings are data, judged by the merge),
    /// 2 on bad input, 4 if it crashed.
    #[arg(long, value_parser = merge::parse_shard)]
    shard: Option<ShardSpec>,
    /// Also write JUnit XML (one test case per scenario; failures carry the oracle, the class
    /// and the replay command) for CI test tabs.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Save each newly failing seed (at most 3 per scenario and oracle) as a regression
    /// scenario in DIR (e.g. scenarios/regressions/, which cargo test runs): shrunk, clocks
    /// pinned, the coverage it reached kept as `sometimes`; a seed whose (scenario, oracle,
    /// plan) is already there is not saved twice. With --shard, give it to the merge.
    #[arg(long, value_name = "DIR", conflicts_with = "shard")]
    save_failures: Option<PathBuf>,
}

/// `RUST_LOG=leaseproof=debug` shows every lock's life (request, grant, renewals,
/// release or loss) in simulated time; nothing is logged unless RUST_LOG asks.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

fn main() -> ExitCode {
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    // A panic in leaseproof itself (not inside a seed, which the seed runner catches and
    // reports) is a crash: exit 4, as docs/design.md's exit codes say, not Rust's 101.
    let result = std::panic::catch_unwind(|| dispatch(cli))
        .unwrap_or_else(|_| Ok(verdict::Verdict::Crash.exit_code()));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Runs the command the user gave; its exit code, or the error that stopped it.
fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        None => main_job(),
        Some(Command::Run(args)) => run(&args),
        Some(Command::Sweep {
            scenario,
            seeds,
            start,
            jobs,
            json,
            shard,
            out,
            junit,
        }) => run(&RunArgs {
            paths: vec![scenario],
            seeds: Some(seeds),
            seed_base: start.to_string(),
            jobs,
            json,
            shard,
            out,
            junit,
            ..RunArgs::default()
        }),
        Some(Command::Merge(args)) => merge::merge(&args),
        Some(Command::Soak(args)) => soak::soak(&args),
        Some(Command::Check(args)) => check(&args),
        Some(Command::Tune(args)) => tune(&args),
        Some(Command::Catalog {
            json,
            jobs,
            junit,
            shard,
            out,
        }) => run_catalog(&CatalogArgs {
            json,
            jobs,
            junit,
            shard,
            out,
        }),
        Some(Command::Serve(args)) => real_run::serve(&args),
        Some(Command::Real(args)) => real_run::real(&args),
        Some(Command::Agree(args)) => agree::agree(&args),
        Some(Command::Explore { addr, model }) => explore(&addr, &model),
        Some(Command::Replay {
            scenario,
            seed,
            hash,
            trace,
            shrink,
            oracle,
        }) => {
            let protocol = scenario_protocol(std::slice::from_ref(&scenario))?;
            match (protocol, shrink) {
                (Some(p), true) => leaseproof::with_real_system!(
                    p,
                    |P| shrink_seed_as::<P>(
                        &scenario,
                        seed,
                        hash.as_deref(),
                        oracle.as_deref(),
                        trace,
                        &protocol_lines
                    ),
                    else anyhow::bail!("no real system {p:?}")
                ),
                (Some(p), false) => leaseproof::with_real_system!(
                    p,
                    |P| replay_as::<P>(&scenario, seed, hash.as_deref(), trace, &protocol_lines),
                    else anyhow::bail!("no real system {p:?}")
                ),
                (_, true) => {
                    shrink_seed(&scenario, seed, hash.as_deref(), oracle.as_deref(), trace)
                }
                (_, false) => replay(&scenario, seed, hash.as_deref(), trace),
            }
        }
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The main job: every scenario with its own seed count, then the four model checks;
/// reports into reports/.
fn main_job() -> anyhow::Result<u8> {
    let code = run(&RunArgs {
        paths: vec![PathBuf::from("scenarios")],
        seed_base: "0".into(),
        check_determinism: true,
        out: Some(PathBuf::from("reports")),
        ..RunArgs::default()
    })?;
    eprintln!(
        "model check (defaults, bounded: every fault, 3 ticks, crash points inside steps: \
         leaseproof check --crash-points):"
    );
    let bounded = check(&CheckArgs::main(ModelArgs {
        crash_points: true,
        ..ModelArgs::defaults()
    }))?;
    // The closed suite, each check's count pinned and its reach checked.
    let closed = closed_suite(&CheckArgs::main(ModelArgs::defaults()), |c, code, r| {
        main_closed_verdict(code, Some(r), c.pinned, c.unreachable)
    })?;
    Ok(worst(worst(code, bounded), closed))
}

/// One of the main job's closed checks: what it prints, the flags it is, its pinned count
/// and the `Sometimes` properties its model cannot reach.
struct MainCheck {
    what: &'static str,
    flags: &'static str,
    args: ModelArgs,
    pinned: usize,
    unreachable: &'static [&'static str],
}

/// The main job's closed checks, in the order it runs them.
fn main_closed_checks() -> [MainCheck; 3] {
    [
        MainCheck {
            what: "closed",
            flags: MAIN_CLOSED_FLAGS,
            args: ModelArgs::main_closed(),
            pinned: MAIN_CLOSED_UNIQUE,
            unreachable: &[leaseproof_model::PROP_RESTART_GRANT_ACCEPTED],
        },
        MainCheck {
            what: "closed, crash points and clock rates",
            flags: MAIN_FAULTS_FLAGS,
            args: ModelArgs::main_faults(),
            pinned: MAIN_FAULTS_UNIQUE,
            unreachable: &ONE_CLIENT_UNREACHABLE,
        },
        MainCheck {
            what: "closed, liveness",
            flags: MAIN_LIVENESS_FLAGS,
            args: ModelArgs::main_liveness(),
            pinned: MAIN_LIVENESS_UNIQUE,
            unreachable: &[leaseproof_model::PROP_STALE_REJECTED],
        },
    ]
}

/// The main job's closed liveness check: from every state of every run of any length with
/// two clients, pauses of any length, one server crash that may fall inside a step, every
/// fault-free continuation serves each waiting client within its bound. Messages arrive in
/// the tick they are sent: the model's protocol re-sends a queued Acquire 2 ticks after
/// the answer into a fresh window of 3, so with delivery delay 1 a waiter's entry can go
/// stale between re-sends and liveness lies beyond the protocol's assumptions (the check
/// says so; `--ttl 8 --fresh-window 5` is within: docs/design.md, "Liveness"). A stale
/// write needs a write delayed past a hand-over, so this check cannot reach one; the
/// closed check above does.
const MAIN_LIVENESS_FLAGS: &str = "--closed --liveness --crash-points --max-delay 0 \
     --losses 0 --drift-moves 0";
/// Its pinned count (unique states; reports/bench.md).
const MAIN_LIVENESS_UNIQUE: usize = 1_246_716;

/// The main job's closed check of the two fault models inside a step and in a clock's rate:
/// one client, one server crash that may fall at any crash point, clocks that run a tick
/// ahead at most once every 3 ticks (the two-client check with a crash or drift does not
/// close here: reports/bench.md).
const MAIN_FAULTS_FLAGS: &str = "--closed --clients 1 --link-capacity 1 --crashes 1 \
     --crash-points --losses 0 --drift-moves 1 --rate-skew 1/3 --max-pause 2";
/// Its pinned count (unique states; reports/bench.md).
const MAIN_FAULTS_UNIQUE: usize = 2_229_788;
/// What one client cannot reach.
const ONE_CLIENT_UNREACHABLE: [&str; 2] = [
    leaseproof_model::PROP_STALE_REJECTED,
    leaseproof_model::PROP_TWO_BELIEVERS,
];

/// The main job's closed check: runs of any length, two clients, pauses of up to two
/// ticks, delivery within a tick over links of one message, no crash, loss or drift (the
/// largest such check that closes in seconds here: reports/bench.md).
const MAIN_CLOSED_FLAGS: &str =
    "--closed --link-capacity 1 --crashes 0 --losses 0 --drift-moves 0 --max-pause 2";
/// Its pinned count (unique states; reports/bench.md): the main job fails on a change. It
/// has no crash, so a grant after a restart is the third check's to reach.
const MAIN_CLOSED_UNIQUE: usize = 4_297_778;

/// A closed check's part of the main job's verdict: its own, then a count that changed
/// from its pin or a `Sometimes` property it did not reach, but for those its model cannot
/// reach (both exit 1).
fn main_closed_verdict(
    code: u8,
    r: Option<&leaseproof_model::check::CheckReport>,
    pinned: usize,
    unreachable: &[&str],
) -> u8 {
    let Some(r) = r.filter(|_| code == EXIT_OK) else {
        return code;
    };
    if r.unique != pinned {
        eprintln!(
            "FAIL the closed check explored {} states, pinned at {pinned} \
             (reports/bench.md): the protocol or the model changed; re-pin only after \
             understanding why",
            r.unique
        );
        return verdict::Verdict::Safety.exit_code();
    }
    let missed: Vec<&str> = r
        .properties
        .iter()
        .filter(|(n, p)| p.expectation == "sometimes" && !p.holds && !unreachable.contains(n))
        .map(|(n, _)| *n)
        .collect();
    if !missed.is_empty() {
        eprintln!("FAIL the closed check never reached: {}", missed.join(", "));
        return verdict::Verdict::Vacuous.exit_code();
    }
    code
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn check(args: &CheckArgs) -> anyhow::Result<u8> {
    if args.all_protocols {
        return check_all_protocols(args);
    }
    if !args.model.is_reference() {
        return Ok(plugin_check(args).0.exit_code());
    }
    if args.model.is_bare() {
        return check_suite(args);
    }
    Ok(check_report(args)?.0)
}

/// `check` with no bound flag: the closed checks whose union reaches every coverage
/// property (the main job's three, [`main_closed_checks`]), one after the other, then
/// which of them reached each `Sometimes` property. No single closed check with two
/// clients, a crash, delivery delay and pauses fits this machine (docs/design.md, "Closed
/// checks"), so the default is this suite: every run of any length of each configuration,
/// as each prints. Exit: the worst of the three (a count is not pinned here: the main job
/// pins them); 1 (vacuous) when no check of the suite reaches a coverage property.
fn check_suite(args: &CheckArgs) -> anyhow::Result<u8> {
    closed_suite(args, |_, code, _| code)
}

/// Runs the closed suite ([`check_suite`]) with `args`' output flags; `judge` turns each
/// check's exit code and report into its part of the verdict (the main job adds its pins,
/// [`main_closed_verdict`]).
fn closed_suite(
    args: &CheckArgs,
    judge: impl Fn(&MainCheck, u8, &leaseproof_model::check::CheckReport) -> u8,
) -> anyhow::Result<u8> {
    let mut code = EXIT_OK;
    let mut reached: std::collections::BTreeMap<&'static str, Vec<&'static str>> =
        std::collections::BTreeMap::new();
    let mut checks = Vec::new();
    let mut cases = Vec::new();
    let interrupted = || INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst);
    for c in main_closed_checks() {
        let one = CheckArgs {
            model: c.args.clone(),
            json: false,
            junit: None,
            ..args.clone()
        };
        if !args.json {
            report::emit(&format!(
                "== closed check {}: leaseproof check {}\n",
                c.what, c.flags
            ));
        }
        let (verdict, r) = check_quiet(&one)?;
        let Some(r) = r else {
            return Ok(worst(code, verdict));
        };
        if !args.json {
            report::emit(&report::check_text(&r, interrupted()));
        }
        let verdict = judge(&c, verdict, &r);
        code = worst(code, verdict);
        for (name, p) in &r.properties {
            if p.expectation == "sometimes" {
                let by = reached.entry(name).or_default();
                if p.holds {
                    by.push(c.what);
                }
            }
        }
        for mut case in junit::check_cases(&r, interrupted()) {
            case.classname = format!("leaseproof check {}", c.flags);
            cases.push(case);
        }
        checks.push(serde_json::json!({ "what": c.what, "flags": c.flags, "report": r }));
    }
    if code == EXIT_OK && reached.values().any(Vec::is_empty) {
        code = verdict::Verdict::Vacuous.exit_code();
    }
    if args.json {
        report::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "suite": "closed",
                "closed": code == EXIT_OK,
                "checks": checks,
                "coverage": reached,
                "exit": code,
            }))?
        ));
    } else {
        report::emit(&report::suite_text(&reached, code));
    }
    if let Some(j) = &args.junit {
        // A coverage property one check cannot reach and another reaches is no failure.
        for case in &mut cases {
            let by = reached.get(case.name.as_str()).filter(|by| !by.is_empty());
            if let (Some(by), true) = (by, case.failures.iter().any(|f| f.kind == "vacuous")) {
                case.failures.clear();
                case.skipped = Some(format!("reached by the closed check {}", by.join(", ")));
            }
        }
        junit::write(j, "leaseproof check (closed suite)", &cases)?;
    }
    Ok(code)
}

/// `check --protocol P` for a real system: its named check (`--variant`, default
/// `correct`) on the generic model driver, printed (or `--json`). Exit 0 when the check
/// is as the catalog of checks says it is clean (every `Always` holds, every coverage
/// property reached), 1 on a counterexample or an unreached property, 3 on a time-lock,
/// 2 for a flag that does not apply.
fn plugin_check(
    args: &CheckArgs,
) -> (
    leaseproof_impl::verdict::Verdict,
    Option<leaseproof_model::plugin::PluginCheckReport>,
) {
    use leaseproof_impl::verdict::Verdict;
    let protocol = args.model.protocol.as_str();
    let name = args.model.variant.as_str();
    let Some(named) = leaseproof_protocols::checks::find(protocol, name) else {
        eprintln!(
            "error: --variant {name}: {protocol} has no such check (its checks: {})",
            leaseproof_protocols::checks::names(protocol).join(", ")
        );
        return (Verdict::Usage, None);
    };
    if args.junit.is_some() {
        eprintln!("error: --junit: not yet for {protocol}'s checks");
        return (Verdict::Usage, None);
    }
    let Some(r) = leaseproof_protocols::checks::run(protocol, name) else {
        return (Verdict::Usage, None);
    };
    let unreached: Vec<&str> = r
        .properties
        .iter()
        .filter(|(_, p)| p.expectation == "sometimes" && !p.holds)
        .map(|(n, _)| *n)
        .collect();
    let verdict = if r.liveness_failed() {
        Verdict::Liveness
    } else if r.safety_failed() {
        Verdict::Safety
    } else if !unreached.is_empty() {
        Verdict::Vacuous
    } else {
        Verdict::Pass
    };
    if args.json {
        let out = serde_json::json!({
            "protocol": protocol,
            "check": name,
            "about": named.about,
            "expected_to_hold": named.holds,
            "verdict": verdict,
            "report": r,
        });
        report::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&out).expect("a report serializes")
        ));
    } else {
        report::emit(&plugin_check_text(protocol, &named, &r, verdict));
    }
    (verdict, Some(r))
}

/// A real system's check as text: the bounds in a line, each property, and the path of
/// each that failed.
fn plugin_check_text(
    protocol: &str,
    named: &leaseproof_protocols::checks::NamedCheck,
    r: &leaseproof_model::plugin::PluginCheckReport,
    verdict: leaseproof_impl::verdict::Verdict,
) -> String {
    use std::fmt::Write as _;
    let mut t = format!(
        "model: {protocol} check {}: {}\n{} states, time bound {} ticks\n",
        named.name, named.about, r.unique_states, r.max_time
    );
    for (name, p) in &r.properties {
        let word = match (p.expectation, p.holds) {
            ("always", true) => "holds",
            ("always", false) => "REFUTED",
            (_, true) => "reached",
            (_, false) => "NOT REACHED",
        };
        let _ = writeln!(t, "  {word:<11} {name} ({})", p.expectation);
        if p.expectation == "always" && !p.holds {
            for line in &p.path {
                let _ = writeln!(t, "      {line}");
            }
        }
    }
    let _ = writeln!(
        t,
        "verdict: {verdict} (exit {}){}",
        verdict.exit_code(),
        if named.holds {
            ""
        } else {
            " — this check is expected to find a counterexample"
        }
    );
    t
}

/// `check --all-protocols`: every protocol's check at the given bounds, printed one after
/// the other, and one JSON report naming the command that wrote it.
fn check_all_protocols(args: &CheckArgs) -> anyhow::Result<u8> {
    #[derive(serde::Serialize)]
    struct One {
        protocol: &'static str,
        verdict: leaseproof_impl::verdict::Verdict,
        exit: u8,
        /// The reference protocol's check (at the given bounds).
        #[serde(skip_serializing_if = "Option::is_none")]
        check: Option<leaseproof_model::check::CheckReport>,
        /// A real system's default check (its own bounds; `check --protocol P`).
        #[serde(skip_serializing_if = "Option::is_none")]
        plugin: Option<leaseproof_model::plugin::PluginCheckReport>,
    }
    let mut all = Vec::new();
    let mut worst_verdict = leaseproof_impl::verdict::Verdict::Pass;
    for name in all_protocols() {
        println!("== protocol {name}");
        let mut one = args.clone();
        one.all_protocols = false;
        one.model.protocol = name.to_string();
        let interrupted = || INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst);
        let (exit, verdict, check, plugin) =
            if name == leaseproof_impl::ProtocolKind::Reference.name() {
                let (exit, report) = check_report(&one)?;
                let verdict = report
                    .as_ref()
                    .map_or(leaseproof_impl::verdict::Verdict::Usage, |r| {
                        r.verdict(interrupted())
                    });
                (exit, verdict, report, None)
            } else {
                one.model.variant = "correct".into();
                let (verdict, report) = plugin_check(&one);
                (verdict.exit_code(), verdict, None, report)
            };
        worst_verdict = worst_verdict.max(verdict);
        all.push(One {
            protocol: name,
            verdict,
            exit,
            check,
            plugin,
        });
        let interrupted = interrupted();
        if interrupted {
            break;
        }
    }
    let out = serde_json::json!({
        "command": std::iter::once("leaseproof".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        "build": leaseproof::BUILD_ID,
        "verdict": worst_verdict,
        "protocols": all,
    });
    if let Some(dir) = args.report.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(
        &args.report,
        format!("{}\n", serde_json::to_string_pretty(&out)?),
    )
    .with_context(|| format!("writing {}", args.report.display()))?;
    let worst_exit = worst_verdict.exit_code();
    println!(
        "all protocols: {worst_verdict} (exit {worst_exit}); report: {}",
        args.report.display()
    );
    Ok(worst_exit)
}

/// Runs a check without printing its report (bad input is said on stderr); its exit
/// code, and its report unless the input was bad.
fn check_quiet(
    args: &CheckArgs,
) -> anyhow::Result<(u8, Option<leaseproof_model::check::CheckReport>)> {
    let mc = match args.model.config() {
        Ok(mc) => mc,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok((EXIT_USAGE, None));
        }
    };
    let model = match leaseproof_model::LeaseModel::new(mc) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok((EXIT_USAGE, None));
        }
    };
    let opts = leaseproof_model::check::CheckOptions {
        threads: args.threads.unwrap_or_else(default_jobs),
        symmetry: !args.no_symmetry,
        bfs: args.bfs || (mc.closed && !args.dfs),
    };
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst));
    let spinner = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    let report = leaseproof_model::check::check(
        model,
        opts,
        &|states, unique| spinner.set_message(format!("{states} states, {unique} unique")),
        &|| INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst),
    );
    spinner.finish_and_clear();
    Ok((
        report
            .verdict(INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst))
            .exit_code(),
        Some(report),
    ))
}

/// Runs a check and prints it; its exit code, and its report unless the input was bad.
fn check_report(
    args: &CheckArgs,
) -> anyhow::Result<(u8, Option<leaseproof_model::check::CheckReport>)> {
    let (code, report) = check_quiet(args)?;
    let Some(report) = report else {
        return Ok((code, None));
    };
    let interrupted = INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst);
    if args.json {
        report::emit(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        report::emit(&report::check_text(&report, interrupted));
    }
    if let Some(j) = &args.junit {
        junit::write(
            j,
            "leaseproof check",
            &junit::check_cases(&report, interrupted),
        )?;
    }
    Ok((code, Some(report)))
}

fn explore(addr: &str, args: &ModelArgs) -> anyhow::Result<u8> {
    use stateright::Model as _;
    let model =
        leaseproof_model::LeaseModel::new(args.config()?).map_err(|e| anyhow::anyhow!(e))?;
    eprintln!("serving stateright's Explorer on http://{addr} (Ctrl-C to stop)");
    model.checker().serve(addr);
    Ok(EXIT_OK)
}

/// Loads every scenario (of protocol `P`) first, so a bad file stops the run before any
/// seed runs.
fn load_all<P: leaseproof_impl::Protocol>(
    paths: &[PathBuf],
) -> anyhow::Result<Result<Vec<Scenario<P>>, String>> {
    let files = discover(paths).context("finding scenario files")?;
    if files.is_empty() {
        anyhow::bail!("no scenario files under {paths:?}");
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match Scenario::<P>::load_protocol(&f) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok(if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    })
}

#[allow(clippy::disallowed_methods)] // `--seed-base random` is the one place entropy is wanted
fn random_base() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths.clone()
    };
    let out = verdict::report_dir(&paths, args.out.as_deref());
    match scenario_protocol(&paths)? {
        Some(p) => leaseproof::with_real_system!(p, |P| run_as::<P>(args, &paths, &out), else {
            anyhow::bail!("no real system {p:?}")
        }),
        None => run_as::<leaseproof_impl::Reference>(args, &paths, &out),
    }
}

/// `--seed-base` (printed when drawn) and the worker count, `--seeds 0` refused.
fn seed_base_and_jobs(args: &RunArgs) -> anyhow::Result<(u64, usize)> {
    let base = match args.seed_base.as_str() {
        "random" => {
            let b = random_base();
            eprintln!("seed base: {b}");
            b
        }
        s => s
            .parse::<u64>()
            .with_context(|| format!("--seed-base: {s:?} is not a number or `random`"))?,
    };
    if args.seeds == Some(0) {
        anyhow::bail!("--seeds: must be at least 1");
    }
    Ok((base, args.jobs.unwrap_or_else(default_jobs).max(1)))
}

/// The real system (`leaseproof_protocols::checks::PROTOCOLS`) whose scenarios `paths`
/// hold, or `None` for the reference protocol's (and for files the reference reader
/// should refuse: unreadable ones, unknown kinds). A run takes one protocol.
fn scenario_protocol(paths: &[PathBuf]) -> anyhow::Result<Option<&'static str>> {
    let files = discover(paths).context("finding scenario files")?;
    let mut seen: Vec<(&'static str, PathBuf)> = Vec::new();
    for f in files {
        let kind = std::fs::read_to_string(&f)
            .ok()
            .and_then(|t| leaseproof_sim::scenario::protocol_of(&t));
        let system = leaseproof_protocols::checks::PROTOCOLS
            .into_iter()
            .find(|p| kind.as_deref() == Some(*p))
            .unwrap_or(leaseproof_impl::ProtocolKind::Reference.name());
        if let Some((other, at)) = seen.iter().find(|(k, _)| *k != system) {
            anyhow::bail!(
                "one run takes one protocol: {} is {system}'s, {} is {other}'s",
                f.display(),
                at.display()
            );
        }
        seen.push((system, f));
    }
    Ok(seen
        .first()
        .map(|(k, _)| *k)
        .filter(|k| *k != leaseproof_impl::ProtocolKind::Reference.name()))
}

/// `run` for the scenarios of protocol `P` (the reference protocol's or a real system's:
/// the same seeds, verdicts, table, reports, timelines, shards and regression corpus).
fn run_as<P: leaseproof_impl::Protocol>(
    args: &RunArgs,
    paths: &[PathBuf],
    out: &Path,
) -> anyhow::Result<u8> {
    let scenarios = match load_all::<P>(paths)? {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(EXIT_USAGE);
        }
    };
    if args.shard.is_some() && args.seed_base == "random" {
        anyhow::bail!(
            "--seed-base random with --shard: every shard would draw its own base; draw one \
             (e.g. `date +%s`) and give every shard that number"
        );
    }
    let (base, jobs) = seed_base_and_jobs(args)?;
    if let Some(spec) = args.shard {
        let params = run_params(args, paths, base);
        return merge::run_shard(
            args.out.as_deref(),
            &scenarios,
            &params,
            spec,
            jobs,
            args.json,
        );
    }
    let (reports, code) = run_scenarios(args, &scenarios, base, jobs);
    if let Some(dir) = &args.save_failures {
        save_failures(&scenarios, &reports, dir, args.json);
    }
    finish_run(
        args,
        out,
        &scenarios,
        &reports,
        &run_params(args, paths, base),
    )?;
    Ok(code)
}

/// What a run was asked: its paths, seed base, seed count and determinism re-runs (a
/// shard carries them; the reports name them when the seeds were not the scenarios' own).
fn run_params(args: &RunArgs, paths: &[PathBuf], base: u64) -> leaseproof_sim::shard::RunParams {
    leaseproof_sim::shard::RunParams {
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        seed_base: base,
        seeds: args.seeds,
        check_determinism: args.check_determinism,
    }
}

/// Writes an unsharded run's reports (`write_run`), its failing seeds re-run traced for
/// their timelines.
fn finish_run<P: leaseproof_impl::Protocol>(
    args: &RunArgs,
    out: &Path,
    scenarios: &[Scenario<P>],
    reports: &[ScenarioReport],
    params: &leaseproof_sim::shard::RunParams,
) -> anyhow::Result<()> {
    write_run(
        out,
        scenarios,
        reports,
        args.json,
        args.junit.as_deref(),
        &report::run_author(params),
        || leaseproof_sim::traced::rerun_failing(scenarios, reports),
    )
}

/// Runs every scenario's seeds from `base` and judges them, with a progress bar (none with
/// `--json`); the reports and the worst exit code. Any protocol.
fn run_scenarios<P: leaseproof_impl::Protocol>(
    args: &RunArgs,
    scenarios: &[Scenario<P>],
    base: u64,
    jobs: usize,
) -> (Vec<ScenarioReport>, u8) {
    let total: u64 = scenarios
        .iter()
        .map(|s| s.run_seeds(base, args.seeds).len() as u64)
        .sum();
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {msg}  eta {eta}")
            .expect("a valid template"),
    );
    let mut reports: Vec<ScenarioReport> = Vec::new();
    let mut code = EXIT_OK;
    for sc in scenarios {
        bar.set_message(sc.name.clone());
        let seeds = sc.run_seeds(base, args.seeds);
        let results = run_many(sc, &seeds, jobs, RunOptions::default(), &|_| bar.inc(1));
        let rerun = if args.check_determinism {
            let n = seeds.len().min(verdict::DETERMINISM_RERUNS);
            run_many(sc, &seeds[..n], jobs, RunOptions::default(), &|_| {})
        } else {
            Vec::new()
        };
        let mut rep = judge(sc, &results, &rerun);
        // This binary replays every protocol it runs.
        for f in &mut rep.failures {
            if let (Some(seed), Some(_)) = (f.seed, &f.replay) {
                f.replay = Some(verdict::cli_replay_command(sc, seed));
            }
        }
        code = worst(code, rep.exit);
        if !args.json {
            bar.suspend(|| report::print_failures(&rep));
        }
        reports.push(rep);
    }
    bar.finish_and_clear();
    (reports, code)
}

/// Saves the failing seeds of `reports` into the regression corpus `dir` (at most
/// `SAVE_PER_ORACLE` per scenario and oracle, the lowest first); says what it did.
fn save_failures<P: leaseproof_impl::Protocol>(
    scenarios: &[Scenario<P>],
    reports: &[ScenarioReport],
    dir: &Path,
    quiet: bool,
) {
    use leaseproof_sim::corpus::{self, SAVE_PER_ORACLE};
    for (sc, rep) in scenarios.iter().zip(reports) {
        let mut per_oracle: std::collections::BTreeMap<&str, usize> = Default::default();
        for f in &rep.failures {
            let Some(seed) = f.seed else { continue };
            if !matches!(
                f.class,
                verdict::Verdict::Safety | verdict::Verdict::Liveness
            ) {
                continue;
            }
            let Ok(oracle) = leaseproof_impl::oracle::OracleName::parse(&f.oracle) else {
                continue;
            };
            let n = per_oracle.entry(oracle.name()).or_default();
            *n += 1;
            if *n > SAVE_PER_ORACLE {
                continue;
            }
            match corpus::save_failure(sc, seed, oracle, dir) {
                Ok(s) if !quiet => eprintln!(
                    "{} {} seed {seed} ({}): {} [{}]",
                    if s.new {
                        "saved"
                    } else {
                        "already in the corpus:"
                    },
                    sc.name,
                    f.oracle,
                    s.path.display(),
                    if s.shrunk { "shrunk" } else { "seed pinned" }
                ),
                Ok(_) => {}
                Err(e) => eprintln!("could not save {} seed {seed}: {e}", sc.name),
            }
        }
        let skipped: usize = per_oracle
            .values()
            .map(|n| n.saturating_sub(SAVE_PER_ORACLE))
            .sum();
        if skipped > 0 && !quiet {
            eprintln!(
                "{}: {skipped} more failing seeds not saved (at most {SAVE_PER_ORACLE} per oracle)",
                sc.name
            );
        }
    }
}

/// A run's outputs from its reports: the table (or the JSON document) on the terminal,
/// run.json, run.md, the timelines of the seeds `traced` gives (a traced re-run, or a
/// merge's recorded ones) and index.html, all in `out`.
#[allow(clippy::too_many_arguments)]
fn write_run<P: leaseproof_impl::Protocol>(
    out: &Path,
    scenarios: &[Scenario<P>],
    reports: &[ScenarioReport],
    json: bool,
    junit: Option<&Path>,
    author: &run_report::Author,
    traced: impl FnOnce() -> Vec<Vec<SeedResult<P>>>,
) -> anyhow::Result<()> {
    if let Some(j) = junit {
        junit::write(j, "leaseproof run", &junit::run_cases(reports))?;
    }
    if json {
        let doc = serde_json::to_string_pretty(&serde_json::json!({ "scenarios": reports }))?;
        report::emit(&format!("{doc}\n"));
    } else {
        report::print_table(reports);
    }
    report::write_run_reports(out, reports, author).context("writing reports")?;
    // Timelines are drawn for seeds that tripped an oracle: a failing seed, or one that
    // found what a scenario `finds`.
    let tripped = reports.iter().any(|r| {
        r.failures.iter().any(|f| f.seed.is_some()) || r.finds.values().any(Option::is_some)
    });
    if tripped && !json {
        eprintln!("rendering the timelines of failing seeds");
    }
    let timelines =
        run_report::write_timelines(out, scenarios, &traced()).context("writing timelines")?;
    let index = out.join("index.html");
    std::fs::write(
        &index,
        run_report::index_html(out, reports, &timelines, author),
    )
    .with_context(|| format!("writing {}", index.display()))?;
    if !json {
        eprintln!("report: {}", index.display());
        if let Some(line) = report::closing_line(reports) {
            eprintln!("{line}");
        }
    }
    Ok(())
}

/// `catalog`'s flags.
struct CatalogArgs {
    json: bool,
    jobs: Option<usize>,
    junit: Option<PathBuf>,
    shard: Option<ShardSpec>,
    out: Option<PathBuf>,
}

fn run_catalog(args: &CatalogArgs) -> anyhow::Result<u8> {
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    let spinner = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let say = |m: &str| spinner.set_message(m.to_string());
    if let Some(spec) = args.shard {
        #[allow(clippy::disallowed_methods)] // the shard's wall time, for the report only
        let started = std::time::Instant::now();
        let mut part = catalog::run_units(Path::new("."), jobs, spec, &say)?;
        part.seconds = started.elapsed().as_secs_f64();
        spinner.finish_and_clear();
        return merge::write_catalog_shard(args.out.as_deref(), spec, &part);
    }
    let cat = catalog::run(Path::new("."), jobs, &say)?;
    spinner.finish_and_clear();
    write_catalog(&cat, args.out.as_deref(), args.json, args.junit.as_deref())
}

/// The catalog's files (into `out`, default reports/), its JUnit file, and its text or JSON
/// on stdout; its exit code.
fn write_catalog(
    cat: &catalog::Catalog,
    out: Option<&Path>,
    json: bool,
    junit: Option<&Path>,
) -> anyhow::Result<u8> {
    let files = cat.write(out.unwrap_or(Path::new("reports")))?;
    if let Some(j) = junit {
        junit::write(j, "leaseproof catalog", &junit::catalog_cases(cat))?;
    }
    if json {
        report::emit(&format!("{}\n", serde_json::to_string_pretty(cat)?));
    } else {
        report::emit(&cat.markdown());
        for f in files {
            eprintln!("wrote {}", f.display());
        }
    }
    Ok(cat.exit())
}

fn tune(args: &TuneArgs) -> anyhow::Result<u8> {
    use leaseproof_sim::tune::{self, GridFile, TuneOptions};
    let loaded = match &args.grid {
        Some(p) => GridFile::load(p).map_err(|e| e.to_string()),
        None => GridFile::preset(args.preset.as_deref().unwrap_or("k8s")),
    };
    let g = match loaded {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return Ok(EXIT_USAGE);
        }
    };
    let seeds = args.seeds.unwrap_or(g.base.file.seeds);
    if seeds == 0 {
        eprintln!("--seeds: must be at least 1");
        return Ok(EXIT_USAGE);
    }
    let target_false_preemption = args
        .target_false_preemption
        .or(g.target.false_preemption)
        .unwrap_or(0.05);
    if !(0.0..=1.0).contains(&target_false_preemption) {
        eprintln!(
            "--target-false-preemption: {target_false_preemption} is not a rate between 0 and 1"
        );
        return Ok(EXIT_USAGE);
    }
    if let Err(e) = tune::check_target(target_false_preemption, seeds) {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let opts = TuneOptions {
        seeds,
        jobs: args.jobs.unwrap_or_else(default_jobs).max(1),
        target_false_preemption,
        target_failover_ms: args.target_failover_ms.or(g.target.failover_ms),
        pause_p99_ms: args.pause_p99_ms.or(g.target.pause_p99_ms),
    };
    if let Some(code) = tune_plugin_preflight(&g) {
        return Ok(code);
    }
    if let Some(spec) = args.shard {
        return merge::run_tune_shard(&g, &opts, spec, args.out.as_deref(), args.json);
    }
    let cells = g.cells();
    let runnable = cells.iter().filter(|(_, run)| runnable(run)).count() as u64;
    eprintln!(
        "tune {}: {} cells ({} impossible, skipped), {seeds} seeds each, {} ms simulated per seed",
        g.name,
        cells.len(),
        cells.len() as u64 - runnable,
        g.base.file.duration_ms
    );
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(
            Some(runnable * u64::from(seeds)),
            ProgressDrawTarget::stderr(),
        )
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}")
            .expect("a valid template"),
    );
    #[allow(clippy::disallowed_methods)] // wall time of the sweep, for the report only
    let started = std::time::Instant::now();
    let results = tune::sweep_with(&g, &opts, &|_| bar.inc(1), &|cell, p, seeds| {
        leaseproof::with_real_system!(
            p.kind.as_str(),
            |P| plugin_cell::<P>(cell, p, seeds, opts.jobs, &bar),
            else Err(format!("this build has no protocol {:?}", p.kind))
        )
    });
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let report = tune::report(&g, &opts, results, seconds);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("tune-{}", g.name)));
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let written = leaseproof_sim::tune_report::write(&out, &report, &command)
        .with_context(|| format!("writing {}", out.display()))?;
    if args.json {
        report::emit(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        report::emit(&report::tune_text(&report, &out, written.len()));
    }
    Ok(report.verdict().exit_code())
}

/// A real system's grid: its base read as the plug-in reads its scenarios (a bad field is
/// exit 2 with the file, line and field), and no sharding yet. `Some(exit code)` stops.
fn tune_plugin_preflight(g: &leaseproof_sim::tune::GridFile) -> Option<u8> {
    g.plugin.as_ref()?;
    if let Err(e) = plugin_parse(&g.kind, &g.path, &g.plugin_base_text()) {
        eprintln!("{e}");
        return Some(EXIT_USAGE);
    }
    None
}

/// Whether a cell will run: the reference protocol's when its scenario parsed, a plug-in's
/// when the plug-in accepts its config.
fn runnable(run: &Result<leaseproof_sim::tune::CellRun, String>) -> bool {
    match run {
        Ok(leaseproof_sim::tune::CellRun::Plugin(p)) => plugin_takes(p).is_ok(),
        other => other.is_ok(),
    }
}

/// Reads a real system's scenario text as its plug-in does (a grid's base, or one cell):
/// the error names the file, line, field and reason.
fn plugin_parse(kind: &str, path: &Path, text: &str) -> Result<(), String> {
    fn parse<P: leaseproof_impl::Protocol>(path: &Path, text: &str) -> Result<(), String> {
        Scenario::<P>::parse_protocol(path, text)
            .map(drop)
            .map_err(|e| e.to_string())
    }
    leaseproof::with_real_system!(kind, |P| parse::<P>(path, text), else {
        Err(format!(
            "{}: [protocol] kind {kind:?}: this build has no such protocol",
            path.display()
        ))
    })
}

/// A plug-in's cell as its scenario, or why the plug-in refuses it (the field and the
/// reason: what a sweep's report says of a cell it did not run).
fn cell_scenario<P: leaseproof_impl::Protocol>(
    p: &leaseproof_sim::tune::PluginCell,
) -> Result<Scenario<P>, String> {
    Scenario::<P>::parse_protocol(&p.path, &p.text)
        .map_err(|e| format!("{}: {}", e.field, e.reason))
}

/// Whether the cell's plug-in takes it (a tune merge asks, as the sweep did).
fn plugin_takes(p: &leaseproof_sim::tune::PluginCell) -> Result<(), String> {
    leaseproof::with_real_system!(
        p.kind.as_str(),
        |P| cell_scenario::<P>(p).map(drop),
        else Err(format!("this build has no protocol {:?}", p.kind))
    )
}

/// A plug-in cell's seeds run, or why the plug-in refuses the cell.
fn run_cell<P: leaseproof_impl::Protocol>(
    p: &leaseproof_sim::tune::PluginCell,
    seeds: &[u64],
    jobs: usize,
    bar: &ProgressBar,
) -> Result<Vec<leaseproof_sim::run::SeedResult<P>>, String> {
    let sc = cell_scenario::<P>(p)?;
    Ok(run_many(&sc, seeds, jobs, RunOptions::default(), &|_| {
        bar.inc(1)
    }))
}

/// A plug-in cell's seeds run for a tune shard: each seed's record.
fn plugin_records<P: leaseproof_impl::Protocol>(
    p: &leaseproof_sim::tune::PluginCell,
    seeds: &[u64],
    jobs: usize,
    bar: &ProgressBar,
) -> Result<Vec<leaseproof_sim::shard::SeedRecord>, String> {
    Ok(run_cell::<P>(p, seeds, jobs, bar)?
        .iter()
        .map(leaseproof_sim::shard::SeedRecord::from)
        .collect())
}

/// One cell of a real system's grid over the seeds; an impossible config (the plug-in's
/// own validation) is the reason the cell does not run.
fn plugin_cell<P: leaseproof_impl::Protocol>(
    cell: &leaseproof_sim::tune::CellSpec,
    p: &leaseproof_sim::tune::PluginCell,
    seeds: &[u64],
    jobs: usize,
    bar: &ProgressBar,
) -> Result<leaseproof_sim::tune::CellResult, String> {
    let results = run_cell::<P>(p, seeds, jobs, bar)?;
    Ok(leaseproof_sim::tune::measure(cell.clone(), &results))
}

/// [`load_for_replay`], saying why on stderr when it cannot (the caller exits 2).
fn load_or_say<P: leaseproof_impl::Protocol>(
    path: &Path,
    hash: Option<&str>,
) -> Option<Scenario<P>> {
    load_for_replay::<P>(path, hash)
        .map_err(|e| eprintln!("{e}"))
        .ok()
}

/// Loads a scenario for a replay, refusing one whose content hash is not the asked one.
fn load_for_replay<P: leaseproof_impl::Protocol>(
    path: &Path,
    hash: Option<&str>,
) -> Result<Scenario<P>, String> {
    let sc = Scenario::<P>::load_protocol(path).map_err(|e| e.to_string())?;
    if let Some(h) = hash {
        if !h.eq_ignore_ascii_case(&sc.hash) {
            return Err(format!(
                "{}: the scenario changed since that seed was reported: its hash is {}, the \
                 replay asked for {h}; refusing to replay",
                path.display(),
                sc.hash
            ));
        }
    }
    Ok(sc)
}

fn shrink_seed(
    path: &Path,
    seed: u64,
    hash: Option<&str>,
    oracle: Option<&str>,
    verbose: bool,
) -> anyhow::Result<u8> {
    shrink_seed_as::<leaseproof_impl::Reference>(path, seed, hash, oracle, verbose, &|sc| {
        sc.config.to_string()
    })
}

/// `replay --shrink` for a scenario of protocol `P`: the seed's failure shrunk to a
/// minimal scripted scenario under reports/shrunk/, confirmed by a replay, whose timeline
/// is printed; `config` describes the protocol's configuration.
fn shrink_seed_as<P: leaseproof_impl::Protocol>(
    path: &Path,
    seed: u64,
    hash: Option<&str>,
    oracle: Option<&str>,
    verbose: bool,
    config: &dyn Fn(&Scenario<P>) -> String,
) -> anyhow::Result<u8>
where
    P::Event: serde::Serialize,
    P::Msg: serde::Serialize,
{
    let Some(sc) = load_or_say::<P>(path, hash) else {
        return Ok(EXIT_USAGE);
    };
    let oracle = match oracle
        .map(|o| {
            leaseproof_impl::oracle::OracleName::parse(o).map_err(|e| format!("--oracle: {e}"))
        })
        .transpose()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return Ok(EXIT_USAGE);
        }
    };
    eprintln!("shrinking {} seed {seed} ...", sc.name);
    let shrunk = match leaseproof_sim::shrink::shrink(&sc, seed, oracle) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return Ok(EXIT_USAGE);
        }
    };
    let file = shrunk
        .write(&Path::new("reports").join("shrunk"))
        .context("writing the shrunk scenario")?;
    report::emit(&shrunk.summary());
    report::emit(&format!("scenario: {}\n", file.display()));
    if !shrunk.confirmed {
        return Ok(verdict::Verdict::Nondeterminism.exit_code());
    }
    // The minimal plan's timeline, as a replay of the written scenario shows it.
    replay_as::<P>(&file, shrunk.seed, None, verbose, config)
}

fn replay(path: &Path, seed: u64, hash: Option<&str>, verbose: bool) -> anyhow::Result<u8> {
    replay_as::<leaseproof_impl::Reference>(path, seed, hash, verbose, &|sc| sc.config.to_string())
}

/// A real system's `[protocol]` table as the scenario sets it (defaults filled in).
fn protocol_lines<P: leaseproof_impl::Protocol>(sc: &Scenario<P>) -> String {
    toml::to_string(&sc.file.protocol).unwrap_or_else(|e| format!("(not shown: {e})"))
}

/// Replays one seed of a scenario of protocol `P` with the trace on: its plan, the
/// timeline (messages with `verbose`), its violations, the JSON-lines trace and the SVG
/// timeline under reports/runs/; `config` describes the protocol's configuration.
fn replay_as<P: leaseproof_impl::Protocol>(
    path: &Path,
    seed: u64,
    hash: Option<&str>,
    verbose: bool,
    config: &dyn Fn(&Scenario<P>) -> String,
) -> anyhow::Result<u8>
where
    P::Event: serde::Serialize,
    P::Msg: serde::Serialize,
{
    let Some(sc) = load_or_say::<P>(path, hash) else {
        return Ok(EXIT_USAGE);
    };
    let r = run_seed_isolated(&sc, seed, RunOptions { trace: true });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} ({}), hash {}, seed {seed}, class {:?}, variant {}",
        sc.name,
        path.display(),
        sc.hash,
        sc.class(),
        P::variant(&sc.config)
    );
    let _ = writeln!(out, "config:");
    for line in config(&sc).lines() {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(plan) = &r.plan {
        let _ = write!(out, "{plan}");
    }
    let lines = r.trace.clone().unwrap_or_default();
    let _ = writeln!(out, "timeline:");
    for l in &lines {
        // Events, faults and timers (with why each fired); messages with --trace.
        if verbose || (l.what != "send" && l.what != "recv") {
            let _ = writeln!(
                out,
                "  {:>12.3} ms  [server {:>14.3}]  {:<9} {:<6} {:<24} {}",
                l.t_ms, l.server_ms, l.node, l.what, l.kind, l.detail
            );
        }
    }
    let dir = Path::new("reports").join("runs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join(format!("{}-{seed}.jsonl", sc.name));
    let mut body = String::new();
    for l in &lines {
        body.push_str(&serde_json::to_string(l)?);
        body.push('\n');
    }
    std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
    let rep = judge(&sc, std::slice::from_ref(&r), &[]);
    for f in &r.found {
        let _ = writeln!(
            out,
            "violation at {:.3} s: {}",
            f.true_ns as f64 / 1e9,
            f.violation
        );
    }
    if let Some(v) = &r.liveness {
        let _ = writeln!(out, "liveness: {v}");
    }
    if let Some(p) = &r.panic {
        let _ = writeln!(out, "crash: {p}");
    }
    let _ = writeln!(out, "trace: {}", file.display());
    if let Some(svg) = run_report::timeline_of(&sc, &r) {
        let tl = dir.join(format!("{}-{seed}.svg", sc.name));
        std::fs::write(&tl, svg).with_context(|| format!("writing {}", tl.display()))?;
        let _ = writeln!(out, "timeline: {}", tl.display());
    }
    let _ = writeln!(out, "trace hash: {:016x}", r.trace_hash);
    report::emit(&out);
    // One seed is judged on what one seed can show: its own failures, not the
    // scenario-wide `sometimes` / `finds` expectations.
    let code = rep
        .failures
        .iter()
        .filter(|f| f.seed.is_some())
        .map(verdict::Failure::exit)
        .fold(EXIT_OK, worst);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_check(argv: &[&str]) -> CheckArgs {
        let argv = [&["leaseproof", "check"][..], argv].concat();
        match Cli::try_parse_from(argv).expect("flags parse").command {
            Some(Command::Check(a)) => a,
            _ => panic!("a check"),
        }
    }

    #[test]
    fn check_with_no_bound_flag_is_the_closed_suite() {
        for output_only in [&[][..], &["--json", "--threads", "1", "--bfs"]] {
            assert!(parsed_check(output_only).model.is_bare(), "{output_only:?}");
        }
        for bound in [
            &["--max-time", "3"][..],
            &["--closed"],
            &["--clients", "2"],
            &["--variant", "no-fencing"],
            &["--protocol", "k8s"],
            &["--liveness"],
            &["--ttl", "8"],
        ] {
            assert!(!parsed_check(bound).model.is_bare(), "{bound:?}");
        }
        // Between them the suite's checks reach every coverage property: none is one that
        // every check cannot reach.
        let checks = main_closed_checks();
        for c in &checks {
            for p in c.unreachable {
                assert!(
                    checks.iter().any(|o| !o.unreachable.contains(p)),
                    "{p} is reached by no check of the suite"
                );
            }
        }
    }

    #[test]
    fn the_suites_coverage_names_the_checks_and_fails_on_a_property_none_reached() {
        let mut reached = std::collections::BTreeMap::new();
        reached.insert(leaseproof_model::PROP_STALE_REJECTED, vec!["closed"]);
        let text = report::suite_text(&reached, 0);
        assert!(
            text.contains("reached (closed)") && text.contains("closed: every check"),
            "{text}"
        );
        reached.insert(leaseproof_model::PROP_RESTART_GRANT_ACCEPTED, vec![]);
        let text = report::suite_text(&reached, 1);
        assert!(
            text.contains("NOT reached by any closed check") && text.contains("NOT closed"),
            "{text}"
        );
    }

    #[test]
    fn the_main_jobs_closed_checks_are_the_flags_they_print() {
        for MainCheck { flags, args, .. } in main_closed_checks() {
            let argv = ["leaseproof", "check"]
                .into_iter()
                .chain(flags.split_whitespace());
            let Some(Command::Check(parsed)) =
                Cli::try_parse_from(argv).expect("flags parse").command
            else {
                panic!("a check");
            };
            assert_eq!(parsed.model.config().unwrap(), args.config().unwrap());
            assert!(args.config().unwrap().closed);
        }
        let faults = ModelArgs::main_faults().config().unwrap();
        assert!(faults.crash_points && faults.rate_skew == Some(3));
        let live = ModelArgs::main_liveness().config().unwrap();
        assert!(live.liveness && live.crash_points && live.crashes == 1 && live.clients == 2);
    }

    fn closed_report(unique: usize, reached: bool) -> leaseproof_model::check::CheckReport {
        use leaseproof_model::check::PropertyReport;
        let prop = |expectation, holds| PropertyReport {
            expectation,
            holds,
            trace: Vec::new(),
        };
        leaseproof_model::check::CheckReport {
            model: String::new(),
            states: unique,
            unique,
            depth: 1,
            seconds: 1.0,
            states_per_sec: 1.0,
            complete: true,
            closed: true,
            assumptions: None,
            liveness_beyond: None,
            collision_bound: 0.0,
            properties: [
                (leaseproof_model::PROP_SINGLE_HOLDER, prop("always", true)),
                (leaseproof_model::PROP_TAKEOVER, prop("sometimes", reached)),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn the_main_job_fails_when_its_closed_count_moves_or_coverage_is_missed() {
        let verdict = |code, r: Option<&_>| main_closed_verdict(code, r, MAIN_CLOSED_UNIQUE, &[]);
        let pinned = closed_report(MAIN_CLOSED_UNIQUE, true);
        assert_eq!(verdict(EXIT_OK, Some(&pinned)), EXIT_OK);
        let moved = closed_report(MAIN_CLOSED_UNIQUE + 1, true);
        assert_eq!(verdict(EXIT_OK, Some(&moved)), 1);
        let missed = closed_report(MAIN_CLOSED_UNIQUE, false);
        assert_eq!(verdict(EXIT_OK, Some(&missed)), 1);
        // A property the model cannot reach (one client: no takeover by another) is exempt.
        let exempt = [leaseproof_model::PROP_TAKEOVER];
        assert_eq!(
            main_closed_verdict(EXIT_OK, Some(&missed), MAIN_CLOSED_UNIQUE, &exempt),
            EXIT_OK
        );
        assert_eq!(verdict(3, Some(&pinned)), 3, "its own verdict first");
        assert_eq!(verdict(EXIT_USAGE, None), EXIT_USAGE);
    }
}
