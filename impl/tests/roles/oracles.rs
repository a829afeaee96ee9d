//! The oracles' own bookkeeping, fed events directly: the deadlock oracle's wait-for graph
//! (what forms a cycle, what breaks one, when its clock starts), trip marks, and the jobs a
//! settled run left unresolved.

use super::*;

const C3: NodeId = NodeId(4);

fn who(node: NodeId) -> Identity {
    Identity {
        node,
        incarnation: 0,
    }
}

fn adopted(node: NodeId, key: u32, token: u64) -> Event {
    Event::Adopted {
        client: who(node),
        key: Key(key),
        token: Token(token),
        first: true,
        slack_ns: 0,
        valid_for_ns: 1,
    }
}

fn requested(node: NodeId, key: u32) -> Event {
    Event::Requested {
        client: who(node),
        key: Key(key),
    }
}

fn feed(o: &mut SafetyOracles, now: Nanos, events: &[Event]) {
    let mut found = Vec::new(); // the grant oracles' verdicts on these bare events
    for e in events {
        o.observe(now, e, &mut found);
    }
}

/// C1 holds key 0 and waits for key 1; C2 holds key 1 and waits for key 0: a cycle since T0.
fn crossed() -> SafetyOracles {
    let mut o = SafetyOracles::with_wait_for_graph();
    feed(
        &mut o,
        T0,
        &[
            adopted(C1, 0, 1),
            adopted(C2, 1, 2),
            requested(C1, 1),
            requested(C2, 0),
        ],
    );
    o
}

fn cycle_since(o: &SafetyOracles, now: Nanos) -> Option<Nanos> {
    match o.deadlock(now, 0) {
        Some(Violation::Deadlock { since, .. }) => Some(since),
        _ => None,
    }
}

#[test]
fn a_deadlock_is_reported_from_exactly_its_bound() {
    let o = crossed();
    assert!(o.deadlock(T0.plus(4), 5).is_none());
    assert!(o.deadlock(T0.plus(5), 5).is_some());
}

#[test]
fn a_cycle_breaks_when_a_member_reboots_withdraws_or_lets_go_and_its_clock_restarts() {
    let let_go = |key: u32| {
        [
            Event::Lost {
                client: who(C1),
                key: Key(key),
                token: Token(1),
                cause: LossCause::Expired,
            },
            Event::ReleaseDecided {
                client: who(C1),
                key: Key(key),
                token: Token(1),
            },
            Event::ReleaseSent {
                client: who(C1),
                key: Key(key),
                token: Token(1),
            },
        ]
    };
    let mut breakers = vec![
        Event::ClientBooted { client: who(C1) },
        Event::Withdrawn {
            client: who(C1),
            key: Key(1),
        },
    ];
    breakers.extend(let_go(0));
    let later = T0.plus(10);
    for e in breakers {
        let mut o = crossed();
        assert_eq!(cycle_since(&o, later), Some(T0));
        feed(&mut o, later, &[e]);
        assert_eq!(cycle_since(&o, later), None, "{e:?}");
        // The cycle formed again: its clock starts at the new moment.
        let again = later.plus(10);
        feed(&mut o, again, &[adopted(C1, 0, 3), requested(C1, 1)]);
        assert_eq!(cycle_since(&o, again), Some(again), "{e:?}");
    }
    // Withdrawing a key it does not wait for, or letting go of a key it does not hold,
    // leaves the cycle as it was.
    let mut keep = vec![Event::Withdrawn {
        client: who(C1),
        key: Key(0),
    }];
    keep.extend(let_go(1));
    for e in keep {
        let mut o = crossed();
        feed(&mut o, later, &[e]);
        assert_eq!(cycle_since(&o, later), Some(T0), "{e:?}");
    }
}

#[test]
fn a_rebooted_waiter_holding_nothing_waits_no_more() {
    // C3 waits for key 0 (held by C1) and reboots. Had its wait stayed, C3 taking key 1
    // while C1 asks for it would close a cycle.
    let mut o = SafetyOracles::with_wait_for_graph();
    feed(
        &mut o,
        T0,
        &[
            adopted(C1, 0, 1),
            requested(C3, 0),
            Event::ClientBooted { client: who(C3) },
            adopted(C3, 1, 2),
            requested(C1, 1),
        ],
    );
    assert_eq!(cycle_since(&o, T0), None);
}

