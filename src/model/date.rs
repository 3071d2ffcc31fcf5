//! The two date forms S3 headers use, read and written as the AWS SDK reads and writes them, so
//! that a date s3mend re-sends is the date HEAD showed (`docs/s3-behaviour.md`, Expires).
//!
//! - HTTP dates (`Expires`): IMF-fixdate only (`Wed, 21 Oct 2037 07:28:00 GMT`), with up to three
//!   digits of fraction, as the SDK accepts them; written without a fraction.
//! - RFC 3339 in UTC (`2030-01-02T03:04:05Z`), as an [`ObjectHead`](super::ObjectHead) keeps the
//!   Object Lock retain-until date, or epoch seconds for a date outside years 1 to 9999.
//!
//! `the_models_dates_are_the_sdks_dates` (in `src/s3/write.rs`) checks these against the SDK's
//! own parsers.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses an HTTP date as the SDK does (its `Format::HttpDate`): surrounding white space is
/// ignored, the weekday is not checked, and the obsolete RFC 850 and asctime forms are refused.
pub fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    if !text.is_ascii() {
        return None;
    }
    let s = text.trim().as_bytes();
    // `Sun, 06 Nov 1994 08:49:37 GMT`, optionally `…:37.123 GMT`.
    if s.len() < 29
        || s.len() > 33
        || !s.ends_with(b" GMT")
        || s[16] != b' '
        || s[19] != b':'
        || s[22] != b':'
    {
        return None;
    }
    let nanos = match s[25] {
        b'.' => {
            let fraction = &s[26..s.len() - 4];
            if fraction.is_empty() || fraction.len() > 3 {
                return None;
            }
            let value: u32 = number(fraction)?;
            value * [100_000_000, 10_000_000, 1_000_000][fraction.len() - 1]
        }
        b' ' => 0,
        _ => return None,
    };
    let time = Time::from_hms_nano(
        number(&s[17..19])?,
        number(&s[20..22])?,
        number(&s[23..25])?,
        nanos,
    )
    .ok()?;
    let month = match &s[7..12] {
        b" Jan " => Month::January,
        b" Feb " => Month::February,
        b" Mar " => Month::March,
        b" Apr " => Month::April,
        b" May " => Month::May,
        b" Jun " => Month::June,
        b" Jul " => Month::July,
        b" Aug " => Month::August,
        b" Sep " => Month::September,
        b" Oct " => Month::October,
        b" Nov " => Month::November,
        b" Dec " => Month::December,
        _ => return None,
    };
    let date = Date::from_calendar_date(number(&s[12..16])?, month, number(&s[5..7])?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(UtcOffset::UTC))
}

/// Digits only: no sign, no space.
fn number<T: std::str::FromStr>(digits: &[u8]) -> Option<T> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Writes an HTTP date (IMF-fixdate, whole seconds), or `None` before year 1 or after 9999.
pub fn http_date(at: OffsetDateTime) -> Option<String> {
    let at = at.to_offset(UtcOffset::UTC);
    if !(1..=9999).contains(&at.year()) {
        return None;
    }
    let weekday = &at.weekday().to_string()[..3];
    let month = &at.month().to_string()[..3];
    Some(format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        at.day(),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    ))
}

/// Reads a date as [`ObjectHead`](super::ObjectHead) keeps the retain-until date: RFC 3339 in UTC
/// (`Z`, no offset), or epoch seconds (`1893456000`, `1893456000.5`).
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    if text.ends_with('Z')
        && text
            .as_bytes()
            .get(10)
            .is_some_and(|b| matches!(b, b'T' | b't'))
    {
        return OffsetDateTime::parse(text, &Rfc3339).ok();
    }
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    let negative = secs.starts_with('-');
    let whole: i64 = match secs.strip_prefix('-') {
        Some(digits) => number::<i64>(digits.as_bytes())?.checked_neg()?,
        None => number(secs.as_bytes())?,
    };
    let nanos: i128 = if fraction.is_empty() {
        0
    } else {
        let digits = &fraction[..fraction.len().min(9)];
        let value: i128 = number(digits.as_bytes())?;
        value * 10i128.pow(9 - digits.len() as u32)
    };
    let total = i128::from(whole) * 1_000_000_000 + if negative { -nanos } else { nanos };
    OffsetDateTime::from_unix_timestamp_nanos(total).ok()
}

/// Writes a date as [`parse_rfc3339`] reads it: RFC 3339 in UTC with the fraction's trailing
/// zeros dropped, or epoch seconds outside years 1 to 9999.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    if !(1..=9999).contains(&at.year()) {
        return at.unix_timestamp().to_string();
    }
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let micros = at.microsecond();
    if micros > 0 {
        let fraction = format!("{micros:06}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip_in_their_one_form() {
        let at = parse_http_date(" Wed, 21 Oct 2037 07:28:00 GMT ").unwrap();
        assert_eq!(at.unix_timestamp(), 2_139_722_880);
        assert_eq!(
            http_date(at).as_deref(),
            Some("Wed, 21 Oct 2037 07:28:00 GMT")
        );
        let fraction = parse_http_date("Mon, 16 Dec 2019 23:48:18.52 GMT").unwrap();
        assert_eq!(fraction.nanosecond(), 520_000_000);
        assert_eq!(
            http_date(fraction).as_deref(),
            Some("Mon, 16 Dec 2019 23:48:18 GMT")
        );
        for bad in [
            "next tuesday",
            "Wednesday, 21-Oct-37 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2037",
            "Wed, 21 Oct 2037 07:28:00 UTC",
            "Wed, 21 Oct 2037 07:28:00.1234 GMT",
            "Wed, 31 Feb 2037 07:28:00 GMT",
            "Wed, 21 Oct 2037 25:28:00 GMT",
            "Wed, 21 Okt 2037 07:28:00 GMT",
            "Wed, +1 Oct 2037 07:28:00 GMT",
            "Wed, 21 Oct 2037 07:28:00 GMT€",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_dates_round_trip() {
        for text in [
            "2030-01-02T03:04:05Z",
            "2030-01-02T03:04:05.5Z",
            "2030-01-02T03:04:05.123456Z",
        ] {
            let at = parse_rfc3339(text).unwrap();
            assert_eq!(rfc3339(at), text, "{text}");
        }
        assert_eq!(
            parse_rfc3339("2030-01-02T03:04:05.000Z")
                .map(rfc3339)
                .as_deref(),
            Some("2030-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_rfc3339("1893456000").map(rfc3339).as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        for bad in [
            "2030-01-02T03:04:05+01:00",
            "2030-01-02 03:04:05Z",
            "2030-01-02T03:04:05z",
            "soon",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
