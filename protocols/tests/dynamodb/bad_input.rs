//! Bad dynamodb scenarios are refused naming the file, the line and the field.

use leaseproof_protocols::dynamodb::DynamoDb;
use leaseproof_sim::scenario::Scenario;
use std::path::Path;

fn refuse(protocol: &str) -> String {
    let text = format!(
        "description = \"bad\"\nliveness = false\n\n[protocol]\nkind = \"dynamodb\"\n{protocol}\n\n\
         [expect]\nalways = [\"single-holder\"]\n"
    );
    match Scenario::<DynamoDb>::parse_protocol(Path::new("bad.toml"), &text) {
        Ok(_) => panic!("accepted: {protocol}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_heartbeat_not_below_the_lease_is_refused() {
    let e = refuse("lease_duration_ms = 5_000\nheartbeat_period_ms = 5_000");
    println!("{e}");
    assert!(e.contains("bad.toml"), "{e}");
    assert!(e.contains("protocol.heartbeat_period_ms"), "{e}");
    assert!(e.contains("expire between two heartbeats"), "{e}");
}

#[test]
fn a_field_of_the_k8s_protocol_is_refused_by_name() {
    let e = refuse("renew_deadline_ms = 10_000");
    println!("{e}");
    assert!(e.contains("renew_deadline_ms"), "{e}");
    assert!(e.contains("bad.toml:6"), "line of the field: {e}");
}

/// The lock client makes no liveness claim (docs/protocols/dynamodb.md, "Liveness: no
/// claim"): a scenario that asks for it is refused, naming the field and why.
#[test]
fn liveness_is_refused_as_the_lock_client_claims_none() {
    let text = "description = \"bad\"\n\n[protocol]\nkind = \"dynamodb\"\n\n\
                [expect]\nalways = [\"single-holder\"]\nfinds = [\"liveness\"]\n";
    let e = Scenario::<DynamoDb>::parse_protocol(Path::new("bad.toml"), text)
        .map(|_| ())
        .expect_err("liveness accepted")
        .to_string();
    println!("{e}");
    assert!(e.contains("expect.finds"), "{e}");
    assert!(
        e.contains("the dynamodb protocol makes no liveness claim"),
        "{e}"
    );
}
