//! Protocol configuration: units in names, one `validate()` that names the field and the
//! reason, and the known-bug variants (off by default).

use crate::protocol::ProtocolKind;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A known lease bug, switched on by config so the harness can prove it catches it.
/// Ids (B1...) are the lease-bug classes listed in docs/design.md, "Config".
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Variant {
    /// The reference protocol.
    #[default]
    Correct,
    /// B1/B2: the resource accepts every token (Kleppmann 2016; client-go leaderelection has
    /// no fencing). Trips fenced-writes.
    NoFencing,
    /// B3: the token counter is never persisted, so a restarted server re-issues tokens
    /// (Redlock restart without persistence). Trips token-monotonic and fenced-writes.
    VolatileCounter,
    /// B3, in order only: the server persists its token counter *after* sending the grant
    /// that carries it, in a later persist batch. Every run without a crash between the two
    /// is correct; a crash point between them (the grant has left, the counter is not
    /// durable) makes the restarted server re-issue the token (a fsync after the reply, as
    /// in stores that acknowledge before their log is durable). Trips token-monotonic and
    /// fenced-writes, only with crash points on.
    GrantBeforePersist,
    /// B4: the client counts its lease from the *receipt* of a reply instead of the send of
    /// its request (openraft's lease rule; delta-rs PR #153). Trips lease-containment.
    AnchorAtReceipt,
    /// B5: no drift factor, `L = ttl - margin` (Redis TTL on a non-monotonic clock;
    /// kubernetes #125761). Trips lease-containment when clocks drift apart.
    DriftIgnored,
    /// B6: a grant or renewal that arrives after `t_sent + L` is still trusted, anchored at
    /// its receipt (etcd #11456, kubernetes #44887). Trips lease-containment.
    LateReplyAdopted,
    /// B7: the holder keeps acting after it knows it lost (its lease expired on its own
    /// clock, or the server refused its renewal, or the resource fenced it): it reports the
    /// loss but goes on until its work is done or its stop callback runs a renew interval
    /// later, whichever is last, as a stop callback that fires late (kubernetes #23731,
    /// FLINK-34007). Trips lease-containment.
    ActsAfterLoss,
    /// B10: check-then-act across a pause: a write decided at an earlier input (when the
    /// lease was valid) is carried out at the next input before validity is checked again,
    /// as `if lease.valid() { /* GC pause */ write() }` (Jepsen's etcd lock workload).
    /// Trips lease-containment.
    CheckThenAct,
    /// B8: the server frees the key on any Release for it, from anyone, with any token
    /// (Redis plain `DEL`; etcd PR #12306). Trips single-holder.
    ReleaseByNonOwner,
    /// A restarted server that lost its lease table grants at once instead of waiting one
    /// TTL. Trips single-holder.
    NoRestartGrace,
    /// Exactly-once jobs without idempotency keys: the resource applies every attempt it
    /// accepts, so a re-send after a lost answer, or the next holder redoing the job of
    /// one that died mid-job, applies it twice. Trips exactly-once.
    NoIdempotency,
    /// A lock set acquired in the client's own order: odd-numbered clients take the keys
    /// in reverse, so two clients can each hold one key and wait for the other's (the
    /// classic inversion). Trips deadlock.
    LockOrderInversion,
}

impl Variant {
    /// Every variant, in declaration order (derived: a new variant cannot be missing).
    pub const ALL: &'static [Variant] = <Variant as strum::VariantArray>::VARIANTS;

