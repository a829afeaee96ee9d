//! Unit tests of each role in isolation: inputs in, outputs checked.

use leaseproof_impl::*;

fn cfg() -> Config {
    ProtocolConfig::default()
        .validate()
        .expect("defaults are valid")
}

fn drain<M: Machine>(m: &mut M) -> Vec<Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn sends(outs: &[Output]) -> Vec<(NodeId, Msg)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, msg } => Some((*to, *msg)),
            _ => None,
        })
        .collect()
}

const T0: Nanos = Nanos(3_600_000_000_000);
const C1: NodeId = NodeId(2);
const C2: NodeId = NodeId(3);

fn id(inc: u32, seq: u64) -> ReqId {
    ReqId {
        incarnation: inc,
        seq,
    }
}

/// Client C1, booted at T0 and granted token 1 for its first Acquire at once; the grant's
/// outputs are left to drain.
fn granted_client(c: &Config) -> LeaseClient {
    let me = Identity {
        node: C1,
        incarnation: 0,
    };
    let mut cl = LeaseClient::restore(c, me, &Disk::default(), T0);
    drain(&mut cl);
    cl.handle_message(
        T0,
        NodeId(0),
        Msg::Granted {
            key: Key(0),
            id: id(0, 1),
            token: Token(1),
        },
    );
    cl
}

#[test]
fn server_grants_free_key_and_persists_counter_before_sending() {
    let c = cfg();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut s);
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
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
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
    s.handle_message(
        T0,
        C2,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
    let outs = drain(&mut s);
    assert!(sends(&outs)
        .iter()
        .any(|(to, m)| *to == C2 && matches!(m, Msg::Queued { .. })));
    // The waiter re-sends within the fresh window, then the holder releases.
    let t1 = T0.plus(400_000_000);
    s.handle_message(
        t1,
        C2,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 2),
        },
    );
    s.handle_message(
        t1,
        C1,
        Msg::Release {
            key: Key(0),
            id: id(0, 2),
            token: Token(1),
        },
    );
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
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
    s.handle_message(
        T0,
        C2,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
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
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 5),
        },
    );
    drain(&mut s);
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 5),
        },
    );
    let again = sends(&drain(&mut s));
    assert_eq!(again.len(), 1);
    assert!(matches!(
        again[0].1,
        Msg::Granted {
            token: Token(1),
            ..
        }
    ));
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 4),
        },
    );
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
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
    assert!(sends(&drain(&mut s))
        .iter()
        .all(|(_, m)| matches!(m, Msg::Queued { .. })));
    // C1 keeps re-sending; at the end of grace it is granted token 8.
    let end = T0.plus(c.ttl_ns);
    s.handle_message(
        end.minus(100_000_000),
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 2),
        },
    );
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
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
    assert!(sends(&drain(&mut s))
        .iter()
        .any(|(_, m)| matches!(m, Msg::Granted { .. })));
}

#[test]
fn client_adopts_anchored_at_send_and_declines_late_reply() {
    let c = cfg();
    let me = Identity {
        node: C1,
        incarnation: 0,
    };
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
    cl.handle_message(
        rx,
        NodeId(0),
        Msg::Granted {
            key: Key(0),
            id: first,
            token: Token(1),
        },
    );
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
    late.handle_message(
        rx,
        NodeId(0),
        Msg::Granted {
            key: Key(0),
            id: first,
            token: Token(2),
        },
    );
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
        let me = Identity {
            node: C1,
            incarnation: 0,
        };
        let mut cl = LeaseClient::restore(&c, me, &Disk::default(), T0);
        drain(&mut cl);
        let rx = match expect {
            Some(d) => T0.plus(d),
            None => T0.plus(c.validity_ns + 1_000_000_000),
        };
        cl.handle_message(
            rx,
            NodeId(0),
            Msg::Granted {
                key: Key(0),
                id: id(0, 1),
                token: Token(1),
            },
        );
        assert_eq!(cl.valid_until(), Some(rx.plus(c.validity_ns)), "{variant}");
    }
}

