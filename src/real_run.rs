//! `leaseproof serve` (one real node) and `leaseproof real` (a real cluster of `serve`
//! processes on loopback, judged by the simulator's oracles, reported as its runs). A real
//! cluster plays a seed's fault plan (`Plan::derive` with a seeded generator: the script and
//! the random faults, each node's clock offset and rate, the network knobs) with real
//! mechanisms: a pause is SIGSTOP/SIGCONT, a crash SIGKILL and a restart (on its data dir,
//! or without it when the fault loses the disk), a partition, cut, split, loss, duplication
//! or latency the fault proxy between every pair of nodes, a clock step a line to the node's
//! software clock, garbage frames a connection straight to the node, a send stall the node's
//! own thread blocked. What happens only inside the simulator (buggify, worker stalls, crash
//! points) is refused by name.
#![allow(clippy::disallowed_methods)] // real processes: the machine's clock and tokio's tasks

use anyhow::{bail, Context};
use leaseproof_impl::clock::{NodeClock, CLOCK_ORIGIN_NS};
use leaseproof_impl::{
    liveness_bound_ns_for, Event, Identity, Key, Liveness, NodeId, OracleName, RoleKind,
    SafetyOracles, Violation,
};
use leaseproof_real::clock::monotonic_ns;
use leaseproof_real::{
    run_node, run_proxy, Knobs, Net, NodeSpec, RealClock, RedbStore, SkippingSync, Store,
};
use leaseproof_sim::fault::FaultKind;
use leaseproof_sim::metrics::{RunMetrics, Tenures};
use leaseproof_sim::plan::describe;
use leaseproof_sim::plan::{Plan, SeededRng};
use leaseproof_sim::run::SeedResult;
use leaseproof_sim::run_report;
use leaseproof_sim::scenario::{
    self, node_id, node_name, Fault, FaultAction, Scenario, RESOURCE, SERVER,
};
use leaseproof_sim::timeline::Timeline;
use leaseproof_sim::verdict::{self, ScenarioReport};
use leaseproof_sim::world::Found;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// One real node's flags.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// server, resource or client-N.
    pub node: String,
    /// The scenario whose `[protocol]` the node runs.
    #[arg(long)]
    pub scenario: PathBuf,
    /// The incarnation (0 at first boot; a restart takes the next).
    #[arg(long, default_value_t = 0)]
    pub incarnation: u32,
    /// Where the node keeps its durable state (a redb file inside).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The address to listen on (loopback only; port 0 picks one, printed first).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The software clock's offset from the machine's monotonic clock, in ms.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub clock_offset_ms: i64,
    /// The software clock's rate error, in ppm (positive: fast).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true,
          value_parser = clap::value_parser!(i32).range(-999_999..=999_999))]
    pub clock_rate_ppm: i32,
    /// True time 0 as a CLOCK_MONOTONIC reading in ns (the supervisor's; default: now).
    #[arg(long)]
    pub origin_ns: Option<u64>,
    /// Another node, `NAME=ADDR` (`server=127.0.0.1:7000`), repeated for each peer. With
    /// none, the peers are read on stdin (`peer ID ADDR` lines, then `go`), as `real` does.
    #[arg(long = "peer", value_parser = peer_flag)]
    pub peers: Vec<(String, SocketAddr)>,
    /// A test layer: each persist batch reaches the disk with this probability (with every
    /// batch before it); below 1, a kill loses the unsynced tail, as a store that skips
    /// fsync does at power loss.
    #[arg(long, default_value_t = 1.0, value_parser = ratio)]
    pub store_sync_ratio: f64,
    /// The probability that a write stalls between its decision and its send, blocking the
    /// node (the simulator's `cluster.send_delay_ratio`).
    #[arg(long, default_value_t = 0.0, value_parser = ratio)]
    pub send_delay_ratio: f64,
    /// The stall's length range in ms, `LO,HI` (the simulator's `cluster.send_delay_ms`).
    #[arg(long, default_value = "0,0", value_parser = ms_range)]
    pub send_delay_ms: [u64; 2],
}

fn peer_flag(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=ADDR"))?;
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("{s:?}: the address: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{s:?}: real nodes talk over the loopback address only"
        ));
    }
    Ok((name.to_string(), addr))
}

fn ms_range(s: &str) -> Result<[u64; 2], String> {
    let bad = || format!("{s:?} is not a range LO,HI in ms with LO <= HI");
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok([a, b])
}

/// `leaseproof real`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct RealArgs {
    pub scenario: PathBuf,
    /// Real runs, one after another.
    #[arg(long, default_value_t = 1)]
    pub seeds: u32,
    /// Where the run's reports go (as `run` writes them, with every run's timeline).
    #[arg(long, default_value = "reports/runs/real")]
    pub out: PathBuf,
    /// Every node's store syncs each batch with this probability (a test layer; see
    /// `serve --store-sync-ratio`).
    #[arg(long, default_value_t = 1.0, value_parser = ratio)]
    pub store_sync_ratio: f64,
}

fn ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a ratio in [0, 1]")),
    }
}

/// The node index of a name (`server`, `resource`, `client-N`; a real node is never the
/// `holder` placeholder).
fn node_index(name: &str, clients: usize) -> anyhow::Result<usize> {
    scenario::node_index(name, clients)
        .filter(|_| name != "holder")
        .with_context(|| {
            format!(
                "node {name:?}: expected server, resource or client-0..client-{}",
                clients - 1
            )
        })
}

