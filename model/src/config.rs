//! What to check: the bounds, the faults, the protocol in ticks, and the refusals that
//! name the flag and its limit.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The server's and the resource's slots: their `NodeId`s (clients follow, at
/// `NodeId::client(i)`).
pub const SERVER: usize = NodeId::authority(0).0 as usize;
pub const RESOURCE: usize = NodeId::RESOURCE.0 as usize;
/// The largest cluster the checker accepts (the 3-client model has millions of states).
pub const MAX_CLIENTS: usize = 3;
/// The largest time bound the checker accepts.
pub const MAX_TIME_LIMIT: u64 = 24;
/// The most keys `--keys` accepts.
pub const MAX_KEYS: u8 = 2;
/// The most jobs `--jobs` accepts.
pub const MAX_JOBS: u32 = 3;
/// Ticks one pause may take out of a client's life in one run.
pub const PAUSE_BUDGET: u8 = 8;
/// The largest spread ε between two clocks the checker accepts: `L = ttl − 2ε` must stay
/// above the renew interval (ttl 6, renew 3).
pub const MAX_SPREAD: u64 = 1;

/// What to check: the bounds and the faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    pub clients: usize,
    pub variant: Variant,
    /// No clock ticks past this (ticks).
    pub max_time: u64,
    /// ε: the largest allowed spread between any two clocks (ticks).
    pub spread: u64,
    pub pauses: bool,
    pub crashes: u8,
    pub duplicating: bool,
    pub clock_step: bool,
    /// How many `Fast(n)` moves (one clock running one tick ahead) a run may take.
    pub drift_moves: u8,
    /// A message is delivered within this many ticks or lost. A bound like `max_time`.
    pub max_delay: u8,
    /// How many messages the network may lose in one run (besides those sent to a server
    /// that is down, which are always lost).
    pub losses: u8,
    /// At most this many messages in flight on one link; a send beyond it is lost (loss is
    /// within the assumptions). A bound like `max_time`, reported with the result.
    pub link_capacity: u8,
    /// How long a holder works before it releases (ticks). Bugs that act late in a lease
    /// (B5, B7) need a hold longer than the lease.
    pub hold: u64,
    /// Exactly-once work: the holder works through this many jobs instead of plain writes
    /// (0: plain writes).
    pub jobs: u32,
    /// A critical section over this many keys, taken in the global order (1: one key).
    pub keys: u8,
    /// Explore until no new state appears, with no time bound (`max_time` unread): time
    /// is stored relative to now (see the `normal` module). Pauses, losses and drift
    /// moves are then unbounded in count (`pauses`, `losses`, `drift_moves` only say
    /// whether they happen); crashes and the clock step keep their budgets.
    pub closed: bool,
    /// How long a client rests after releasing before it wants the key again (ticks).
    pub think: u64,
    /// The most ticks one client's due timer may wait while it is paused (a per-client
    /// counter, reset when the timer fires); `None`: unbounded in a closed check, and the
    /// run's pause budget ([`PAUSE_BUDGET`]) in a bounded one.
    pub max_pause: Option<u8>,
    /// A server crash may also fall inside a step, at any crash point between its outputs
    /// (`--crash-points`; within the crash budget).
    pub crash_points: bool,
    /// Clocks with a rate: a clock may run a tick ahead of the slowest at most once every
    /// R global ticks (`--rate-skew 1/R`; a per-node counter in the state), within the
    /// spread ε. It replaces the count of drift moves (`drift_moves` then only says whether
    /// clocks drift).
    pub rate_skew: Option<u8>,
    /// The validity margin `ttl − L` in ticks (`--margin`; default 2ε, what the spread
    /// needs). Smaller is beyond the assumptions: a check of how much drift a margin
    /// survives.
    pub margin: Option<u64>,
    /// Liveness (`--liveness`): every client that wants the lease holds within its bound
    /// ([`crate::liveness_bound_ticks`]) on every fault-free continuation, checked with a
    /// per-client counter of fault-free ticks spent waiting.
    pub liveness: bool,
    /// The lease's TTL in ticks (`--ttl`; default [`TTL_TICKS`]).
    pub ttl: u64,
    /// The server's fresh window for a queued waiter's entry, in ticks (`--fresh-window`;
    /// default [`FRESH_WINDOW_TICKS`]). It must stay below `L = ttl − margin`.
    pub fresh_window: u64,
}

