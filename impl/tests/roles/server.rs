//! The lock server alone: grants, the fair queue, records, restarts and grace.

use super::*;

#[test]
fn server_grants_free_key_and_persists_counter_before_sending() {
    let c = cfg();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut s);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    let outs = drain(&mut s);
    let persist = outs
        .iter()
        .position(|o| matches!(o, Output::Persist(PersistOp::TokenCounter(1))))
        .expect("counter persisted");
    let grant = outs
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Send {
                    msg: Msg::Granted {
                        token: Token(1),
                        ..
                    },
                    ..
                }
            )
        })
        .expect("grant sent");
    assert!(persist < grant, "persist must precede the grant: {outs:?}");
    assert_eq!(s.holder(Key(0)).map(|h| h.1), Some(Token(1)));
}

#[test]
fn server_queues_second_client_and_hands_over_on_release() {
    let c = cfg();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    s.handle_message(T0, C2, acquire(Key(0), id(0, 1)));
    let outs = drain(&mut s);
    assert!(sends(&outs)
        .iter()
        .any(|(to, m)| *to == C2 && matches!(m, Msg::Queued { .. })));
    // The waiter re-sends within the fresh window, then the holder releases.
    let t1 = T0.plus(400_000_000);
    s.handle_message(t1, C2, acquire(Key(0), id(0, 2)));
    s.handle_message(t1, C1, release(Key(0), id(0, 2), Token(1)));
    let outs = drain(&mut s);
    let granted: Vec<_> = sends(&outs)
        .into_iter()
        .filter(|(to, m)| {
            *to == C2
                && matches!(
                    m,
                    Msg::Granted {
                        token: Token(2),
                        ..
                    }
                )
        })
        .collect();
    assert_eq!(granted.len(), 1, "{outs:?}");
    // The hand-over answers the waiter's latest Acquire id.
    assert!(matches!(
        granted[0].1,
        Msg::Granted {
            id: ReqId { seq: 2, .. },
            ..
        }
    ));
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Granted { queued: true, .. }))));
}

#[test]
fn server_drops_stale_waiter_and_refuses_non_holder_renew() {
    let c = cfg();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    s.handle_message(T0, C2, acquire(Key(0), id(0, 1)));
    drain(&mut s);
    // C2 never re-sends: by expiry its entry is stale and nobody is granted.
    let after = T0.plus(c.ttl_ns);
    s.handle_timeout(after);
    let outs = drain(&mut s);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Expired { .. }))));
    assert!(
        sends(&outs).is_empty(),
        "stale waiter must not be granted: {outs:?}"
    );
    assert_eq!(s.holder(Key(0)), None);
    // A renew from C2 with a made-up token is refused.
    s.handle_message(
        after,
        C2,
        Msg::Renew {
            key: Key(0),
            id: id(0, 2),
            token: Token(1),
            acked: 0,
        },
    );
    let outs = drain(&mut s);
    assert!(sends(&outs).iter().any(|(_, m)| matches!(
        m,
        Msg::Refused {
            reason: RefuseReason::NotHolder,
            ..
        }
    )));
}

#[test]
fn server_answers_repeat_from_record_and_drops_late_duplicates() {
    let c = cfg();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 5)));
    drain(&mut s);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 5)));
    let again = sends(&drain(&mut s));
    assert_eq!(again.len(), 1);
    assert!(matches!(
        again[0].1,
        Msg::Granted {
            token: Token(1),
            ..
        }
    ));
    s.handle_message(T0, C1, acquire(Key(0), id(0, 4)));
    assert!(drain(&mut s).is_empty(), "a lower id is a late duplicate");
}

#[test]
fn server_restart_waits_one_ttl_and_keeps_tokens_rising() {
    let c = cfg();
    let disk = Disk {
        token_counter: 7,
        ..Disk::default()
    };
    let restarted = Identity {
        node: NodeId(0),
        incarnation: 1,
    };
    let mut s = LockServer::restore(&c, restarted, &disk, T0);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    assert!(sends(&drain(&mut s))
        .iter()
        .all(|(_, m)| matches!(m, Msg::Queued { .. })));
    // C1 keeps re-sending; at the end of grace it is granted token 8.
    let end = T0.plus(c.ttl_ns);
    s.handle_message(end.minus(100_000_000), C1, acquire(Key(0), id(0, 2)));
    s.handle_timeout(end);
    let outs = drain(&mut s);
    assert!(
        sends(&outs).iter().any(|(_, m)| matches!(
            m,
            Msg::Granted {
                token: Token(8),
                ..
            }
        )),
        "{outs:?}"
    );
    // Without grace (the bug variant), the grant comes at once.
    let bad = ProtocolConfig {
        variant: Variant::NoRestartGrace,
        ..ProtocolConfig::default()
    }
    .validate()
    .unwrap();
    let mut s = LockServer::restore(&bad, restarted, &disk, T0);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    assert!(sends(&drain(&mut s))
        .iter()
        .any(|(_, m)| matches!(m, Msg::Granted { .. })));
}

/// A server booted at T0 with its boot outputs drained.
fn booted_server(c: &Config) -> LockServer {
    let mut s = LockServer::restore(c, Identity::default(), &Disk::default(), T0);
    drain(&mut s);
    s
}

