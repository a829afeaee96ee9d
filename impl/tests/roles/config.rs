//! Config validation, the validity formula, variant names and the event-kinds list.

use super::*;

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
