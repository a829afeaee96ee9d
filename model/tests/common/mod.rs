//! What the model's test files share: one check on one thread, with no progress and no stop.

use leaseproof_model::check::{check, CheckOptions, CheckReport};
use leaseproof_model::LeaseModel;

/// Checks `m` on one thread, with or without symmetry, depth or breadth first.
pub fn check_one(m: LeaseModel, symmetry: bool, bfs: bool) -> CheckReport {
    check(
        m,
        CheckOptions {
            threads: 1,
            symmetry,
            bfs,
        },
        &|_, _| {},
        &|| false,
    )
}