/// The model's default TTL in ticks.
pub const TTL_TICKS: u64 = 6;
/// The model's default fresh window in ticks: above the requeue interval (2) with delivery
/// in the tick of sending, not with delivery within one tick (see
/// [`ModelConfig::liveness_beyond`]).
pub const FRESH_WINDOW_TICKS: u64 = 3;
/// The model's requeue interval in ticks.
pub const REQUEUE_TICKS: u64 = 2;

/// A bounded check's think time: each client acquires once per run within any horizon
/// the checker accepts.
pub const THINK_BOUNDED: u64 = 1_000;
/// A closed check's think time: the workload repeats (acquire, hold, release, think,
/// acquire again).
pub const THINK_CLOSED: u64 = 2;

impl Default for ModelConfig {
    /// The pinned default bounds: renewals, releases, queued hand-overs and takeovers after
    /// expiry all happen within them.
    fn default() -> Self {
        ModelConfig {
            clients: 2,
            variant: Variant::Correct,
            max_time: 3,
            spread: 1,
            pauses: true,
            crashes: 1,
            duplicating: false,
            clock_step: false,
            drift_moves: 1,
            max_delay: 1,
            losses: 1,
            link_capacity: 2,
            hold: 4,
            jobs: 0,
            keys: 1,
            closed: false,
            think: THINK_BOUNDED,
            max_pause: None,
            crash_points: false,
            rate_skew: None,
            margin: None,
            liveness: false,
            ttl: TTL_TICKS,
            fresh_window: FRESH_WINDOW_TICKS,
        }
    }
}

impl ModelConfig {
    /// The main job's closed check: the pinned defaults with no time bound and a repeating
    /// workload.
    #[must_use]
    pub fn closed() -> ModelConfig {
        ModelConfig {
            closed: true,
            think: THINK_CLOSED,
            ..ModelConfig::default()
        }
    }
}

/// The liveness bound in ticks (`--liveness`): the simulator's bound after heal
/// ([`leaseproof_impl::liveness_bound_ns_for`]) with delivery and latency within
/// `max_delay` ticks, every other client ahead, and a grace period once the server has
/// restarted. The model's clocks run no slower than global time, so no drift stretch.
#[must_use]
pub fn liveness_bound_ticks(cfg: &Config, mc: &ModelConfig, restarted: bool) -> u64 {
    let d = u64::from(mc.max_delay) * crate::TICK_NS;
    let ahead = (mc.clients as u64).saturating_sub(1);
    leaseproof_impl::liveness_bound_ns_for(cfg, d, d, ahead, restarted).div_ceil(crate::TICK_NS)
}

/// The largest spread ε the reference protocol's model accepts: `L = ttl − 2ε` must stay
/// above the renew interval (ttl 6, renew 3). Per protocol: a plug-in states its own.
#[must_use]
pub fn spread_limit(_variant: Variant) -> u64 {
    MAX_SPREAD
}

/// The clock window a protocol's safety envelope is stated over, in ticks, if it is stated
/// as a rate (a waiter that times a lease on its own clock needs the clocks' rates to agree
/// over that window). The reference protocol declares none: its margin `2ε` covers any
/// drift within the spread, whatever the rate.
#[must_use]
pub fn clock_window(_variant: Variant) -> Option<u64> {
    None
}

/// Refuses a spread below what a declared clock window needs at rate 1/R: in `window`
/// ticks a clock may run ahead `⌈window/R⌉` ticks, and a smaller ε would cut off runs the
/// rate allows (a pass would then prove less than it says).
pub fn check_window(spread: u64, rate: u8, window: Option<u64>) -> Result<(), String> {
    let Some(w) = window else { return Ok(()) };
    let need = w.div_ceil(u64::from(rate));
    if spread < need {
        return Err(format!(
            "--spread {spread}: the protocol states its safety over a clock window of {w} \
             ticks, and at --rate-skew 1/{rate} clocks may part by ⌈{w}/{rate}⌉ = {need} \
             ticks in it; give --spread {need} or more (or a slower rate)"
        ));
    }
    Ok(())
}

