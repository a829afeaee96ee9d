//! The lease client's guards, input by input: which messages it takes (its own key, its
//! current attempt, its own tokens) and which change nothing; backoff jitter arithmetic;
//! stalls; the bounded re-sends of a release. Written against the survivors of a mutation
//! run (reports/mutants.md).

use super::*;

/// A lock set's key (a managed client) told to want its key at T0, and its Acquire.
fn wanting(c: &Config) -> (LeaseClient, ReqId) {
    let mut cl = LeaseClient::managed(c, c1(), Key(0));
    cl.want(T0);
    let id = first_acquire(&drain(&mut cl));
    (cl, id)
}

fn idem(seq: u64) -> IdemKey {
    IdemKey {
        node: C1,
        incarnation: 0,
        seq,
    }
}

#[test]
fn messages_for_another_key_change_nothing() {
    let c = cfg();
    let mut cl = granted_client(&c);
    drain(&mut cl);
    let other = Key(1);
    for msg in [
        granted(other, id(0, 1), Token(5)),
        renewed(other, id(0, 1), Token(1)),
        Msg::Queued {
            key: other,
            id: id(0, 1),
        },
        Msg::Refused {
            key: other,
            id: id(0, 1),
            token: Some(Token(1)),
            reason: RefuseReason::NotHolder,
        },
        Msg::Released {
            key: other,
            id: id(0, 1),
            token: Token(1),
        },
        Msg::WriteRejected {
            key: other,
            token: Token(1),
            idem: idem(2),
            current: Token(9),
        },
        Msg::JobResult {
            key: other,
            token: Token(1),
            job: Job(0),
            idem: idem(2),
            outcome: JobOutcome::Applied,
        },
    ] {
        let before = cl.clone();
        let outs = deliver(&mut cl, T0, msg);
        assert!(outs.is_empty(), "{msg:?} caused {outs:?}");
        assert!(cl == before, "{msg:?} changed the client");
    }
    // The same rejection on its own key ends the grant: the test above can fail.
    let outs = deliver(
        &mut cl,
        T0,
        Msg::WriteRejected {
            key: Key(0),
            token: Token(1),
            idem: idem(2),
            current: Token(9),
        },
    );
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Lost {
            cause: LossCause::Fenced,
            ..
        })
    )));
    assert_eq!(cl.held_token(), None);
}

#[test]
fn a_rejection_fences_only_a_newer_token_against_the_held_one() {
    let c = cfg();
    let holder = || {
        let mut cl = granted_client(&c);
        drain(&mut cl);
        cl
    };
    assert_fences_only_newer(holder, |token, current| Msg::WriteRejected {
        key: Key(0),
        token: Token(token),
        idem: idem(2),
        current: Token(current),
    });
}

#[test]
fn queued_requeues_only_the_current_attempt_while_acquiring() {
    let c = ProtocolConfig {
        requeue_interval_ms: 300,
        ..ProtocolConfig::default()
    }
    .validate()
    .unwrap();
    let (mut cl, first) = booted(&c);
    assert!(
        cl.awaiting_jitter(),
        "an unanswered Acquire asks for jitter"
    );
    cl.handle_jitter(T0, Jitter { ppm: 1_000_000 });
    assert!(!cl.awaiting_jitter());
    let backoff = cl.poll_timeout().unwrap();
    assert_eq!(backoff, (T0.plus(c.backoff_base_ns), "acquire re-send"));
    // A Queued for an id before this attempt changes nothing.
    let before = cl.clone();
    assert!(deliver(
        &mut cl,
        T0,
        Msg::Queued {
            key: Key(0),
            id: id(0, 0)
        }
    )
    .is_empty());
    assert!(cl == before);
    // For the current attempt: re-send every requeue interval, no backoff.
    deliver(
        &mut cl,
        T0,
        Msg::Queued {
            key: Key(0),
            id: first,
        },
    );
    assert_eq!(
        cl.poll_timeout(),
        Some((T0.plus(c.requeue_interval_ns), "acquire re-send"))
    );
    // While holding, a Queued (a late answer) changes nothing.
    let mut holder = granted_client(&c);
    drain(&mut holder);
    let before = holder.clone();
    assert!(deliver(
        &mut holder,
        T0,
        Msg::Queued {
            key: Key(0),
            id: id(0, 1)
        }
    )
    .is_empty());
    assert!(holder == before);
}

