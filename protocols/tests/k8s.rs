//! leaseproof's two checkers on client-go leader election (the `k8s` plug-in): the
//! simulator from the scenario files in `scenarios/k8s/` (`sim`), the generic model
//! driver (`model`), and bad input (`bad_input`). One test binary: each binary links
//! leaseproof's crates again.

#[path = "k8s/bad_input.rs"]
mod bad_input;
#[path = "k8s/model.rs"]
mod model;
#[path = "k8s/sim.rs"]
mod sim;
