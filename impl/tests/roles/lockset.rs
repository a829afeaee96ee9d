//! Lock sets: keys in one global order, and the inversion the deadlock oracle names.

use super::*;

fn lock_set_cfg(variant: Variant) -> Config {
    ProtocolConfig {
        variant,
        lock_keys: 2,
        ..Default::default()
    }
    .validate()
    .expect("a lock set is valid")
}

fn acquires(outs: &[Output]) -> Vec<Key> {
    sends(outs)
        .into_iter()
        .filter_map(|(_, m)| match m {
            Msg::Acquire { key, .. } => Some(key),
            _ => None,
        })
        .collect()
}

#[test]
fn lock_set_takes_keys_in_order_renews_while_waiting_and_writes_under_every_token() {
    let c = lock_set_cfg(Variant::Correct);
    let me = Identity {
        node: C2, // odd: the inversion would reverse it, the correct client does not
        incarnation: 0,
    };
    let mut cl = LockSetClient::restore(&c, me, T0);
    assert_eq!(cl.order(), &[Key(0), Key(1)]);
    assert_eq!(
        acquires(&drain(&mut cl)),
        vec![Key(0)],
        "the first key only"
    );
    let granted = |key, token| granted(key, id(0, 1), Token(token));
    cl.handle_message(T0, NodeId(0), granted(Key(0), 1));
    let outs = drain(&mut cl);
    assert_eq!(
        acquires(&outs),
        vec![Key(1)],
        "then the next, while holding the first"
    );
    assert!(!cl.working());
    // While it waits for key 1 it renews key 0.
    let t = T0.plus(c.renew_interval_ns);
    cl.handle_timeout(cl.poll_timeout().unwrap().0.max(t));
    let renewed: Vec<Key> = sends(&drain(&mut cl))
        .into_iter()
        .filter_map(|(_, m)| match m {
            Msg::Renew { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    assert!(renewed.contains(&Key(0)), "{renewed:?}");
    // Granted the second: it works, writing to both keys under their own tokens.
    cl.handle_message(t, NodeId(0), granted(Key(1), 2));
    let writes: Vec<(Key, Token)> = sends(&drain(&mut cl))
        .into_iter()
        .filter_map(|(_, m)| match m {
            Msg::Write { key, token, .. } => Some((key, token)),
            _ => None,
        })
        .collect();
    assert!(cl.working());
    assert_eq!(writes, vec![(Key(0), Token(1)), (Key(1), Token(2))]);
    // Its work done, it releases both.
    let end = t.plus(c.hold_ns);
    let mut released = Vec::new();
    let mut now = t;
    while now < end.plus(1) {
        now = cl.poll_timeout().unwrap().0;
        cl.handle_timeout(now);
        for (_, m) in sends(&drain(&mut cl)) {
            if let Msg::Release { key, .. } = m {
                released.push(key);
            }
        }
    }
    released.sort();
    released.dedup(); // unacknowledged releases are re-sent
    assert_eq!(released, vec![Key(0), Key(1)]);
    assert!(!cl.working());
}

#[test]
fn inverted_clients_form_a_wait_for_cycle_the_deadlock_oracle_names() {
    let c = lock_set_cfg(Variant::LockOrderInversion);
    let ids = [C1, C2].map(|node| Identity {
        node,
        incarnation: 0,
    });
    let mut a = LockSetClient::restore(&c, ids[0], T0);
    let mut b = LockSetClient::restore(&c, ids[1], T0);
    assert_eq!(
        b.order(),
        &[Key(1), Key(0)],
        "the odd client takes its own order"
    );
    let mut oracles = SafetyOracles::with_wait_for_graph();
    let mut found = Vec::new();
    let mut feed = |outs: Vec<Output>, found: &mut Vec<Violation>| {
        for o in outs {
            if let Output::Event(e) = o {
                oracles.observe(T0, &e, found);
            }
        }
    };
    feed(drain(&mut a), &mut found);
    feed(drain(&mut b), &mut found);
    let granted = |key, token| granted(key, id(0, 1), Token(token));
    a.handle_message(T0, NodeId(0), granted(Key(0), 1));
    feed(drain(&mut a), &mut found);
    b.handle_message(T0, NodeId(0), granted(Key(1), 2));
    feed(drain(&mut b), &mut found);
    assert!(found.is_empty(), "{found:?}");
    let v = oracles
        .deadlock(T0.plus(1), 0)
        .expect("each holds one key and waits for the other's");
    assert_eq!(v.oracle(), OracleName::Deadlock);
    let text = v.to_string();
    assert!(
        text.contains("n2 waits for k1 held by n3") && text.contains("n3 waits for k0 held by n2"),
        "{text}"
    );
    assert_eq!(
        text.matches(", ").count(),
        1,
        "two edges, one separator: {text}"
    );
    assert!(text.starts_with("deadlock: wait-for cycle since"), "{text}");
    assert!(
        !text.contains(": , ") && !text.contains("n3n3") && !text.contains("n2n2"),
        "{text}"
    );
    // Not before its bound.
    assert!(oracles.deadlock(T0.plus(1), 1_000_000_000).is_none());
    // The correct order: the second client waits for key 0 holding nothing, so no cycle.
    let c = lock_set_cfg(Variant::Correct);
    let mut a = LockSetClient::restore(&c, ids[0], T0);
    let mut b = LockSetClient::restore(&c, ids[1], T0);
    let mut oracles = SafetyOracles::with_wait_for_graph();
    for outs in [drain(&mut a), drain(&mut b)] {
        for o in outs {
            if let Output::Event(e) = o {
                oracles.observe(T0, &e, &mut found);
            }
        }
    }
    a.handle_message(T0, NodeId(0), granted(Key(0), 1));
    for o in drain(&mut a) {
        if let Output::Event(e) = o {
            oracles.observe(T0, &e, &mut found);
        }
    }
    assert!(oracles.deadlock(T0.plus(1), 0).is_none());
}

/// A correct lock-set client (hold 5 s, a write every second) granted both keys at T0: in
/// its critical section, its first writes drained.
fn working_set() -> (Config, LockSetClient) {
    let c = ProtocolConfig {
        lock_keys: 2,
        hold_ms: 5_000,
        ..Default::default()
    }
    .validate()
    .expect("a lock set is valid");
    let mut cl = LockSetClient::restore(&c, c1(), T0);
    drain(&mut cl);
    cl.handle_message(T0, NodeId(0), granted(Key(0), id(0, 1), Token(1)));
    drain(&mut cl);
    cl.handle_message(T0, NodeId(0), granted(Key(1), id(0, 1), Token(2)));
    drain(&mut cl);
    assert!(cl.working());
    (c, cl)
}

fn writes(outs: &[Output]) -> usize {
    sends(outs)
        .iter()
        .filter(|(_, m)| matches!(m, Msg::Write { .. }))
        .count()
}

#[test]
fn a_stalled_lock_set_stops_writing_and_resumes() {
    let (c, mut cl) = working_set();
    let next_write = T0.plus(c.write_interval_ns);
    assert_eq!(cl.poll_timeout(), Some((next_write, "write")));
    cl.handle_stall(T0, true);
    assert!(drain(&mut cl).is_empty());
    assert_ne!(cl.poll_timeout().map(|t| t.1), Some("write"));
    cl.handle_timeout(next_write);
    assert_eq!(writes(&drain(&mut cl)), 0, "no writes while stalled");
    cl.handle_stall(next_write, false);
    assert_eq!(
        writes(&drain(&mut cl)),
        2,
        "a resume catches up on both keys"
    );
}

#[test]
fn the_last_write_slot_is_the_end_of_the_work() {
    // Writes at 1..4 s; at 5 s the next write and the end of the hold coincide: the work is
    // done, nothing more is written.
    let (c, mut cl) = working_set();
    let end = T0.plus(c.hold_ns);
    let mut now = T0;
    for _ in 0..40 {
        let (t, why) = cl.poll_timeout().expect("working");
        if t == end {
            assert_eq!(why, "work done");
            break;
        }
        now = t;
        cl.handle_timeout(now);
        drain(&mut cl);
    }
    assert!(now < end);
    cl.handle_timeout(end);
    let outs = drain(&mut cl);
    assert_eq!(writes(&outs), 0, "{outs:?}");
    assert!(!cl.working());
}

#[test]
fn a_jitter_draw_goes_to_the_lease_that_asked() {
    let c = lock_set_cfg(Variant::Correct);
    let mut cl = LockSetClient::restore(&c, c1(), T0);
    assert!(drain(&mut cl)
        .iter()
        .any(|o| matches!(o, Output::NeedJitter)));
    assert_eq!(cl.poll_timeout(), None, "waiting for the draw");
    cl.handle_jitter(T0, Jitter { ppm: 0 });
    assert_eq!(
        cl.poll_timeout(),
        Some((T0.plus(c.backoff_base_ns), "acquire re-send"))
    );
}

#[test]
fn a_message_for_a_key_outside_the_set_changes_nothing() {
    let (_, mut cl) = working_set();
    let before = cl.clone();
    cl.handle_message(T0, NodeId(0), granted(Key(2), id(0, 1), Token(9)));
    assert!(drain(&mut cl).is_empty());
    assert!(cl == before);
}

#[test]
fn after_losing_a_key_the_set_rests_for_its_think_time() {
    let (c, mut cl) = working_set();
    // Key 0 is fenced: the set gives up both keys and rests.
    let rejected = Msg::WriteRejected {
        key: Key(0),
        token: Token(1),
        idem: idem_of(C1, 1),
        current: Token(5),
    };
    cl.handle_message(T0, NodeId(1), rejected);
    drain(&mut cl);
    assert!(!cl.working());
    let until = T0.plus(c.think_ns);
    cl.handle_message(
        until.minus(1),
        NodeId(0),
        granted(Key(2), id(0, 1), Token(9)),
    );
    assert!(acquires(&drain(&mut cl)).is_empty(), "still resting");
    cl.handle_message(until, NodeId(0), granted(Key(2), id(0, 1), Token(9)));
    assert_eq!(
        acquires(&drain(&mut cl)),
        vec![Key(0)],
        "then the first key again"
    );
}

#[test]
fn renaming_a_lock_set_renames_it_and_its_leases() {
    let (c, cl) = working_set();
    let mut cl = cl.remap_nodes(&|n| if n == C1 { C2 } else { n });
    // Its writes carry its (new) name and a fresh sequence number each.
    cl.handle_timeout(T0.plus(c.write_interval_ns));
    let idems: Vec<IdemKey> = sends(&drain(&mut cl))
        .into_iter()
        .filter_map(|(_, m)| match m {
            Msg::Write { idem, .. } => Some(idem),
            _ => None,
        })
        .collect();
    assert_eq!(idems.len(), 2);
    assert!(idems.iter().all(|i| i.node == C2), "{idems:?}");
    assert_eq!(idems[0].seq + 1, idems[1].seq, "{idems:?}");
    assert!(idems[0].seq > 2, "after the first two writes: {idems:?}");
    // Its leases renew under the new name too.
    cl.handle_timeout(T0.plus(c.renew_interval_ns));
    let renewers: Vec<Identity> = drain(&mut cl)
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(Event::RenewSent { client, .. }) => Some(client),
            _ => None,
        })
        .collect();
    assert!(!renewers.is_empty());
    assert!(renewers.iter().all(|c| c.node == C2), "{renewers:?}");
}
