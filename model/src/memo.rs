//! Memoised node steps, and memoised oracle verdicts on their events.
//!
//! The state space is mostly interleavings: the same local step (this client, in this
//! state, takes this message at this time on its clock) happens in many global states,
//! which differ only in what the other nodes are doing. The core is deterministic (a node's
//! state and its input decide its next state and outputs: docs/design.md, "The sans-IO contract"), so the model runs a
//! step once and replays its result: a hit costs a lookup instead of copying the node,
//! running its handler and rehashing it, and equal results share one part, with its kept
//! renamings. What a step does to the rest of the state (the network, the disk, the
//! oracles) is still carried out per global state, from the outputs kept here.
//!
//! Each checker thread keeps its own direct-mapped table (no locks), keyed by the node's
//! value (its kept hash picks the slot; an equal value, the same part or not, replays:
//! normalising makes equal values in different parts, and a step depends on the value
//! alone, config included), the input and the local time. A full slot is overwritten: a miss only costs the step. The
//! table is small on purpose: depth-first search meets the same steps again close by (in
//! sibling states), so 256 slots replay most steps (about 9 in 10 at 3 clients) while
//! staying in the core's cache; 65,536 replayed a few more and were slower than none.
//!
//! The oracles' verdict on a step's events is kept the same way, keyed by the ghost
//! state's value, the kept step and the server's clock: most global states that replay a
//! step also share the ghost state it is judged against.

use crate::part::Part;
use leaseproof_impl::{
    AnyNode, Event, Jitter, Machine, Msg, Nanos, NodeId, Output, SafetyOracles, Violation,
};
use std::cell::RefCell;
use std::sync::Arc;

/// One input to one node, as the model feeds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// No input: take what a node that just booted has ready.
    Boot,
    Message(NodeId, Msg),
    Timeout,
    Jitter(u32),
}

/// What one step of a node made: its next state and everything it output, in order.
#[derive(Debug)]
pub struct Transition {
    pub next: Part<AnyNode>,
    pub outputs: Vec<Output>,
    /// Beside each output: a sent message's hash (0 for the others).
    pub msg_hashes: Vec<u64>,
    /// Whether any output is an event (for the oracles).
    pub events: bool,
}

/// What the oracles made of a step's events: their next ghost state (`None`: unchanged,
/// as for most events, which only read it) and what the events violated.
#[derive(Debug)]
pub struct Judged {
    pub oracles: Option<Part<SafetyOracles>>,
    pub found: Vec<Violation>,
}

/// Slots per thread: a power of two (see the module's header for why so few).
const SLOTS: usize = 1 << 8;

struct Slot {
    node: Part<AnyNode>,
    input: Input,
    now: Nanos,
    answer_jitter: bool,
    transition: Arc<Transition>,
}

struct JudgedSlot {
    oracles: Part<SafetyOracles>,
    transition: Arc<Transition>,
    server_now: Nanos,
    judged: Arc<Judged>,
}

thread_local! {
    static MEMO: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
    static JUDGED: RefCell<Vec<Option<JudgedSlot>>> =
        RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// The slot for three words: the top bits of a multiply-shift over them.
fn slot(a: u64, b: u64, c: u64) -> usize {
    let mixed = (a ^ b.rotate_left(17) ^ c.rotate_left(41)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Runs `input` on `node` at its local time `now` (or replays the kept result of the same
/// step). With `answer_jitter` (a one-point backoff window, where every draw is equal) a
/// jitter request is answered at once, after the outputs already queued, as a draw taken
/// then would be. `input_hash` is any hash of the input (a message's kept hash): it only
/// picks the slot.
#[must_use]
pub fn step(
    node: &Part<AnyNode>,
    input: Input,
    input_hash: u64,
    now: Nanos,
    answer_jitter: bool,
) -> Arc<Transition> {
    if input == Input::Boot {
        return Arc::new(run(node, &input, now, answer_jitter));
    }
    let at = slot(node.kept_hash(), input_hash, now.0);
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some(slot) = &memo[at] {
            if slot.node == *node
                && slot.now == now
                && slot.answer_jitter == answer_jitter
                && slot.input == input
            {
                return Arc::clone(&slot.transition);
            }
        }
        let transition = Arc::new(run(node, &input, now, answer_jitter));
        memo[at] = Some(Slot {
            node: node.clone(),
            input,
            now,
            answer_jitter,
            transition: Arc::clone(&transition),
        });
        transition
    })
}

/// Feeds a step's events to the oracles at the server's clock `server_now` (or replays the
/// kept result of the same events fed to the same ghost state at the same time).
#[must_use]
pub fn judge(
    oracles: &Part<SafetyOracles>,
    transition: &Arc<Transition>,
    server_now: Nanos,
) -> Arc<Judged> {
    let at = slot(
        oracles.kept_hash(),
        Arc::as_ptr(transition) as u64,
        server_now.0,
    );
    JUDGED.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some(slot) = &memo[at] {
            if slot.oracles == *oracles
                && Arc::ptr_eq(&slot.transition, transition)
                && slot.server_now == server_now
            {
                return Arc::clone(&slot.judged);
            }
        }
        let judged = Arc::new(observe(oracles, transition, server_now));
        memo[at] = Some(JudgedSlot {
            oracles: oracles.clone(),
            transition: Arc::clone(transition),
            server_now,
            judged: Arc::clone(&judged),
        });
        judged
    })
}

