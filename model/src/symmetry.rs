//! Symmetry: clients are interchangeable, so the model explores one canonical state per
//! orbit of client renamings (the quotient graph).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Every ordering of up to three clients, the identity first. A renaming's number (under
/// which every part keeps its renamed copy, see [`part`]) is its place in [`PERMS_3`]
/// less one, whatever the model's client count ([`renaming_number`]): a part may be
/// shared by models of two and of three clients (the step memo and the normal-form
/// rewrites are keyed by value), and its kept renamings must mean one thing.
pub(crate) const PERMS_2: &[[usize; 3]] = &[[0, 1, 2], [1, 0, 2]];
pub(crate) const PERMS_3: &[[usize; 3]] = &[
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// The number of a renaming other than the identity (see [`PERMS_3`]).
pub(crate) fn renaming_number(perm: &[usize; 3]) -> usize {
    PERMS_3
        .iter()
        .position(|p| p == perm)
        .expect("every ordering of three is listed")
        - 1
}

/// What renaming cannot change about client slot `i` (no node id in it): its clock, its
/// pending jitter draw, its next deadline and its token.
pub(crate) type ClientKey = (u8, u8, bool, Option<(Nanos, &'static str)>, Option<Token>);

pub(crate) fn client_key(s: &State, i: usize) -> ClientKey {
    let node = s.node(i);
    (
        s.offset[i],
        s.stepped[i],
        s.jitter[i],
        node.and_then(Machine::poll_timeout),
        node.and_then(AnyNode::as_client)
            .and_then(LeaseClient::held_token),
    )
}

/// The canonical representative of a state's orbit under client renamings: among the
/// renamings that put the clients' keys in slot order, the least in the order "kept hash,
/// then the whole state" (a total order, so every member of an orbit gives the same
/// representative: the set of key-sorted renamings is the same from each of them). The
/// keys cost nothing to permute, so only those renamings are built; keys tie rarely (for
/// about 1 % of the states at 2 clients), so one is usually left. The model explores
/// canonical states only, and a step from a canonical state mostly keeps the keys in
/// order, so that one is usually the identity: the state itself, returned untouched.
#[must_use]
pub fn canonical(s: State) -> State {
    let k = usize::from(s.n) - 2;
    debug_assert!(
        k <= MAX_CLIENTS,
        "renamings listed up to {MAX_CLIENTS} clients"
    );
    let perms = match k {
        2 => PERMS_2,
        3 => PERMS_3,
        _ => return s,
    };
    let keys: [Option<ClientKey>; MAX_CLIENTS] =
        std::array::from_fn(|c| (c < k).then(|| client_key(&s, c + 2)));
    // The clients in key order: slot j gets client `order[j]`. With no two keys equal that
    // is the one renaming that sorts them. Clients that tie on their key are told apart by
    // their nodes' blind hashes (renaming cannot change those either), computed only then.
    let blind = |c: usize| {
        s.nodes[c + 2]
            .as_ref()
            .map(|p| p.blind_hash(|node| node.remap_nodes(&one_client_name)))
    };
    let cmp = |a: usize, b: usize| keys[a].cmp(&keys[b]).then_with(|| blind(a).cmp(&blind(b)));
    let mut order = [0, 1, 2];
    order[..k].sort_unstable_by(|&a, &b| cmp(a, b));
    if (1..k).all(|j| cmp(order[j - 1], order[j]).is_ne()) {
        let mut perm = [0, 1, 2];
        for (slot, &c) in order[..k].iter().enumerate() {
            perm[c] = slot;
        }
        let t = perms
            .iter()
            .position(|p| p[..k] == perm[..k])
            .expect("every ordering is listed");
        return if t == 0 {
            s
        } else {
            rename(&s, renaming_number(&perm), &perm[..k])
        };
    }
    // Clients alike but for their names: every renaming that sorts the keys is a
    // candidate. The keys of the renamed state, slot by slot (client c moves to slot
    // perm[c]):
    let keys: [Option<(ClientKey, Option<u64>)>; MAX_CLIENTS] =
        std::array::from_fn(|c| keys[c].map(|key| (key, blind(c))));
    let permuted = |perm: &[usize; 3]| {
        let mut kk = [None; MAX_CLIENTS];
        for c in 0..k {
            kk[perm[c]] = keys[c];
        }
        kk
    };
    let least = perms
        .iter()
        .map(permuted)
        .min()
        .expect("the identity at least");
    let mut sorting = perms
        .iter()
        .enumerate()
        .filter(|(_, perm)| permuted(perm) == least);
    let (first, perm) = sorting.next().expect("one renaming sorts the keys");
    let mut best = if first == 0 {
        None
    } else {
        Some(rename(&s, renaming_number(perm), &perm[..k]))
    };
    for (_, perm) in sorting {
        let r = rename(&s, renaming_number(perm), &perm[..k]);
        let current = best.as_ref().unwrap_or(&s);
        if (r.hash, &r) < (current.hash, current) {
            best = Some(r);
        }
    }
    best.unwrap_or(s)
}

/// Every client named alike (the first client's name): what no renaming of clients can
/// change.
pub(crate) fn one_client_name(n: NodeId) -> NodeId {
    if n.is_client() {
        NodeId::client(0)
    } else {
        n
    }
}

/// Renames client `i` to client `perm[i]` everywhere in the state (renaming `number`).
pub(crate) fn rename(s: &State, number: usize, perm: &[usize]) -> State {
    let f = |n: NodeId| {
        let i = n.0 as usize;
        if i >= 2 && i - 2 < perm.len() {
            NodeId((perm[i - 2] + 2) as u32)
        } else {
            n
        }
    };
    let idx = |i: usize| f(NodeId(i as u32)).0 as usize;
    let part = |p: &Part<AnyNode>| p.renamed(number, |x| x.remap_nodes(&f));
    let mut r = State {
        nodes: Default::default(),
        seen: s.seen & (seen::CLIENT_HELD - 1),
        net: s
            .net
            .iter()
            .map(|(e, c)| {
                (
                    Envelope::new(
                        idx(usize::from(e.from)) as u8,
                        idx(usize::from(e.to)) as u8,
                        e.age,
                        e.msg.remap_nodes(&f),
                    ),
                    *c,
                )
            })
            .collect(),
        oracles: s.oracles.renamed(number, |o| o.remap_nodes(&f)),
        server_disk: s.server_disk.clone(),
        ..*s
    };
    r.net.sort_unstable_by_key(|(e, _)| *e);
    r.nodes[SERVER] = s.nodes[SERVER].as_ref().map(part);
    r.nodes[RESOURCE] = s.nodes[RESOURCE].as_ref().map(part);
    for i in 2..usize::from(s.n) {
        let j = idx(i);
        r.offset[j] = s.offset[i];
        r.stepped[j] = s.stepped[i];
        r.nodes[j] = s.nodes[i].as_ref().map(part);
        r.jitter[j] = s.jitter[i];
        r.paused[j] = s.paused[i];
        r.since_fast[j] = s.since_fast[i];
        r.waiting[j] = s.waiting[i];
        if s.seen & (seen::CLIENT_HELD << (i - 2)) != 0 {
            r.seen |= seen::CLIENT_HELD << (j - 2);
        }
    }
    r.seal();
    // The canonical form is sound only if a client's key is blind to names.
    if cfg!(debug_assertions) {
        for i in 2..usize::from(s.n) {
            assert_eq!(
                client_key(&r, idx(i)),
                client_key(s, i),
                "a client's key changed under renaming"
            );
        }
    }
    r
}