#[test]
fn client_releases_old_attempt_grant_and_never_readopts_released_token() {
    let c = cfg();
    let me = Identity {
        node: C1,
        incarnation: 0,
    };
    let mut cl = LeaseClient::restore(&c, me, &Disk::default(), T0);
    drain(&mut cl);
    cl.handle_message(
        T0,
        NodeId(0),
        Msg::Granted {
            key: Key(0),
            id: id(0, 1),
            token: Token(3),
        },
    );
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
    cl.handle_message(
        done,
        NodeId(0),
        Msg::Renewed {
            key: Key(0),
            id: id(0, 2),
            token: Token(3),
        },
    );
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
fn validate_names_the_field_and_the_reason() {
    let cases: [(ProtocolConfig, &str); 7] = [
        (
            ProtocolConfig {
                ttl_ms: 0,
                ..Default::default()
            },
            "ttl_ms",
        ),
        (
            ProtocolConfig {
                renew_interval_ms: 10_000,
                ..Default::default()
            },
            "renew_interval_ms",
        ),
        (
            ProtocolConfig {
                drift_ppm_max: 1_000_000,
                ..Default::default()
            },
            "drift_ppm_max",
        ),
        (
            ProtocolConfig {
                requeue_interval_ms: 2_000,
                ..Default::default()
            },
            "requeue_interval_ms",
        ),
        (
            ProtocolConfig {
                safety_margin_ms: 20_000,
                ..Default::default()
            },
            "safety_margin_ms",
        ),
        (
            ProtocolConfig {
                backoff_base_ms: 0,
                ..Default::default()
            },
            "backoff_base_ms",
        ),
        (
            ProtocolConfig {
                fresh_window_ms: 9_990,
                ..Default::default()
            },
            "fresh_window_ms",
        ),
    ];
    for (p, field) in cases {
        let e = p.validate().expect_err(field);
        assert_eq!(e.field, field, "{e}");
        assert!(!e.reason.is_empty());
    }
}

#[test]
fn validity_formula_matches_design() {
    // ttl 10 s, ρ = 1000 ppm, margin 100 ms: L = 10 s · 0.999/1.001 − 100 ms.
    let c = cfg();
    let expected = (10_000_000_000u128 * 999_000 / 1_001_000) as u64 - 100_000_000;
    assert_eq!(c.validity_ns, expected);
    let ignored = ProtocolConfig {
        variant: Variant::DriftIgnored,
        ..Default::default()
    }
    .validate()
    .unwrap();
    assert_eq!(ignored.validity_ns, 10_000_000_000 - 100_000_000);
}

#[test]
fn every_variant_is_reachable_by_name() {
    for &v in Variant::ALL {
        assert_eq!(Variant::parse(v.name()), Ok(v));
        // The exactly-once variant needs a job list; the others run on any workload.
        let jobs = if v == Variant::NoIdempotency {
            Jobs {
                count: 2,
                poison: 0,
                attempts: 1,
            }
        } else {
            Jobs::NONE
        };
        let lock_keys = if v == Variant::LockOrderInversion {
            2
        } else {
            0
        };
        let p = ProtocolConfig {
            variant: v,
            jobs,
            lock_keys,
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap().variant, v);
    }
    let e = ProtocolConfig {
        variant: Variant::NoIdempotency,
        ..Default::default()
    }
    .validate()
    .expect_err("no-idempotency without jobs is refused");
    assert_eq!(e.field, "variant");
    assert!(Variant::parse("nope").unwrap_err().contains("no-fencing"));
}

#[test]
fn event_kinds_list_is_complete() {
    // Every variant (derived: a new one is iterated without being listed here), with both
    // values of the flags that change its kind, reports a kind in the list coverage
    // expectations are checked against; and every kind in the list is reported by one.
    use strum::IntoEnumIterator;
    let mut seen = std::collections::BTreeSet::new();
    for e in Event::iter() {
        let mut forms = vec![e];
        match e {
            Event::Adopted { .. } => forms.push(Event::Adopted {
                client: Identity::default(),
                key: Key(0),
                token: Token(1),
                first: true,
                slack_ns: 0,
                valid_for_ns: 0,
            }),
            Event::Granted { .. } => forms.push(Event::Granted {
                client: Identity::default(),
                key: Key(0),
                token: Token(1),
                expiry: Nanos(0),
                queued: true,
            }),
            _ => {}
        }
        for f in forms {
            assert!(
                Event::KINDS.contains(&f.kind()),
                "{} is not in KINDS",
                f.kind()
            );
            seen.insert(f.kind());
        }
    }
    let listed: std::collections::BTreeSet<_> = Event::KINDS.iter().copied().collect();
    assert_eq!(listed.len(), Event::KINDS.len(), "KINDS lists a kind twice");
    assert_eq!(seen, listed, "KINDS lists a kind no event reports");
}

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

/// The expiry the server's events report for the key's current grant.
fn expiry_in(outs: &[Output]) -> Option<Nanos> {
    outs.iter().find_map(|o| match o {
        Output::Event(Event::Granted { expiry, .. } | Event::Renewed { expiry, .. }) => {
            Some(*expiry)
        }
        _ => None,
    })
}

#[test]
fn tiered_server_grants_intent_then_full_lease_on_reported_progress() {
    let c = tiered();
    let mut s = LockServer::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut s);
    let acquire = Msg::Acquire {
        key: Key(0),
        id: id(0, 1),
    };
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
    cl.handle_message(
        t2,
        NodeId(0),
        Msg::Renewed {
            key: Key(0),
            id: id(0, seq),
            token: Token(1),
        },
    );
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
    s.handle_message(
        T0,
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 1),
        },
    );
    drain(&mut s);
    s
}

