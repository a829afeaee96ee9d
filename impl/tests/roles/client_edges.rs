//! The lease client's edges the second mutation run found untested (reports/mutants.md):
//! the requeue cadence while the server answers and the back-off once it stops; how many
//! sends it remembers; refusals while acquiring; a late reply while holding; a newer token
//! replacing the held one; timeouts that come early; the acts-after-loss variant's timing;
//! renaming; the accessors.

use super::*;

fn queued(id: ReqId) -> Msg {
    Msg::Queued { key: Key(0), id }
}

fn asks_jitter(outs: &[Output]) -> bool {
    outs.iter().any(|o| matches!(o, Output::NeedJitter))
}

fn adopted(outs: &[Output]) -> bool {
    outs.iter()
        .any(|o| matches!(o, Output::Event(Event::Adopted { first: true, .. })))
}

/// Fires the client's next deadline, which must be an acquire re-send on the requeue
/// cadence from `now`; returns the new time, the re-sent request and its outputs.
fn requeue_resend(c: &Config, cl: &mut LeaseClient, now: Nanos) -> (Nanos, ReqId, Vec<Output>) {
    let next = now.plus(c.requeue_interval_ns);
    assert_eq!(cl.poll_timeout(), Some((next, "acquire re-send")));
    cl.handle_timeout(next);
    let outs = drain(cl);
    (next, first_acquire(&outs), outs)
}

#[test]
fn while_the_server_answers_queued_the_client_re_sends_without_backoff() {
    let c = cfg();
    let (mut cl, mut last) = booted(&c);
    let mut now = T0;
    for round in 0..5 {
        assert!(deliver(&mut cl, now, queued(last)).is_empty());
        let (next, id, outs) = requeue_resend(&c, &mut cl, now);
        assert!(!asks_jitter(&outs), "round {round}: {outs:?}");
        (now, last) = (next, id);
    }
}

#[test]
fn unanswered_re_sends_back_off_after_two() {
    // One Queued puts the client on the requeue cadence; two re-sends go unanswered on it,
    // and the third asks for a jitter draw (exponential backoff).
    let c = cfg();
    let (mut cl, first) = booted(&c);
    deliver(&mut cl, T0, queued(first));
    let (now, _, outs) = requeue_resend(&c, &mut cl, T0);
    assert!(!asks_jitter(&outs), "{outs:?}");
    let (now, _, outs) = requeue_resend(&c, &mut cl, now);
    assert!(!asks_jitter(&outs), "{outs:?}");
    let (_, _, outs) = requeue_resend(&c, &mut cl, now);
    assert!(
        asks_jitter(&outs),
        "the third unanswered re-send backs off: {outs:?}"
    );
}

/// A client that sent `n` Acquires in one attempt (the first, then re-sends on the requeue
/// cadence while the server answers Queued), the first one's id, and the time now.
fn sent_n(c: &Config, n: usize) -> (LeaseClient, ReqId, Nanos) {
    let (mut cl, first) = booted(c);
    let (mut now, mut last) = (T0, first);
    for _ in 1..n {
        deliver(&mut cl, now, queued(last));
        let (next, id, _) = requeue_resend(c, &mut cl, now);
        (now, last) = (next, id);
    }
    (cl, first, now)
}

#[test]
fn the_client_remembers_its_last_sixteen_sends() {
    // 17 sends in half-second steps stay well inside L: only the memory's size decides.
    let c = cfg();
    assert!(c.requeue_interval_ns * 17 < c.validity_ns);
    let (mut cl, first, now) = sent_n(&c, 16);
    let outs = deliver(&mut cl, now, granted(Key(0), first, Token(1)));
    assert!(adopted(&outs), "the 16th send back is remembered: {outs:?}");
    assert_eq!(cl.valid_until(), Some(T0.plus(c.validity_ns)));
    let (mut cl, first, now) = sent_n(&c, 17);
    let outs = deliver(&mut cl, now, granted(Key(0), first, Token(1)));
    assert!(!adopted(&outs), "the 17th send back is forgotten: {outs:?}");
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::LateReplyDeclined { .. }))));
}

