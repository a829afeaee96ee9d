//! What the command-line tests share: running the binary from the repository root.

use std::process::{Command, Output};

/// Runs `leaseproof ARGS` from the repository root and waits for it.
pub fn leaseproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaseproof"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

/// Its exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}
