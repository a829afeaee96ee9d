//! leaseproof as a library: what joins the checkers. The simulator (`leaseproof-sim`) and
//! the model checker (`leaseproof-model`) do not know each other; the bug catalog needs
//! both, so it lives here, in one place, and the CLI (`src/main.rs`) only parses arguments
//! and dispatches.

pub mod catalog;
