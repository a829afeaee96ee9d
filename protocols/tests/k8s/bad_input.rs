//! Bad k8s scenarios are refused naming the file, the line and the field, as client-go
//! itself would refuse the config (le.go `NewLeaderElector`).

use leaseproof_protocols::k8s::K8s;
use leaseproof_sim::scenario::Scenario;
use std::path::Path;

fn refuse(protocol: &str) -> String {
    let text = format!(
        "description = \"bad\"\nliveness = false\n\n[protocol]\nkind = \"k8s\"\n{protocol}\n\n\
         [expect]\nalways = [\"single-holder\"]\n"
    );
    match Scenario::<K8s>::parse_protocol(Path::new("bad.toml"), &text) {
        Ok(_) => panic!("accepted: {protocol}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_renew_deadline_not_below_the_lease_is_refused() {
    let e = refuse("lease_duration_ms = 10_000\nrenew_deadline_ms = 10_000");
    println!("{e}");
    assert!(e.contains("bad.toml"), "{e}");
    assert!(e.contains("protocol.renew_deadline_ms"), "{e}");
    assert!(
        e.contains("leaseDuration must be greater than renewDeadline"),
        "{e}"
    );
}

#[test]
fn a_retry_period_too_large_for_the_renew_deadline_is_refused() {
    // 1.2 × 9 s = 10.8 s, above the 10 s deadline.
    let e = refuse("retry_period_ms = 9_000");
    println!("{e}");
    assert!(e.contains("protocol.retry_period_ms"), "{e}");
    assert!(e.contains("retryPeriod*JitterFactor"), "{e}");
}

#[test]
fn a_field_of_another_protocol_is_refused_by_name() {
    let e = refuse("ttl_ms = 1000");
    println!("{e}");
    assert!(e.contains("ttl_ms"), "{e}");
    assert!(e.contains("bad.toml:6"), "line of the field: {e}");
}

/// Leader election makes no liveness claim (docs/protocols/k8s.md, "Liveness: no claim"):
/// a scenario that asks for it is refused, naming the field and why.
#[test]
fn liveness_is_refused_as_leader_election_claims_none() {
    let text = "description = \"bad\"\n\n[protocol]\nkind = \"k8s\"\n\n\
                [expect]\nalways = [\"single-holder\", \"liveness\"]\n";
    let e = Scenario::<K8s>::parse_protocol(Path::new("bad.toml"), text)
        .map(|_| ())
        .expect_err("liveness accepted")
        .to_string();
    println!("{e}");
    assert!(e.contains("bad.toml"), "{e}");
    assert!(e.contains("expect.always"), "{e}");
    assert!(
        e.contains("the k8s protocol makes no liveness claim"),
        "{e}"
    );
}
