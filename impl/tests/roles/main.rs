//! Unit tests of each role in isolation: inputs in, outputs checked. One module per role or
//! feature; the helpers and message builders they share are here.

mod client;
mod client_inputs;
mod config;
mod jobs;
mod lockset;
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

fn drain<M: Machine>(m: &mut M) -> Vec<Output> {
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

fn id(inc: u32, seq: u64) -> ReqId {
    ReqId {
        incarnation: inc,
        seq,
    }
}

/// Client C1, booted at T0 and granted token 1 for its first Acquire at once; the grant's
/// outputs are left to drain.
fn granted_client(c: &Config) -> LeaseClient {
    let me = Identity {
        node: C1,
        incarnation: 0,
    };
    let mut cl = LeaseClient::restore(c, me, &Disk::default(), T0);
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