    /// The name used in scenario files and on the command line (kebab-case, derived: the
    /// same as serde's).
    #[must_use]
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The lease-bug class (B1...; docs/design.md, "Config").
    #[must_use]
    pub fn bug_class(self) -> &'static str {
        match self {
            Variant::Correct => "-",
            Variant::NoFencing => "B1/B2",
            Variant::VolatileCounter => "B3",
            Variant::GrantBeforePersist => "B3",
            Variant::AnchorAtReceipt => "B4",
            Variant::DriftIgnored => "B5",
            Variant::LateReplyAdopted => "B6",
            Variant::ActsAfterLoss => "B7",
            Variant::CheckThenAct => "B10",
            Variant::ReleaseByNonOwner => "B8",
            Variant::NoRestartGrace => "-",
            Variant::NoIdempotency => "-",
            Variant::LockOrderInversion => "-",
        }
    }

    /// Parses a variant name as written in scenarios and on the command line.
    pub fn parse(name: &str) -> Result<Variant, String> {
        Variant::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!(
                    "unknown variant {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Test-only mutants of the core, each breaking one of its own assertions so that a test can
/// show the assertion trips (`impl/tests/assertions.rs`). No scenario, flag or
/// [`ProtocolConfig`] field sets one: only code that builds a [`Config`] by hand.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    #[default]
    None,
    /// The server grants the highest token it issued again instead of the next one.
    GrantReusesToken,
    /// The resource sets its highest token to the one it just accepted, even when lower
    /// (only reachable without fencing).
    ResourceLowersHighest,
    /// The resource's `poll_output` reports drained while one output is still queued.
    OutputLeftAfterDrain,
    /// The client's validity check reads `now > valid_until` while its deadline is
    /// `valid_until`: at that instant the belief neither ends nor moves its deadline, so
    /// the client stays due at the same time (a time-lock the model check must report).
    ValidityLeavesDeadlineDue,
    /// The server drops a Release overtaken by a newer request of its sender even when it
    /// gives back the sender's current token (the livelock the liveness check found).
    LateReleaseDropped,
}

/// The protocol's knobs as a user writes them (milliseconds, ppm). Turn them into a
/// [`Config`] with [`ProtocolConfig::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolConfig {
    /// Which protocol (`kind = "reference"`, the default; docs/protocols.md). Until a
    /// second protocol is built in, its fields are the reference protocol's: an unknown
    /// kind is refused by name.
    pub kind: ProtocolKind,
    /// How long the server keeps a grant after it received the request, on its own clock.
    pub ttl_ms: u64,
    /// How often a holder renews, on its own clock.
    pub renew_interval_ms: u64,
    /// Each clock runs within `±drift_ppm_max` of true time.
    pub drift_ppm_max: u32,
    /// Subtracted from the client's validity span; absorbs server forward steps.
    pub safety_margin_ms: u64,
    /// A queued waiter is handed the lease only if its latest Acquire arrived this recently.
    pub fresh_window_ms: u64,
    /// A queued client re-sends its Acquire this often.
    pub requeue_interval_ms: u64,
    /// Backoff when unanswered: a delay drawn between base and the doubled window.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// The workload: how long a holder works, how often it writes, how long it rests.
    pub hold_ms: u64,
    pub write_interval_ms: u64,
    pub think_ms: u64,
    /// Bound on each key's wait queue.
    pub queue_capacity: u32,
    /// Tiered leases (docs/design.md, "Beyond one lease"): when positive, a grant first lasts only this long (an
    /// intent lease) and becomes a full `ttl_ms` lease once the holder shows progress (its
    /// first accepted write, reported in its next Renew). 0: flat leases.
    pub intent_ms: u64,
    /// Progress-based extension on the fair queue (docs/design.md, "Beyond one lease"): when positive, the server withholds renewals
    /// from a holder whose reported count of acknowledged writes has not risen for this
    /// long on the server's clock, so the next in line takes over at the grant's expiry.
    /// 0: off.
    pub progress_window_ms: u64,
    /// The work of one tenure counted in accepted writes: when positive, a holder is done
    /// (and releases) once this many of its writes were acknowledged, and `hold_ms` is not
    /// used. 0: the work is `hold_ms` of time.
    pub hold_writes: u32,
    /// The exactly-once workload (off unless a scenario declares jobs; set from the
    /// scenario's `[jobs]` table, not from `[protocol]`).
    #[serde(skip)]
    pub jobs: Jobs,
    /// A critical section over several keys (several resources, one total order), acquired in one global order: the
    /// number of keys (0 or 1: one key). Set from the scenario's `[locks]` table.
    #[serde(skip)]
    pub lock_keys: u8,
    /// A known-bug variant; `correct` by default.
    pub variant: Variant,
}

impl Default for ProtocolConfig {
    /// Production-like defaults: TTL 10 s, renew every 3 s, writes every second.
    fn default() -> Self {
        ProtocolConfig {
            kind: ProtocolKind::Reference,
            ttl_ms: 10_000,
            renew_interval_ms: 3_000,
            drift_ppm_max: 1_000,
            safety_margin_ms: 100,
            fresh_window_ms: 2_000,
            requeue_interval_ms: 500,
            backoff_base_ms: 500,
            backoff_max_ms: 5_000,
            hold_ms: 6_000,
            write_interval_ms: 1_000,
            think_ms: 1_000,
            queue_capacity: 64,
            intent_ms: 0,
            progress_window_ms: 0,
            hold_writes: 0,
            jobs: Jobs::NONE,
            lock_keys: 0,
            variant: Variant::Correct,
        }
    }
}