#[test]
fn trips_accumulate_per_oracle() {
    let mut o = SafetyOracles::new();
    assert!(!o.any_tripped());
    o.trip(&Violation::JobUnresolved { job: Job(0) });
    assert!(o.any_tripped() && o.tripped(OracleName::ExactlyOnce));
    assert!(!o.tripped(OracleName::SingleHolder));
    o.trip(&Violation::TokenNotRising {
        key: Key(0),
        token: Token(1),
        after: Token(2),
    });
    assert!(o.tripped(OracleName::ExactlyOnce) && o.tripped(OracleName::TokenMonotonic));
}

#[test]
fn a_job_applied_or_dead_lettered_is_resolved() {
    let mut o = SafetyOracles::new();
    feed(&mut o, T0, &[applied_job(0), dead_lettered(1)]);
    assert_eq!(
        o.unresolved_jobs(3),
        vec![Violation::JobUnresolved { job: Job(2) }]
    );
}

fn verdicts(o: &mut SafetyOracles, now: Nanos, e: &Event) -> Vec<OracleName> {
    let mut found = Vec::new();
    o.observe(now, e, &mut found);
    found.iter().map(Violation::oracle).collect()
}

/// C1's job `job` applied on key 0 under token 1.
fn applied_job(job: u32) -> Event {
    Event::JobApplied {
        client: c1(),
        key: Key(0),
        token: Token(1),
        job: Job(job),
    }
}

/// Job `job` dead-lettered on key 0 under C1's token 1.
fn dead_lettered(job: u32) -> Event {
    Event::JobDeadLettered {
        client: c1(),
        key: Key(0),
        token: Token(1),
        job: Job(job),
    }
}

/// Key 0's token 1 granted to C1 until T0 + 10 ns.
fn granted_c1() -> Event {
    Event::Granted {
        client: c1(),
        key: Key(0),
        token: Token(1),
        expiry: T0.plus(10),
        queued: false,
    }
}

/// `node` decides a write to key 0 under token 1.
fn write_by(node: NodeId) -> Event {
    Event::WriteDecided {
        client: who(node),
        key: Key(0),
        token: Token(1),
        idem: idem_of(node, 1),
    }
}

#[test]
fn a_write_is_contained_only_in_its_writers_live_grant() {
    let mut o = SafetyOracles::new();
    let granted = granted_c1();
    assert!(verdicts(&mut o, T0, &granted).is_empty());
    let write = write_by;
    assert!(verdicts(&mut o, T0.plus(9), &write(C1)).is_empty());
    let outside = vec![OracleName::LeaseContainment];
    assert_eq!(
        verdicts(&mut o, T0.plus(9), &write(C2)),
        outside,
        "another's grant"
    );
    assert_eq!(
        verdicts(&mut o, T0.plus(10), &write(C1)),
        outside,
        "expired"
    );
    assert!(o.tripped(OracleName::LeaseContainment));
}

#[test]
fn a_job_both_applied_and_dead_lettered_is_a_violation() {
    let mut o = SafetyOracles::new();
    let applied = applied_job(0);
    let dead = dead_lettered(0);
    assert!(verdicts(&mut o, T0, &applied).is_empty());
    assert_eq!(verdicts(&mut o, T0, &dead), vec![OracleName::ExactlyOnce]);
}

#[test]
fn a_grant_given_back_or_never_made_contains_no_write() {
    let write = write_by(C1);
    let outside = vec![OracleName::LeaseContainment];
    let mut o = SafetyOracles::new();
    assert_eq!(verdicts(&mut o, T0, &write), outside, "never granted");
    let granted = granted_c1();
    let released = Event::ReleaseSent {
        client: c1(),
        key: Key(0),
        token: Token(1),
    };
    let mut o = SafetyOracles::new();
    verdicts(&mut o, T0, &granted);
    verdicts(&mut o, T0, &released);
    assert_eq!(verdicts(&mut o, T0.plus(1), &write), outside, "released");
}

fn accepted(node: NodeId, token: u64) -> Event {
    Event::WriteAccepted {
        client: who(node),
        key: Key(0),
        token: Token(token),
        idem: idem_of(node, token),
    }
}

