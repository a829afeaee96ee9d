//! The engine's fault vocabulary: every fault record the world keeps (trace, trace hash,
//! coverage labels, the timeline's shading, false-preemption causes) is a [`FaultKind`],
//! each with one name. Parsing names the faults a scenario writes in its own words
//! ([`crate::scenario::RandomKind`], the script's keys); once planned and applied they are
//! recorded as these kinds.

/// A fault record of the engine: a fault taking effect, one observed by a shell, coverage
/// derived from them, or a fault ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A node's process stopped (a GC pause): it takes no steps while its clock runs.
    Paused,
    /// A node cut off from every other node.
    Partitioned,
    /// One direction of one link cut.
    LinkCut,
    /// Groups of nodes that cannot reach each other.
    Split,
    ServerCrashed,
    ResourceCrashed,
    ClientCrashed,
    /// A server or the resource crashed inside a step, at a crash point: the outputs
    /// before it happened, the rest were lost.
    CrashedMidStep,
    /// A client's worker is stuck while its renew loop goes on.
    Stalled,
    /// A node's clock stepped (forward or back).
    ClockStepped,
    /// Undecodable frames sent to a node from outside the cluster.
    GarbageSent,
    /// A shell sent a second copy of a message.
    MessageDuplicated,
    /// A shell held a decided write before sending it.
    SendDelayed,
    /// A directed link's frames take longer (a scripted `slow`).
    LinkSlowed,
    /// A node received a frame that did not decode.
    GarbageFrame,
    /// Coverage: a grant expired while its holder was paused.
    PauseOverlappedExpiry,
    /// Coverage: some clock drifts beyond `drift_ppm_max`.
    DriftBeyondBound,
    /// A timed fault ended.
    Healed,
    /// A crashed node came back.
    Restarted,
    /// The safety phase ended: every fault in force ends.
    Heal,
    /// A fault that a protocol plug-in defines, by its own name (reserved: the reference
    /// protocol defines none).
    Protocol(&'static str),
}

/// What touched a node, for classifying a false preemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Touch {
    Pause,
    Partition,
    Clock,
}

impl FaultKind {
    /// Every engine fault kind (not [`FaultKind::Protocol`]).
    pub const ALL: [FaultKind; 20] = [
        FaultKind::Paused,
        FaultKind::Partitioned,
        FaultKind::LinkCut,
        FaultKind::Split,
        FaultKind::ServerCrashed,
        FaultKind::ResourceCrashed,
        FaultKind::ClientCrashed,
        FaultKind::CrashedMidStep,
        FaultKind::Stalled,
        FaultKind::ClockStepped,
        FaultKind::GarbageSent,
        FaultKind::MessageDuplicated,
        FaultKind::SendDelayed,
        FaultKind::LinkSlowed,
        FaultKind::GarbageFrame,
        FaultKind::PauseOverlappedExpiry,
        FaultKind::DriftBeyondBound,
        FaultKind::Healed,
        FaultKind::Restarted,
        FaultKind::Heal,
    ];

    /// The name in traces, coverage labels and the trace hash.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::Paused => "paused",
            FaultKind::Partitioned => "partitioned",
            FaultKind::LinkCut => "link-cut",
            FaultKind::Split => "split",
            FaultKind::ServerCrashed => "server-crashed",
            FaultKind::ResourceCrashed => "resource-crashed",
            FaultKind::ClientCrashed => "client-crashed",
            FaultKind::CrashedMidStep => "crashed-mid-step",
            FaultKind::Stalled => "stalled",
            FaultKind::ClockStepped => "clock-stepped",
            FaultKind::GarbageSent => "garbage-sent",
            FaultKind::MessageDuplicated => "message-duplicated",
            FaultKind::SendDelayed => "send-delayed",
            FaultKind::LinkSlowed => "link-slowed",
            FaultKind::GarbageFrame => "garbage-frame",
            FaultKind::PauseOverlappedExpiry => "pause-overlapped-expiry",
            FaultKind::DriftBeyondBound => "drift-beyond-bound",
            FaultKind::Healed => "healed",
            FaultKind::Restarted => "restarted",
            FaultKind::Heal => "heal",
            FaultKind::Protocol(name) => name,
        }
    }

    /// Whether a scenario may name it in `sometimes` (the endings and the rogue node's
    /// sending say nothing about the run a scenario would want to reach).
    #[must_use]
    pub const fn is_coverage_label(self) -> bool {
        !matches!(
            self,
            FaultKind::GarbageSent | FaultKind::Healed | FaultKind::Restarted | FaultKind::Heal
        )
    }

    /// Whether it opens an interval on the timeline, closed by `healed`, `restarted` or the
    /// final heal.
    #[must_use]
    pub const fn opens_interval(self) -> bool {
        matches!(
            self,
            FaultKind::Paused
                | FaultKind::Stalled
                | FaultKind::Partitioned
                | FaultKind::LinkCut
                | FaultKind::LinkSlowed
                | FaultKind::Split
                | FaultKind::ServerCrashed
                | FaultKind::ResourceCrashed
                | FaultKind::ClientCrashed
                | FaultKind::CrashedMidStep
        )
    }

    /// What it does to the node it touches, for classifying false preemptions.
    #[must_use]
    pub const fn touch(self) -> Option<Touch> {
        match self {
            FaultKind::Paused => Some(Touch::Pause),
            FaultKind::Partitioned | FaultKind::LinkCut | FaultKind::Split => {
                Some(Touch::Partition)
            }
            FaultKind::ClockStepped => Some(Touch::Clock),
            _ => None,
        }
    }

    /// The kind of a crash of node `idx` (0 the server, 1 the resource, else a client).
    #[must_use]
    pub const fn crashed(idx: usize) -> FaultKind {
        match idx {
            crate::scenario::SERVER => FaultKind::ServerCrashed,
            crate::scenario::RESOURCE => FaultKind::ResourceCrashed,
            _ => FaultKind::ClientCrashed,
        }
    }
}

impl serde::Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Read back by name (a shard's partial file); a name no engine kind has is an error (the
/// reference protocol defines no kinds of its own).
impl<'de> serde::Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown fault kind {name:?}")))
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every fault coverage label a scenario's `sometimes` may name.
pub fn coverage_labels() -> impl Iterator<Item = &'static str> {
    FaultKind::ALL
        .into_iter()
        .filter(|k| k.is_coverage_label())
        .map(FaultKind::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_coverage_labels_are_the_documented_sixteen() {
        let names: std::collections::BTreeSet<_> =
            FaultKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), FaultKind::ALL.len(), "one name per kind");
        let labels: Vec<_> = coverage_labels().collect();
        assert_eq!(labels.len(), 16, "{labels:?}");
        let readme = include_str!("../../../scenarios/README.md");
        for l in labels {
            assert!(
                readme.contains(&format!("`{l}`")),
                "scenarios/README.md names {l}"
            );
        }
    }
}