/// `leaseproof serve`: prints `listening ADDR`, reads `peer ID ADDR` lines on stdin until
/// `go`, then runs the node, writing each event as a JSON line on stdout, until stdin
/// closes. Exits 2 on bad flags or an address in use, 4 when its store fails.
pub fn serve(args: &ServeArgs) -> anyhow::Result<u8> {
    if !args.listen.ip().is_loopback() {
        bail!(
            "--listen {}: real nodes talk over the loopback address only",
            args.listen
        );
    }
    let sc = Scenario::load(&args.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    let idx = node_index(&args.node, sc.clients)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("--data-dir {}: cannot create it", args.data_dir.display()))?;
    let store = RedbStore::open(&args.data_dir.join("node.redb"))
        .map_err(|e| anyhow::anyhow!("--data-dir: {e}"))?;
    die_with_parent();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a tokio runtime")?;
    if args.store_sync_ratio < 1.0 {
        let store = SkippingSync::new(store, args.store_sync_ratio, monotonic_ns());
        rt.block_on(serve_node(args, &sc, idx, store))
    } else {
        rt.block_on(serve_node(args, &sc, idx, store))
    }
}

async fn serve_node<S: Store>(
    args: &ServeArgs,
    sc: &Scenario,
    idx: usize,
    store: S,
) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", args.listen))?;
    let addr = listener.local_addr().context("the bound address")?;
    println!("listening {addr}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut peers = BTreeMap::new();
    for (name, a) in &args.peers {
        let i = node_index(name, sc.clients).context("--peer")?;
        peers.insert(node_id(i), *a);
    }
    while args.peers.is_empty() {
        let Some(line) = lines.next_line().await.context("stdin")? else {
            break;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["go"] => break,
            ["peer", id, a] => {
                let id: u32 = id.parse().with_context(|| format!("peer line {line:?}"))?;
                let a: SocketAddr = a.parse().with_context(|| format!("peer line {line:?}"))?;
                peers.insert(NodeId(id), a);
            }
            _ => bail!("stdin: {line:?} is neither `peer ID ADDR` nor `go`"),
        }
    }
    let kind = match idx {
        SERVER => RoleKind::Server,
        RESOURCE => RoleKind::Resource,
        _ => RoleKind::Client,
    };
    let id = node_id(idx);
    let spec = NodeSpec {
        kind,
        id: Identity {
            node: id,
            incarnation: args.incarnation,
        },
        cfg: sc.config,
        clock: RealClock::new(
            args.origin_ns.unwrap_or_else(monotonic_ns),
            args.clock_offset_ms * 1_000_000,
            args.clock_rate_ppm,
        ),
        peers,
        jitter_seed: monotonic_ns() ^ u64::from(id.0),
        send_delay: (args.send_delay_ratio > 0.0)
            .then_some((args.send_delay_ratio, args.send_delay_ms)),
    };
    let clock = spec.clock.clone();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let node = tokio::spawn(run_node(spec, listener, store, events_tx, stop));
    let printer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(e) = events.recv().await {
            let line = serde_json::json!({
                "true_ns": e.true_ns,
                "local_ns": e.local.0,
                "node": e.node.0,
                "event": e.event,
            });
            if out.write_all(format!("{line}\n").as_bytes()).await.is_err() {
                break;
            }
            let _ = out.flush().await;
        }
    });
    // `clock-step NS` steps the node's clock; stdin closing is the supervisor's stop.
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(by) = line.strip_prefix("clock-step ") {
            if let Ok(by) = by.trim().parse::<i64>() {
                clock.step(by);
            }
        }
    }
    let _ = stop_tx.send(true);
    let (_, kept) = node.await.context("the node task")?;
    let _ = printer.await;
    match kept {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("node {}: {e}", args.node);
            Ok(4)
        }
    }
}

/// The node dies with its supervisor (Linux: a parent-death signal).
fn die_with_parent() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number has no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
}

/// One running node process.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Reads the node's event lines until its stdout closes.
    reader: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
    incarnation: u32,
}

/// A real cluster: its processes, the fault proxy between them, and what they report.
struct Cluster {
    scenario: PathBuf,
    dir: PathBuf,
    origin_ns: u64,
    /// Each node's clock (offset and rate from the plan, plus the steps played so far: a
    /// restarted process reads the same clock).
    clocks: Vec<NodeClock>,
    /// The steps of the server's clock, at their true times (the oracles read its clock).
    server_steps: Vec<(u64, i64)>,
    procs: BTreeMap<usize, Proc>,
    events: mpsc::UnboundedSender<(usize, serde_json::Value)>,
    net: Net,
    /// The proxy in front of each node: the address every other node is told.
    proxies: BTreeMap<usize, SocketAddr>,
    proxy_tasks: JoinSet<()>,
    proxy_stop: watch::Sender<bool>,
    /// Passed to every node (`serve --store-sync-ratio`).
    store_sync_ratio: f64,
    /// The plan's send stall, passed to every node (`serve --send-delay-*`).
    send_delay: (f64, [u64; 2]),
    /// Each kill: its true time and the node.
    kills: Vec<(u64, usize)>,
    /// Each fault applied or healed: its true time, node, kind and description (the
    /// simulator's fault records, for the timeline and coverage).
    fault_log: Vec<(u64, usize, FaultKind, String)>,
}

