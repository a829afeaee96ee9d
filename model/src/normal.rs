//! Normalisation: states that behave alike are made one state, so that a check with no
//! time bound can close.
//!
//! **Time relative to now.** The core only adds durations to `now` and compares instants
//! ([`leaseproof_impl::Instants`]), so a closed check keeps every state's global time at
//! [`ANCHOR`] ticks: a tick shifts every instant back by one instead (messages in flight
//! keep ages, which are relative already). A bounded check (`--max-time`) keeps the true
//! time, which its horizon reads.
//!
//! **Clamping.** An instant further in the past than the largest duration it is ever
//! compared against (its bound, listed by each role next to its state) compares alike
//! with every `now + d` and every later instant, so it is moved to `now − bound − 1 tick`,
//! the latest such value: a paused client's long-due timer, a stale waiter's arrival, a
//! dead ghost grant's expiry. Clamping is decided against the global time, the slowest
//! clock: an instant in the past of the slowest clock is in the past of every clock.
//! `Nanos::MAX` ("never") is kept as it is.
//!
//! **Counters by rank.** Each rank domain ([`leaseproof_impl::Counter`]: all tokens of all
//! keys; the sequence numbers of one client incarnation) is ranked as a whole: its values
//! other than 0 are replaced by 1, 2, ... in their order, 0 kept ([`leaseproof_impl::
//! Counters`] says why that keeps behaviour; each role lists its members). Server
//! incarnations are not ranked: the crash budget bounds them, and clients never restart
//! in the model. The volatile-counter variant resets its counter, so its checks stay
//! bounded (a closed check refuses it).
//!
//! **Dead data.** In a network that does not duplicate, the resource's answered-write
//! records whose idempotency key is in no write in flight, and the server's per-client
//! records with no request at or below their id in flight, are dropped (the rules, and
//! why no later step can read what they drop, are next to the state they prune:
//! `FencedResource::forget_answers`, `LockServer::forget_records`). A duplicating network
//! keeps them. The oracles' ghost grants are already pruned at every grant, and a dead
//! one's expiry is clamped; dropping it earlier would turn a violation's reason from
//! "expired" or "released" into "unknown", so they stay.

#[allow(clippy::wildcard_imports)]
use super::*;
use leaseproof_impl::{
    Counter, Counters, FencedResource, IdemKey, Instants, Key, LockServer, ReqId, UNBOUNDED,
};
use std::cell::RefCell;
use std::thread::LocalKey;

/// One tick in the protocol's nanoseconds (the model's configs are in milliseconds).
pub const TICK_NS: u64 = 1_000_000;

/// A closed check's global time, in ticks: every state's `now`. Far enough from zero that
/// no instant a closed check keeps (at most the largest bound in the past) saturates.
pub const ANCHOR: u64 = 1 << 20;

/// Slots per thread in each rewrite table (as the step memo's, see [`crate::memo`]).
const SLOTS: usize = 1 << 8;

/// What decides a rewrite, besides the part's value (compared whole: a kept rewrite is
/// replayed only for an equal part and an equal key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RewriteKey {
    /// Shifted by this many ns, clamped at this global time (ns).
    Time(i128, u64),
    /// Ranked by these value sets.
    Rank(Domains),
    /// Dead data dropped: which records stay (a bit each, in the table's order), and how
    /// many records the table holds; [`RewriteKey::KeepMany`] past 64.
    Keep(u64, usize),
    KeepMany(Vec<bool>),
    /// A client's sends late by this local time (ns) forgotten.
    LateSends(u64),
}

/// One kept rewrite: a part, the rewrite's key, and what it became.
type Slot<T> = Option<(Part<T>, RewriteKey, Part<T>)>;
type Table<T> = RefCell<Vec<Slot<T>>>;

thread_local! {
    static NODES: Table<AnyNode> = RefCell::new((0..SLOTS).map(|_| None).collect());
    static ORACLES: Table<SafetyOracles> = RefCell::new((0..SLOTS).map(|_| None).collect());
    static DISKS: Table<Disk> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// A part with a rewrite table of its own.
trait Rewritten: Sized + 'static {
    fn table() -> &'static LocalKey<Table<Self>>;
}

impl Rewritten for AnyNode {
    fn table() -> &'static LocalKey<Table<Self>> {
        &NODES
    }
}

