//! Many seeds: a scenario's seeds judged against its expectations, sweeps and `tune`, the
//! simulator's half of the bug catalog, shrinking, the traced re-runs of failing seeds
//! that reports draw, and sharded runs with their merge. A library, not the CLI. Imports `schema` and `engine`.

pub mod corpus;
pub mod search;
pub mod shard;
pub mod shrink;
pub mod traced;
pub mod tune;
pub mod verdict;
