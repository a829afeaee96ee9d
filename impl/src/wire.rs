//! The wire format of a protocol message: one serde enum, bincode with a frame limit. A
//! garbage frame is an error, never a panic or a huge allocation. Encoding is not I/O: the
//! simulator's datagrams and the real runtime's TCP frames carry these bytes (the real
//! runtime adds a version byte and a length prefix around them).

use crate::types::Msg;
use bincode::Options;

/// The largest frame a node accepts.
pub const MAX_FRAME: usize = 1024;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(MAX_FRAME as u64)
        .with_fixint_encoding()
        .reject_trailing_bytes()
}

#[derive(Debug, thiserror::Error)]
#[error("garbage frame of {len} bytes: {reason}")]
pub struct WireError {
    pub len: usize,
    pub reason: String,
}

#[must_use]
pub fn encode(msg: &Msg) -> Vec<u8> {
    options()
        .serialize(msg)
        .expect("every protocol message fits a frame")
}

pub fn decode(bytes: &[u8]) -> Result<Msg, WireError> {
    options().deserialize(bytes).map_err(|e| WireError {
        len: bytes.len(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Key, ReqId, Token};

    #[test]
    fn round_trip_and_garbage_is_an_error() {
        let m = Msg::Renew {
            key: Key(3),
            id: ReqId {
                incarnation: 2,
                seq: 99,
            },
            token: Token(7),
            acked: 1,
        };
        assert_eq!(decode(&encode(&m)).unwrap(), m);
        assert!(decode(&[0xff; 16]).is_err());
        assert!(decode(&[]).is_err());
        let mut long = encode(&m);
        long.push(0);
        assert!(decode(&long).is_err(), "trailing bytes are rejected");
    }
}