#[test]
fn a_refusal_while_acquiring_puts_the_client_on_the_requeue_cadence() {
    let c = cfg();
    let (mut cl, first) = booted(&c);
    assert!(cl.awaiting_jitter());
    let refused = Msg::Refused {
        key: Key(0),
        id: first,
        token: None,
        reason: RefuseReason::QueueFull,
    };
    deliver(&mut cl, T0, refused);
    assert!(!cl.awaiting_jitter());
    assert_eq!(
        cl.poll_timeout(),
        Some((T0.plus(c.requeue_interval_ns), "acquire re-send"))
    );
}

#[test]
fn a_late_reply_while_holding_renews_rather_than_acquiring_again() {
    let c = cfg();
    let (mut cl, first) = booted(&c);
    deliver(&mut cl, T0, granted(Key(0), first, Token(1)));
    let renew_at = T0.plus(c.renew_interval_ns);
    cl.handle_timeout(renew_at);
    let renew = sends(&drain(&mut cl))
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Renew { id, .. } => Some(id),
            _ => None,
        })
        .expect("the holder renews");
    deliver(&mut cl, renew_at, renewed(Key(0), renew, Token(1)));
    // The first Acquire's answer again, once it is late (its belief came from the renewal).
    let late = T0.plus(c.validity_ns);
    assert!(cl.believes(late));
    let outs = deliver(&mut cl, late, granted(Key(0), first, Token(1)));
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::LateReplyDeclined { .. }))));
    let sent = sends(&outs);
    assert!(
        sent.iter().any(|(_, m)| matches!(m, Msg::Renew { .. }))
            && !sent.iter().any(|(_, m)| matches!(m, Msg::Acquire { .. })),
        "{outs:?}"
    );
    assert_eq!(cl.held_token(), Some(Token(1)));
}

#[test]
fn a_newer_token_for_the_current_attempt_replaces_the_held_one() {
    let c = cfg();
    let (mut cl, first) = booted(&c);
    deliver(&mut cl, T0, granted(Key(0), first, Token(1)));
    let outs = deliver(&mut cl, T0, granted(Key(0), first, Token(2)));
    assert!(adopted(&outs), "{outs:?}");
    assert_eq!(cl.held_token(), Some(Token(2)));
}

#[test]
fn a_timeout_before_the_deadline_starts_nothing() {
    let c = cfg();
    // Backing off: the re-send waits for its draw's deadline.
    let (mut cl, _) = booted(&c);
    cl.handle_jitter(T0, Jitter { ppm: 0 });
    let (retry, why) = cl.poll_timeout().expect("a re-send is due later");
    assert_eq!(why, "acquire re-send");
    cl.handle_timeout(retry.minus(1));
    assert!(sends(&drain(&mut cl)).is_empty());
    assert_eq!(cl.poll_timeout(), Some((retry, why)));
    // Thinking after a release: the next attempt waits for the thinking time.
    let (mut cl, first) = booted(&c);
    deliver(&mut cl, T0, granted(Key(0), first, Token(1)));
    let done = T0.plus(c.hold_ns);
    cl.handle_timeout(done);
    let release = sends(&drain(&mut cl))
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Release { id, .. } => Some(id),
            _ => None,
        })
        .expect("the holder releases after its hold");
    let released = Msg::Released {
        key: Key(0),
        id: release,
        token: Token(1),
    };
    deliver(&mut cl, done, released);
    let next = done.plus(c.think_ns);
    assert_eq!(cl.poll_timeout().map(|t| t.0), Some(next));
    assert!(!cl.is_waiting(), "thinking, not waiting");
    cl.handle_timeout(next.minus(1));
    assert!(sends(&drain(&mut cl)).is_empty());
    cl.handle_timeout(next);
    assert!(sends(&drain(&mut cl))
        .iter()
        .any(|(_, m)| matches!(m, Msg::Acquire { .. })));
    assert!(cl.is_waiting());
}

fn acts_after_loss_holder(c: &Config) -> (LeaseClient, Nanos) {
    let (mut cl, first) = booted(c);
    deliver(&mut cl, T0, granted(Key(0), first, Token(1)));
    let valid = cl.valid_until().expect("holding");
    (cl, valid)
}

