//! Any bytes as the `f0cd1503` value: decoding never panics, and a decoded measurement re-encodes
//! to bytes that decode to the same measurement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_aranet4::{CURRENT_LEN, decode_current, encode_current};

fuzz_target!(|data: &[u8]| {
    match decode_current(data) {
        Ok(m) => {
            assert_eq!(data.len(), CURRENT_LEN);
            assert_eq!(decode_current(&encode_current(&m)), Ok(m));
        }
        Err(_) => assert_ne!(data.len(), CURRENT_LEN),
    }
});
