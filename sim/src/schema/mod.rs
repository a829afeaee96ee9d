//! Scenario and grid files as data: the TOML schema, its validation (every error names the
//! file, line, field and reason), discovery, content hashes, and the engine's fault
//! vocabulary. Imports nothing else of this crate, and no madsim.

pub mod fault;
pub mod grid;
pub mod scenario;
