//! `leaseproof serve` (one real node) and `leaseproof real` (a real cluster of `serve`
//! processes on loopback, judged by the simulator's oracles). Partial (issue 22): the
//! faults a real cluster plays are scripted pauses (SIGSTOP, SIGCONT) and crashes
//! (SIGKILL, then a restart on the same data dir); the network faults need the fault proxy,
//! not built yet, and are refused by name.
#![allow(clippy::disallowed_methods)] // real processes: the machine's clock and tokio's tasks

use anyhow::{bail, Context};
use leaseproof_impl::{Event, Identity, NodeId, OracleName, RoleKind, SafetyOracles, Violation};
use leaseproof_real::clock::monotonic_ns;
use leaseproof_real::{run_node, NodeSpec, RealClock, RedbStore};
use leaseproof_sim::scenario::{self, node_id, node_name, FaultAction, Scenario, RESOURCE, SERVER};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

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
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub clock_rate_ppm: i64,
    /// True time 0 as a CLOCK_MONOTONIC reading in ns (the supervisor's; default: now).
    #[arg(long)]
    pub origin_ns: Option<u64>,
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
    rt.block_on(serve_node(args, &sc, idx, store))
}

async fn serve_node(
    args: &ServeArgs,
    sc: &Scenario,
    idx: usize,
    store: RedbStore,
) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", args.listen))?;
    let addr = listener.local_addr().context("the bound address")?;
    println!("listening {addr}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut peers = BTreeMap::new();
    while let Some(line) = lines.next_line().await.context("stdin")? {
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
    };
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
    // Stdin closing is the supervisor's stop.
    while let Ok(Some(_)) = lines.next_line().await {}
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
    addr: SocketAddr,
    incarnation: u32,
}

/// A real cluster: its processes and what they report.
struct Cluster {
    scenario: PathBuf,
    dir: PathBuf,
    origin_ns: u64,
    procs: BTreeMap<usize, Proc>,
    events: mpsc::UnboundedSender<(usize, serde_json::Value)>,
}

impl Cluster {
    /// Starts node `idx` (listening on `addr`, or port 0) and waits for its port.
    async fn spawn(
        &mut self,
        idx: usize,
        incarnation: u32,
        addr: SocketAddr,
    ) -> anyhow::Result<()> {
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
        tokio::spawn(async move {
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
                addr,
                incarnation,
            },
        );
        Ok(())
    }

    /// Tells node `idx` every peer's address, then `go`.
    async fn introduce(&mut self, idx: usize) -> anyhow::Result<()> {
        let peers: Vec<(usize, SocketAddr)> = self
            .procs
            .iter()
            .filter(|(i, _)| **i != idx)
            .map(|(i, p)| (*i, p.addr))
            .collect();
        let stdin = self
            .procs
            .get_mut(&idx)
            .and_then(|p| p.stdin.as_mut())
            .context("stdin")?;
        for (i, a) in peers {
            stdin
                .write_all(format!("peer {} {a}\n", node_id(i).0).as_bytes())
                .await?;
        }
        stdin.write_all(b"go\n").await?;
        Ok(())
    }

    fn signal(&self, idx: usize, sig: libc::c_int) {
        if let Some(pid) = self.procs.get(&idx).and_then(|p| p.child.id()) {
            // SAFETY: kill with a pid we started and a signal number has no memory effects.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }

    /// Stops every node: stdin closed, then a bounded wait, then SIGKILL.
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
        }
    }
}