impl Rewritten for SafetyOracles {
    fn table() -> &'static LocalKey<Table<Self>> {
        &ORACLES
    }
}

impl Rewritten for Disk {
    fn table() -> &'static LocalKey<Table<Self>> {
        &DISKS
    }
}

/// The key of a dead-data rewrite: which records stay.
fn keep_key(keep: impl Iterator<Item = bool>) -> RewriteKey {
    let (mut mask, mut len, mut many) = (0u64, 0usize, Vec::new());
    for k in keep {
        if len < 64 {
            mask |= u64::from(k) << len;
        } else {
            if many.is_empty() {
                many = (0..64).map(|i| mask & (1 << i) != 0).collect();
            }
            many.push(k);
        }
        len += 1;
    }
    if len <= 64 {
        RewriteKey::Keep(mask, len)
    } else {
        RewriteKey::KeepMany(many)
    }
}

/// Rewrites a part by `f`, whose effect `key` decides (with the part's value), or replays
/// the same rewrite of an equal part: the result is then the part made the first time, so
/// equal normal forms share one part (with the renamings it keeps) and a rewrite costs a
/// lookup instead of a copy and a rehash.
fn rewrite<T: Rewritten + Clone + Hash + PartialEq>(
    part: &mut Part<T>,
    key: RewriteKey,
    f: impl FnOnce(&mut T),
) {
    let key_hash = part::hash_of(&key);
    rewrite_hashed(part, key, key_hash, f);
}

/// [`rewrite`] with the key's hash given (one ranking rewrites several parts by one key).
fn rewrite_hashed<T: Rewritten + Clone + Hash + PartialEq>(
    part: &mut Part<T>,
    key: RewriteKey,
    key_hash: u64,
    f: impl FnOnce(&mut T),
) {
    let h = part.kept_hash() ^ key_hash.rotate_left(29);
    let at = (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize;
    T::table().with_borrow_mut(|table| {
        if let Some((from, k, to)) = &table[at] {
            if *k == key && from == part {
                *part = to.clone();
                return;
            }
        }
        let from = part.clone();
        part.update(f);
        table[at] = Some((from, key, part.clone()));
    });
}

/// Where an instant of bound `bound` lands at global time `now_ns`, once shifted by
/// `shift_ns`.
fn normal_instant(t: Nanos, bound: u64, shift_ns: i128, now_ns: u64) -> Nanos {
    if t == Nanos::MAX {
        return t;
    }
    let t = Nanos((i128::from(t.0) + shift_ns).clamp(0, i128::from(u64::MAX)) as u64);
    if bound != UNBOUNDED && t.plus(bound) < Nanos(now_ns) {
        Nanos(now_ns).minus(bound).minus(TICK_NS)
    } else {
        t
    }
}

/// The earliest global time (ns) at which one of the value's instants needs clamping, or
/// `u64::MAX` if none ever will.
fn clamp_from<T: Instants + Clone>(value: &T) -> u64 {
    let mut earliest = u64::MAX;
    value.clone().map_instants(&mut |t, bound| {
        if t != Nanos::MAX && bound != UNBOUNDED {
            // Clamped once `t + bound < now`, so from `now = t + bound + 1`.
            earliest = earliest.min(t.plus(bound).0.saturating_add(1));
        }
        t
    });
    earliest
}

/// Normalises one part: shifted when `shift_ns` is not zero, else rewritten only if one of
/// its instants needs clamping (known without a walk once the part has been asked).
fn normalise_part<T: Instants + Rewritten + Clone + Hash + PartialEq>(
    part: &mut Part<T>,
    shift_ns: i128,
    now_ns: u64,
) {
    if shift_ns == 0 && part.derived(clamp_from) > now_ns {
        return;
    }
    rewrite(part, RewriteKey::Time(shift_ns, now_ns), |v| {
        v.map_instants(&mut |t, b| normal_instant(t, b, shift_ns, now_ns));
    });
}

/// A value's counters as bit sets per domain (see [`Domains`]), found by running its map
/// with a closure that keeps every value.
fn counters_of<T: Counters + Clone>(value: &T) -> Box<[(Counter, u64)]> {
    let mut d = Domains::default();
    value.clone().map_counters(&mut |c, v| {
        d.add(c, v);
        v
    });
    d.sets[..d.len].into()
}

/// A message's counters as bit sets (a token domain and at most one sequence domain).
pub(crate) fn message_counters(from: u8, to: u8, msg: &Msg) -> [(Counter, u64); 2] {
    let mut d = Domains::default();
    let _ = msg.mapped(client_end(from, to), &mut |c, v| {
        d.add(c, v);
        v
    });
    let mut out = [(Counter::Token, 0); 2];
    out[..d.len.min(2)].copy_from_slice(&d.sets[..d.len.min(2)]);
    out
}

/// The client at one end of a message's link ([`Msg::client_end`]).
fn client_end(from: u8, to: u8) -> NodeId {
    Msg::client_end(NodeId(u32::from(from)), NodeId(u32::from(to)))
}

/// The bit marking a value too large for a set: a state holding one is left unranked
/// (never at the bounds the checker accepts: counters stay small in a ranked model, where
/// a fresh value is the largest plus one; it would merely be less reduced).
const OVERFLOW: u64 = 1 << 63;

/// Most domains in one state: the tokens and one sequence domain per client incarnation.
const MAX_DOMAINS: usize = 8;

/// Each domain's values as a bit set (bit `v` for value `v`; 0 is a fixed point and left
/// out). A value's rank is how many of its domain's values lie in `1..=v`, so in a set
/// whose values are already 1, 2, ... (dense) nothing moves, and otherwise exactly the
/// values above the lowest gap move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Domains {
    sets: [(Counter, u64); MAX_DOMAINS],
    len: usize,
    /// [`NormalFault::RanksReversed`]: the largest value gets rank 1.
    reversed: bool,
    /// Sequence numbers are left as they are (lock sets, see [`LeaseModel::ranks_sequences`]).
    tokens_only: bool,
}

