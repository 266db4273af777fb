//! RFC 3339 timestamps in UTC with milliseconds, e.g.
//! `2026-01-31T12:00:00.123Z`, from milliseconds since the epoch: pure
//! arithmetic (log lines in `server/`, handshake times in `fetch_sockets`).

/// `millis` since 1970-01-01T00:00:00Z as RFC 3339 (the days-to-date step
/// is the proleptic Gregorian calendar's arithmetic, in 400-year eras).
pub(crate) fn format(millis: i64) -> String {
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn dates() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(format(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
    }

    #[test]
    fn before_the_epoch_and_leap_centuries() {
        assert_eq!(format(-1), "1969-12-31T23:59:59.999Z");
        // 1900 is not a leap year: 1 March follows 28 February.
        assert_eq!(format(-2_203_891_200_000), "1900-03-01T00:00:00.000Z");
    }
}
