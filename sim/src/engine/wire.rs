//! The simulator's wire: the protocol's message bytes ([`leaseproof_impl::wire`]) as madsim
//! datagrams on one endpoint tag.

pub use leaseproof_impl::wire::{decode, encode, WireError, MAX_FRAME};

/// The Endpoint tag every protocol message travels on.
pub const TAG: u64 = 0x1ea5e;

/// One datagram on the simulated network: the frame's bytes, and beside them, out of band,
/// the ghost tenure a write travels with (`Protocol::GHOST_TENURES`; `None` for every other
/// message). No role reads the ghost: the receiving shell hands it to the oracles with the
/// events of the step the frame feeds. A frame sent as plain bytes (a garbage frame) has
/// none.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub bytes: Vec<u8>,
    pub ghost: Option<u64>,
}

impl Datagram {
    /// What arrived on the tag, whether sent as a datagram or as plain bytes; `None` for
    /// anything else.
    #[must_use]
    pub fn from_payload(data: Box<dyn std::any::Any + Send + Sync>) -> Option<Datagram> {
        match data.downcast::<Datagram>() {
            Ok(d) => Some(*d),
            Err(data) => data.downcast::<Vec<u8>>().ok().map(|bytes| Datagram {
                bytes: *bytes,
                ghost: None,
            }),
        }
    }
}