#[test]
fn jitter_draws_between_the_base_and_a_doubling_window() {
    let c = cfg();
    let base = c.backoff_base_ns;
    let (mut cl, _) = booted(&c);
    cl.handle_jitter(T0, Jitter { ppm: 0 });
    let (t1, _) = cl.poll_timeout().unwrap();
    assert_eq!(t1, T0.plus(base), "the least draw waits the base");
    // A jitter nobody asked for changes nothing.
    let before = cl.clone();
    cl.handle_jitter(T0, Jitter { ppm: 777 });
    assert!(cl == before);
    // No answer: re-send and draw again, in a window twice as wide.
    cl.handle_timeout(t1);
    assert!(drain(&mut cl).contains(&Output::NeedJitter));
    cl.handle_jitter(t1, Jitter { ppm: 500_000 });
    let (t2, _) = cl.poll_timeout().unwrap();
    assert_eq!(t2, t1.plus(base + base / 2), "halfway into [base, 2·base]");
    cl.handle_timeout(t2);
    drain(&mut cl);
    cl.handle_jitter(t2, Jitter { ppm: 1_000_000 });
    let (t3, _) = cl.poll_timeout().unwrap();
    assert_eq!(
        t3,
        t2.plus(4 * base),
        "the greatest draw waits the whole 4·base window"
    );
}

#[test]
fn a_stall_stops_writes_at_once_and_a_resume_catches_up() {
    let c = cfg();
    let mut cl = granted_client(&c);
    drain(&mut cl);
    assert!(!cl.is_stalled());
    cl.handle_stall(T0, true);
    assert!(cl.is_stalled());
    assert!(drain(&mut cl).is_empty(), "stalling acts on nothing");
    // The next write falls due while stalled; resuming there writes at once.
    let due = T0.plus(c.write_interval_ns);
    cl.handle_stall(due, false);
    assert!(!cl.is_stalled());
    let outs = drain(&mut cl);
    assert!(
        sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Write { .. })),
        "{outs:?}"
    );
}

#[test]
fn an_unanswered_release_is_re_sent_a_bounded_number_of_times() {
    let c = cfg();
    let mut cl = granted_client(&c);
    drain(&mut cl);
    let mut releases = 0;
    let mut t = T0;
    for _ in 0..200 {
        let Some((next, _)) = cl.poll_timeout() else {
            break;
        };
        t = next;
        cl.handle_timeout(t);
        for (_, m) in sends(&drain(&mut cl)) {
            match m {
                Msg::Release { .. } => releases += 1,
                // Keep its renewals answered so it works until its hold ends.
                Msg::Renew { id, token, .. } => {
                    cl.handle_message(t, NodeId(0), renewed(Key(0), id, token))
                }
                _ => {}
            }
        }
        drain(&mut cl);
        if cl.held_token().is_none()
            && releases > 0
            && cl
                .poll_timeout()
                .is_some_and(|(_, why)| why == "think ends")
        {
            break;
        }
    }
    assert_eq!(
        releases, 4,
        "the release and its 3 re-sends, no more (at {t})"
    );
}

#[test]
fn released_clears_only_its_own_pending_release() {
    let c = cfg();
    let mut cl = granted_client(&c);
    drain(&mut cl);
    // Work done: the holder releases token 1 and keeps re-sending until answered.
    let done = T0.plus(c.hold_ns);
    let mut t = T0;
    while t < done {
        let (next, _) = cl.poll_timeout().unwrap();
        t = next.min(done);
        cl.handle_timeout(t);
        for (_, m) in sends(&drain(&mut cl)) {
            if let Msg::Renew { id, token, .. } = m {
                cl.handle_message(t, NodeId(0), renewed(Key(0), id, token));
            }
        }
        drain(&mut cl);
    }
    assert_eq!(cl.held_token(), None, "released at the end of its work");
    assert_eq!(cl.poll_timeout().map(|p| p.1), Some("release re-send"));
    let before = cl.clone();
    let other = Msg::Released {
        key: Key(0),
        id: id(0, 99),
        token: Token(2),
    };
    assert!(deliver(&mut cl, t, other).is_empty());
    assert!(
        cl == before,
        "an answer for another token leaves the release pending"
    );
    let mine = Msg::Released {
        key: Key(0),
        id: id(0, 99),
        token: Token(1),
    };
    deliver(&mut cl, t, mine);
    assert_ne!(
        cl.poll_timeout().map(|p| p.1),
        Some("release re-send"),
        "answered: no more re-sends"
    );
}