#[test]
fn stalled_holder_is_not_extended_and_is_replaced_only_at_its_own_expiry() {
    let c = progress_cfg();
    let s_ = 1_000_000_000;
    let mut s = server_granted_to_c1(&c);
    // C2 waits behind C1 and keeps its entry fresh.
    let acquire2 = |seq| Msg::Acquire {
        key: Key(0),
        id: id(0, seq),
    };
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
    s.handle_message(
        T0.plus(5 * s_),
        C1,
        Msg::Acquire {
            key: Key(0),
            id: id(0, 5),
        },
    );
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
                    cl.handle_message(
                        t,
                        NodeId(0),
                        Msg::Renewed {
                            key: Key(0),
                            id,
                            token: Token(1),
                        },
                    );
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

fn jobs_cfg(variant: Variant) -> Config {
    ProtocolConfig {
        variant,
        jobs: Jobs {
            count: 3,
            poison: 0b010, // job 1 can never be applied
            attempts: 2,
        },
        ..Default::default()
    }
    .validate()
    .expect("a job workload is valid")
}

fn apply(job: u32, seq: u64, token: u64) -> Msg {
    Msg::Apply {
        key: Key(0),
        token: Token(token),
        job: Job(job),
        idem: IdemKey {
            node: C1,
            incarnation: 0,
            seq,
        },
    }
}

fn outcome_of(outs: &[Output]) -> Option<JobOutcome> {
    sends(outs).into_iter().find_map(|(_, m)| match m {
        Msg::JobResult { outcome, .. } => Some(outcome),
        _ => None,
    })
}

#[test]
fn resource_applies_a_job_once_and_dead_letters_a_poison_job_after_its_budget() {
    let c = jobs_cfg(Variant::Correct);
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let mut disk = Disk::default();
    let mut step = |r: &mut FencedResource, from: NodeId, m: Msg| {
        r.handle_message(T0, from, m);
        let outs = drain(r);
        for o in &outs {
            if let Output::Persist(op) = o {
                disk.apply(*op);
            }
        }
        outcome_of(&outs)
    };
    assert_eq!(step(&mut r, C1, apply(0, 1, 1)), Some(JobOutcome::Applied));
    // A re-send of the same attempt, a new attempt, and another holder: the record answers.
    assert_eq!(
        step(&mut r, C1, apply(0, 1, 1)),
        Some(JobOutcome::AlreadyApplied)
    );
    assert_eq!(
        step(&mut r, C1, apply(0, 2, 1)),
        Some(JobOutcome::AlreadyApplied)
    );
    assert_eq!(
        step(&mut r, C2, apply(0, 9, 2)),
        Some(JobOutcome::AlreadyApplied)
    );
    // The poison job: a re-sent attempt (its answer was lost) is not counted again.
    let failed = |n| Some(JobOutcome::Failed { failures: n });
    assert_eq!(step(&mut r, C1, apply(1, 3, 1)), failed(1));
    assert_eq!(step(&mut r, C1, apply(1, 3, 1)), failed(1));
    assert_eq!(
        step(&mut r, C1, apply(1, 4, 1)),
        Some(JobOutcome::DeadLettered)
    );
    assert_eq!(
        step(&mut r, C1, apply(1, 5, 1)),
        Some(JobOutcome::DeadLettered)
    );
    // A stale token is fenced before anything is applied: a write of token 3 came first.
    step(
        &mut r,
        C2,
        Msg::Write {
            key: Key(0),
            token: Token(3),
            idem: IdemKey {
                node: C2,
                incarnation: 0,
                seq: 8,
            },
        },
    );
    assert_eq!(
        step(&mut r, C1, apply(2, 6, 1)),
        Some(JobOutcome::Fenced { current: Token(3) })
    );
    assert_eq!(step(&mut r, C2, apply(2, 10, 3)), Some(JobOutcome::Applied));
    assert_eq!(
        step(&mut r, C1, apply(2, 7, 1)),
        Some(JobOutcome::AlreadyApplied),
        "the record answers first"
    );
    // The records are durable: a restarted resource still answers from them.
    let mut r2 = FencedResource::restore(
        &c,
        Identity {
            node: NodeId(1),
            incarnation: 1,
        },
        &disk,
        T0,
    );
    drain(&mut r2);
    assert_eq!(r2.job(Job(0)), Some(JobRecord::Applied { token: Token(1) }));
    assert_eq!(
        r2.job(Job(1)),
        Some(JobRecord::DeadLettered { token: Token(1) })
    );
}

#[test]
fn resource_without_idempotency_keys_applies_a_resent_job_twice() {
    let c = jobs_cfg(Variant::NoIdempotency);
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let mut oracles = SafetyOracles::new();
    let mut found = Vec::new();
    for _ in 0..2 {
        r.handle_message(T0, C1, apply(0, 1, 1));
        for o in drain(&mut r) {
            if let Output::Event(e) = o {
                oracles.observe(T0, &e, &mut found);
            }
        }
    }
    assert!(
        matches!(
            found.as_slice(),
            [Violation::JobAppliedTwice { job: Job(0), .. }]
        ),
        "{found:?}"
    );
    assert!(oracles.tripped(OracleName::ExactlyOnce));
    assert!(
        oracles.unresolved_jobs(3).len() == 2,
        "jobs 1 and 2 are neither"
    );
}

#[test]
fn client_works_through_the_jobs_resending_an_unanswered_attempt_as_is() {
    let c = jobs_cfg(Variant::Correct);
    let mut cl = granted_client(&c);
    let first = sends(&drain(&mut cl));
    let attempt = |sent: &[(NodeId, Msg)]| {
        sent.iter().find_map(|(_, m)| match m {
            Msg::Apply { job, idem, .. } => Some((*job, *idem)),
            _ => None,
        })
    };
    let (job, idem) = attempt(&first).expect("it starts on the first job at once");
    assert_eq!(job, Job(0));
    // No answer: the same attempt goes again at the next write.
    let t = T0.plus(c.write_interval_ns);
    cl.handle_timeout(t);
    assert_eq!(attempt(&sends(&drain(&mut cl))), Some((Job(0), idem)));
    let result = |job, idem, outcome| Msg::JobResult {
        key: Key(0),
        token: Token(1),
        job,
        idem,
        outcome,
    };
    // Answered: on to job 1 at once, under a new attempt.
    cl.handle_message(t, NodeId(1), result(Job(0), idem, JobOutcome::Applied));
    let (job1, idem1) = attempt(&sends(&drain(&mut cl))).expect("next job at once");
    assert_eq!(job1, Job(1));
    assert_ne!(idem1, idem);
    // A definite rejection: the next try is a new attempt at the same job.
    cl.handle_message(
        t,
        NodeId(1),
        result(Job(1), idem1, JobOutcome::Failed { failures: 1 }),
    );
    let t2 = t.plus(c.write_interval_ns);
    cl.handle_timeout(t2);
    let (job1b, idem1b) = attempt(&sends(&drain(&mut cl))).expect("retried");
    assert_eq!(job1b, Job(1));
    assert_ne!(idem1b, idem1);
    cl.handle_message(
        t2,
        NodeId(1),
        result(Job(1), idem1b, JobOutcome::DeadLettered),
    );
    let (job2, idem2) = attempt(&sends(&drain(&mut cl))).expect("last job");
    assert_eq!(job2, Job(2));
    // The last job done: it releases and wants nothing more.
    cl.handle_message(
        t2,
        NodeId(1),
        result(Job(2), idem2, JobOutcome::AlreadyApplied),
    );
    let outs = sends(&drain(&mut cl));
    assert!(
        outs.iter().any(|(_, m)| matches!(m, Msg::Release { .. })),
        "{outs:?}"
    );
    assert_eq!(cl.held_token(), None);
    assert!(!cl.is_waiting());
    assert!(
        cl.poll_timeout()
            .is_none_or(|(_, why)| why == "release re-send"),
        "a client with every job done has nothing to do: {:?}",
        cl.poll_timeout()
    );
}

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
    let granted = |key, token| Msg::Granted {
        key,
        id: id(0, 1),
        token: Token(token),
    };
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
    let granted = |key, token| Msg::Granted {
        key,
        id: id(0, 1),
        token: Token(token),
    };
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
