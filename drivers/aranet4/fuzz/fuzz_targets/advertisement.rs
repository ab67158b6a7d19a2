//! Any bytes as an advertisement's manufacturer data: decoding never panics, and a decoded reading
//! re-encodes to bytes that decode to the same reading.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_aranet4::{DecodeError, decode_advertisement, encode_advertisement};

fuzz_target!(|data: &[u8]| {
    match decode_advertisement(data) {
        Ok(reading) => {
            let again = decode_advertisement(&encode_advertisement(&reading));
            assert_eq!(again, Ok(reading));
        }
        Err(DecodeError::IntegrationsOff { version }) => {
            assert!(version.is_some());
            assert!(data.len() == 7 || data.len() == 22);
        }
        Err(DecodeError::WrongLength { found, .. }) => assert_eq!(found, data.len()),
    }
});
