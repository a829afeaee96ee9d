//! The fenced resource alone: stale tokens rejected, idempotency keys applied once.

use super::*;

#[test]
fn resource_fences_stale_tokens_and_applies_idempotency_key_once() {
    let c = cfg();
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let w = |node: u32, seq: u64, token: u64| Msg::Write {
        key: Key(0),
        token: Token(token),
        idem: IdemKey {
            node: NodeId(node),
            incarnation: 0,
            seq,
        },
    };
    r.handle_message(T0, C1, w(2, 1, 2));
    r.handle_message(T0, C2, w(3, 1, 1));
    let outs = drain(&mut r);
    assert!(sends(&outs).iter().any(|(to, m)| *to == C2
        && matches!(
            m,
            Msg::WriteRejected {
                current: Token(2),
                ..
            }
        )));
    r.handle_message(T0, C1, w(2, 1, 2));
    let outs = drain(&mut r);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::WriteRedelivered { .. }))));
    assert!(!outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::WriteAccepted { .. }))));
    // No fencing: the stale token is accepted.
    let bad = ProtocolConfig {
        variant: Variant::NoFencing,
        ..ProtocolConfig::default()
    }
    .validate()
    .unwrap();
    let mut r = FencedResource::restore(&bad, Identity::default(), &Disk::default(), T0);
    r.handle_message(T0, C1, w(2, 1, 2));
    r.handle_message(T0, C2, w(3, 1, 1));
    let accepted = drain(&mut r)
        .iter()
        .filter(|o| matches!(o, Output::Event(Event::WriteAccepted { .. })))
        .count();
    assert_eq!(accepted, 2);
}

#[test]
fn a_resource_booted_again_on_an_empty_disk_lost_its_table() {
    let c = cfg();
    let lost = |incarnation, disk: &Disk| {
        let id = Identity {
            node: NodeId::RESOURCE,
            incarnation,
        };
        let mut r = FencedResource::restore(&c, id, disk, T0);
        drain(&mut r).iter().find_map(|o| match o {
            Output::Event(Event::ResourceBooted { lost_table }) => Some(*lost_table),
            _ => None,
        })
    };
    let mut kept = Disk::default();
    kept.apply(PersistOp::Highest {
        key: Key(0),
        token: Token(3),
    });
    assert_eq!(lost(0, &Disk::default()), Some(false), "a first boot");
    assert_eq!(lost(1, &Disk::default()), Some(true));
    assert_eq!(lost(1, &kept), Some(false));
}

#[test]
fn the_resource_names_a_writer_by_the_node_it_heard_and_answers_last() {
    // The idempotency key claims C2; the write came from C1: C1 is the writer. Its answer
    // is the last output, and nothing is left after a drain.
    let c = cfg();
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let idem = IdemKey {
        node: C2,
        incarnation: 0,
        seq: 1,
    };
    r.handle_message(
        T0,
        C1,
        Msg::Write {
            key: Key(0),
            token: Token(1),
            idem,
        },
    );
    let outs = drain(&mut r);
    assert_eq!(r.poll_timeout(), None, "drained");
    let heard = IdemKey { node: C1, ..idem };
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::WriteAccepted { idem, .. }) if *idem == heard
    )));
    assert!(
        matches!(outs.last(), Some(Output::Send { to, msg: Msg::WriteAck { idem, .. } }) if *to == C1 && *idem == heard),
        "{outs:?}"
    );
}

#[test]
fn the_resource_keeps_the_last_64_answers_per_client_incarnation() {
    use leaseproof_impl::resource::IDEM_RECORDS_PER_CLIENT as KEPT;
    let c = cfg();
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let write = |r: &mut FencedResource, from: NodeId, seq: u64| {
        let idem = IdemKey {
            node: from,
            incarnation: 0,
            seq,
        };
        let key = Key(0);
        r.handle_message(
            T0,
            from,
            Msg::Write {
                key,
                token: Token(1),
                idem,
            },
        );
        drain(r)
            .into_iter()
            .filter_map(|o| match o {
                Output::Persist(PersistOp::Forget { idem }) => Some(idem.seq),
                _ => None,
            })
            .collect::<Vec<u64>>()
    };
    // Another client's answers count apart.
    for seq in 1..=10 {
        assert!(write(&mut r, C2, seq).is_empty());
    }
    for seq in 2..=KEPT as u64 + 1 {
        assert!(write(&mut r, C1, seq).is_empty(), "{seq} of {KEPT}");
    }
    // One more: the oldest goes, even when the newcomer is older than the rest.
    assert_eq!(write(&mut r, C1, 1), vec![1]);
    assert_eq!(write(&mut r, C1, KEPT as u64 + 2), vec![2]);
}
