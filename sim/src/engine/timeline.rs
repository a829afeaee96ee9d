//! The structured timeline of one traced seed (what `replay` and the run report draw): lease
//! intervals as the server saw them and as each client believed, messages, fault shading
//! and the violations, all in true time. Recorded only when a run keeps its trace.

use crate::fault::FaultKind;
use crate::scenario::NodeIdx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A bar on a client's lane: a grant as the server saw it, or the client's belief.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bar {
    pub node: NodeIdx,
    pub token: u64,
    pub start_ns: u64,
    /// `None` while open; closed at the end of the run if still open.
    pub end_ns: Option<u64>,
    /// How it ended (expired, released, server restart, lost, crashed, run end).
    pub how: String,
}

/// A message: sent at `sent_ns`, received at `recv_ns` (never, if lost).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Arrow {
    pub from: NodeIdx,
    pub to: NodeIdx,
    pub kind: String,
    pub sent_ns: u64,
    pub recv_ns: Option<u64>,
}

/// A fault in force over an interval (pause, partition, crash) or at an instant (clock
/// step, garbage frames: `end_ns == start_ns`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Shade {
    pub node: NodeIdx,
    pub kind: FaultKind,
    pub detail: String,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
}

/// A point event: a write at the resource, or a violation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mark {
    pub node: NodeIdx,
    pub t_ns: u64,
    pub kind: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timeline {
    pub nodes: usize,
    pub end_ns: u64,
    pub grants: Vec<Bar>,
    pub beliefs: Vec<Bar>,
    pub messages: Vec<Arrow>,
    pub faults: Vec<Shade>,
    pub writes: Vec<Mark>,
    pub violations: Vec<Mark>,
    #[serde(skip)]
    pending: BTreeMap<(NodeIdx, NodeIdx, String), Vec<usize>>,
    /// Each client's open belief: its bar and the true instant it runs out.
    #[serde(skip)]
    open_belief: BTreeMap<NodeIdx, (usize, u64)>,
}

impl Timeline {
    #[must_use]
    pub fn new(nodes: usize) -> Timeline {
        Timeline {
            nodes,
            ..Timeline::default()
        }
    }

    /// A fault record: an interval opens (closed by `healed` with the same detail, or by
    /// the final heal, which leaves a stalled worker stuck: that is the application's
    /// state), a fault with its own span (a write's send delay), or an instant (clock
    /// steps, garbage). `restarted` draws nothing: the crash's `healed` closed it.
    pub fn fault(
        &mut self,
        t: u64,
        node: NodeIdx,
        kind: FaultKind,
        detail: &str,
        span_ns: Option<u64>,
    ) {
        let shade = |end_ns| Shade {
            node,
            kind,
            detail: detail.into(),
            start_ns: t,
            end_ns,
        };
        match kind {
            FaultKind::Healed => {
                if let Some(s) = self
                    .faults
                    .iter_mut()
                    .rev()
                    .find(|s| s.end_ns.is_none() && s.detail == detail)
                {
                    s.end_ns = Some(t);
                }
            }
            FaultKind::Heal => {
                for s in self
                    .faults
                    .iter_mut()
                    .filter(|s| s.end_ns.is_none() && s.kind != FaultKind::Stalled)
                {
                    s.end_ns = Some(t);
                }
            }
            FaultKind::Restarted => {}
            k if k.opens_interval() => self.faults.push(shade(None)),
            _ => self.faults.push(shade(Some(t + span_ns.unwrap_or(0)))),
        }
    }

    pub fn send(&mut self, t: u64, from: NodeIdx, to: NodeIdx, kind: &str, key: String) {
        self.pending
            .entry((from, to, key))
            .or_default()
            .push(self.messages.len());
        self.messages.push(Arrow {
            from,
            to,
            kind: kind.into(),
            sent_ns: t,
            recv_ns: None,
        });
    }

    /// A receipt is matched with the earliest unreceived send of the same message on the
    /// same link; a duplicate (nothing left to match) is drawn from the latest send.
    pub fn recv(&mut self, t: u64, at: NodeIdx, from: NodeIdx, kind: &str, key: String) {
        let k = (from, at, key);
        let Some(ids) = self.pending.get(&k) else {
            return;
        };
        let open = ids
            .iter()
            .copied()
            .find(|&i| self.messages[i].recv_ns.is_none());
        match open {
            Some(i) => self.messages[i].recv_ns = Some(t),
            None => {
                if let Some(&last) = ids.last() {
                    let sent_ns = self.messages[last].sent_ns;
                    self.messages.push(Arrow {
                        from,
                        to: at,
                        kind: format!("{kind} (duplicate)"),
                        sent_ns,
                        recv_ns: Some(t),
                    });
                }
            }
        }
    }

