//! Frames on a TCP stream: a length prefix (tokio-util's `LengthDelimitedCodec`, with a size
//! limit), then a version byte, a kind byte and the body. A connection's first frame says
//! who is sending (`Hello`); every later one carries a protocol message in its wire bytes
//! ([`leaseproof_impl::wire`]). A garbage frame is an error naming what is wrong, never a
//! panic or a large allocation.

use bytes::{BufMut, BytesMut};
use leaseproof_impl::wire::{self, WireError, MAX_FRAME};
use leaseproof_impl::{Msg, NodeId};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// The frame format's version: a peer speaking another is refused.
pub const VERSION: u8 = 1;
const HELLO: u8 = 0;
const MESSAGE: u8 = 1;

/// One frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The sender's node id: the first frame of every connection.
    Hello(NodeId),
    Msg(Msg),
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream failed, or a length prefix announced more than the limit.
    #[error("frame stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame version {got}, expected {VERSION}")]
    Version { got: u8 },
    #[error("an empty frame (no version byte)")]
    Empty,
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("a hello frame of {0} body bytes, expected 4")]
    Hello(usize),
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// The codec: length-delimited frames of at most the message limit plus the two header
/// bytes.
#[derive(Debug)]
pub struct FrameCodec {
    inner: LengthDelimitedCodec,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec {
            inner: LengthDelimitedCodec::builder()
                .max_frame_length(MAX_FRAME + 2)
                .new_codec(),
        }
    }
}

fn parse(bytes: &[u8]) -> Result<Frame, FrameError> {
    let (&version, rest) = bytes.split_first().ok_or(FrameError::Empty)?;
    if version != VERSION {
        return Err(FrameError::Version { got: version });
    }
    let (&kind, body) = rest.split_first().ok_or(FrameError::Kind(u8::MAX))?;
    match kind {
        HELLO => {
            let id: [u8; 4] = body.try_into().map_err(|_| FrameError::Hello(body.len()))?;
            Ok(Frame::Hello(NodeId(u32::from_le_bytes(id))))
        }
        MESSAGE => Ok(Frame::Msg(wire::decode(body)?)),
        other => Err(FrameError::Kind(other)),
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        match self.inner.decode(src)? {
            Some(bytes) => parse(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let mut body = BytesMut::new();
        body.put_u8(VERSION);
        match frame {
            Frame::Hello(node) => {
                body.put_u8(HELLO);
                body.put_slice(&node.0.to_le_bytes());
            }
            Frame::Msg(msg) => {
                body.put_u8(MESSAGE);
                body.put_slice(&wire::encode(&msg));
            }
        }
        self.inner.encode(body.freeze(), dst)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaseproof_impl::{Key, ReqId};

    fn round_trip(f: Frame) -> Frame {
        let mut c = FrameCodec::default();
        let mut buf = BytesMut::new();
        c.encode(f, &mut buf).unwrap();
        c.decode(&mut buf).unwrap().expect("a whole frame")
    }

    #[test]
    fn frames_round_trip_and_garbage_is_named() {
        let m = Msg::Acquire {
            key: Key(0),
            id: ReqId {
                incarnation: 1,
                seq: 7,
            },
        };
        assert_eq!(round_trip(Frame::Msg(m)), Frame::Msg(m));
        assert_eq!(round_trip(Frame::Hello(NodeId(3))), Frame::Hello(NodeId(3)));
        let garbage = |payload: &[u8]| {
            let mut c = FrameCodec::default();
            let mut buf = BytesMut::new();
            buf.put_u32(payload.len() as u32);
            buf.put_slice(payload);
            c.decode(&mut buf).unwrap_err().to_string()
        };
        assert!(garbage(&[]).contains("empty frame"));
        assert!(garbage(&[9, 1]).contains("version 9"));
        assert!(garbage(&[VERSION, 7]).contains("kind 7"));
        assert!(garbage(&[VERSION, HELLO, 1]).contains("hello frame of 1"));
        assert!(garbage(&[VERSION, MESSAGE, 0xff, 0xff]).contains("garbage frame"));
        // A length prefix past the limit is refused before anything is allocated.
        let mut c = FrameCodec::default();
        let mut buf = BytesMut::new();
        buf.put_u32(u32::MAX);
        assert!(c
            .decode(&mut buf)
            .unwrap_err()
            .to_string()
            .contains("frame"));
    }
}