/// Exactly-once work (docs/design.md, "Beyond one lease"): the holder works through `count` jobs in order,
/// each named by its idempotency key (its index here). The resource applies a job at most
/// once and keeps its record; a job it rejects definitively (`poison`, a bit per job: its
/// effect cannot be applied) is retried, and after `attempts` such rejections the resource
/// moves it to the dead-letter list under the same key. Lost answers never count: a
/// re-send repeats the attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jobs {
    pub count: u32,
    pub poison: u64,
    pub attempts: u32,
}

impl Jobs {
    /// The most jobs a workload may declare (one bit each in `poison` and in a client's
    /// record of what is done).
    pub const MAX: u32 = 64;
    pub const NONE: Jobs = Jobs {
        count: 0,
        poison: 0,
        attempts: 0,
    };

    #[must_use]
    pub fn is_poison(&self, job: u32) -> bool {
        job < 64 && self.poison & (1 << job) != 0
    }
}

/// An impossible setting: which field, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        reason: reason.into(),
    }
}

/// The validated, derived configuration the state machines run on: durations in ns.
/// `Copy` and small, because the model checker clones and hashes it with every state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Config {
    pub ttl_ns: u64,
    pub renew_interval_ns: u64,
    pub drift_ppm_max: u32,
    pub safety_margin_ns: u64,
    /// `L`: how long after sending a request the client may trust its answer.
    pub validity_ns: u64,
    /// Tiered leases: the intent tier's length (0: off) and its `L`.
    pub intent_ns: u64,
    pub intent_validity_ns: u64,
    /// Progress-based extension's window (0: off).
    pub progress_window_ns: u64,
    /// Acknowledged writes that end a tenure (0: `hold_ns` ends it).
    pub hold_writes: u32,
    pub jobs: Jobs,
    /// Keys of a lock set (0 or 1: a single key).
    pub lock_keys: u8,
    pub fresh_window_ns: u64,
    pub requeue_interval_ns: u64,
    pub backoff_base_ns: u64,
    pub backoff_max_ns: u64,
    pub hold_ns: u64,
    pub write_interval_ns: u64,
    pub think_ns: u64,
    pub queue_capacity: u32,
    pub variant: Variant,
    /// A test-only mutant ([`Mutant::None`] everywhere else).
    #[doc(hidden)]
    pub mutant: Mutant,
    /// Where clients send lock requests and writes.
    pub server: NodeId,
    pub resource: NodeId,
}

const MS: u64 = 1_000_000;

/// The most keys a lock set may declare.
pub const MAX_LOCK_KEYS: usize = 8;

/// Drift arithmetic, written once: every place a span is carried from one clock to another
/// (each within `±ρ` of true time, `ρ = drift_ppm_max`) goes through these, rounding down.
pub mod drift {
    const PPM: u128 = 1_000_000;

    fn saturate(v: u128) -> u64 {
        v.min(u128::from(u64::MAX)) as u64
    }

    /// `ns·(1+ρ)`: a span measured in true time (or on a clock within ρ), bounded as read on
    /// a clock up to ρ fast.
    #[must_use]
    pub fn stretch(ns: u64, rho_ppm: u32) -> u64 {
        saturate(u128::from(ns) * (PPM + u128::from(rho_ppm)) / PPM)
    }

    /// `ns·(1+ρ)/(1−ρ)`: a span timed on a slow clock as a fast one reads it.
    #[must_use]
    pub fn slow_to_fast(ns: u64, rho_ppm: u32) -> u128 {
        let rho = u128::from(rho_ppm);
        u128::from(ns) * (PPM + rho) / (PPM - rho)
    }

    /// `ns·(1−ρ)/(1+ρ)`: a span timed on a fast clock as a slow one reads it.
    #[must_use]
    pub fn fast_to_slow(ns: u64, rho_ppm: u32) -> u64 {
        let rho = u128::from(rho_ppm);
        saturate(u128::from(ns) * (PPM - rho) / (PPM + rho))
    }

    /// `ns/(1−ρ)`: a span on a clock up to ρ slow, in true time at most.
    #[must_use]
    pub fn slowest_in_true_time(ns: u64, rho_ppm: u32) -> u64 {
        saturate(u128::from(ns) * PPM / (PPM - u128::from(rho_ppm)))
    }
}

