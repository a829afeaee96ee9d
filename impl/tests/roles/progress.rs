//! Progress-based extension on the fair queue, and a stalled worker.

use super::*;

/// Progress-based extension on: TTL 10 s, renew every 1 s, a write every 500 ms, a 4 s
/// progress window, and the work of a tenure counted as 3 acknowledged writes.
fn progress_cfg() -> Config {
    ProtocolConfig {
        ttl_ms: 10_000,
        renew_interval_ms: 1_000,
        write_interval_ms: 500,
        progress_window_ms: 4_000,
        hold_writes: 3,
        ..Default::default()
    }
    .validate()
    .expect("a progress-window config is valid")
}

fn renew(seq: u64, acked: u32) -> Msg {
    Msg::Renew {
        key: Key(0),
        id: id(0, seq),
        token: Token(1),
        acked,
    }
}

/// A server at T0 that granted key 0 to C1 (token 1), its outputs drained.
fn server_granted_to_c1(c: &Config) -> LockServer {
    let mut s = LockServer::restore(c, Identity::default(), &Disk::default(), T0);
    drain(&mut s);
    s.handle_message(T0, C1, acquire(Key(0), id(0, 1)));
    drain(&mut s);
    s
}

#[test]
fn stalled_holder_is_not_extended_and_is_replaced_only_at_its_own_expiry() {
    let c = progress_cfg();
    let s_ = 1_000_000_000;
    let mut s = server_granted_to_c1(&c);
    // C2 waits behind C1 and keeps its entry fresh.
    let acquire2 = |seq| acquire(Key(0), id(0, seq));
    s.handle_message(T0, C2, acquire2(1));
    drain(&mut s);
    // Progress at 1 s (count 1): extended to 11 s. No new progress at 3 s, inside the
    // window: extended to 13 s.
    s.handle_message(T0.plus(s_), C1, renew(2, 1));
    assert_eq!(expiry_in(&drain(&mut s)), Some(T0.plus(11 * s_)));
    s.handle_message(T0.plus(3 * s_), C1, renew(3, 1));
    assert_eq!(expiry_in(&drain(&mut s)), Some(T0.plus(13 * s_)));
    // At 5 s the count has not risen for 4 s: withheld, and the grant is kept.
    s.handle_message(T0.plus(5 * s_), C1, renew(4, 1));
    let outs = drain(&mut s);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Event(Event::RenewalWithheld { .. }))),
        "{outs:?}"
    );
    assert!(
        sends(&outs).iter().any(|(to, m)| *to == C1
            && matches!(
                m,
                Msg::Refused {
                    reason: RefuseReason::Stalled,
                    ..
                }
            )),
        "{outs:?}"
    );
    assert_eq!(
        s.holder(Key(0)).map(|h| h.2),
        Some(T0.plus(13 * s_)),
        "refusing does not end the grant early"
    );
    // The stalled holder's Acquire is not a renewal any more: it queues.
    s.handle_message(T0.plus(5 * s_), C1, acquire(Key(0), id(0, 5)));
    let outs = drain(&mut s);
    assert!(
        sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Queued { .. })),
        "{outs:?}"
    );
    // C2 is still not granted just before the expiry, and is at it.
    let mut seq = 2;
    let mut t = T0.plus(s_);
    while t < T0.plus(13 * s_) {
        s.handle_message(t, C2, acquire2(seq));
        let outs = drain(&mut s);
        assert!(
            !sends(&outs)
                .iter()
                .any(|(to, m)| *to == C2 && matches!(m, Msg::Granted { .. })),
            "granted at {t} before the stalled grant expired"
        );
        seq += 1;
        t = t.plus(s_ / 2);
    }
    s.handle_timeout(T0.plus(13 * s_));
    let outs = drain(&mut s);
    assert!(
        sends(&outs)
            .iter()
            .any(|(to, m)| *to == C2 && matches!(m, Msg::Granted { .. })),
        "the next in line takes over at the expiry: {outs:?}"
    );
}