#[test]
fn the_resource_may_only_move_to_higher_tokens() {
    let mut o = SafetyOracles::new();
    assert!(verdicts(&mut o, T0, &accepted(C1, 1)).is_empty());
    assert!(
        verdicts(&mut o, T0, &accepted(C1, 1)).is_empty(),
        "the same holder again"
    );
    assert!(
        verdicts(&mut o, T0, &accepted(C2, 2)).is_empty(),
        "a newer token"
    );
    let fenced = vec![OracleName::FencedWrites];
    assert_eq!(
        verdicts(&mut o, T0, &accepted(C1, 1)),
        fenced,
        "back to the older"
    );
    assert_eq!(
        verdicts(&mut o, T0, &accepted(C3, 2)),
        fenced,
        "one token, two clients"
    );
}

#[test]
fn every_application_after_the_first_is_a_violation() {
    let mut o = SafetyOracles::new();
    let applied = applied_job(0);
    let once = vec![OracleName::ExactlyOnce];
    assert!(verdicts(&mut o, T0, &applied).is_empty());
    assert_eq!(verdicts(&mut o, T0, &applied), once);
    assert_eq!(verdicts(&mut o, T0, &applied), once);
}

#[test]
fn dead_lettering_alone_is_no_violation_and_counts_once() {
    let dead = dead_lettered;
    let mut o = SafetyOracles::new();
    assert!(verdicts(&mut o, T0, &dead(0)).is_empty());
    assert!(verdicts(&mut o, T0, &dead(0)).is_empty());
    assert_eq!(o.unresolved_jobs(1), vec![]);
    // Applied, then dead-lettered twice: one violation, for the first.
    let applied = applied_job(1);
    verdicts(&mut o, T0, &applied);
    assert_eq!(
        verdicts(&mut o, T0, &dead(1)),
        vec![OracleName::ExactlyOnce]
    );
    assert!(verdicts(&mut o, T0, &dead(1)).is_empty());
}

#[test]
fn the_liveness_and_tenure_bounds_follow_their_formulas() {
    let c = cfg(); // ttl 10 s, hold 6 s, requeue 0.5 s, backoff up to 5 s, ρ 1000 ppm
    let (delay, latency) = (100_000_000, 50_000_000);
    assert_eq!(tenure_bound_ns(&c, latency), 6_000_000_000, "the hold");
    // 0.1 + 10 + 10 (grace) + 2 × (6 + 0.1 + 0.5) + 5 = 38.3 s, × 1.001.
    assert_eq!(
        liveness_bound_ns_for(&c, delay, latency, 2, true),
        38_338_300_000
    );
    assert_eq!(
        liveness_bound_ns_for(&c, delay, latency, 0, false),
        15_115_100_000,
        "0.1 + 10 + 5 s, × 1.001"
    );
    let mut w = c;
    w.hold_writes = 3;
    assert_eq!(
        tenure_bound_ns(&w, latency),
        3_100_000_000,
        "3 writes and a round trip"
    );
    w.progress_window_ns = 5_000_000_000;
    assert_eq!(
        tenure_bound_ns(&w, latency),
        18_000_000_000,
        "window + renew + ttl"
    );
}

#[test]
fn the_jobs_settle_and_deadlock_bounds_follow_their_formulas() {
    let mut c = cfg();
    c.jobs = Jobs {
        count: 3,
        poison: 0,
        attempts: 2,
    };
    // The first in line: 0.1 + 10 + 1 × (6 + 0.1 + 0.5) + 5 = 21.7 s, × 1.001. Then 6
    // attempts of 1.1 s = 6.6 s over 6.6 / 6 + 1 = 2 tenures, each with a hand-over of
    // 10 + 1 + 0.5 + 0.1 = 11.6 s and a re-learning pass of 3 × 1.1 = 3.3 s: 36.4 s, × 1.001.
    assert_eq!(
        jobs_settle_bound_ns(&c, 100_000_000, 50_000_000, 2, false),
        21_721_700_000 + 36_436_400_000
    );
    // Two TTLs and a hold: 26 s, × 1.001.
    assert_eq!(deadlock_bound_ns(&cfg()), 26_026_000_000);
}

