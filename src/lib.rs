//! leaseproof as a library: what joins the checkers. The simulator (`leaseproof-sim`) and
//! the model checker (`leaseproof-model`) do not know each other; the bug catalog needs
//! both, so it lives here, in one place, and the CLI (`src/main.rs`) only parses arguments
//! and dispatches.

pub mod catalog;

/// The real systems this build runs (`protocols/`), by the name their scenarios' `[protocol]
/// kind` uses: `$body` with `$P` bound to the system's `Protocol` type, or `$none` for any
/// other name. The one place a new system joins the binary, beside
/// `leaseproof_protocols::checks::PROTOCOLS`.
#[macro_export]
macro_rules! with_real_system {
    ($kind:expr, |$P:ident| $body:expr, else $none:expr) => {
        match $kind {
            "k8s" => {
                type $P = leaseproof_protocols::k8s::K8s;
                $body
            }
            "dynamodb" => {
                type $P = leaseproof_protocols::dynamodb::DynamoDb;
                $body
            }
            _ => $none,
        }
    };
}

/// The id of this build (build.rs): shards of different builds refuse to merge.
pub const BUILD_ID: &str = env!("LEASEPROOF_BUILD_ID");
