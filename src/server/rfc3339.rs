//! Timestamps of log lines: the time now, in RFC 3339 ([`crate::rfc3339`]).
//! Reading the clock is `server/`'s alone; the conversion is pure.

/// The time now, formatted by [`crate::rfc3339::format`].
pub(crate) fn now() -> String {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::rfc3339::format(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}