    fn close(bars: &mut [Bar], pred: impl Fn(&Bar) -> bool, t: u64, how: &str) {
        for b in bars.iter_mut().filter(|b| b.end_ns.is_none() && pred(b)) {
            b.end_ns = Some(t);
            b.how = how.into();
        }
    }

    pub fn granted(&mut self, t: u64, node: NodeIdx, token: u64) {
        self.grants.push(Bar {
            node,
            token,
            start_ns: t,
            end_ns: None,
            how: String::new(),
        });
    }

    pub fn grant_ended(&mut self, t: u64, token: u64, how: &str) {
        Timeline::close(&mut self.grants, |b| b.token == token, t, how);
    }

    pub fn all_grants_ended(&mut self, t: u64, how: &str) {
        Timeline::close(&mut self.grants, |_| true, t, how);
    }

    /// A client's belief: `until_true` is the true instant its validity ends.
    pub fn belief(&mut self, t: u64, node: NodeIdx, token: Option<u64>, until_true: Option<u64>) {
        // A belief that ran out on the client's clock ended then, not at this update.
        if let Some(&(_, u)) = self.open_belief.get(&node) {
            if u <= t {
                self.end_belief(node, u, "ran out");
            }
        }
        let Some(u) = until_true else {
            self.end_belief(node, t, "stopped");
            return;
        };
        let same = self
            .open_belief
            .get(&node)
            .is_some_and(|&(i, _)| token.is_none_or(|tk| tk == self.beliefs[i].token));
        if same {
            if let Some(open) = self.open_belief.get_mut(&node) {
                open.1 = u;
            }
        } else {
            self.end_belief(node, t, "replaced");
            self.open_belief.insert(node, (self.beliefs.len(), u));
            self.beliefs.push(Bar {
                node,
                token: token.unwrap_or(0),
                start_ns: t,
                end_ns: None,
                how: String::new(),
            });
        }
    }

    fn end_belief(&mut self, node: NodeIdx, at: u64, how: &str) {
        if let Some((i, _)) = self.open_belief.remove(&node) {
            self.beliefs[i].end_ns = Some(at);
            self.beliefs[i].how = how.into();
        }
    }

    pub fn write(&mut self, t: u64, token: u64, accepted: bool) {
        self.writes.push(Mark {
            node: 1,
            t_ns: t,
            kind: if accepted { "accepted" } else { "rejected" }.into(),
            detail: format!("write with token {token}"),
        });
    }

    /// What the authority and the resource saw of a tenure event at `t`: tenures opening
    /// and ending, writes accepted or refused (other events draw nothing here).
    pub fn server_event(&mut self, t: u64, event: leaseproof_impl::TenureEvent) {
        use leaseproof_impl::TenureEvent as T;
        match event {
            T::Began { client, tenure, .. } => {
                self.granted(t, client.node.0 as NodeIdx, tenure);
            }
            T::Ended {
                tenure, ran_out, ..
            } => self.grant_ended(t, tenure, if ran_out { "expired" } else { "released" }),
            T::AllEnded => self.all_grants_ended(t, "server restarted"),
            T::WriteAccepted { tenure, .. } => self.write(t, tenure, true),
            T::WriteRefused { tenure, .. } => self.write(t, tenure, false),
            _ => {}
        }
    }

    /// A safety violation, on the lane of the node that showed it: the resource for a
    /// write the oracles refused, the server otherwise.
    pub fn violated(&mut self, t: u64, v: &leaseproof_impl::Violation) {
        use leaseproof_impl::Violation;
        let node = match v {
            Violation::StaleTokenAccepted { .. }
            | Violation::TokenFromTwoClients { .. }
            | Violation::WriteOutsideLease { .. } => crate::scenario::RESOURCE,
            _ => crate::scenario::SERVER,
        };
        self.violation(t, node, v.oracle().name(), v.to_string());
    }

    pub fn violation(&mut self, t: u64, node: NodeIdx, oracle: &str, detail: String) {
        self.violations.push(Mark {
            node,
            t_ns: t,
            kind: oracle.into(),
            detail,
        });
    }

    /// Closes everything still open at the end of the run.
    pub fn finish(&mut self, t: u64) {
        self.end_ns = t;
        Timeline::close(&mut self.grants, |_| true, t, "run end");
        for (node, (_, u)) in self.open_belief.clone() {
            self.end_belief(node, u.min(t), "ran out");
        }
        for s in self.faults.iter_mut().filter(|s| s.end_ns.is_none()) {
            s.end_ns = Some(t);
        }
    }
}