impl Default for Domains {
    fn default() -> Self {
        Domains {
            sets: [(Counter::Token, 0); MAX_DOMAINS],
            len: 0,
            reversed: false,
            tokens_only: false,
        }
    }
}

impl Domains {
    /// Adds a set of values of one domain (a value past 62 sets [`OVERFLOW`]; more than
    /// [`MAX_DOMAINS`] domains set it on the last).
    fn add_set(&mut self, d: Counter, bits: u64) {
        if bits == 0 || (self.tokens_only && d != Counter::Token) {
            return;
        }
        if let Some((_, set)) = self.sets[..self.len].iter_mut().find(|(e, _)| *e == d) {
            *set |= bits;
        } else if self.len < MAX_DOMAINS {
            self.sets[self.len] = (d, bits);
            self.len += 1;
        } else {
            self.sets[MAX_DOMAINS - 1].1 |= OVERFLOW;
        }
    }

    fn add(&mut self, d: Counter, v: u64) {
        match v {
            0 => {}
            1..=62 => self.add_set(d, 1 << v),
            _ => self.add_set(d, OVERFLOW),
        }
    }

    fn overflow(&self) -> bool {
        self.sets[..self.len]
            .iter()
            .any(|&(_, set)| set & OVERFLOW != 0)
    }

    /// The lowest value that moves in a domain (its lowest gap), or 63 if none does.
    fn first_move(set: u64) -> u32 {
        let gap = (!set & !1).trailing_zeros();
        let above = if gap >= 63 { 0 } else { set >> gap };
        if above == 0 {
            63
        } else {
            gap
        }
    }

    /// Whether nothing moves.
    fn dense(&self) -> bool {
        self.sets[..self.len]
            .iter()
            .all(|&(_, set)| Self::first_move(set) == 63)
    }

    fn set(&self, d: Counter) -> u64 {
        self.sets[..self.len]
            .iter()
            .find(|(e, _)| *e == d)
            .map_or(0, |&(_, set)| set)
    }

    fn rank(&self, d: Counter, v: u64) -> u64 {
        let set = self.set(d);
        // A value of a domain left out (0, too large, or not ranked) stays as it is.
        if v == 0 || v > 62 || set == 0 {
            return v;
        }
        if self.reversed {
            return u64::from((set & !((1u64 << v) - 1)).count_ones());
        }
        u64::from((set & ((1u64 << v) | ((1u64 << v) - 2))).count_ones())
    }

    /// Whether one of a part's counters (its sets) moves.
    fn touch(&self, sets: &[(Counter, u64)]) -> bool {
        if self.reversed {
            return !sets.is_empty();
        }
        sets.iter().any(|&(d, bits)| {
            let from = Self::first_move(self.set(d));
            from < 63 && bits >> from != 0
        })
    }
}

