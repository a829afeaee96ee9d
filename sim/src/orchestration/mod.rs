//! Many seeds: a scenario's seeds judged against its expectations, sweeps and `tune`, the
//! simulator's half of the bug catalog, shrinking, and the traced re-runs of failing seeds
//! that reports draw. A library, not the CLI. Imports `schema` and `engine`.

pub mod search;
pub mod shrink;
pub mod traced;
pub mod tune;
pub mod verdict;