#[test]
fn the_server_wakes_for_its_earliest_expiry_and_counts_its_queue() {
    let c = cfg();
    let mut s = booted_server(&c);
    assert_eq!(
        s.poll_timeout(),
        None,
        "nothing granted, nothing to wake for"
    );
    // The later key in the table expires first.
    s.handle_message(T0, C2, acquire(Key(1), id(0, 1)));
    s.handle_message(T0.plus(5), C1, acquire(Key(0), id(0, 1)));
    drain(&mut s);
    let first = s.holder(Key(1)).expect("granted").2;
    assert!(first < s.holder(Key(0)).expect("granted").2);
    assert_eq!(s.poll_timeout(), Some((first, "lease expiry")));
    assert_eq!(s.queue_len(Key(0)), 0);
    s.handle_message(T0.plus(5), C2, acquire(Key(0), id(0, 2)));
    drain(&mut s);
    assert_eq!(s.queue_len(Key(0)), 1);
    s.handle_message(T0, NodeId(4), acquire(Key(0), id(0, 1)));
    drain(&mut s);
    assert_eq!(s.queue_len(Key(0)), 2);
}

#[test]
fn without_a_progress_window_the_server_keeps_no_progress_time() {
    // A reported count that no mode reads leaves no trace of when it was reported (so the
    // model's states do not multiply by it): reported at 5 or at 10, then renewed at 10,
    // the two servers are the same.
    let c = cfg();
    let renew = |seq| Msg::Renew {
        key: Key(0),
        id: id(0, seq),
        token: Token(1),
        acked: 1,
    };
    let reported_at = |t: u64| {
        let mut s = booted_server(&c);
        s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
        s.handle_message(T0.plus(t), C1, renew(2));
        s.handle_message(T0.plus(10), C1, renew(3));
        drain(&mut s);
        s
    };
    let (early, late) = (reported_at(5), reported_at(10));
    assert!(early == late, "{early:?}\n{late:?}");
}

#[test]
fn grace_ends_at_exactly_its_deadline() {
    let c = cfg();
    let mut disk = Disk::default();
    disk.apply(PersistOp::TokenCounter(3));
    let restarted = Identity {
        node: NodeId::authority(0),
        incarnation: 1,
    };
    let mut s = LockServer::restore(&c, restarted, &disk, T0);
    drain(&mut s);
    let (end, why) = s
        .poll_timeout()
        .expect("a restarted server waits out its grace");
    assert_eq!(why, "grace ends");
    assert!(s.in_grace(T0) && s.in_grace(end.minus(1)));
    assert!(!s.in_grace(end));
}

/// A server at T0 that granted key 0 to C1 (token 1) and queued C2 behind it.
fn held_with_waiter(c: &Config) -> LockServer {
    let mut s = booted_server(c);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    s.handle_message(T0, C2, acquire(Key(0), id(0, 1)));
    drain(&mut s);
    s
}

fn granted_to(outs: &[Output]) -> Vec<NodeId> {
    sends(outs)
        .into_iter()
        .filter(|(_, m)| matches!(m, Msg::Granted { .. }))
        .map(|(to, _)| to)
        .collect()
}

#[test]
fn the_queue_holds_its_capacity_and_no_more() {
    let c = ProtocolConfig {
        queue_capacity: 2,
        ..Default::default()
    }
    .validate()
    .unwrap();
    let mut s = held_with_waiter(&c);
    s.handle_message(T0, NodeId(4), acquire(Key(0), id(0, 1)));
    let outs = drain(&mut s);
    assert!(sends(&outs)
        .iter()
        .any(|(_, m)| matches!(m, Msg::Queued { .. })));
    s.handle_message(T0, NodeId(5), acquire(Key(0), id(0, 1)));
    let outs = drain(&mut s);
    assert!(sends(&outs).iter().any(|(_, m)| matches!(
        m,
        Msg::Refused {
            reason: RefuseReason::QueueFull,
            ..
        }
    )));
    assert_eq!(s.queue_len(Key(0)), 2);
}

#[test]
fn only_the_holder_with_its_token_renews_and_only_before_expiry() {
    let c = cfg();
    let expiry = held_with_waiter(&c).holder(Key(0)).expect("held").2;
    let renew = |token| Msg::Renew {
        key: Key(0),
        id: id(0, 2),
        token: Token(token),
        acked: 0,
    };
    let answer = |now: Nanos, from: NodeId, token| {
        let mut s = held_with_waiter(&c);
        s.handle_message(now, from, renew(token));
        sends(&drain(&mut s))
            .into_iter()
            .find(|(to, _)| *to == from)
            .map(|(_, m)| m)
    };
    assert!(matches!(
        answer(expiry.minus(1), C1, 1),
        Some(Msg::Renewed { .. })
    ));
    for (now, from, token) in [(expiry, C1, 1), (T0, C2, 1), (T0, C1, 2)] {
        assert!(
            matches!(
                answer(now, from, token),
                Some(Msg::Refused {
                    reason: RefuseReason::NotHolder,
                    ..
                })
            ),
            "{from} token {token}"
        );
    }
}

#[test]
fn a_waiter_is_fresh_for_exactly_its_window() {
    let c = cfg();
    for (released_at, served) in [(c.fresh_window_ns - 1, true), (c.fresh_window_ns, false)] {
        let mut s = held_with_waiter(&c);
        s.handle_message(
            T0.plus(released_at),
            C1,
            release(Key(0), id(0, 2), Token(1)),
        );
        let outs = drain(&mut s);
        assert_eq!(granted_to(&outs) == vec![C2], served, "{outs:?}");
    }
}

#[test]
fn a_renamed_server_hands_over_to_the_renamed_waiter() {
    let c = cfg();
    let s = held_with_waiter(&c);
    let f = |n: NodeId| match n {
        C1 => NodeId(4),
        C2 => NodeId(5),
        n => n,
    };
    let mut s = s.remap_nodes(&f);
    assert_eq!(s.holder(Key(0)).map(|h| h.0.node), Some(NodeId(4)));
    s.handle_message(T0, NodeId(4), release(Key(0), id(0, 2), Token(1)));
    assert_eq!(granted_to(&drain(&mut s)), vec![NodeId(5)]);
}
