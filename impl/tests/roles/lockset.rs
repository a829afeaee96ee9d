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
