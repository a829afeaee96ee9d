//! Unit tests of each role in isolation: inputs in, outputs checked. One module per role or
//! feature; the helpers and message builders they share are here.

mod client;
mod client_edges;
mod client_inputs;
mod config;
mod jobs;
mod lockset;
mod nodes;
mod oracles;
mod progress;
mod resource;
mod server;
mod tiered;

use leaseproof_impl::*;

fn cfg() -> Config {
    ProtocolConfig::default()
        .validate()
        .expect("defaults are valid")
}

fn drain<M: Machine<Output = Output>>(m: &mut M) -> Vec<Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn sends(outs: &[Output]) -> Vec<(NodeId, Msg)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, msg } => Some((*to, *msg)),
            _ => None,
        })
        .collect()
}

const T0: Nanos = Nanos(3_600_000_000_000);

const C1: NodeId = NodeId(2);

const C2: NodeId = NodeId(3);

/// The idempotency key of `node`'s first incarnation's write `seq`.
fn idem_of(node: NodeId, seq: u64) -> IdemKey {
    IdemKey {
        node,
        incarnation: 0,
        seq,
    }
}

fn id(inc: u32, seq: u64) -> ReqId {
    ReqId {
        incarnation: inc,
        seq,
    }
}

/// Client C1's first incarnation.
fn c1() -> Identity {
    Identity {
        node: C1,
        incarnation: 0,
    }
}

/// Client C1 booted at T0, and its first Acquire.
fn booted(c: &Config) -> (LeaseClient, ReqId) {
    let mut cl = LeaseClient::restore(c, c1(), &Disk::default(), T0);
    let id = first_acquire(&drain(&mut cl));
    (cl, id)
}

/// Delivers `msg` from the server and returns the outputs it caused.
fn deliver(cl: &mut LeaseClient, now: Nanos, msg: Msg) -> Vec<Output> {
    cl.handle_message(now, NodeId(0), msg);
    drain(cl)
}

/// The id of the first Acquire among `outs`.
fn first_acquire(outs: &[Output]) -> ReqId {
    sends(outs)
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Acquire { id, .. } => Some(id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Acquire in {outs:?}"))
}

/// The fencing rule, case by case: `fence(token, current)` delivered to a fresh `holder()`
/// of token 1 ends its grant exactly when the held token meets a newer current one, and
/// otherwise changes nothing at all.
fn assert_fences_only_newer(holder: impl Fn() -> LeaseClient, fence: impl Fn(u64, u64) -> Msg) {
    for (token, current, fenced) in [(1, 2, true), (1, 1, false), (1, 0, false), (2, 9, false)] {
        let mut cl = holder();
        let before = cl.clone();
        cl.handle_message(T0, NodeId(1), fence(token, current));
        let outs = drain(&mut cl);
        assert_eq!(
            cl.held_token().is_none(),
            fenced,
            "{token} against {current}"
        );
        if !fenced {
            assert!(cl == before && outs.is_empty(), "{token} against {current}");
        }
    }
}

/// Client C1, booted at T0 and granted token 1 for its first Acquire at once; the grant's
/// outputs are left to drain.
fn granted_client(c: &Config) -> LeaseClient {
    let mut cl = LeaseClient::restore(c, c1(), &Disk::default(), T0);
    drain(&mut cl);
    cl.handle_message(T0, NodeId(0), granted(Key(0), id(0, 1), Token(1)));
    cl
}

/// The expiry the server's events report for the key's current grant.
fn expiry_in(outs: &[Output]) -> Option<Nanos> {
    outs.iter().find_map(|o| match o {
        Output::Event(Event::Granted { expiry, .. } | Event::Renewed { expiry, .. }) => {
            Some(*expiry)
        }
        _ => None,
    })
}

// Message builders: a test names the message and its fields, not a struct literal.

fn acquire(key: Key, id: ReqId) -> Msg {
    Msg::Acquire { key, id }
}

fn granted(key: Key, id: ReqId, token: Token) -> Msg {
    Msg::Granted { key, id, token }
}

fn renewed(key: Key, id: ReqId, token: Token) -> Msg {
    Msg::Renewed { key, id, token }
}

fn release(key: Key, id: ReqId, token: Token) -> Msg {
    Msg::Release { key, id, token }
}
