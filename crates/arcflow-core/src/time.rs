//! Timestamps as RFC 3339 text (`2026-11-23T12:00:00.000Z`), the shape
//! JavaScript's `Date.prototype.toISOString` gives, so that templates see
//! the same text whichever side made it; and the clock every record uses.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn iso_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        // JavaScript writes these years as ±YYYYYY; the formatter covers every year
        return format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        );
    }
    // digit by digit into a fixed buffer: every run's start stamps one, and
    // the formatting machinery cost more than the rest of the stamp (measured)
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, i64::from(month));
    put(8, 2, i64::from(day));
    put(11, 2, in_day / 3_600_000);
    put(14, 2, in_day / 60_000 % 60);
    put(17, 2, in_day / 1000 % 60);
    put(20, 3, in_day % 1000);
    // only ASCII digits and separators were written
    String::from_utf8_lossy(&out).into_owned()
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d)
/// in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::iso_millis;

    #[test]
    fn matches_javascript_to_iso_string() {
        // values from `new Date(ms).toISOString()` in Node
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_millis(1_795_438_075_310), "2026-11-23T12:47:55.310Z");
        assert_eq!(iso_millis(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_millis(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        // past year 9999 the digits grow (not JavaScript's +YYYYYY form, as before)
        assert_eq!(iso_millis(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
    }
}