#[test]
fn a_waiter_at_heal_must_hold_by_its_deadline() {
    let mut l = Liveness::new();
    l.observe(&requested(C1, 0));
    l.observe(&requested(C2, 0));
    l.observe(&Event::Withdrawn {
        client: who(C2),
        key: Key(0),
    });
    assert!(l.all_served(), "no deadline before heal");
    l.heal(T0, 2, |ahead| 100 + ahead);
    assert_eq!(l.last_deadline(), Some(T0.plus(101)));
    assert!(!l.all_served());
    assert_eq!(l.check(T0.plus(100)), None);
    assert_eq!(
        l.check(T0.plus(101)),
        Some(Violation::NotServed {
            client: who(C1),
            key: Key(0),
            deadline: T0.plus(101),
        }),
        "only the waiter that did not withdraw"
    );
    l.observe(&adopted(C1, 0, 1));
    assert!(l.all_served());
    assert_eq!(l.check(T0.plus(500)), None);
    // A holder that loses its key waits again: a later heal gives it a deadline.
    l.observe(&Event::Lost {
        client: who(C1),
        key: Key(0),
        token: Token(1),
        cause: LossCause::Fenced,
    });
    l.heal(T0.plus(1_000), 1, |ahead| 7 + ahead);
    assert_eq!(l.last_deadline(), Some(T0.plus(1_007)));
}

#[test]
fn only_beliefs_that_end_later_overlap() {
    let k = Key(0);
    let mut b = BeliefOverlap::new();
    b.update(10, k, C1, Some(20));
    b.update(10, k, C2, Some(10)); // ends as it starts: no belief
    b.update(10, k, C3, Some(5)); // already over
    b.advance(30);
    assert_eq!((b.overlap_ns, b.episodes), (0, 0));
    let mut b = BeliefOverlap::new();
    b.update(10, k, C1, Some(20));
    b.update(10, k, C2, Some(15));
    b.advance(30);
    assert_eq!((b.overlap_ns, b.episodes), (5, 1));
    // Beliefs on two keys never overlap; a third on one of them does, from when it starts.
    let mut b = BeliefOverlap::new();
    b.update(10, Key(0), C1, Some(40));
    b.update(10, Key(1), C2, Some(40));
    b.advance(20);
    assert_eq!((b.overlap_ns, b.episodes), (0, 0));
    b.update(20, Key(1), C3, Some(25));
    b.advance(30);
    assert_eq!((b.overlap_ns, b.episodes), (5, 1));
    // A belief that starts as another ends is a hand-over, not an overlap.
    let mut b = BeliefOverlap::new();
    b.update(10, Key(0), C1, Some(20));
    b.advance(20);
    b.update(20, Key(0), C2, Some(30));
    b.advance(40);
    assert_eq!((b.overlap_ns, b.episodes), (0, 0));
}

#[test]
fn a_second_client_that_may_act_on_a_key_begins_a_belief_exclusivity_violation() {
    let mut a = ActingClients::default();
    assert_eq!(a.update(Key(0), C2, true), None);
    assert_eq!(a.update(Key(1), C1, true), None, "another key");
    assert_eq!(
        a.update(Key(0), C1, true),
        Some(Violation::BeliefsOverlap {
            key: Key(0),
            first: C1,
            second: C2
        })
    );
    // The same episode: the first two again, or a third, report nothing new.
    assert_eq!(a.update(Key(0), C1, true), None);
    assert_eq!(a.update(Key(0), C3, true), None);
    // One stops; the other two still may act, then one more leaves and one comes back.
    assert_eq!(a.update(Key(0), C3, false), None);
    assert_eq!(a.update(Key(0), C2, false), None);
    assert!(a.update(Key(0), C2, true).is_some(), "a new episode");
}

#[test]
fn renamed_oracles_know_the_grant_under_its_owners_new_name() {
    let mut o = SafetyOracles::new();
    let granted = granted_c1();
    verdicts(&mut o, T0, &granted);
    let mut o = o.remap_nodes(&|n| if n == C1 { C2 } else { n });
    let write = write_by;
    assert!(verdicts(&mut o, T0, &write(C2)).is_empty());
    assert_eq!(
        verdicts(&mut o, T0, &write(C1)),
        vec![OracleName::LeaseContainment]
    );
}