/// The oracles' verdict on a step's events.
fn observe(oracles: &Part<SafetyOracles>, t: &Transition, server_now: Nanos) -> Judged {
    let mut found = Vec::new();
    let events = t.outputs.iter().filter_map(|out| match out {
        Output::Event(e) => Some((server_now, e)),
        _ => None,
    });
    let changed = judge_events(oracles, events, &mut found);
    Judged {
        oracles: changed.map(Part::new),
        found,
    }
}

/// How the model judges events, each stamped with the server's clock: impl's oracles, the
/// ghost state copied only if an event changes it (`None`: unchanged). Appends what the
/// events violate. (A test feeds it a simulated run's events and gets the simulator's
/// verdicts.)
pub fn judge_events<'a>(
    oracles: &SafetyOracles,
    events: impl IntoIterator<Item = (Nanos, &'a Event)>,
    found: &mut Vec<Violation>,
) -> Option<SafetyOracles> {
    let mut changed: Option<SafetyOracles> = None;
    for (server_now, e) in events {
        match changed.as_mut() {
            Some(o) => o.observe(server_now, e, found),
            None => changed = oracles.observed(server_now, e, found),
        }
    }
    changed
}

/// The step itself, on a copy of the node.
fn run(node: &Part<AnyNode>, input: &Input, now: Nanos, answer_jitter: bool) -> Transition {
    let mut n = (**node).clone();
    match input {
        Input::Boot => {}
        Input::Message(from, msg) => n.handle_message(now, *from, *msg),
        Input::Timeout => n.handle_timeout(now),
        Input::Jitter(ppm) => n.handle_jitter(now, Jitter { ppm: *ppm }),
    }
    let mut outputs = Vec::new();
    loop {
        let mut draws = 0;
        while let Some(out) = n.poll_output() {
            if answer_jitter && matches!(out, Output::NeedJitter) {
                draws += 1;
            }
            outputs.push(out);
        }
        if draws == 0 {
            break;
        }
        for _ in 0..draws {
            n.handle_jitter(now, Jitter { ppm: 0 });
        }
    }
    let msg_hashes = outputs
        .iter()
        .map(|out| match out {
            Output::Send { msg, .. } => crate::part::hash_of(msg),
            _ => 0,
        })
        .collect();
    Transition {
        next: node.replaced(n),
        events: outputs.iter().any(|out| matches!(out, Output::Event(_))),
        outputs,
        msg_hashes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaseproof_impl::{Disk, Identity, RoleKind};

    fn client() -> Part<AnyNode> {
        let cfg = crate::ModelConfig::default().validate().unwrap();
        let id = Identity {
            node: NodeId::client(0),
            incarnation: 0,
        };
        let mut node = AnyNode::restore(RoleKind::Client, &cfg, id, &Disk::default(), Nanos(0));
        while node.poll_output().is_some() {}
        // It waits for a jitter draw before it has a deadline.
        node.handle_jitter(Nanos(0), Jitter { ppm: 0 });
        while node.poll_output().is_some() {}
        Part::new(node)
    }

    #[test]
    fn a_step_is_replayed_and_equals_running_it() {
        let node = client();
        let (due, _) = node.poll_timeout().expect("a booted client has a deadline");
        let first = step(&node, Input::Timeout, 0, due, true);
        let again = step(&node, Input::Timeout, 0, due, true);
        assert!(Arc::ptr_eq(&first, &again), "the second is the kept result");
        let fresh = run(&node, &Input::Timeout, due, true);
        assert_eq!(*first.next, *fresh.next);
        assert_eq!(first.outputs, fresh.outputs);
        assert!(
            !first.outputs.is_empty(),
            "the deadline's step does something"
        );
    }

    #[test]
    fn another_time_or_input_is_another_step() {
        let node = client();
        let (due, _) = node.poll_timeout().unwrap();
        let at_due = step(&node, Input::Timeout, 0, due, true);
        let later = step(&node, Input::Timeout, 0, due.plus(1_000_000), true);
        assert!(!Arc::ptr_eq(&at_due, &later));
        assert_eq!(
            *later.next,
            *run(&node, &Input::Timeout, due.plus(1_000_000), true).next
        );
        let boot = step(&node, Input::Boot, 0, due, true);
        assert!(boot.outputs.is_empty(), "nothing was queued");
        assert!(boot.next.same(&node), "an unchanged node keeps its part");
    }
}
