//! leaseproof's two checkers on the real systems, from the crate's tests: for each, the
//! simulator on its scenarios (`sim`), the generic model driver through its named checks
//! (`model`), and bad input (`bad_input`). One test binary for both systems (each binary
//! links leaseproof's crates again); `k8s::` or `dynamodb::` picks one.

mod common;

mod k8s {
    mod bad_input;
    mod model;
    mod sim;
}

mod dynamodb {
    mod bad_input;
    mod model;
    mod sim;
}
