//! `AnyNode`'s dispatch (which machine a role boots as, stalls reaching the clients) and
//! the oracles' names.

use super::*;

#[test]
fn a_client_boots_as_a_lease_client_or_a_lock_set() {
    let boot = |c: &Config| AnyNode::restore(RoleKind::Client, c, c1(), &Disk::default(), T0);
    let single = boot(&cfg());
    assert!(matches!(single, AnyNode::Client(_)));
    assert_eq!(single.as_client().map(LeaseClient::identity), Some(c1()));
    let set = ProtocolConfig {
        lock_keys: 2,
        ..Default::default()
    }
    .validate()
    .unwrap();
    let set = boot(&set);
    assert!(matches!(set, AnyNode::LockSet(_)));
    assert_eq!(set.kind(), RoleKind::Client);
    assert!(set.as_client().is_none());
}

#[test]
fn a_stall_reaches_the_client_behind_any_node() {
    let c = cfg();
    let mut node = AnyNode::Client(granted_client(&c));
    drain(&mut node);
    node.handle_stall(T0, true);
    drain(&mut node);
    node.handle_timeout(T0.plus(c.write_interval_ns));
    let outs = drain(&mut node);
    assert!(
        !sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Write { .. })),
        "{outs:?}"
    );
    let set = ProtocolConfig {
        lock_keys: 2,
        ..Default::default()
    }
    .validate()
    .unwrap();
    let mut node = AnyNode::restore(RoleKind::Client, &set, c1(), &Disk::default(), T0);
    drain(&mut node);
    node.handle_message(T0, NodeId(0), granted(Key(0), id(0, 1), Token(1)));
    node.handle_stall(T0, true);
    drain(&mut node);
    node.handle_message(T0, NodeId(0), granted(Key(1), id(0, 1), Token(2)));
    let outs = drain(&mut node);
    assert!(
        !sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Write { .. })),
        "a stalled lock set enters its section without writing: {outs:?}"
    );
}

#[test]
fn oracles_are_named_parsed_and_classed() {
    assert_eq!(OracleName::SingleHolder.name(), "single-holder");
    for o in OracleName::ALL {
        assert_eq!(OracleName::parse(o.name()), Ok(*o));
        assert_eq!(o.to_string(), o.name());
        assert_eq!(
            o.is_safety(),
            OracleName::SAFETY.contains(o) || OracleName::NAMED_ONLY.contains(o),
            "{}",
            o.name()
        );
    }
    assert!(!OracleName::Liveness.is_safety() && !OracleName::Deadlock.is_safety());
    assert_eq!(
        OracleName::parse("stale-write-accepted"),
        Ok(OracleName::StaleWriteAccepted)
    );
    assert_eq!(
        OracleName::parse("belief-exclusivity"),
        Ok(OracleName::BeliefExclusivity)
    );
    let e = OracleName::parse("nope").unwrap_err();
    assert!(e.contains("single-holder") && e.contains("\"nope\""), "{e}");
}

#[test]
fn every_event_reads_as_its_own_sentence() {
    use strum::IntoEnumIterator;
    let mut texts = std::collections::BTreeSet::new();
    // A booted client named as one (the default identity would read "server booted").
    let named = |e| match e {
        Event::ClientBooted { .. } => Event::ClientBooted { client: c1() },
        e => e,
    };
    for e in Event::iter().map(named) {
        let text = e.describe(T0);
        assert_ne!(text, e.kind(), "{e:?} has a sentence of its own");
        assert!(texts.insert(text.clone()), "{text:?} is told apart ({e:?})");
    }
}

