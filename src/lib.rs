//! leaseproof as a library: what joins the checkers. The simulator (`leaseproof-sim`) and
//! the model checker (`leaseproof-model`) do not know each other; the bug catalog needs
//! both, so it lives here, in one place, and the CLI (`src/main.rs`) only parses arguments
//! and dispatches.

pub mod catalog;

/// The id of this build (build.rs): shards of different builds refuse to merge.
pub const BUILD_ID: &str = env!("LEASEPROOF_BUILD_ID");
