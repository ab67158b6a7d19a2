//! `sense-pulse aranet4 decode`: decodes bytes a user pasted from `bluetoothctl`.

use sense_aranet4::{AdvertisedReading, CalibrationState, Measurement};
use serde_json::{Value as Json, json};

/// Parses hex bytes as people paste them: `21 05 03 …`, `21:05:03`, `0x21,0x05`, `210503…`, or
/// `bluetoothctl`'s dump lines (hex pairs followed by an ASCII column, which is ignored).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let shown = || {
        let mut shown: String = text.trim().chars().take(60).collect();
        if shown.len() < text.trim().len() {
            shown.push('…');
        }
        shown
    };
    if !compact.is_empty() && compact.chars().all(|c| c.is_ascii_hexdigit()) {
        if !compact.len().is_multiple_of(2) {
            return Err(format!(
                "`{}` has {} hex digits, an odd number: every byte is two digits (21 05 03 …), \
                 so one is missing or one too many; copy the bytes again",
                shown(),
                compact.len()
            ));
        }
        return (0..compact.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&compact[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect();
    }
    let mut bytes = Vec::new();
    for line in text.lines() {
        for token in line.split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == '-') {
            let token = token.trim_start_matches("0x").trim_start_matches("0X");
            if token.is_empty() {
                continue;
            }
            match (token.len(), u8::from_str_radix(token, 16)) {
                (1 | 2, Ok(b)) => bytes.push(b),
                // The ASCII column of a bluetoothctl dump: the rest of this line is not bytes.
                _ => break,
            }
        }
    }
    if bytes.is_empty() {
        return Err(format!(
            "no hex bytes found in `{}`: give them as bluetoothctl prints them (21 05 03 …) or \
             in one run (210503…)",
            shown()
        ));
    }
    Ok(bytes)
}

fn calibration(c: CalibrationState) -> &'static str {
    match c {
        CalibrationState::NotActive => "not_active",
        CalibrationState::EndRequest => "end_request",
        CalibrationState::InProgress => "in_progress",
        CalibrationState::Error => "error",
    }
}

fn measurement_json(m: &Measurement) -> Json {
    json!({
        "co2_ppm": m.co2_ppm,
        "temperature_c": m.temperature_c(),
        "pressure_hpa": m.pressure_hpa().map(|p| sense_hal::value::round_to(f64::from(p), 1)),
        "humidity_percent": m.humidity_percent,
        "battery_percent": m.battery_percent,
        "status": m.status.as_str(),
        "interval_s": m.interval_s,
        "age_s": m.age_s,
    })
}

fn advertisement_json(r: &AdvertisedReading) -> Json {
    let mut out = measurement_json(&r.measurement);
    let extra = json!({
        "kind": "advertisement",
        "firmware": r.version.to_string(),
        "integrations": r.flags.integrations,
        "calibration": calibration(r.flags.calibration),
        "dfu_active": r.flags.dfu_active,
        "disconnected": r.flags.disconnected,
        "counter": r.counter,
    });
    if let (Json::Object(o), Json::Object(e)) = (&mut out, extra) {
        o.extend(e);
    }
    out
}

/// Decodes pasted bytes as an advertisement (7 or 22 bytes) or a GATT reading (13 or 9 bytes) and
/// returns the reading as JSON, or a message saying why the bytes are not a reading.
pub fn decode(text: &str) -> Result<Json, String> {
    let bytes = parse_hex(text)?;
    let result = match bytes.len() {
        sense_aranet4::DETAILED_LEN => sense_aranet4::decode_detailed(&bytes).map(|m| {
            let mut j = measurement_json(&m);
            j["kind"] = json!("gatt f0cd3001");
            j
        }),
        sense_aranet4::CURRENT_LEN => sense_aranet4::decode_current(&bytes).map(|m| {
            let mut j = measurement_json(&m);
            j["kind"] = json!("gatt f0cd1503");
            j
        }),
        _ => sense_aranet4::decode_advertisement(&bytes).map(|r| advertisement_json(&r)),
    };
    result.map_err(|e| format!("{} bytes are not an Aranet4 reading: {e}", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "21 05 03 01 00 05 00 01 43 04 9f 01 8b 27 35 0c 02 3c 00 10 00 55";

    #[test]
    fn hex_in_the_forms_people_paste() {
        let expected = parse_hex(VECTOR).unwrap();
        assert_eq!(expected.len(), 22);
        assert_eq!(parse_hex(&VECTOR.replace(' ', "")).unwrap(), expected);
        assert_eq!(parse_hex(&VECTOR.replace(' ', ":")).unwrap(), expected);
        let dump = "  21 05 03 01 00 05 00 01 43 04 9f 01 8b 27 35 0c  !.......C...'5.\n  02 3c 00 10 00 55                                .<...U\n";
        assert_eq!(parse_hex(dump).unwrap(), expected);
        assert!(parse_hex("hello").is_err());
    }

    #[test]
    fn an_odd_number_of_digits_is_said() {
        for odd in ["abc", "2105030", "21 05 0", &VECTOR[..VECTOR.len() - 1]] {
            let err = parse_hex(odd).unwrap_err();
            assert!(err.contains("an odd number"), "{odd}: {err}");
        }
        assert_eq!(
            parse_hex("abc").unwrap_err(),
            "`abc` has 3 hex digits, an odd number: every byte is two digits (21 05 03 …), so \
             one is missing or one too many; copy the bytes again"
        );
        // Bytes written as 0x1, 0x2 are not digits in a row.
        assert_eq!(parse_hex("0x1, 0x2, 0x3").unwrap(), [1, 2, 3]);
    }

    #[test]
    fn the_documented_vector_decodes() {
        let j = decode(VECTOR).unwrap();
        assert_eq!(j["co2_ppm"], 1091);
        assert_eq!(j["temperature_c"], 20.75);
        assert_eq!(j["pressure_hpa"], 1012.3);
        assert_eq!(j["humidity_percent"], 53);
        assert_eq!(j["battery_percent"], 12);
        assert_eq!(j["status"], "yellow");
        assert_eq!(j["firmware"], "v1.3.5");
        assert_eq!(j["counter"], 0x55);
    }

    #[test]
    fn bytes_that_are_not_a_reading_say_why() {
        let err = decode("01 02 03").unwrap_err();
        assert!(
            err.starts_with("3 bytes are not an Aranet4 reading"),
            "{err}"
        );
        let off = decode("01 05 03 01 00 05 00").unwrap_err();
        assert!(off.contains("integrations"), "{off}");
    }
}
