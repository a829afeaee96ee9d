//! One seed of one scenario on madsim: the plan derived from the seed, per-node clocks, the
//! node shells, the world they share (oracles, metrics, the trace hash), the run's phases,
//! the wire format, and the timeline recorded as data. Imports `schema` only.

pub mod clock;
pub mod metrics;
pub mod plan;
pub mod run;
pub mod shell;
pub mod timeline;
pub mod wire;
pub mod world;
