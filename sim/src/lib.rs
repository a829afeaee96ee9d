//! leaseproof-sim: madsim shells, node clocks, fault injection, runs and sweeps.

#[cfg(not(madsim))]
compile_error!(
    "leaseproof-sim needs --cfg madsim (see .cargo/config.toml; an exported RUSTFLAGS overrides it)"
);