#[test]
fn progress_resumed_inside_the_window_keeps_the_lease() {
    let c = progress_cfg();
    let s_ = 1_000_000_000;
    let mut s = server_granted_to_c1(&c);
    for (seq, at, acked) in [(2, 3, 1), (3, 6, 2), (4, 9, 3)] {
        s.handle_message(T0.plus(at * s_), C1, renew(seq, acked));
        let outs = drain(&mut s);
        assert_eq!(
            expiry_in(&outs),
            Some(T0.plus((at + 10) * s_)),
            "a rising count inside the window is extended"
        );
    }
}

#[test]
fn stalled_worker_writes_nothing_but_renews_and_work_counts_acknowledged_writes() {
    let c = progress_cfg();
    let mut cl = granted_client(&c);
    let outs = drain(&mut cl);
    let first = sends(&outs)
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Write { idem, .. } => Some(idem),
            _ => None,
        })
        .expect("it writes at once");
    let ack = |idem| Msg::WriteAck {
        key: Key(0),
        token: Token(1),
        idem,
    };
    // The same ack twice counts once.
    cl.handle_message(T0, NodeId(1), ack(first));
    cl.handle_message(T0, NodeId(1), ack(first));
    cl.handle_stall(T0, true);
    assert!(cl.is_stalled());
    let _ = drain(&mut cl);
    let mut t = T0;
    let mut renews = Vec::new();
    for _ in 0..12 {
        t = cl.poll_timeout().expect("a holder has a deadline").0;
        cl.handle_timeout(t);
        assert!(cl.believes(t), "it keeps renewing, so stays valid at {t}");
        for (_, m) in sends(&drain(&mut cl)) {
            match m {
                Msg::Write { .. } => panic!("a stalled worker wrote at {t}"),
                Msg::Renew { id, acked, .. } => {
                    renews.push(acked);
                    cl.handle_message(t, NodeId(0), renewed(Key(0), id, Token(1)));
                }
                _ => {}
            }
        }
        // The contract: drain after every input before asking for the next deadline.
        let _ = drain(&mut cl);
    }
    assert!(renews.len() >= 3, "{renews:?}");
    assert!(
        renews.iter().all(|&a| a == 1),
        "the count stays: {renews:?}"
    );
    assert!(cl.held_token().is_some(), "a stalled holder keeps holding");
    // Resumed: it writes again, and releases once 3 writes were acknowledged in all.
    cl.handle_stall(t, false);
    let mut released = false;
    for _ in 0..40 {
        let mut fed = false;
        for (_, m) in sends(&drain(&mut cl)) {
            match m {
                Msg::Write { idem, .. } => {
                    cl.handle_message(t, NodeId(1), ack(idem));
                    fed = true;
                }
                Msg::Release { .. } => released = true,
                _ => {}
            }
        }
        if released {
            break;
        }
        if fed {
            continue; // drain what the acks caused before asking for the next deadline
        }
        t = cl.poll_timeout().expect("deadline").0;
        cl.handle_timeout(t);
    }
    assert!(
        released,
        "work counted in acknowledged writes ends the tenure"
    );
    assert_eq!(cl.held_token(), None);
}

#[test]
fn progress_window_must_exceed_a_report_interval() {
    let e = ProtocolConfig {
        renew_interval_ms: 1_000,
        write_interval_ms: 500,
        progress_window_ms: 1_500,
        ..Default::default()
    }
    .validate()
    .expect_err("a window no longer than renew + write intervals is refused");
    assert_eq!(e.field, "progress_window_ms");
    assert!(
        e.reason.contains("renew_interval_ms + write_interval_ms"),
        "{e}"
    );
}

#[test]
fn a_fresh_grant_has_a_whole_window_before_it_can_stall() {
    // No progress reported yet, a second after the grant: well inside the window.
    let c = progress_cfg();
    let mut s = server_granted_to_c1(&c);
    s.handle_message(T0.plus(1_000_000_000), C1, renew(2, 0));
    let outs = drain(&mut s);
    assert!(
        sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Renewed { .. })),
        "{outs:?}"
    );
}