impl Cluster {
    /// Starts node `idx` (listening on `addr`, or port 0) and waits for its port.
    async fn spawn(
        &mut self,
        idx: usize,
        incarnation: u32,
        addr: SocketAddr,
    ) -> anyhow::Result<()> {
        let clock = self.clocks[idx];
        let offset_ns = i64::try_from(clock.base_ns).unwrap_or(i64::MAX)
            - i64::try_from(CLOCK_ORIGIN_NS).unwrap_or(0)
            + clock.step_ns;
        let mut child = Command::new(std::env::current_exe().context("this binary")?)
            .arg("serve")
            .arg(node_name(idx))
            .arg("--scenario")
            .arg(&self.scenario)
            .arg("--incarnation")
            .arg(incarnation.to_string())
            .arg("--data-dir")
            .arg(self.dir.join(node_name(idx)))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--origin-ns")
            .arg(self.origin_ns.to_string())
            .arg(format!("--clock-offset-ms={}", offset_ns / 1_000_000))
            .arg(format!("--clock-rate-ppm={}", clock.drift_ppm))
            .arg(format!("--store-sync-ratio={}", self.store_sync_ratio))
            .arg(format!("--send-delay-ratio={}", self.send_delay.0))
            .arg(format!(
                "--send-delay-ms={},{}",
                self.send_delay.1[0], self.send_delay.1[1]
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("start a node process")?;
        let stdout = child.stdout.take().context("the node's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .context("a node did not report its port within 10 s")??
            .context("a node exited before it reported its port")?;
        let addr: SocketAddr = first
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("a node's first line {first:?}"))?;
        let events = self.events.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = events.send((idx, v));
                }
            }
        });
        let stdin = child.stdin.take();
        self.procs.insert(
            idx,
            Proc {
                child,
                stdin,
                reader,
                addr,
                incarnation,
            },
        );
        Ok(())
    }

    /// Puts a proxy in front of every node (once, after the first spawns: a restarted node
    /// keeps its address, so its proxy stays).
    async fn start_proxies(&mut self) -> anyhow::Result<()> {
        for (&idx, p) in &self.procs {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("bind a proxy on loopback")?;
            self.proxies
                .insert(idx, listener.local_addr().context("a proxy's address")?);
            self.proxy_tasks.spawn(run_proxy(
                listener,
                node_id(idx),
                p.addr,
                self.net.clone(),
                self.proxy_stop.subscribe(),
            ));
        }
        Ok(())
    }

    async fn tell(&mut self, idx: usize, line: &str) -> anyhow::Result<()> {
        let stdin = self
            .procs
            .get_mut(&idx)
            .and_then(|p| p.stdin.as_mut())
            .context("a node's stdin")?;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        Ok(())
    }

    /// Tells node `idx` every peer's address (its proxy's), then `go`.
    async fn introduce(&mut self, idx: usize) -> anyhow::Result<()> {
        let peers: Vec<(usize, SocketAddr)> = self
            .proxies
            .iter()
            .filter(|(i, _)| **i != idx)
            .map(|(i, a)| (*i, *a))
            .collect();
        for (i, a) in peers {
            self.tell(idx, &format!("peer {} {a}", node_id(i).0))
                .await?;
        }
        self.tell(idx, "go").await
    }

    fn signal(&self, idx: usize, sig: libc::c_int) {
        if let Some(pid) = self.procs.get(&idx).and_then(|p| p.child.id()) {
            // SAFETY: kill with a pid we started and a signal number has no memory effects.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }

    /// Kills node `idx` (SIGKILL) and waits, bounded, until it is gone and every line it
    /// wrote has been read.
    async fn kill(&mut self, idx: usize) {
        self.signal(idx, libc::SIGKILL);
        self.kills
            .push((monotonic_ns().saturating_sub(self.origin_ns), idx));
        if let Some(p) = self.procs.get_mut(&idx) {
            let _ = tokio::time::timeout(Duration::from_secs(5), p.child.wait()).await;
            if !p.reader.is_finished() {
                let _ = tokio::time::timeout(Duration::from_secs(5), &mut p.reader).await;
            }
        }
    }

    fn true_now(&self) -> u64 {
        monotonic_ns().saturating_sub(self.origin_ns)
    }

    fn log_fault(&mut self, node: usize, kind: FaultKind, detail: String) {
        let t = self.true_now();
        self.fault_log.push((t, node, kind, detail));
    }

    /// Holds a killed node's disk to what its log claimed (the shell writes an event only
    /// once the persists before it are durable): the server's token counter covers every
    /// token it granted, the resource's highest token per key every write it accepted.
    /// Returns what does not hold.
    fn check_disk(&self, idx: usize, seen: &[(u64, usize, usize, Event)]) -> Vec<String> {
        if idx != SERVER && idx != RESOURCE {
            return Vec::new();
        }
        let path = self.dir.join(node_name(idx)).join("node.redb");
        let disk = match RedbStore::open(&path) {
            Ok(store) => store.disk(),
            Err(e) => return vec![format!("{}: {e}", node_name(idx))],
        };
        let mut wrong = Vec::new();
        let mut claimed: BTreeMap<Option<Key>, u64> = BTreeMap::new();
        for (_, node, _, e) in seen {
            match *e {
                Event::Granted { token, .. } if *node == idx => {
                    let c = claimed.entry(None).or_default();
                    *c = (*c).max(token.0);
                }
                Event::WriteAccepted { key, token, .. } if *node == idx => {
                    let c = claimed.entry(Some(key)).or_default();
                    *c = (*c).max(token.0);
                }
                _ => {}
            }
        }
        for (key, token) in claimed {
            let kept = match key {
                None => disk.token_counter,
                Some(k) => disk.highest.get(&k).map_or(0, |t| t.0),
            };
            if kept < token {
                wrong.push(match key {
                    None => format!(
                        "server: killed with its disk's token counter at {kept}, below token {token} it had granted"
                    ),
                    Some(k) => format!(
                        "resource: killed with its disk's highest token for key {k} at {kept}, below token {token} it had accepted"
                    ),
                });
            }
        }
        wrong
    }

    /// The server's clock reading at true time `t` (its plan clock and the steps played
    /// before `t`).
    fn server_at(&self, t: u64) -> leaseproof_impl::Nanos {
        self.server_clock(t).local(t)
    }

    /// True nanoseconds from true time `t` until the server's clock reads `deadline`.
    fn server_until(&self, t: u64, deadline: leaseproof_impl::Nanos) -> u64 {
        self.server_clock(t).true_until(t, deadline)
    }

    /// The server's clock as it stood at true time `t`: its plan clock with the steps
    /// played up to `t`.
    fn server_clock(&self, t: u64) -> NodeClock {
        let mut clock = self.clocks[SERVER];
        clock.step_ns = self
            .server_steps
            .iter()
            .filter(|&&(at, _)| at <= t)
            .map(|&(_, by)| by)
            .sum();
        clock
    }

    /// Stops every node (stdin closed, then a bounded wait, then SIGKILL) and the proxies.
    async fn stop(&mut self) {
        for p in self.procs.values_mut() {
            p.stdin = None;
        }
        for idx in self.procs.keys().copied().collect::<Vec<_>>() {
            self.signal(idx, libc::SIGCONT);
        }
        for p in self.procs.values_mut() {
            if tokio::time::timeout(Duration::from_secs(5), p.child.wait())
                .await
                .is_err()
            {
                let _ = p.child.kill().await;
            }
            // Its last lines: the reader ends at the pipe's end.
            if !p.reader.is_finished() {
                let _ = tokio::time::timeout(Duration::from_secs(5), &mut p.reader).await;
            }
        }
        let _ = self.proxy_stop.send(true);
        self.proxy_tasks.shutdown().await;
    }
}

/// Refuses what a real cluster cannot play, naming the field and why.
pub fn playable(sc: &Scenario) -> anyhow::Result<()> {
    let c = &sc.file.cluster;
    if c.buggify {
        bail!(
            "{}: cluster.buggify: madsim's buggify delays exist only inside the simulator",
            sc.path.display()
        );
    }
    if sc.file.faults.crash_points.is_some() {
        bail!(
            "{}: [faults.crash_points]: a crash inside a step is not played by real mechanisms yet",
            sc.path.display()
        );
    }
    let stall = sc.script.iter().position(|f| {
        matches!(
            f.action,
            FaultAction::Stall { .. }
                | FaultAction::DelayWrite { .. }
                | FaultAction::SlowLink { .. }
        )
    });
    if let Some(i) = stall {
        bail!(
            "{}: faults.script[{i}]: a stall (a client's worker stuck), a delayed write or a slowed link happens inside the simulator's shell; real mechanisms cannot place it yet",
            sc.path.display()
        );
    }
    Ok(())
}

/// `leaseproof real`: runs the scenario's cluster as real processes for its safety phase,
/// playing its fault plan (the script, and random faults drawn per seed) with real
/// mechanisms, and judges every event with the safety oracles and every killed node's disk
/// against its log. Prints one line per seed and the verdict; exits 1 when an `always`
/// oracle trips, a `finds` one does not, or a disk lost what its log claimed.
pub fn real(args: &RealArgs) -> anyhow::Result<u8> {
    let sc = Scenario::load(&args.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    playable(&sc)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a tokio runtime")?;
    let mut tripped: BTreeMap<OracleName, u32> = BTreeMap::new();
    let mut disks_wrong = 0;
    let mut results = Vec::new();
    for seed in 0..args.seeds {
        let judged = rt.block_on(real_seed(&sc, seed, args.store_sync_ratio))?;
        println!("{}", judged.summary);
        let found: Vec<Violation> = judged.result.found.iter().map(|f| f.violation).collect();
        // Each oracle once, with how many times it tripped.
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        for v in &found {
            *counted.entry(v.oracle().name()).or_default() += 1;
        }
        if !judged.disk.is_empty() {
            counted.insert("durability", judged.disk.len());
        }
        let names: Vec<String> = counted
            .iter()
            .map(|(name, n)| {
                if *n == 1 {
                    (*name).to_string()
                } else {
                    format!("{name} ×{n}")
                }
            })
            .collect();
        println!(
            "{} seed {seed}: {}",
            sc.name,
            if names.is_empty() {
                "every safety oracle held, every disk kept what its log claimed".into()
            } else {
                names.join(", ")
            }
        );
        for line in &judged.disk {
            println!("  durability: {line}");
        }
        disks_wrong += judged.disk.len();
        for v in &found {
            *tripped.entry(v.oracle()).or_default() += 1;
        }
        results.push(judged.result);
    }
    let always_broken: Vec<&str> = sc
        .always
        .iter()
        .filter(|o| tripped.contains_key(o))
        .map(|o| o.name())
        .collect();
    let finds_missed: Vec<&str> = sc
        .finds
        .iter()
        .filter(|o| o.is_safety() && !tripped.contains_key(o))
        .map(|o| o.name())
        .collect();
    let seeds = args.seeds;
    // The simulator's verdict, metrics and reports over the real runs, timelines included.
    let report = real_report(&sc, &results);
    crate::report::print_failures(&report);
    crate::report::print_table(std::slice::from_ref(&report));
    write_reports(&args.out, &sc, &report, results)?;
    let durability = if disks_wrong > 0 {
        vec!["durability"]
    } else {
        Vec::new()
    };
    for (what, names) in [
        ("always broken by a real run".to_string(), always_broken),
        (
            format!("finds not found in {seeds} real run(s)"),
            finds_missed,
        ),
        (
            format!("{disks_wrong} disk(s) lost what their logs claimed"),
            durability,
        ),
    ] {
        if !names.is_empty() {
            println!("FAIL {}: {what}: {}", sc.name, names.join(", "));
            return Ok(1);
        }
    }
    println!(
        "ok {}: {seeds} real run(s), {} judged",
        sc.name,
        if sc.file.liveness {
            "safety and liveness"
        } else {
            "safety"
        }
    );
    Ok(report.exit)
}

/// The simulator's verdict over real runs. A real run does not replay bit for bit: its
/// rerun is the same real command (the seed fixes the fault plan, not the timing).
fn real_report(sc: &Scenario, results: &[SeedResult]) -> ScenarioReport {
    let mut report = verdict::judge(sc, results, &[]);
    for f in &mut report.failures {
        if let Some(seed) = f.seed {
            f.replay = Some(format!(
                "cargo run --release -- real {} --seeds {} (seed {seed}'s plan; real timing differs run to run)",
                sc.path.display(),
                seed + 1
            ));
        }
    }
    report
}

/// Writes a real run's reports as `run` writes the simulator's: `run.md`, `run.json`,
/// `index.html`, and every run's timeline.
fn write_reports(
    out: &Path,
    sc: &Scenario,
    report: &ScenarioReport,
    results: Vec<SeedResult>,
) -> anyhow::Result<()> {
    let reports = std::slice::from_ref(report);
    let author = run_report::Author::real();
    crate::report::write_run_reports(out, reports, &author)
        .with_context(|| format!("--out {}: writing the reports", out.display()))?;
    let timelines = run_report::write_timelines(out, std::slice::from_ref(sc), &[results])
        .with_context(|| format!("--out {}: writing the timelines", out.display()))?;
    let index = out.join("index.html");
    std::fs::write(
        &index,
        run_report::index_html(out, reports, &timelines, &author),
    )
    .with_context(|| format!("writing {}", index.display()))?;
    eprintln!("report: {}", index.display());
    Ok(())
}

/// What one real run found and measured.
pub struct Judged {
    /// What the run did, for a person.
    pub summary: String,
    /// A killed node's disk below what its log claimed.
    pub disk: Vec<String>,
    /// The run as the simulator's reports take a seed: its violations (stamped in true
    /// time), metrics by the simulator's definitions, coverage and timeline.
    pub result: SeedResult,
}

/// One real run of `sc` with the plan of `seed`.
///
/// # Errors
/// When a node cannot be started or talked to.
pub async fn real_seed(sc: &Scenario, seed: u32, store_sync_ratio: f64) -> anyhow::Result<Judged> {
    let plan = Plan::derive(sc, u64::from(seed), &mut SeededRng::new(u64::from(seed)));
    let dir = std::env::temp_dir().join(format!("leaseproof-real-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let knobs = Knobs {
        latency_ns: plan.latency_ms.map(|ms| ms * 1_000_000),
        loss_ratio: plan.loss_ratio,
        duplicate_ratio: plan.duplicate_ratio,
    };
    let (proxy_stop, _) = watch::channel(false);
    let mut c = Cluster {
        scenario: sc.path.clone(),
        dir: dir.clone(),
        origin_ns: monotonic_ns(),
        clocks: plan.clocks.clone(),
        server_steps: Vec::new(),
        procs: BTreeMap::new(),
        events: events_tx,
        net: Net::new(knobs, u64::from(seed)),
        proxies: BTreeMap::new(),
        proxy_tasks: JoinSet::new(),
        proxy_stop,
        store_sync_ratio,
        send_delay: (plan.send_delay_ratio, plan.send_delay_ms),
        kills: Vec::new(),
        fault_log: Vec::new(),
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let result = async {
        for idx in 0..sc.clients + 2 {
            c.spawn(idx, 0, loopback).await?;
        }
        c.start_proxies().await?;
        for idx in 0..sc.clients + 2 {
            c.introduce(idx).await?;
        }
        judge(sc, &plan, &mut c, &mut events).await
    }
    .await;
    c.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A planned fault's step: apply fault `i`, or revert it as it was applied.
type Due = (usize, Option<FaultAction>);

/// Every event with its true time, its node and its place in the arrival order.
type Seen = Vec<(u64, usize, usize, Event)>;

/// Takes one event line into `seen`, and follows the holder of the moment (only to aim
/// faults at it).
fn take(line: (usize, serde_json::Value), seen: &mut Seen, holder: &mut Option<usize>) {
    let (node, v) = line;
    let (Some(t), Ok(ev)) = (
        v["true_ns"].as_u64(),
        serde_json::from_value::<Event>(v["event"].clone()),
    ) else {
        return;
    };
    seen.push((t, node, seen.len(), ev));
    match ev {
        Event::Adopted {
            client,
            first: true,
            ..
        } => *holder = Some(client.node.0 as usize),
        Event::Lost { client, .. } | Event::ReleaseDecided { client, .. }
            if *holder == Some(client.node.0 as usize) =>
        {
            *holder = None;
        }
        _ => {}
    }
}

/// Plays the plan and judges events until the safety phase ends.
async fn judge(
    sc: &Scenario,
    plan: &Plan,
    c: &mut Cluster,
    events: &mut mpsc::UnboundedReceiver<(usize, serde_json::Value)>,
) -> anyhow::Result<Judged> {
    let start = tokio::time::Instant::now();
    let mut steps: BTreeMap<u64, Vec<Due>> = BTreeMap::new();
    for (i, p) in plan.faults.iter().enumerate() {
        steps.entry(p.fault.at_ms).or_default().push((i, None));
    }
    // The pipes of different processes deliver out of true order (a stopped process's lines
    // arrive when it resumes), so the oracles judge the events after the run, in true order.
    let mut seen: Seen = Vec::new();
    let mut disk = Vec::new();
    let mut holder: Option<usize> = None;
    let end = start + Duration::from_millis(sc.file.duration_ms);
    loop {
        let next = steps.keys().next().copied();
        let wake = next.map_or(end, |ms| (start + Duration::from_millis(ms)).min(end));
        tokio::select! {
            biased;
            e = events.recv() => match e {
                Some(line) => take(line, &mut seen, &mut holder),
                None => break,
            },
            () = tokio::time::sleep_until(wake) => {
                if wake >= end { break; }
                let Some((at, due)) = steps.pop_first() else { break };
                for (i, undo) in due {
                    let f = &plan.faults[i].fault;
                    let fired = fire(c, f, undo.as_ref(), holder, start).await?;
                    if let Some((len, action)) = fired.revert {
                        steps.entry(at + len).or_default().push((i, Some(action)));
                    }
                    if let Some(node) = fired.killed {
                        // Every line the node wrote is in: hold its disk to them.
                        while let Ok(line) = events.try_recv() {
                            take(line, &mut seen, &mut holder);
                        }
                        disk.extend(c.check_disk(node, &seen));
                    }
                }
            }
        }
    }
    // Heal, as the simulator does before its liveness phase: every fault still in force
    // ends (a paused node resumes, a crashed one restarts, cut links open), faults not yet
    // applied never are, and the network calms down.
    for (_, due) in std::mem::take(&mut steps) {
        for (i, undo) in due {
            if let Some(undo) = undo {
                fire(c, &plan.faults[i].fault, Some(&undo), holder, start).await?;
            }
        }
    }
    c.net.heal();
    c.log_fault(SERVER, FaultKind::Heal, String::new());
    let liveness = if sc.file.liveness {
        liveness_phase(sc, plan, c, events, &mut seen, &mut holder).await
    } else {
        None
    };
    // The run ends now. Each process's pipe delivers its lines in its own time (a busy
    // machine delays some by tens of ms), so a line stamped before the end may still be
    // on its way: stop every node, read every line it wrote, and judge exactly the events
    // stamped up to the end. (Judging whatever had arrived showed a false single-holder
    // violation under load: a grant seen without the release sent before it.)
    let end_ns = c.true_now();
    c.stop().await;
    while let Ok(line) = events.try_recv() {
        take(line, &mut seen, &mut holder);
    }
    seen.retain(|e| e.0 <= end_ns);
    seen.sort_by_key(|&(t, node, order, _)| (t, node, order));
    // The named-only oracles where the scenario names them, as in the simulator (belief
    // exclusivity is not judged here: real runs do not measure beliefs).
    let mut oracles = SafetyOracles::new().judging(&sc.named_oracles());
    let mut found = Vec::new();
    let mut timed = Vec::new();
    for (t, _, _, ev) in &seen {
        oracles.observe(c.server_at(*t), ev, &mut found);
        timed.extend(found.drain(..).map(|violation| Found {
            true_ns: *t,
            violation,
        }));
    }
    let metrics = measure(&seen, &c.kills, end_ns);
    let timeline = timeline(sc, &seen, c, &timed, end_ns);
    let coverage = coverage(&seen, &c.fault_log);
    Ok(Judged {
        summary: summary(sc, &seen, c.net.counts()),
        disk,
        result: SeedResult {
            seed: plan.seed,
            plan: Some(plan.clone()),
            found: timed,
            liveness,
            coverage,
            metrics,
            trace_hash: 0,
            trace: None,
            timeline: Some(timeline),
            events: None,
            panic: None,
            sim_ms: end_ns / 1_000_000,
            timelock: None,
        },
    })
}

/// The coverage labels a run reached, as the simulator records them: every event kind,
/// every fault kind applied, and `pause-overlapped-expiry` when a grant expired while its
/// holder was paused.
fn coverage(seen: &Seen, fault_log: &[(u64, usize, FaultKind, String)]) -> BTreeSet<String> {
    let mut labels: BTreeSet<String> = seen.iter().map(|e| e.3.kind().to_string()).collect();
    labels.extend(fault_log.iter().map(|f| f.2.name().to_string()));
    // Which client is paused at each instant: a pause opens with its description and
    // closes with the heal of the same description.
    let mut paused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut faults = fault_log.iter().peekable();
    for &(t, _, _, e) in seen {
        while let Some((_, node, kind, detail)) = faults.peek().filter(|f| f.0 <= t) {
            match kind {
                FaultKind::Paused => {
                    paused.insert(detail, *node);
                }
                FaultKind::Healed => {
                    paused.remove(detail.as_str());
                }
                FaultKind::Heal => paused.clear(),
                _ => {}
            }
            faults.next();
        }
        if let Event::Expired { client, .. } = e {
            if paused.values().any(|&n| n == client.node.0 as usize) {
                labels.insert(FaultKind::PauseOverlappedExpiry.name().into());
            }
        }
    }
    labels
}

/// Scheduling slack a real run adds to the simulator's liveness bound: process wake-ups
/// and the proxy's forwarding (measured at tens of µs; `reports/sim-vs-real.md`).
const REAL_SLACK_NS: u64 = 20_000_000;

/// The liveness phase, as the simulator's (`sim/src/engine/run.rs`, `liveness_phase`): at
/// heal every waiting client gets the simulator's bound (`liveness_bound_ns_for`, plus
/// [`REAL_SLACK_NS`]); the phase ends when all are served or one is past its deadline on
/// the server's clock (with a hard stop a second after the last deadline).
async fn liveness_phase(
    sc: &Scenario,
    plan: &Plan,
    c: &mut Cluster,
    events: &mut mpsc::UnboundedReceiver<(usize, serde_json::Value)>,
    seen: &mut Seen,
    holder: &mut Option<usize>,
) -> Option<Violation> {
    while let Ok(line) = events.try_recv() {
        take(line, seen, holder);
    }
    let mut ordered = seen.clone();
    ordered.sort_by_key(|&(t, node, order, _)| (t, node, order));
    let mut liveness = Liveness::new();
    for e in &ordered {
        liveness.observe(&e.3);
    }
    let heal_t = c.true_now();
    let cfg = sc.config;
    let restarted = ordered.iter().any(|e| {
        matches!(e.3, Event::ServerBooted { restart: true, .. })
            && heal_t.saturating_sub(e.0) <= cfg.ttl_ns
    });
    let latency_max = plan.latency_ms[1] * 1_000_000 + REAL_SLACK_NS;
    let stall = if plan.send_delay_ratio > 0.0 {
        plan.send_delay_ms[1] * 1_000_000
    } else {
        0
    };
    let keys = u64::from(cfg.lock_keys.max(1));
    liveness.heal(c.server_at(heal_t), sc.clients, |ahead| {
        liveness_bound_ns_for(
            &cfg,
            latency_max + stall,
            latency_max,
            ahead * keys,
            restarted,
        )
    });
    let last = liveness.last_deadline()?;
    let hard_stop = tokio::time::Instant::now()
        + Duration::from_nanos(c.server_until(heal_t, last))
        + Duration::from_secs(1);
    loop {
        if liveness.all_served() {
            return None;
        }
        if let Some(v) = liveness.check(c.server_at(c.true_now())) {
            return Some(v);
        }
        if tokio::time::Instant::now() >= hard_stop {
            return liveness.check(last);
        }
        // Within one client's pipe lines keep their order, so observing them as they come
        // keeps each waiter's request and grant in order.
        if let Ok(Some(line)) = tokio::time::timeout(Duration::from_millis(10), events.recv()).await
        {
            let n = seen.len();
            take(line, seen, holder);
            if let Some(e) = seen.get(n) {
                liveness.observe(&e.3);
            }
        }
    }
}

/// The run's metrics by the simulator's definitions on tenures (`metrics::Tenures`),
/// from its events in true order and its kills. Not measured for real runs: belief overlap,
/// the causes of false preemptions, messages sent.
fn measure(seen: &Seen, kills: &[(u64, usize)], end_ns: u64) -> RunMetrics {
    let mut m = RunMetrics {
        run_ns: end_ns,
        ..RunMetrics::default()
    };
    let mut tenures = Tenures::default();
    let mut kills = kills.iter().peekable();
    for &(t, _, _, e) in seen {
        while let Some(&&(k, idx)) = kills.peek().filter(|k| k.0 <= t) {
            if scenario::is_client(idx) {
                tenures.client_crashed(&mut m, k, node_id(idx));
            } else if idx == SERVER {
                tenures.all_ended(&mut m, k);
            }
            kills.next();
        }
        if let Some(te) = e.tenure() {
            tenures.observe(&mut m, t, te);
        }
    }
    tenures.finish(&mut m, end_ns);
    m
}

/// The run's timeline, as the simulator draws one: grants as the server saw them, each
/// client's belief (from its adopted grants' validity), writes, faults and violations.
/// Real runs log no messages, so it has no arrows.
fn timeline(sc: &Scenario, seen: &Seen, c: &Cluster, found: &[Found], end_ns: u64) -> Timeline {
    let mut tl = Timeline::new(sc.clients + 2);
    let mut faults = c.fault_log.iter().peekable();
    let mut kills = c.kills.iter().peekable();
    let mut violations = found.iter().peekable();
    for &(t, node, _, e) in seen {
        while let Some((ft, fnode, kind, detail)) = faults.peek().filter(|f| f.0 <= t) {
            tl.fault(*ft, *fnode, *kind, detail, None);
            faults.next();
        }
        while let Some(&&(k, idx)) = kills.peek().filter(|k| k.0 <= t) {
            if scenario::is_client(idx) {
                tl.belief(k, idx, None, None);
            } else if idx == SERVER {
                tl.all_grants_ended(k, "server crashed");
            }
            kills.next();
        }
        if let Some(te) = e.tenure() {
            tl.server_event(t, te);
        }
        match e {
            Event::Adopted {
                token,
                valid_for_ns,
                ..
            } => tl.belief(t, node, Some(token.0), Some(t + valid_for_ns)),
            Event::Lost { .. } | Event::ReleaseDecided { .. } => tl.belief(t, node, None, None),
            _ => {}
        }
        while let Some(v) = violations.peek().filter(|v| v.true_ns <= t) {
            tl.violated(v.true_ns, &v.violation);
            violations.next();
        }
    }
    for (ft, fnode, kind, detail) in faults {
        tl.fault(*ft, *fnode, *kind, detail, None);
    }
    tl.finish(end_ns);
    tl
}

/// What a real run did, and which clients were served after the server's last restart.
fn summary(sc: &Scenario, seen: &Seen, net: leaseproof_real::Counts) -> String {
    let count = |f: fn(&Event) -> bool| seen.iter().filter(|e| f(&e.3)).count();
    let mut out = format!(
        "  {} events: {} grants, {} writes accepted, {} stale writes rejected, {} leases lost, {} server restarts; proxy: {} frames, {} dropped on cut links, {} frames lost, {} duplicated",
        seen.len(),
        count(|e| matches!(e, Event::Granted { .. })),
        count(|e| matches!(e, Event::WriteAccepted { .. })),
        count(|e| matches!(e, Event::WriteRejected { .. })),
        count(|e| matches!(e, Event::Lost { .. })),
        count(|e| matches!(e, Event::ServerBooted { restart: true, .. })),
        net.arrived,
        net.clogged,
        net.lost,
        net.duplicated,
    );
    let last_restart = seen
        .iter()
        .filter(|e| matches!(e.3, Event::ServerBooted { restart: true, .. }))
        .map(|e| e.0)
        .max();
    if let Some(t0) = last_restart {
        let served: std::collections::BTreeSet<u32> = seen
            .iter()
            .filter(|e| e.0 > t0)
            .filter_map(|e| match e.3 {
                Event::Adopted {
                    client,
                    first: true,
                    ..
                } => Some(client.node.0),
                _ => None,
            })
            .collect();
        out += &format!(
            "\n  served after the server's last restart: {} of {} clients",
            served.len(),
            sc.clients
        );
    }
    out
}

/// What firing a planned step did.
struct Fired {
    /// When to revert it (after how many ms) and what.
    revert: Option<(u64, FaultAction)>,
    /// A node it killed (its disk is then checked).
    killed: Option<usize>,
}

/// Applies fault `f` (aimed at the holder of the moment if it says so), or with `undo`
/// reverts it as applied.
async fn fire(
    c: &mut Cluster,
    f: &Fault,
    undo: Option<&FaultAction>,
    holder: Option<usize>,
    start: tokio::time::Instant,
) -> anyhow::Result<Fired> {
    let n = c.clocks.len();
    let mut fired = Fired {
        revert: None,
        killed: None,
    };
    let Some(undo) = undo else {
        let mut action = f.action.clone();
        if f.holder {
            action.aim_at(holder.unwrap_or(scenario::client_idx(0)));
        }
        match &action {
            FaultAction::Pause { node, .. } => c.signal(*node, libc::SIGSTOP),
            FaultAction::Crash { node, .. } => {
                c.kill(*node).await;
                fired.killed = Some(*node);
            }
            FaultAction::Isolate { .. } | FaultAction::Cut { .. } | FaultAction::Split { .. } => {
                for (a, b) in action.links(n) {
                    c.net.clog(node_id(a), node_id(b));
                }
            }
            FaultAction::ClockStep { node, by_ms } => {
                let by = by_ms * 1_000_000;
                c.clocks[*node].step(by);
                if *node == SERVER {
                    let t = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    c.server_steps.push((t, by));
                }
                c.tell(*node, &format!("clock-step {by}")).await?;
            }
            FaultAction::Garbage { node } => {
                let addr = c.procs.get(node).map(|p| p.addr).context("a node")?;
                garbage(addr).await;
            }
            FaultAction::Stall { .. }
            | FaultAction::DelayWrite { .. }
            | FaultAction::SlowLink { .. } => unreachable!("refused by playable()"),
        }
        c.log_fault(action.node(), action.kind(), describe(&action));
        fired.revert = action.len_ms().map(|len| (len, action));
        return Ok(fired);
    };
    c.log_fault(undo.node(), FaultKind::Healed, describe(undo));
    match undo {
        FaultAction::Pause { node, .. } => c.signal(*node, libc::SIGCONT),
        FaultAction::Isolate { .. } | FaultAction::Cut { .. } | FaultAction::Split { .. } => {
            for (a, b) in undo.links(n) {
                c.net.unclog(node_id(a), node_id(b));
            }
        }
        FaultAction::Crash {
            node, lose_disk, ..
        } => {
            let (addr, inc) = c
                .procs
                .get(node)
                .map(|p| (p.addr, p.incarnation + 1))
                .context("a node")?;
            c.procs.remove(node);
            if *lose_disk {
                let _ = std::fs::remove_dir_all(c.dir.join(node_name(*node)));
            }
            c.spawn(*node, inc, addr).await?;
            c.introduce(*node).await?;
        }
        _ => {}
    }
    Ok(fired)
}

/// Sends garbage straight to a node, as the simulator's rogue does: an undecodable frame,
/// an oversized one and a truncated one, each on its own connection.
async fn garbage(addr: SocketAddr) {
    let mut junk = vec![0u8, 0, 0, 24, 0xff];
    junk.extend([0xffu8; 23]);
    let oversized = [0x7fu8, 0xff, 0xff, 0xff, 1];
    let truncated = [0u8, 0, 0, 9, 1, 1];
    for bytes in [&junk[..], &oversized[..], &truncated[..]] {
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await
        {
            let _ = s.write_all(bytes).await;
        }
    }
}
