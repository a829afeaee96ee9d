//! Tiered leases: an intent tier until the first acknowledged write is reported.

use super::*;

fn tiered() -> Config {
    ProtocolConfig {
        ttl_ms: 10_000,
        intent_ms: 3_000,
        renew_interval_ms: 1_000,
        ..Default::default()
    }
    .validate()
    .expect("a tiered config is valid")
}

#[test]
fn tiered_server_grants_intent_then_full_lease_on_reported_progress() {
    let c = tiered();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut s);
    let acquire = acquire(Key(0), id(0, 1));
    s.handle_message(T0, C1, acquire);
    let granted = expiry_in(&drain(&mut s)).expect("granted");
    assert_eq!(granted, T0.plus(3_000_000_000), "an intent lease first");
    let s_ = 1_000_000_000;
    for (at_s, seq, acked, extension, why) in [
        (
            1,
            2,
            0,
            3 * s_,
            "no progress: extended by the intent tier only",
        ),
        (2, 3, 1, 10 * s_, "progress reported: the full lease"),
        (
            3,
            4,
            1,
            10 * s_,
            "once proven, every renewal extends by the full lease",
        ),
    ] {
        let t = T0.plus(at_s * s_);
        s.handle_message(
            t,
            C1,
            Msg::Renew {
                key: Key(0),
                id: id(0, seq),
                token: Token(1),
                acked,
            },
        );
        assert_eq!(expiry_in(&drain(&mut s)), Some(t.plus(extension)), "{why}");
    }
}

#[test]
fn tiered_client_trusts_the_intent_span_until_a_write_is_acknowledged() {
    let c = tiered();
    let mut cl = granted_client(&c);
    let outs = drain(&mut cl);
    assert_eq!(cl.valid_until(), Some(T0.plus(c.intent_validity_ns)));
    let write = sends(&outs)
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Write { idem, .. } => Some(idem),
            _ => None,
        })
        .expect("it writes at once");
    // Before any ack, a renewal reports no progress.
    let t1 = T0.plus(c.renew_interval_ns);
    cl.handle_timeout(t1);
    let renew = sends(&drain(&mut cl))
        .into_iter()
        .find_map(|(_, m)| matches!(m, Msg::Renew { .. }).then_some(m));
    assert!(
        matches!(renew, Some(Msg::Renew { acked: 0, .. })),
        "{renew:?}"
    );
    cl.handle_message(
        t1,
        NodeId(1),
        Msg::WriteAck {
            key: Key(0),
            token: Token(1),
            idem: write,
        },
    );
    let t2 = t1.plus(c.renew_interval_ns);
    cl.handle_timeout(t2);
    let (seq, progress) = sends(&drain(&mut cl))
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Renew { id, acked, .. } => Some((id.seq, acked)),
            _ => None,
        })
        .expect("a renewal");
    assert_eq!(progress, 1, "after an ack the renewal reports it");
    cl.handle_message(t2, NodeId(0), renewed(Key(0), id(0, seq), Token(1)));
    assert_eq!(
        cl.valid_until(),
        Some(t2.plus(c.validity_ns)),
        "its answer is trusted for the full span"
    );
}

#[test]
fn tier_lengths_are_checked_against_the_lease_and_the_renew_interval() {
    for (intent, why) in [
        (10_000, "shorter than the full lease"),
        (500, "first renewal"),
    ] {
        let e = ProtocolConfig {
            ttl_ms: 10_000,
            intent_ms: intent,
            renew_interval_ms: 1_000,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "intent_ms");
        assert!(e.reason.contains(why), "{}", e.reason);
    }
}