#[test]
fn a_refusal_of_its_own_held_token_ends_the_belief() {
    let c = cfg();
    let mut cl = granted_client(&c);
    drain(&mut cl);
    let refused = |token| Msg::Refused {
        key: Key(0),
        id: id(0, 1),
        token: Some(Token(token)),
        reason: RefuseReason::NotHolder,
    };
    // A refusal naming another token changes nothing.
    let before = cl.clone();
    assert!(deliver(&mut cl, T0, refused(7)).is_empty());
    assert!(cl == before);
    let outs = deliver(&mut cl, T0, refused(1));
    assert_eq!(cl.held_token(), None);
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Lost {
            cause: LossCause::Refused,
            ..
        })
    )));
}

#[test]
fn a_key_given_up_before_its_grant_gives_the_grant_back() {
    // A lock set's key: wanted, then given up while its Acquire is in flight. The grant
    // that still answers it belongs to an attempt that is over: it is released at once,
    // never adopted.
    let c = cfg();
    let (mut cl, asked) = wanting(&c);
    cl.give_up(T0);
    drain(&mut cl);
    assert!(!cl.awaiting_jitter(), "an idle key draws no jitter");
    let outs = deliver(&mut cl, T0, granted(Key(0), asked, Token(1)));
    assert_eq!(cl.held_token(), None, "not adopted");
    assert!(
        sends(&outs).iter().any(|(_, m)| matches!(
            m,
            Msg::Release {
                token: Token(1),
                ..
            }
        )),
        "given back: {outs:?}"
    );
}

/// C1 booted at T0 and granted `token` for its first Acquire.
fn holding(c: &Config, token: u64) -> LeaseClient {
    let (mut cl, first) = booted(c);
    deliver(&mut cl, T0, granted(Key(0), first, Token(token)));
    cl
}

fn adopted(outs: &[Output]) -> Option<bool> {
    outs.iter().find_map(|o| match o {
        Output::Event(Event::Adopted { first, .. }) => Some(*first),
        _ => None,
    })
}

#[test]
fn a_renewal_of_the_held_token_extends_and_an_older_token_is_ignored() {
    let c = cfg();
    let later = T0.plus(10_000_000);
    // The same token again for the current attempt: a confirmed renewal, not a new grant.
    let mut cl = holding(&c, 1);
    let outs = deliver(&mut cl, later, renewed(Key(0), id(0, 1), Token(1)));
    assert_eq!(adopted(&outs), Some(false), "{outs:?}");
    // Holding token 2, an answer naming token 1 is an older grant: nothing changes hands.
    let mut cl = holding(&c, 2);
    let valid = cl.valid_until();
    let outs = deliver(&mut cl, later, renewed(Key(0), id(0, 1), Token(1)));
    assert_eq!(adopted(&outs), None, "{outs:?}");
    assert_eq!(cl.held_token(), Some(Token(2)));
    assert_eq!(cl.valid_until(), valid);
}

#[test]
fn a_grant_for_a_token_given_back_is_released_once_and_requeues() {
    let c = cfg();
    let (mut cl, asked) = wanting(&c);
    deliver(&mut cl, T0, granted(Key(0), asked, Token(1)));
    cl.give_up(T0);
    let outs = drain(&mut cl);
    assert!(sends(&outs).iter().any(|(_, m)| matches!(
        m,
        Msg::Release {
            token: Token(1),
            ..
        }
    )));
    // A late answer for token 1: its release is already pending, so no second Release.
    let outs = deliver(&mut cl, T0, renewed(Key(0), asked, Token(1)));
    assert!(
        !sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Release { .. })),
        "{outs:?}"
    );
    // The server confirms the release; wanted again, a grant of the given-back token for
    // the new attempt is not adopted: the client re-queues (re-sends every requeue
    // interval).
    deliver(
        &mut cl,
        T0,
        Msg::Released {
            key: Key(0),
            id: asked,
            token: Token(1),
        },
    );
    cl.want(T0);
    let again = first_acquire(&drain(&mut cl));
    let outs = deliver(&mut cl, T0, granted(Key(0), again, Token(1)));
    assert_eq!(cl.held_token(), None);
    assert!(
        sends(&outs).iter().any(|(_, m)| matches!(
            m,
            Msg::Release {
                token: Token(1),
                ..
            }
        )),
        "given back again, so the server knows: {outs:?}"
    );
    deliver(
        &mut cl,
        T0,
        Msg::Released {
            key: Key(0),
            id: again,
            token: Token(1),
        },
    );
    assert_eq!(
        cl.poll_timeout(),
        Some((T0.plus(c.requeue_interval_ns), "acquire re-send"))
    );
}
