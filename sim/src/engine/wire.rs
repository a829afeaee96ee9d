//! The simulator's wire: the protocol's message bytes ([`leaseproof_impl::wire`]) as madsim
//! datagrams on one endpoint tag.

pub use leaseproof_impl::wire::{decode, encode, WireError, MAX_FRAME};

/// The Endpoint tag every protocol message travels on.
pub const TAG: u64 = 0x1ea5e;