/// Parses `--rate-skew 1/R` (R from 1 to 100).
pub fn parse_rate_skew(text: &str) -> Result<u8, String> {
    let bad = || {
        format!(
            "--rate-skew {text:?}: must be 1/R with R a whole number from 1 to 100 (a clock \
             may run one tick ahead of the slowest at most once every R ticks)"
        )
    };
    let r = text.strip_prefix("1/").ok_or_else(bad)?;
    match r.parse::<u8>() {
        Ok(r) if (1..=100).contains(&r) => Ok(r),
        _ => Err(bad()),
    }
}

impl ModelConfig {
    /// Refuses bounds that explode, naming the flag and the limit.
    pub fn validate(&self) -> Result<Config, String> {
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return Err(format!(
                "--clients {}: must be between 1 and {MAX_CLIENTS} (each client multiplies the \
                 state space by about 50)",
                self.clients
            ));
        }
        if self.closed && self.variant == Variant::VolatileCounter {
            return Err(
                "--closed: the volatile-counter variant resets its token counter, so its tokens \
                 cannot be ranked and its state space has no end; check it bounded (--max-time)"
                    .into(),
            );
        }
        if self.closed && self.keys > 1 {
            return Err(
                "--closed: a lock set (--keys 2) ranks its tokens only, so its sequence numbers \
                 grow and its state space has no end; check it bounded (--max-time)"
                    .into(),
            );
        }
        if self.max_pause == Some(0) {
            return Err(
                "--max-pause 0: must be at least 1 tick (for no pauses at all, --no-pauses)".into(),
            );
        }
        if self.think == 0 || self.think > THINK_BOUNDED {
            return Err(format!(
                "--think {}: must be between 1 and {THINK_BOUNDED} ticks",
                self.think
            ));
        }
        if !self.closed && (self.max_time == 0 || self.max_time > MAX_TIME_LIMIT) {
            return Err(format!(
                "--max-time {}: must be between 1 and {MAX_TIME_LIMIT} ticks (the state space \
                 grows steeply with time)",
                self.max_time
            ));
        }
        if self.hold == 0 || self.hold > MAX_TIME_LIMIT {
            return Err(format!(
                "--hold {}: must be between 1 and {MAX_TIME_LIMIT} ticks",
                self.hold
            ));
        }
        self.validate_clocks()?;
        if self.crashes > 2 {
            return Err(format!("--crashes {}: must be at most 2", self.crashes));
        }
        if self.duplicating && (self.clients > 2 || (!self.closed && self.max_time > 10)) {
            return Err(
                "--duplicating: only with --clients 2 or fewer and --max-time 10 or less (a \
                 duplicating network multiplies the state space ~44x)"
                    .into(),
            );
        }
        self.validate_workload()?;
        if self.ttl < TTL_TICKS || self.ttl > MAX_TIME_LIMIT {
            return Err(format!(
                "--ttl {}: must be between {TTL_TICKS} and {MAX_TIME_LIMIT} ticks (below \
                 {TTL_TICKS}, L = ttl − 2ε would not stay above the renew interval of 3)",
                self.ttl
            ));
        }
        let lease = (self.ttl, self.fresh_window);
        self.protocol().map_err(|e| {
            // The model's protocol config is in ticks (1 tick = 1 ms): say ticks.
            let e = e
                .replace("fresh_window_ms", "--fresh-window")
                .replace("requeue_interval_ms", "the requeue interval")
                .replace(" ms", " ticks");
            match self.margin {
                Some(m) => format!("--margin {m}: {e}"),
                None if lease != (TTL_TICKS, FRESH_WINDOW_TICKS) => {
                    format!(
                        "--ttl {} --fresh-window {}: {e}",
                        self.ttl, self.fresh_window
                    )
                }
                None => format!("--spread {}: {e}", self.spread),
            }
        })
    }
}

