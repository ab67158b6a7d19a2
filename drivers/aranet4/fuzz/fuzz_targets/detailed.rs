//! Any bytes as the `f0cd3001` value: decoding never panics, and a decoded measurement re-encodes
//! to bytes that decode to the same measurement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_aranet4::{DETAILED_LEN, decode_detailed, encode_detailed};

fuzz_target!(|data: &[u8]| {
    match decode_detailed(data) {
        Ok(m) => {
            assert_eq!(data.len(), DETAILED_LEN);
            assert_eq!(decode_detailed(&encode_detailed(&m)), Ok(m));
        }
        Err(_) => assert_ne!(data.len(), DETAILED_LEN),
    }
});
