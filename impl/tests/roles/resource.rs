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
