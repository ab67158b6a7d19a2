//! Any bytes into the streaming decoders, of both directions and of a small buffer: decoding never
//! panics; feeding the bytes at once, one by one or in two pieces yields the same; and every
//! message decoded re-encodes to a frame that decodes to a message encoding the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_node_proto::{
    Decoder, Encoder, FrameError, HostMessage, MAX_FRAME_LEN, Message, NodeMessage,
};

/// A decoder's results, each message as the frame it re-encodes to (NaN readings are not equal
/// to themselves, their frames are).
fn results<M: Message, const N: usize>(pieces: &[&[u8]]) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut decoder = Decoder::<M, N>::new();
    let mut out = Vec::new();
    for piece in pieces {
        for result in decoder.feed(piece) {
            out.push(result.map(|m| encode(&m)));
        }
    }
    out
}

fn encode<M: Message>(message: &M) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = Encoder::new()
        .encode(message, &mut buf)
        .expect("a decoded message encodes");
    buf[..n].to_vec()
}

fn check<M: Message, const N: usize>(data: &[u8]) {
    let at_once = results::<M, N>(&[data]);
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    assert_eq!(at_once, results::<M, N>(&[&data[..split], &data[split..]]));
    let mut decoder = Decoder::<M, N>::new();
    let one_by_one: Vec<_> = data
        .iter()
        .filter_map(|b| decoder.push(*b))
        .map(|r| r.map(|m| encode(&m)))
        .collect();
    assert_eq!(at_once, one_by_one);

    for frame in at_once.into_iter().flatten() {
        let again = results::<M, N>(&[&frame]);
        assert_eq!(again, [Ok(frame)]);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<NodeMessage, { sense_node_proto::frame::MAX_ENCODED_LEN }>(data);
    check::<HostMessage, { sense_node_proto::frame::MAX_ENCODED_LEN }>(data);
    check::<NodeMessage, 16>(data);
});