impl ModelConfig {
    /// The protocol's fields in ticks (1 tick = 1 ms): ttl `--ttl` (default 6), renew 3,
    /// fresh window `--fresh-window` (default 3), requeue 2, backoff 2..2, hold `--hold`
    /// (default 4), a write every 2, think `--think` (1000 in a bounded check,
    /// [`THINK_BOUNDED`]; 2 in a closed one), queue capacity 2.
    fn protocol_fields(&self) -> ProtocolConfig {
        ProtocolConfig {
            kind: leaseproof_impl::ProtocolKind::Reference,
            ttl_ms: self.ttl,
            renew_interval_ms: 3,
            drift_ppm_max: 0,
            safety_margin_ms: 0,
            fresh_window_ms: self.fresh_window,
            requeue_interval_ms: REQUEUE_TICKS,
            backoff_base_ms: 2,
            backoff_max_ms: 2,
            hold_ms: self.hold,
            write_interval_ms: 2,
            think_ms: self.think,
            queue_capacity: 2,
            intent_ms: 0,
            progress_window_ms: 0,
            hold_writes: 0,
            jobs: leaseproof_impl::Jobs {
                count: self.jobs,
                poison: 0,
                attempts: 1,
            },
            lock_keys: self.keys,
            variant: self.variant,
        }
    }

    /// The protocol's config: [`ModelConfig::protocol_fields`] with `L = ttl − margin`
    /// (`--margin`, default 2ε: 4 at the default ttl and ε = 1; ε is at most
    /// [`MAX_SPREAD`]: at ε = 2, `L = 2` would not exceed the renew interval).
    fn protocol(&self) -> Result<Config, String> {
        let p = self.protocol_fields();
        let margin = self.margin.unwrap_or(2 * self.spread);
        let l_ticks = if self.variant == Variant::DriftIgnored {
            p.ttl_ms
        } else {
            p.ttl_ms.saturating_sub(margin)
        };
        p.with_validity(l_ticks * 1_000_000)
            .map_err(|e| e.to_string())
    }

    /// The faults of this configuration as a protocol's assumptions read a scenario's
    /// ([`leaseproof_impl::FaultBounds`]): pauses suspend a client's core (its due timer
    /// waits). The model's clocks stay within the spread its margin covers, its crashes
    /// keep the disk (a lost counter is the volatile-counter variant), so nothing else is
    /// listed.
    #[must_use]
    pub fn fault_bounds(&self) -> leaseproof_impl::FaultBounds {
        let mut b = leaseproof_impl::FaultBounds::default();
        if self.pauses {
            b.suspends.push(leaseproof_impl::protocol::SuspendBound {
                field: match self.max_pause {
                    Some(_) => "--max-pause".into(),
                    None => "pauses (on by default; --no-pauses)".into(),
                },
                what: "a pause".into(),
                kind: leaseproof_impl::protocol::Suspension::Pause,
                // One tick is 1 ms (`protocol_fields`).
                ms: self.max_pause.map_or(u64::MAX, u64::from),
            });
        }
        b
    }

    /// Whether the protocol claims belief exclusivity at these bounds: its assumptions
    /// for that oracle hold ([`leaseproof_impl::Assumptions::oracle_breaches`]; for the
    /// reference protocol, no pauses) and the validity margin covers the clocks' spread
    /// (`--margin` below 2ε is beyond the assumptions). The check then holds it as an
    /// `Always`; otherwise two believers is a `Sometimes`.
    #[must_use]
    pub fn claims_belief_exclusivity(&self) -> bool {
        use leaseproof_impl::Assumptions;
        // The reference protocol's rule for this oracle reads the bounds only (the model
        // lists no drift, step or lost disk), so any of its configs answers alike.
        let p = ProtocolConfig::default();
        p.oracle_breaches(OracleName::BeliefExclusivity, &self.fault_bounds())
            .is_empty()
            && self.margin.is_none_or(|m| m >= 2 * self.spread)
    }

