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

#[test]
fn variants_name_their_bug_class_and_print_their_name() {
    assert_eq!(Variant::Correct.bug_class(), "-");
    assert_eq!(Variant::NoFencing.bug_class(), "B1/B2");
    assert_eq!(Variant::DriftIgnored.bug_class(), "B5");
    assert_eq!(Variant::CheckThenAct.bug_class(), "B10");
    for v in Variant::ALL {
        assert_eq!(format!("{v}"), v.name());
    }
    assert_eq!(format!("{}", Variant::NoFencing), "no-fencing");
}

#[test]
fn every_one_of_64_jobs_can_be_poison_and_no_65th() {
    let all = Jobs {
        count: 64,
        poison: u64::MAX,
        attempts: 1,
    };
    assert!(all.is_poison(0) && all.is_poison(63));
    assert!(!all.is_poison(64), "past the mask");
    assert!(!Jobs::NONE.is_poison(0));
}

#[test]
fn stretch_is_the_span_times_one_plus_rho_rounded_down() {
    use leaseproof_impl::config::drift::stretch;
    assert_eq!(stretch(1_000_000_000, 1_000), 1_001_000_000);
    assert_eq!(stretch(999, 1_000), 999, "0.999 ns of stretch rounds down");
    assert_eq!(stretch(3_000_000, 0), 3_000_000);
    assert_eq!(stretch(0, 50_000), 0);
    assert_eq!(stretch(u64::MAX, 1_000), u64::MAX, "saturates");
}

#[test]
fn the_drift_spans_are_exact_and_round_down() {
    use leaseproof_impl::config::drift::{slow_to_fast, slowest_in_true_time};
    // 1 s at ±1000 ppm: ·1.001/0.999 and /0.999.
    assert_eq!(slow_to_fast(1_000_000_000, 1_000), 1_002_002_002);
    assert_eq!(slowest_in_true_time(1_000_000_000, 1_000), 1_001_001_001);
    assert_eq!(slow_to_fast(7, 0), 7);
    assert_eq!(slowest_in_true_time(7, 0), 7);
}

#[test]
fn limits_hold_at_their_boundary() {
    let ok = |p: ProtocolConfig| p.validate().map(|_| ()).map_err(|e| e.field);
    // A day of ttl is the most; a backoff window may be a single point.
    assert_eq!(
        ok(ProtocolConfig {
            ttl_ms: 86_400_000,
            ..Default::default()
        }),
        Ok(())
    );
    assert_eq!(
        ok(ProtocolConfig {
            ttl_ms: 86_400_001,
            ..Default::default()
        }),
        Err("ttl_ms")
    );
    assert_eq!(
        ok(ProtocolConfig {
            backoff_max_ms: 500,
            ..Default::default()
        }),
        Ok(())
    );
    assert_eq!(
        ok(ProtocolConfig {
            backoff_max_ms: 499,
            ..Default::default()
        }),
        Err("backoff_max_ms")
    );
    // `with_validity` (L given directly) checks the same rules.
    assert!(ProtocolConfig::default()
        .with_validity(9_000_000_000)
        .is_ok());
    let e = ProtocolConfig {
        ttl_ms: 0,
        ..Default::default()
    }
    .with_validity(9_000_000_000)
    .expect_err("no ttl");
    assert_eq!(e.field, "ttl_ms");
}

#[test]
fn refusals_quote_their_values_in_milliseconds() {
    let e = ProtocolConfig {
        safety_margin_ms: 20_000,
        ..Default::default()
    }
    .validate()
    .expect_err("no L left");
    assert!(
        e.reason
            .contains("(ttl 10000 ms, drift 1000 ppm, margin 20000 ms)"),
        "{e}"
    );
    let e = ProtocolConfig {
        progress_window_ms: 4_000,
        ..Default::default()
    }
    .validate()
    .expect_err("window within one report gap");
    assert!(e.reason.starts_with("4000 ms is not above"), "{e}");
}