/// `L = ttl·(1−ρ)/(1+ρ) − margin`, rounded down to the nanosecond.
///
/// Why it suffices: the server keeps a grant for at least `ttl/(1+ρ)` of true time after it
/// received the request, hence after the client sent it. The client trusts the grant for `L`
/// on its own clock from the send, which lasts at most `L/(1−ρ)` of true time. So
/// `L ≤ ttl·(1−ρ)/(1+ρ)` keeps the client's belief inside the server's grant, for any pair of
/// clocks within ρ; the margin absorbs server clock forward steps (at most `margin` per TTL).
#[must_use]
pub fn local_validity_ns(ttl_ns: u64, drift_ppm: u32, margin_ns: u64, variant: Variant) -> u64 {
    let span = if variant == Variant::DriftIgnored {
        ttl_ns
    } else {
        drift::fast_to_slow(ttl_ns, drift_ppm)
    };
    span.saturating_sub(margin_ns)
}

impl ProtocolConfig {
    /// Checks every rule of docs/design.md ("Config") and derives the ns values, or names the bad field.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        if self.ttl_ms == 0 {
            return Err(invalid("ttl_ms", "must be positive"));
        }
        if self.ttl_ms > 86_400_000 {
            return Err(invalid("ttl_ms", "must be at most one day (86400000 ms)"));
        }
        if self.drift_ppm_max >= 1_000_000 {
            return Err(invalid(
                "drift_ppm_max",
                format!(
                    "{} ppm is not below 1000000 (a clock would stop or run backwards)",
                    self.drift_ppm_max
                ),
            ));
        }
        if self.renew_interval_ms == 0 {
            return Err(invalid("renew_interval_ms", "must be positive"));
        }
        let mut cfg = self.derive(
            local_validity_ns(
                self.ttl_ms * MS,
                self.drift_ppm_max,
                self.safety_margin_ms.saturating_mul(MS),
                self.variant,
            ),
            NodeId::authority(0),
            NodeId::RESOURCE,
        );
        if self.intent_ms > 0 {
            if self.intent_ms >= self.ttl_ms {
                return Err(invalid(
                    "intent_ms",
                    format!(
                        "{} ms is not shorter than ttl_ms = {} ms: the intent tier must be \
                         shorter than the full lease",
                        self.intent_ms, self.ttl_ms
                    ),
                ));
            }
            cfg.intent_validity_ns = local_validity_ns(
                self.intent_ms * MS,
                self.drift_ppm_max,
                self.safety_margin_ms.saturating_mul(MS),
                self.variant,
            );
            if cfg.intent_validity_ns <= cfg.renew_interval_ns {
                return Err(invalid(
                    "intent_ms",
                    format!(
                        "{} ms gives a local validity span of {:.3} ms, not above \
                         renew_interval_ms = {} ms: an intent lease would lapse before its \
                         first renewal",
                        self.intent_ms,
                        cfg.intent_validity_ns as f64 / 1e6,
                        self.renew_interval_ms
                    ),
                ));
            }
        }
        cfg.check()?;
        Ok(cfg)
    }

    /// The derived config with `L` set directly (the model checker sets `L = ttl − 2ε` in
    /// ticks). Checked like [`ProtocolConfig::validate`].
    pub fn with_validity(&self, validity_ns: u64) -> Result<Config, ConfigError> {
        if self.ttl_ms == 0 {
            return Err(invalid("ttl_ms", "must be positive"));
        }
        let cfg = self.derive(validity_ns, NodeId::authority(0), NodeId::RESOURCE);
        cfg.check()?;
        Ok(cfg)
    }

    fn derive(&self, validity_ns: u64, server: NodeId, resource: NodeId) -> Config {
        Config {
            ttl_ns: self.ttl_ms.saturating_mul(MS),
            renew_interval_ns: self.renew_interval_ms.saturating_mul(MS),
            drift_ppm_max: self.drift_ppm_max,
            safety_margin_ns: self.safety_margin_ms.saturating_mul(MS),
            validity_ns,
            intent_ns: self.intent_ms.saturating_mul(MS),
            intent_validity_ns: 0,
            progress_window_ns: self.progress_window_ms.saturating_mul(MS),
            hold_writes: self.hold_writes,
            jobs: self.jobs,
            lock_keys: self.lock_keys,
            fresh_window_ns: self.fresh_window_ms.saturating_mul(MS),
            requeue_interval_ns: self.requeue_interval_ms.saturating_mul(MS),
            backoff_base_ns: self.backoff_base_ms.saturating_mul(MS),
            backoff_max_ns: self.backoff_max_ms.saturating_mul(MS),
            hold_ns: self.hold_ms.saturating_mul(MS),
            write_interval_ns: self.write_interval_ms.saturating_mul(MS),
            think_ns: self.think_ms.saturating_mul(MS),
            queue_capacity: self.queue_capacity,
            variant: self.variant,
            mutant: Mutant::None,
            server,
            resource,
        }
    }
}

