//! What a run, a scenario, a model check or a job found, and the exit code it gives: one
//! enum for every checker (the simulator's verdicts, the model checker's, `tune`'s), so the
//! exit-code rules live here, not in the CLI. docs/design.md, "Exit codes".

/// What a run, a scenario or a job found, ordered by severity (TigerBeetle's failure enum):
/// a job of several parts reports the greatest. The order of exit codes it gives is that of
/// docs/design.md, "Exit codes": 4, 5, 1, 3, 2, 0.
use serde::Serialize;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Verdict {
    /// Everything expected held.
    Pass,
    /// A usage error or bad input.
    Usage,
    /// A liveness oracle failed (a waiter not served in its bound, a deadlock).
    Liveness,
    /// A `sometimes` label no seed reached: the scenario proved nothing about it.
    Vacuous,
    /// A `finds` oracle no seed tripped: the bug the scenario shows was not shown.
    FindsNotFound,
    /// A safety oracle failed.
    Safety,
    /// The same seed gave two different traces.
    Nondeterminism,
    /// A run panicked.
    Crash,
}

impl Verdict {
    /// Every verdict, least severe first (derived: a new verdict cannot be missing).
    pub const ALL: &'static [Verdict] = <Verdict as strum::VariantArray>::VARIANTS;

    /// The process exit code (docs/design.md, "Exit codes").
    #[must_use]
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Vacuous | Verdict::FindsNotFound | Verdict::Safety => 1,
            Verdict::Usage => 2,
            Verdict::Liveness => 3,
            Verdict::Crash => 4,
            Verdict::Nondeterminism => 5,
        }
    }

    /// The name in reports and JSON (kebab-case, derived: the same as serde's).
    #[must_use]
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What the verdict means, for the line a command ends with.
    #[must_use]
    pub const fn meaning(self) -> &'static str {
        match self {
            Verdict::Pass => "everything expected held",
            Verdict::Usage => "usage error or bad input",
            Verdict::Liveness => "a liveness oracle failed",
            Verdict::Vacuous => "a `sometimes` label was never reached (vacuous)",
            Verdict::FindsNotFound => "a `finds` oracle was not found",
            Verdict::Safety => "a safety oracle failed",
            Verdict::Nondeterminism => "nondeterminism detected",
            Verdict::Crash => "a crash (panic) inside a run",
        }
    }

    /// The most severe verdict that exits with `code` (an unknown code ranks lowest).
    #[must_use]
    pub fn of_exit_code(code: u8) -> Verdict {
        Verdict::ALL
            .iter()
            .copied()
            .rev()
            .find(|v| v.exit_code() == code)
            .unwrap_or(Verdict::Pass)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