#[test]
fn event_sentences_name_incarnations_instants_and_who_acted() {
    let later = Identity {
        node: C1,
        incarnation: 2,
    };
    assert_eq!(
        Event::Requested {
            client: later,
            key: Key(0)
        }
        .describe(T0),
        "client-0 (incarnation 2) wants key k0"
    );
    let granted = |expiry| Event::Granted {
        client: c1(),
        key: Key(0),
        token: Token(1),
        expiry,
        queued: false,
    };
    assert!(granted(T0.plus(5_000_000_000))
        .describe(T0)
        .contains("+5.000 s"));
    assert!(granted(T0.minus(1_000_000_000))
        .describe(T0)
        .contains("-1.000 s"));
    let boot = |restart| Event::ServerBooted {
        restart,
        grace_ns: 6_000_000_000,
    };
    assert_eq!(boot(false).describe(T0), "server booted");
    assert_eq!(
        boot(true).describe(T0),
        "server restarted: grace for 6.000 s"
    );
    let released = |by| Event::ReleasedAtServer {
        client: c1(),
        key: Key(0),
        token: Token(1),
        by,
    };
    assert_eq!(
        released(c1()).describe(T0),
        "client-0 released token 1 on key k0"
    );
    assert!(released(later).describe(T0).ends_with(" of client-0"));
    assert_eq!(
        Event::ResourceBooted { lost_table: true }.describe(T0),
        "resource booted with its table lost"
    );
}

#[test]
fn the_last_client_number_is_not_an_authority() {
    let last_client = NodeId(1 << 31);
    assert!(last_client.is_client() && !last_client.is_authority());
    assert_eq!(last_client.name(), format!("client-{}", (1u32 << 31) - 2));
    assert!(NodeId::authority(1).is_authority() && !NodeId::authority(1).is_client());
    assert_eq!(NodeId::authority(1).name(), "authority-1");
}

#[test]
fn instants_print_in_milliseconds() {
    assert_eq!(Nanos(1_500_000).as_ms_f64(), 1.5);
    assert_eq!(Nanos(2_000_123).to_string(), "2.000ms");
}

#[test]
fn identities_keys_jobs_and_messages_print_as_a_reader_writes_them() {
    let later = Identity {
        node: C1,
        incarnation: 2,
    };
    assert_eq!(later.to_string(), "n2.2");
    let idem = IdemKey {
        node: C1,
        incarnation: 2,
        seq: 7,
    };
    assert_eq!(idem.to_string(), "client-0#2.7");
    assert_eq!(idem.client(), later);
    assert_eq!(Job(3).to_string(), "job3");
    let msg = Msg::Queued {
        key: Key(0),
        id: id(0, 4),
    };
    assert_eq!(msg.kind(), "Queued");
    assert!(msg.to_string().starts_with("Queued k0"), "{msg}");
    // Renaming reaches the node inside an identity and a key.
    let f = |n: NodeId| if n == C1 { C2 } else { n };
    assert_eq!(later.remap_nodes(&f).node, C2);
    assert_eq!(later.remap_nodes(&f).incarnation, 2);
    assert_eq!(idem.remap_nodes(&f), IdemKey { node: C2, ..idem });
}

#[test]
fn verdicts_name_their_exit_codes_and_meanings() {
    use leaseproof_impl::verdict::Verdict;
    let codes: Vec<u8> = Verdict::ALL.iter().map(|v| v.exit_code()).collect();
    assert_eq!(codes, [0, 2, 3, 1, 1, 1, 5, 4], "{:?}", Verdict::ALL);
    for v in Verdict::ALL {
        assert_eq!(v.to_string(), v.name());
        assert!(!v.meaning().is_empty() && v.meaning() != "xyzzy");
    }
    assert_eq!(Verdict::Safety.name(), "safety");
    assert_eq!(Verdict::Pass.meaning(), "everything expected held");
    // The most severe verdict of each code; an unknown code ranks lowest.
    assert_eq!(Verdict::of_exit_code(1), Verdict::Safety);
    assert_eq!(Verdict::of_exit_code(3), Verdict::Liveness);
    assert_eq!(Verdict::of_exit_code(9), Verdict::Pass);
}