/// Refuses what a real cluster cannot play yet, naming the field.
fn playable(sc: &Scenario) -> anyhow::Result<()> {
    let c = &sc.file.cluster;
    for (field, v) in [
        ("cluster.loss_ratio", c.loss_ratio),
        ("cluster.duplicate_ratio", c.duplicate_ratio),
        ("cluster.send_delay_ratio", c.send_delay_ratio),
    ] {
        if v > 0.0 {
            bail!(
                "{}: {field} = {v}: the real cluster's fault proxy is not built yet",
                sc.path.display()
            );
        }
    }
    if c.buggify || sc.file.faults.random.is_some() || sc.file.faults.crash_points.is_some() {
        bail!(
            "{}: buggify, [faults.random] and [faults.crash_points] are not played by real mechanisms yet",
            sc.path.display()
        );
    }
    for (i, f) in sc.script.iter().enumerate() {
        if !matches!(
            f.action,
            FaultAction::Pause { .. }
                | FaultAction::Crash {
                    lose_disk: false,
                    ..
                }
        ) {
            bail!(
                "{}: faults.script[{i}]: {:?} is not played by real mechanisms yet (pause and crash are)",
                sc.path.display(),
                f.action.kind()
            );
        }
    }
    Ok(())
}

/// `leaseproof real`: runs the scenario's cluster as real processes for its safety phase,
/// applying its scripted pauses and crashes, and judges every event with the safety
/// oracles. Prints one line per seed and the verdict; exits 1 when an `always` oracle
/// trips or a `finds` one does not.
pub fn real(path: &Path, seeds: u32) -> anyhow::Result<u8> {
    let sc = Scenario::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    playable(&sc)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a tokio runtime")?;
    let mut tripped: BTreeMap<OracleName, u32> = BTreeMap::new();
    for seed in 0..seeds {
        let found = rt.block_on(real_seed(&sc, seed))?;
        let names: Vec<&str> = found.iter().map(|v| v.oracle().name()).collect();
        println!(
            "{} seed {seed}: {}",
            sc.name,
            if names.is_empty() {
                "every safety oracle held".into()
            } else {
                names.join(", ")
            }
        );
        for v in &found {
            *tripped.entry(v.oracle()).or_default() += 1;
        }
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
    for (what, names) in [
        ("always broken by a real run".to_string(), always_broken),
        (
            format!("finds not found in {seeds} real run(s)"),
            finds_missed,
        ),
    ] {
        if !names.is_empty() {
            println!("FAIL {}: {what}: {}", sc.name, names.join(", "));
            return Ok(1);
        }
    }
    println!(
        "ok {}: {seeds} real run(s), safety judged (liveness is not judged in real runs yet)",
        sc.name
    );
    Ok(0)
}

async fn real_seed(sc: &Scenario, seed: u32) -> anyhow::Result<Vec<Violation>> {
    let dir = std::env::temp_dir().join(format!("leaseproof-real-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut c = Cluster {
        scenario: sc.path.clone(),
        dir: dir.clone(),
        origin_ns: monotonic_ns(),
        procs: BTreeMap::new(),
        events: events_tx,
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let result = async {
        for idx in 0..sc.clients + 2 {
            c.spawn(idx, 0, loopback).await?;
        }
        for idx in 0..sc.clients + 2 {
            c.introduce(idx).await?;
        }
        judge(sc, &mut c, &mut events).await
    }
    .await;
    c.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Plays the script and judges events until the safety phase ends.
async fn judge(
    sc: &Scenario,
    c: &mut Cluster,
    events: &mut mpsc::UnboundedReceiver<(usize, serde_json::Value)>,
) -> anyhow::Result<Vec<Violation>> {
    let start = tokio::time::Instant::now();
    let mut steps: BTreeMap<u64, Vec<(usize, Option<FaultAction>)>> = BTreeMap::new();
    for (i, f) in sc.script.iter().enumerate() {
        steps.entry(f.at_ms).or_default().push((i, None));
    }
    // Every event with its true time, its node and its place in that node's stream: the
    // pipes of different processes deliver out of true order (a stopped process's lines
    // arrive when it resumes), so the oracles judge them after the run, in true order.
    let mut seen: Vec<(u64, usize, usize, Event)> = Vec::new();
    let mut holder: Option<usize> = None;
    let end = start + Duration::from_millis(sc.file.duration_ms);
    loop {
        let next = steps.keys().next().copied();
        let wake = next.map_or(end, |ms| (start + Duration::from_millis(ms)).min(end));
        tokio::select! {
            biased;
            e = events.recv() => {
                let Some((node, v)) = e else { break };
                let (Some(t), Ok(ev)) = (v["true_ns"].as_u64(), serde_json::from_value::<Event>(v["event"].clone())) else { continue };
                seen.push((t, node, seen.len(), ev));
                // Live, only to aim faults at the holder of the moment.
                match ev {
                    Event::Adopted { client, first: true, .. } => holder = Some(client.node.0 as usize),
                    Event::Lost { client, .. } | Event::ReleaseDecided { client, .. } if holder == Some(client.node.0 as usize) => holder = None,
                    _ => {}
                }
            }
            () = tokio::time::sleep_until(wake) => {
                if wake >= end { break; }
                let Some((at, due)) = steps.pop_first() else { break };
                for (i, undo) in due {
                    fire(sc, c, at, i, undo, holder, &mut steps).await?;
                }
            }
        }
    }
    seen.sort_by_key(|&(t, node, order, _)| (t, node, order));
    let mut oracles = SafetyOracles::new();
    let mut found = Vec::new();
    // The server's software clock is the machine's (no offset or rate flags).
    let server = RealClock::new(c.origin_ns, 0, 0);
    for (t, _, _, ev) in &seen {
        oracles.observe(server.at(*t), ev, &mut found);
    }
    let count = |f: fn(&Event) -> bool| seen.iter().filter(|e| f(&e.3)).count();
    println!(
        "  {} events: {} grants, {} writes accepted, {} stale writes rejected, {} leases lost, {} server restarts",
        seen.len(),
        count(|e| matches!(e, Event::Granted { .. })),
        count(|e| matches!(e, Event::WriteAccepted { .. })),
        count(|e| matches!(e, Event::WriteRejected { .. })),
        count(|e| matches!(e, Event::Lost { .. })),
        count(|e| matches!(e, Event::ServerBooted { restart: true, .. })),
    );
    Ok(found)
}

/// Applies script entry `i` (or, with `undo`, ends it).
async fn fire(
    sc: &Scenario,
    c: &mut Cluster,
    at: u64,
    i: usize,
    undo: Option<FaultAction>,
    holder: Option<usize>,
    steps: &mut BTreeMap<u64, Vec<(usize, Option<FaultAction>)>>,
) -> anyhow::Result<()> {
    let f = &sc.script[i];
    let mut action = undo.clone().unwrap_or_else(|| f.action.clone());
    if undo.is_none() && f.holder {
        if let (FaultAction::Pause { node, .. } | FaultAction::Crash { node, .. }, Some(h)) =
            (&mut action, holder)
        {
            *node = h;
        }
    }
    match (&action, undo.is_some()) {
        (FaultAction::Pause { node, for_ms }, false) => {
            c.signal(*node, libc::SIGSTOP);
            steps
                .entry(at + for_ms)
                .or_default()
                .push((i, Some(action.clone())));
        }
        (FaultAction::Pause { node, .. }, true) => c.signal(*node, libc::SIGCONT),
        (FaultAction::Crash { node, down_ms, .. }, false) => {
            c.signal(*node, libc::SIGKILL);
            steps
                .entry(at + down_ms)
                .or_default()
                .push((i, Some(action.clone())));
        }
        (FaultAction::Crash { node, .. }, true) => {
            let (addr, inc) = c
                .procs
                .get(node)
                .map(|p| (p.addr, p.incarnation + 1))
                .context("a node")?;
            if let Some(mut old) = c.procs.remove(node) {
                let _ = old.child.wait().await;
            }
            c.spawn(*node, inc, addr).await?;
            c.introduce(*node).await?;
        }
        _ => {}
    }
    Ok(())
}