    /// Why liveness lies outside the reference protocol's assumptions at these bounds, if
    /// it does: the simulator's rule (`leaseproof_impl::protocol`, `liveness_breaches`)
    /// in ticks. A queued waiter's refreshes reach the server up to
    /// `ProtocolConfig::refresh_spacing_ms(max_delay)` apart (`requeue + 2·max_delay`);
    /// with drift moves unbounded in count (no `--rate-skew`) the client's clock can
    /// fall from ε ahead of the server's to ε behind within one spacing, `2ε` more (a
    /// bounded check's budget of moves, at most that; found
    /// at delay 0: `check --closed --liveness --crash-points --max-delay 0 --losses 0
    /// --drift-moves 1`, client-1 waited 21 ticks against 20; with `--rate-skew 1/3` it
    /// holds). The fresh window must exceed the spacing, or at a hand-over a waiter's entry
    /// is stale and the previous holder, back from its think time, is granted first, again
    /// and again: the check may then fail liveness, and this says why.
    #[must_use]
    pub fn liveness_beyond(&self) -> Option<String> {
        if !self.liveness {
            return None;
        }
        // Each drift move shifts one clock a tick against the others; the two clocks of
        // a spacing part by at most 2ε. A bounded check counts its moves.
        let drift = match (self.drift_moves, self.rate_skew) {
            (0, _) | (_, Some(_)) => 0,
            (_, None) if self.closed => 2 * self.spread,
            (n, None) => u64::from(n).min(2 * self.spread),
        };
        let spacing = self
            .protocol_fields()
            .refresh_spacing_ms(u64::from(self.max_delay))
            + drift;
        if self.fresh_window > spacing {
            return None;
        }
        let need = spacing + 1;
        Some(format!(
            "--fresh-window {} is not above a queued waiter's refresh spacing at the server, \
             requeue {REQUEUE_TICKS} + 2 × --max-delay {}{} = {spacing} ticks: its entry can go \
             stale at every hand-over, so liveness is beyond the protocol's assumptions here \
             (docs/design.md, \"Liveness\"); --fresh-window {need} --ttl {} is within",
            self.fresh_window,
            self.max_delay,
            if drift > 0 {
                format!(" + {drift} for drift moves")
            } else {
                String::new()
            },
            // fresh < L = ttl − margin.
            need + 1 + self.margin.unwrap_or(2 * self.spread),
        ))
    }

