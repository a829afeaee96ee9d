//! The lease client alone: anchoring at the send, late replies, releases, validity.

use super::*;

#[test]
fn client_adopts_anchored_at_send_and_declines_late_reply() {
    let c = cfg();
    let me = c1();
    let mut cl = LeaseClient::restore(&c, me, &Disk::default(), T0);
    let outs = drain(&mut cl);
    assert!(outs.contains(&Output::NeedJitter));
    let acquire = sends(&outs);
    let Msg::Acquire { id: first, .. } = acquire[0].1 else {
        panic!("first send is an Acquire: {outs:?}")
    };
    cl.handle_jitter(T0, Jitter { ppm: 0 });
    // The reply arrives 1 s after the send: validity is t_sent + L, not receipt + L.
    let rx = T0.plus(1_000_000_000);
    cl.handle_message(rx, NodeId(0), granted(Key(0), first, Token(1)));
    assert_eq!(cl.valid_until(), Some(T0.plus(c.validity_ns)));
    let outs = drain(&mut cl);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::WriteDecided { .. }))));

    // A second client gets its grant after t_sent + L: not adopted.
    let me2 = Identity {
        node: C2,
        incarnation: 0,
    };
    let mut late = LeaseClient::restore(&c, me2, &Disk::default(), T0);
    drain(&mut late);
    late.handle_jitter(T0, Jitter { ppm: 1_000_000 });
    let rx = T0.plus(c.validity_ns);
    late.handle_message(rx, NodeId(0), granted(Key(0), first, Token(2)));
    assert_eq!(late.valid_until(), None);
    let outs = drain(&mut late);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::LateReplyDeclined { .. }))));
    assert!(
        sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Acquire { .. })),
        "re-sends at once"
    );
    assert!(
        !sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Release { .. })),
        "not released"
    );
}

#[test]
fn client_variants_anchor_at_receipt_and_adopt_late() {
    for (variant, expect) in [
        (Variant::AnchorAtReceipt, Some(2_000_000_000u64)),
        (Variant::LateReplyAdopted, None),
    ] {
        let c = ProtocolConfig {
            variant,
            ..ProtocolConfig::default()
        }
        .validate()
        .unwrap();
        let me = c1();
        let mut cl = LeaseClient::restore(&c, me, &Disk::default(), T0);
        drain(&mut cl);
        let rx = match expect {
            Some(d) => T0.plus(d),
            None => T0.plus(c.validity_ns + 1_000_000_000),
        };
        cl.handle_message(rx, NodeId(0), granted(Key(0), id(0, 1), Token(1)));
        assert_eq!(cl.valid_until(), Some(rx.plus(c.validity_ns)), "{variant}");
    }
}

#[test]
fn client_releases_old_attempt_grant_and_never_readopts_released_token() {
    let c = cfg();
    let me = c1();
    let mut cl = LeaseClient::restore(&c, me, &Disk::default(), T0);
    drain(&mut cl);
    cl.handle_message(T0, NodeId(0), granted(Key(0), id(0, 1), Token(3)));
    drain(&mut cl);
    // Work done: release.
    let done = T0.plus(c.hold_ns);
    cl.handle_timeout(done);
    let outs = drain(&mut cl);
    assert!(sends(&outs).iter().any(|(_, m)| matches!(
        m,
        Msg::Release {
            token: Token(3),
            ..
        }
    )));
    // A late duplicate Renewed(3) for an id of the old attempt: released again, not adopted.
    cl.handle_message(done, NodeId(0), renewed(Key(0), id(0, 2), Token(3)));
    assert_eq!(cl.valid_until(), None);
    assert!(sends(&drain(&mut cl)).iter().all(|(_, m)| matches!(
        m,
        Msg::Release {
            token: Token(3),
            ..
        }
    )));
}

#[test]
fn client_stops_writing_when_validity_passes() {
    let c = cfg();
    let mut cl = granted_client(&c);
    drain(&mut cl);
    // Paused past its validity (no renewal answered): the first input after it reports loss.
    let late = T0.plus(c.validity_ns);
    cl.handle_timeout(late);
    let outs = drain(&mut cl);
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Lost {
            cause: LossCause::Expired,
            ..
        })
    )));
    assert!(!outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::WriteDecided { .. }))));
}