#[test]
fn acts_after_loss_goes_on_a_renew_turn_past_its_validity_and_no_further() {
    // The hold (6 s) ends before the validity (about 9.9 s): the stop callback is a renew
    // turn after the loss, not the end of the work.
    let c = ProtocolConfig {
        variant: Variant::ActsAfterLoss,
        ..ProtocolConfig::default()
    }
    .validate()
    .unwrap();
    // Expiry: it knows, and acts on until its stop callback, a renew turn later.
    let (mut cl, valid) = acts_after_loss_holder(&c);
    cl.handle_timeout(valid);
    drain(&mut cl);
    let stop_at = valid.plus(c.renew_interval_ns);
    assert_eq!(cl.valid_until(), Some(stop_at));
    assert!(cl.believes(valid));
    // Fenced exactly a renew turn before its validity ends: the stop callback would come
    // no later than the validity, so the belief ends at once, as the correct client's does.
    let (mut cl, valid) = acts_after_loss_holder(&c);
    let fenced_at = valid.minus(c.renew_interval_ns);
    let rejected = Msg::WriteRejected {
        key: Key(0),
        token: Token(1),
        current: Token(2),
        idem: idem_of(C1, 99),
    };
    cl.handle_message(fenced_at, NodeId(1), rejected);
    drain(&mut cl);
    assert_eq!(cl.held_token(), None);
}

#[test]
fn renaming_renames_the_client_itself() {
    let c = cfg();
    let (cl, _) = booted(&c);
    assert_eq!(cl.identity(), c1());
    let renamed = cl.remap_nodes(&|n| if n == C1 { C2 } else { n });
    assert_eq!(renamed.identity().node, C2);
}

#[test]
fn check_then_act_writes_once_more_at_expiry_unless_stalled() {
    // Bug B10: the write decided while the lease was valid goes out when its time comes,
    // before the clock is looked at; the correct client writes nothing at expiry.
    let c = |variant| {
        ProtocolConfig {
            variant,
            hold_ms: 20_000,
            ..ProtocolConfig::default()
        }
        .validate()
        .unwrap()
    };
    let writes_at_expiry = |variant, stalled: bool| {
        let c = c(variant);
        let (mut cl, first) = booted(&c);
        deliver(&mut cl, T0, granted(Key(0), first, Token(1)));
        let valid = cl.valid_until().expect("holding");
        if stalled {
            cl.handle_stall(T0, true);
            drain(&mut cl);
        }
        cl.handle_timeout(valid);
        let outs = drain(&mut cl);
        assert_eq!(cl.held_token(), None, "{variant}: the belief ends");
        sends(&outs)
            .iter()
            .filter(|(_, m)| matches!(m, Msg::Write { .. }))
            .count()
    };
    assert_eq!(writes_at_expiry(Variant::CheckThenAct, false), 1);
    assert_eq!(writes_at_expiry(Variant::CheckThenAct, true), 0);
    assert_eq!(writes_at_expiry(Variant::Correct, false), 0);
}

#[test]
fn a_late_answer_for_a_token_given_back_does_not_requeue_the_new_attempt() {
    let c = cfg();
    let mut cl = LeaseClient::managed(&c, c1(), Key(0));
    cl.want(T0);
    let asked = first_acquire(&drain(&mut cl));
    deliver(&mut cl, T0, granted(Key(0), asked, Token(1)));
    cl.give_up(T0);
    drain(&mut cl);
    let released = Msg::Released {
        key: Key(0),
        id: asked,
        token: Token(1),
    };
    deliver(&mut cl, T0, released);
    cl.want(T0);
    drain(&mut cl);
    assert!(cl.awaiting_jitter(), "the new attempt backs off");
    // The old attempt's answer for the given-back token: released again, nothing more.
    let outs = deliver(&mut cl, T0, renewed(Key(0), asked, Token(1)));
    assert!(sends(&outs).iter().any(|(_, m)| matches!(
        m,
        Msg::Release {
            token: Token(1),
            ..
        }
    )));
    assert!(cl.awaiting_jitter(), "still backing off, not re-queued");
}