    /// Jobs, keys, the variants' workload preconditions and liveness: what the workload
    /// needs.
    fn validate_workload(&self) -> Result<(), String> {
        if self.jobs > MAX_JOBS {
            return Err(format!(
                "--jobs {}: must be at most {MAX_JOBS} (each job multiplies the state space)",
                self.jobs
            ));
        }
        if self.variant == Variant::NoIdempotency && self.jobs == 0 {
            return Err(
                "--variant no-idempotency: needs --jobs 1 or more (the bug is in exactly-once work)"
                    .into(),
            );
        }
        if self.keys == 0 || self.keys > MAX_KEYS {
            return Err(format!(
                "--keys {}: must be between 1 and {MAX_KEYS} (each key multiplies the state space)",
                self.keys
            ));
        }
        if self.variant == Variant::LockOrderInversion && self.keys < 2 {
            return Err(
                "--variant lock-order-inversion: needs --keys 2 (the bug is in a lock set)".into(),
            );
        }
        if self.keys > 1 && self.jobs > 0 {
            return Err("--keys: a lock set runs plain writes, not --jobs".into());
        }
        if self.liveness && (self.duplicating || self.keys > 1 || self.jobs > 0) {
            return Err(
                "--liveness: only for plain writes on one key over a non-duplicating network \
                 (the bound of a lock set or a job workload is the simulator's to check)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The spread, the rate and the margin: within the protocol's limits, and a rate only
    /// with clocks that drift.
    fn validate_clocks(&self) -> Result<(), String> {
        let limit = spread_limit(self.variant);
        if self.spread > limit {
            return Err(format!(
                "--spread {}: must be at most {limit} tick (at the default --ttl {TTL_TICKS}, \
                 L = ttl − 2ε must stay above the renew interval of 3)",
                self.spread
            ));
        }
        if let Some(r) = self.rate_skew {
            if r == 0 || r > 100 {
                return Err(format!(
                    "--rate-skew 1/{r}: R must be a whole number from 1 to 100"
                ));
            }
            if self.drift_moves == 0 {
                return Err(format!(
                    "--rate-skew 1/{r}: needs clocks that drift (--drift-moves at least 1; with \
                     a rate, the rate bounds how often they do)"
                ));
            }
            check_window(self.spread, r, clock_window(self.variant))?;
        }
        if let Some(m) = self.margin {
            if m > 2 {
                return Err(format!(
                    "--margin {m}: must be at most 2 ticks (L = ttl − margin must stay above the \
                     renew interval of 3)"
                ));
            }
        }
        Ok(())
    }

    /// What "every run" covers in a closed check: the bounds no run leaves.
    #[must_use]
    pub fn assumptions(&self) -> String {
        format!(
            "messages are delivered within {} tick(s) or lost; links hold at most {} \
             message(s); jitter takes its extreme draws; clocks stay within ε={} tick(s){}; \
             pauses: {}; losses: {}; at most {} server crash(es){}{}{}",
            self.max_delay,
            self.link_capacity,
            self.spread,
            match (self.drift_moves, self.rate_skew) {
                (0, _) => ", never drifting".to_string(),
                (_, Some(r)) => format!(
                    ", each running a tick ahead of the slowest at most once every {r} ticks"
                ),
                (_, None) => ", drifting any number of times".to_string(),
            },
            match (self.pauses, self.max_pause) {
                (false, _) => "none".to_string(),
                (true, Some(p)) => format!("any number, each at most {p} tick(s)"),
                (true, None) => "any number, of any length".to_string(),
            },
            if self.losses > 0 {
                "any number"
            } else {
                "none"
            },
            self.crashes,
            if self.crash_points {
                " (each may fall inside a step, between its outputs)"
            } else {
                ""
            },
            if self.clock_step {
                "; one client clock step of 2 ticks"
            } else {
                ""
            },
            if self.duplicating {
                "; each message is delivered at most twice"
            } else {
                ""
            },
        )
    }
}

impl fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients, variant {}, {}, spread ε={}, pauses {}, {} server crash(es){}, {} network{}, delivery within {} tick(s), {}, {}, hold {}, think {}{}{}",
            self.clients,
            self.variant,
            if self.closed {
                "closed (no time bound)".to_string()
            } else {
                format!("max-time {} ticks", self.max_time)
            },
            self.spread,
            match (self.pauses, self.max_pause, self.closed) {
                (false, _, _) => "off".to_string(),
                (true, Some(p), _) => format!("on (each at most {p} tick(s))"),
                (true, None, true) => "on (unbounded)".to_string(),
                (true, None, false) => format!("on (budget {PAUSE_BUDGET} ticks)"),
            },
            self.crashes,
            if self.crash_points { " (crash points inside steps)" } else { "" },
            if self.duplicating { "duplicating" } else { "non-duplicating" },
            if self.clock_step { ", one client clock step" } else { "" },
            self.max_delay,
            match (self.closed, self.losses) {
                (_, 0) => "no losses".to_string(),
                (true, _) => "losses unbounded".to_string(),
                (false, n) => format!("{n} loss(es)"),
            },
            match (self.closed, self.drift_moves, self.rate_skew) {
                (_, 0, _) => "no drift moves".to_string(),
                (_, _, Some(r)) => format!("drift moves at rate 1/{r}"),
                (true, _, None) => "drift moves unbounded".to_string(),
                (false, n, None) => format!("{n} drift move(s)"),
            },
            self.hold,
            self.think,
            match self.margin {
                Some(m) => format!(", margin {m} tick(s)"),
                None => String::new(),
            } + if self.liveness { ", liveness on" } else { "" },
            if self.jobs > 0 {
                format!(", {} job(s)", self.jobs)
            } else if self.keys > 1 {
                format!(", lock set of {} keys", self.keys)
            } else {
                String::new()
            }
        )
    }
}