/// Rewrites a part's counters by rank, if one of them moves.
fn rank_part<T: Counters + Rewritten + Clone + Hash + PartialEq>(
    part: &mut Part<T>,
    moves: &Domains,
    key_hash: u64,
) {
    if moves.touch(part.counters(counters_of)) {
        rewrite_hashed(part, RewriteKey::Rank(*moves), key_hash, |v| {
            v.map_counters(&mut |d, x| moves.rank(d, x));
        });
    }
}

/// A deliberately wrong normalisation: the tests that check normalising keeps behaviour
/// must catch each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NormalFault {
    #[default]
    None,
    /// Ranks each domain in reverse order (breaks order preservation).
    RanksReversed,
    /// Drops every server record, live or not (prunes live data).
    DropsLiveRecords,
}

impl LeaseModel {
    /// Every normalisation, in order: dead data dropped, time relative to now and
    /// clamped, counters ranked. A state and its normal form behave alike.
    pub(crate) fn normalise(&self, s: &mut State) {
        if !self.normalising {
            return;
        }
        if self.fault == NormalFault::DropsLiveRecords {
            if let Some(part) = s.nodes[SERVER].as_mut() {
                part.update(|node| {
                    if let AnyNode::Server(srv) = node {
                        srv.forget_records(|_, _, _| false);
                    }
                });
            }
        }
        if !self.mc.duplicating {
            Self::drop_dead_data(s);
        }
        Self::drop_late_sends(s);
        self.normalise_time(s);
        if self.ranking() {
            Self::rank_counters(
                s,
                self.fault == NormalFault::RanksReversed,
                !self.ranks_sequences(),
            );
        }
    }

    /// A state's normal form (sealed): what this model explores in place of the state.
    #[must_use]
    pub fn normal_form(&self, s: &State) -> State {
        let mut n = s.clone();
        self.normalise(&mut n);
        n.seal();
        n
    }

    /// Whether sequence numbers are ranked: not in a lock set, whose client draws request
    /// ids per key and write keys from a third counter. Its sequence domains are then not
    /// one per client (ranking them together stays sound, as values of different counters
    /// are never compared, but gives no canonical form), and splitting them would need the
    /// key of every answered write, which the resource does not keep. Lock sets rank
    /// tokens only, so their sequence numbers grow and a closed check refuses them.
    #[must_use]
    pub fn ranks_sequences(&self) -> bool {
        !self.cfg.is_lock_set()
    }

    /// Whether counters are ranked: not where a counter can reset (the volatile-counter
    /// variant: a restarted server issues tokens below those still in the state).
    fn ranking(&self) -> bool {
        self.mc.variant != Variant::VolatileCounter
    }

    /// Drops the records no later step can read (see the module docs).
    fn drop_dead_data(s: &mut State) {
        let net = &s.net;
        let in_flight = || net.iter().map(|(e, _)| (NodeId(u32::from(e.from)), &e.msg));
        let requests =
            |n: NodeId, k: Key, id: ReqId| LockServer::record_live(in_flight(), n, k, id);
        let writes = |idem: IdemKey| FencedResource::answer_live(in_flight(), idem);
        if let Some(part) = s.nodes[SERVER].as_mut() {
            if let AnyNode::Server(srv) = &**part {
                if srv.records().any(|(n, k, id)| !requests(n, k, id)) {
                    let keep = keep_key(srv.records().map(|(n, k, id)| requests(n, k, id)));
                    rewrite(part, keep, |node| {
                        if let AnyNode::Server(srv) = node {
                            srv.forget_records(requests);
                        }
                    });
                }
            }
        }
        if let Some(part) = s.nodes[RESOURCE].as_mut() {
            if let AnyNode::Resource(r) = &**part {
                if r.answered().any(|i| !writes(i)) {
                    rewrite(part, keep_key(r.answered().map(writes)), |node| {
                        if let AnyNode::Resource(r) = node {
                            r.forget_answers(writes);
                        }
                    });
                }
            }
        }
    }

