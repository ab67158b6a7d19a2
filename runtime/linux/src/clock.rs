//! Local time, for the display's sleep hours.

/// The hour (0–23) in the local time zone (`TZ`, `/etc/localtime`; a container sees UTC unless
/// one of them is provided).
pub fn local_hour() -> u8 {
    // SAFETY: `time(NULL)` has no preconditions; `localtime_r` writes only into `tm`, which lives
    // on our stack, and is the thread-safe variant.
    #[allow(unsafe_code)]
    let hour = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return 0;
        }
        tm.tm_hour
    };
    u8::try_from(hour).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hour_is_an_hour() {
        assert!(super::local_hour() < 24);
    }
}