/// The derived config as a reader would write it, in milliseconds, one group a line.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |ns: u64| {
            let v = ns as f64 / MS as f64;
            if v.fract() == 0.0 {
                format!("{v:.0} ms")
            } else {
                format!("{v:.3} ms")
            }
        };
        writeln!(
            f,
            "lease: ttl {}, renew every {}, drift within ±{} ppm, safety margin {}, local \
             validity L {}",
            ms(self.ttl_ns),
            ms(self.renew_interval_ns),
            self.drift_ppm_max,
            ms(self.safety_margin_ns),
            ms(self.validity_ns)
        )?;
        writeln!(
            f,
            "queue: fresh window {}, re-queue every {}, backoff {} to {}, capacity {}",
            ms(self.fresh_window_ns),
            ms(self.requeue_interval_ns),
            ms(self.backoff_base_ns),
            ms(self.backoff_max_ns),
            self.queue_capacity
        )?;
        write!(
            f,
            "work: hold {}, a write every {}, think {}",
            ms(self.hold_ns),
            ms(self.write_interval_ns),
            ms(self.think_ns)
        )?;
        if self.hold_writes > 0 {
            write!(f, ", done after {} acknowledged writes", self.hold_writes)?;
        }
        if self.intent_ns > 0 {
            write!(
                f,
                "\ntiered: intent lease {} (its L {})",
                ms(self.intent_ns),
                ms(self.intent_validity_ns)
            )?;
        }
        if self.progress_window_ns > 0 {
            write!(f, "\nprogress window {}", ms(self.progress_window_ns))?;
        }
        if self.has_jobs() {
            write!(
                f,
                "\njobs: {} ({} poison), {} definite rejections before dead-lettering",
                self.jobs.count,
                self.jobs.poison.count_ones(),
                self.jobs.attempts
            )?;
        }
        if self.is_lock_set() {
            write!(f, "\nlock set: {} keys in one order", self.lock_keys)?;
        }
        write!(f, "\nvariant: {}", self.variant)
    }
}

impl Config {
    /// Whether clients count their acknowledged writes (the `acked` of Renew): only when a
    /// mode reads it, so the default protocol's state space does not grow.
    #[must_use]
    pub fn counts_acks(&self) -> bool {
        self.intent_ns > 0 || self.progress_window_ns > 0 || self.hold_writes > 0
    }

    /// Whether a client's critical section needs several keys.
    #[must_use]
    pub fn is_lock_set(&self) -> bool {
        self.lock_keys > 1
    }

    /// Whether the workload is a list of jobs.
    #[must_use]
    pub fn has_jobs(&self) -> bool {
        self.jobs.count > 0
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.check_timing()?;
        self.check_workload()
    }

