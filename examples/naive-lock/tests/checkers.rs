//! leaseproof's two checkers on naive-lock, from this crate's own tests: the simulator
//! (`sim`) and the generic model driver (`model`). One test binary: each binary links
//! leaseproof's crates again.

#[path = "checkers/model.rs"]
mod model;
#[path = "checkers/sim.rs"]
mod sim;