    /// Drops the clients' late sends (dead with or without duplication: a late answer is
    /// declined either way; `LeaseClient::forget_late`).
    fn drop_late_sends(s: &mut State) {
        for i in 2..usize::from(s.n) {
            let now = s.local(i);
            let Some(part) = s.nodes[i].as_mut() else {
                continue;
            };
            let late = match &**part {
                AnyNode::Client(c) => c.has_late_sends(now),
                AnyNode::LockSet(c) => c.has_late_sends(now),
                _ => false,
            };
            if late {
                rewrite(part, RewriteKey::LateSends(now.0), |node| match node {
                    AnyNode::Client(c) => c.forget_late(now),
                    AnyNode::LockSet(c) => c.forget_late(now),
                    _ => {}
                });
            }
        }
    }

    /// Ranks every counter domain of the state as a whole (see the module docs).
    fn rank_counters(s: &mut State, reversed: bool, tokens_only: bool) {
        let mut moves = Domains {
            tokens_only,
            ..Domains::default()
        };
        for part in s.nodes.iter().flatten() {
            for &(d, bits) in part.counters(counters_of) {
                moves.add_set(d, bits);
            }
        }
        for part in [
            s.server_disk.counters(counters_of),
            s.oracles.counters(counters_of),
        ] {
            for &(d, bits) in part {
                moves.add_set(d, bits);
            }
        }
        for (e, _) in &s.net {
            for (d, bits) in e.counters {
                moves.add_set(d, bits);
            }
        }
        if moves.overflow() || (moves.dense() && !reversed) {
            return;
        }
        moves.reversed = reversed;
        let key_hash = part::hash_of(&RewriteKey::Rank(moves));
        for part in s.nodes.iter_mut().flatten() {
            rank_part(part, &moves, key_hash);
        }
        rank_part(&mut s.server_disk, &moves, key_hash);
        rank_part(&mut s.oracles, &moves, key_hash);
        let mut rank = |d, v| moves.rank(d, v);
        let mut moved = false;
        // A message none of whose counters move (its kept sets say so) stays as it is.
        for (e, _) in s.net.iter_mut().filter(|(e, _)| moves.touch(&e.counters)) {
            let msg = e.msg.mapped(client_end(e.from, e.to), &mut rank);
            *e = Envelope::new(e.from, e.to, e.age, msg);
            moved = true;
        }
        if moved {
            s.net.sort_unstable_by_key(|(e, _)| *e);
        }
    }

    /// Stores time relative to now (closed checks) and clamps old instants (both).
    fn normalise_time(&self, s: &mut State) {
        let shift = if self.mc.closed {
            let shift = i128::from(ANCHOR) - i128::from(s.now);
            s.now = ANCHOR;
            shift
        } else {
            0
        };
        let shift_ns = shift * i128::from(TICK_NS);
        let now_ns = s.now * TICK_NS;
        for i in s.clocked() {
            if let Some(part) = s.nodes[i].as_mut() {
                normalise_part(part, shift_ns, now_ns);
            }
        }
        normalise_part(&mut s.oracles, shift_ns, now_ns);
    }

    /// Whether time may still advance: always in a closed check, before `--max-time` in a
    /// bounded one.
    pub(crate) fn before_horizon(&self, s: &State) -> bool {
        self.mc.closed || s.now < self.mc.max_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_is_clamped_only_past_its_bound() {
        let now = 10 * TICK_NS;
        let at = |ticks: u64| Nanos(ticks * TICK_NS);
        assert_eq!(
            normal_instant(at(7), 3 * TICK_NS, 0, now),
            at(7),
            "7 + 3 is not < 10"
        );
        assert_eq!(
            normal_instant(at(6), 3 * TICK_NS, 0, now),
            at(6),
            "6 is the floor"
        );
        assert_eq!(normal_instant(at(2), 3 * TICK_NS, 0, now), at(6));
        assert_eq!(normal_instant(at(9), 0, 0, now), at(9));
        assert_eq!(normal_instant(at(3), 0, 0, now), at(9), "a long-due timer");
        assert_eq!(
            normal_instant(Nanos::MAX, 0, 0, now),
            Nanos::MAX,
            "never stays never"
        );
        assert_eq!(
            normal_instant(at(1), UNBOUNDED, 0, now),
            at(1),
            "unbounded: kept"
        );
        let back = -2 * i128::from(TICK_NS);
        assert_eq!(normal_instant(at(14), 0, back, now), at(12), "shifted");
        assert_eq!(
            normal_instant(at(10), 0, back, now),
            at(9),
            "shifted, then clamped"
        );
    }
}