    /// The lease's own timing: `L`, renewals, re-queueing, freshness, backoff.
    fn check_timing(&self) -> Result<(), ConfigError> {
        let ms = |ns: u64| ns as f64 / MS as f64;
        if self.validity_ns == 0 {
            return Err(invalid(
                "safety_margin_ms",
                format!(
                    "leaves no local validity span: L = ttl·(1−ρ)/(1+ρ) − margin ≤ 0 \
                     (ttl {} ms, drift {} ppm, margin {} ms)",
                    ms(self.ttl_ns),
                    self.drift_ppm_max,
                    ms(self.safety_margin_ns)
                ),
            ));
        }
        if self.renew_interval_ns >= self.validity_ns {
            return Err(invalid(
                "renew_interval_ms",
                format!(
                    "{} ms is not below the local validity span L = {} ms: the lease would lapse \
                     before the first renewal",
                    ms(self.renew_interval_ns),
                    ms(self.validity_ns)
                ),
            ));
        }
        if self.requeue_interval_ns == 0 {
            return Err(invalid("requeue_interval_ms", "must be positive"));
        }
        // The requeue period runs on the client's clock and freshness on the server's: a slow
        // client and a fast server stretch the spacing by (1+ρ)/(1−ρ).
        let stretched = drift::slow_to_fast(self.requeue_interval_ns, self.drift_ppm_max);
        if stretched >= u128::from(self.fresh_window_ns) {
            return Err(invalid(
                "requeue_interval_ms",
                format!(
                    "{} ms (stretched to {} ms by drift) is not below fresh_window_ms {} ms: a \
                     queued waiter would go stale between its re-sends",
                    ms(self.requeue_interval_ns),
                    ms(stretched as u64),
                    ms(self.fresh_window_ns)
                ),
            ));
        }
        if self.fresh_window_ns >= self.validity_ns {
            return Err(invalid(
                "fresh_window_ms",
                format!(
                    "{} ms is not below the local validity span L = {} ms: a hand-over grant \
                     could arrive too late to be adopted",
                    ms(self.fresh_window_ns),
                    ms(self.validity_ns)
                ),
            ));
        }
        if self.backoff_base_ns == 0 {
            return Err(invalid("backoff_base_ms", "must be positive"));
        }
        if self.backoff_max_ns < self.backoff_base_ns {
            return Err(invalid(
                "backoff_max_ms",
                format!(
                    "{} ms is below backoff_base_ms {} ms",
                    ms(self.backoff_max_ns),
                    ms(self.backoff_base_ns)
                ),
            ));
        }
        Ok(())
    }

    /// The workload and the modes built on it: hold, writes, queue, progress window, jobs,
    /// lock sets, and the variants that need one of them.
    fn check_workload(&self) -> Result<(), ConfigError> {
        let ms = |ns: u64| ns as f64 / MS as f64;
        if self.hold_ns == 0 {
            return Err(invalid("hold_ms", "must be positive"));
        }
        if self.write_interval_ns == 0 {
            return Err(invalid("write_interval_ms", "must be positive"));
        }
        if self.queue_capacity == 0 {
            return Err(invalid("queue_capacity", "must be positive"));
        }
        if self.progress_window_ns > 0 {
            // A healthy holder's count rises at the server at least once per write interval
            // plus renew interval (its ack, then its next Renew), each on a clock within ρ.
            let gap = drift::slow_to_fast(
                self.renew_interval_ns + self.write_interval_ns,
                self.drift_ppm_max,
            );
            if u128::from(self.progress_window_ns) <= gap {
                return Err(invalid(
                    "progress_window_ms",
                    format!(
                        "{} ms is not above renew_interval_ms + write_interval_ms = {} ms \
                         (stretched by drift): a holder making progress could be refused \
                         between two of its reports",
                        ms(self.progress_window_ns),
                        ms(gap as u64)
                    ),
                ));
            }
        }
        if self.jobs.count > Jobs::MAX {
            return Err(invalid(
                "jobs.keys",
                format!("{} jobs is above {}", self.jobs.count, Jobs::MAX),
            ));
        }
        if self.jobs.count > 0 && self.jobs.attempts == 0 {
            return Err(invalid(
                "jobs.attempts",
                "must be at least 1 (definite rejections before dead-lettering)",
            ));
        }
        if self.jobs.count == 0 && self.variant == Variant::NoIdempotency {
            return Err(invalid(
                "variant",
                "no-idempotency needs an exactly-once workload: declare [jobs]",
            ));
        }
        if usize::from(self.lock_keys) > MAX_LOCK_KEYS {
            return Err(invalid(
                "locks.order",
                format!("{} keys is above {MAX_LOCK_KEYS}", self.lock_keys),
            ));
        }
        if self.lock_keys > 1 && (self.has_jobs() || self.counts_acks()) {
            return Err(invalid(
                "locks.order",
                "a lock set runs plain writes: it cannot be combined with [jobs], intent_ms, \
                 progress_window_ms or hold_writes",
            ));
        }
        if self.lock_keys < 2 && self.variant == Variant::LockOrderInversion {
            return Err(invalid(
                "variant",
                "lock-order-inversion needs a lock set: declare [locks] with two keys or more",
            ));
        }
        if self.hold_writes > 1_000_000 {
            return Err(invalid(
                "hold_writes",
                format!("{} is above 1000000", self.hold_writes),
            ));
        }
        Ok(())
    }
}