#[test]
fn the_modes_that_count_acks_and_the_lock_set() {
    let c = cfg();
    assert!(!c.counts_acks() && !c.is_lock_set());
    for (intent, window, writes) in [(1, 0, 0), (0, 1, 0), (0, 0, 1)] {
        let mut m = c;
        m.intent_ns = intent;
        m.progress_window_ns = window;
        m.hold_writes = writes;
        assert!(m.counts_acks(), "{intent} {window} {writes}");
    }
    for (keys, set) in [(0, false), (1, false), (2, true), (3, true)] {
        let mut m = c;
        m.lock_keys = keys;
        assert_eq!(m.is_lock_set(), set, "{keys} keys");
    }
}

#[test]
fn a_config_prints_in_milliseconds_with_only_the_modes_it_uses() {
    let c = cfg();
    let text = c.to_string();
    assert!(
        text.starts_with(
            "lease: ttl 10000 ms, renew every 3000 ms, drift within ±1000 ppm, safety margin \
             100 ms, local validity L 9880.020 ms\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("\nvariant: correct"), "{text}");
    for mode in [
        "done after",
        "tiered",
        "progress window",
        "jobs:",
        "lock set",
    ] {
        assert!(!text.contains(mode), "{mode} in {text}");
    }
    let mut m = c;
    m.hold_writes = 3;
    m.intent_ns = 2_000_000_000;
    m.progress_window_ns = 5_000_000_000;
    m.lock_keys = 2;
    let text = m.to_string();
    for mode in [
        "done after 3 acknowledged writes",
        "\ntiered: intent lease 2000 ms",
        "\nprogress window 5000 ms",
        "\nlock set: 2 keys in one order",
    ] {
        assert!(text.contains(mode), "{mode} not in {text}");
    }
}

#[test]
fn workload_limits_hold_at_their_boundary() {
    let field = |p: ProtocolConfig| p.validate().err().map(|e| e.field);
    let jobs = |count| ProtocolConfig {
        jobs: Jobs {
            count,
            poison: 0,
            attempts: 1,
        },
        ..Default::default()
    };
    assert_eq!(field(jobs(64)), None);
    assert_eq!(field(jobs(65)), Some("jobs.keys"));
    let keys = |lock_keys| ProtocolConfig {
        lock_keys,
        ..Default::default()
    };
    assert_eq!(field(keys(8)), None);
    assert_eq!(field(keys(9)), Some("locks.order"));
    let writes = |hold_writes| ProtocolConfig {
        hold_writes,
        ..Default::default()
    };
    assert_eq!(field(writes(1_000_000)), None);
    assert_eq!(field(writes(1_000_001)), Some("hold_writes"));
    let no_attempts = ProtocolConfig {
        jobs: Jobs {
            count: 1,
            poison: 0,
            attempts: 0,
        },
        ..Default::default()
    };
    assert_eq!(field(no_attempts), Some("jobs.attempts"));
}

#[test]
fn a_lock_set_runs_plain_writes_and_the_inversion_needs_one() {
    let field = |p: ProtocolConfig| p.validate().err().map(|e| e.field);
    let set = |keys, jobs, hold_writes| ProtocolConfig {
        lock_keys: keys,
        jobs: Jobs {
            count: jobs,
            poison: 0,
            attempts: 1,
        },
        hold_writes,
        ..Default::default()
    };
    assert_eq!(field(set(2, 0, 0)), None);
    assert_eq!(field(set(2, 1, 0)), Some("locks.order"), "jobs");
    assert_eq!(field(set(2, 0, 3)), Some("locks.order"), "counted acks");
    assert_eq!(field(set(1, 1, 0)), None, "one key is not a set");
    assert_eq!(field(set(1, 0, 3)), None);
    let inversion = |lock_keys| ProtocolConfig {
        lock_keys,
        variant: Variant::LockOrderInversion,
        ..Default::default()
    };
    assert_eq!(field(inversion(2)), None);
    assert_eq!(field(inversion(3)), None);
    assert_eq!(field(inversion(1)), Some("variant"));
}
