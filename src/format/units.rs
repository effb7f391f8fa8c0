//! Human units: sizes and ages as Podman prints them, and Go duration
//! strings (`1h30m`, `300ms`) as Podman reads them.

/// Decimal size with three significant digits and a space before the unit, as
/// `podman images` prints it: `2.13 MB`, `12 B`.
pub fn human_size(bytes: u64) -> String {
    let (num, unit) = size_parts(bytes);
    format!("{num} {unit}")
}

/// The same without the space, as `podman ps --size` prints it: `1.98MB`, `12B`.
pub fn human_size_compact(bytes: u64) -> String {
    let (num, unit) = size_parts(bytes);
    format!("{num}{unit}")
}

/// Four significant digits, no space, as go-units' `HumanSize` (what
/// `podman system df` prints): `4.516MB`, `281MB`, `22B`.
pub fn human_size_4(bytes: u64) -> String {
    let (num, unit) = size_parts_with(bytes, 4);
    format!("{num}{unit}")
}

/// Binary units with four significant digits, no space, as go-units'
/// `BytesSize` (what Podman's stats print as MemUsageBytes): `64MiB`,
/// `1.5KiB`, `1023B`.
pub fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (size, i) = scaled(bytes, 1024.0, UNITS.len());
    format!("{}{}", significant(size, 4), UNITS[i])
}

/// `bytes` divided by `base` while it is at least `base` (at most
/// `units - 1` times), and how many times.
fn scaled(bytes: u64, base: f64, units: usize) -> (f64, usize) {
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= base && i < units - 1 {
        size /= base;
        i += 1;
    }
    (size, i)
}

fn size_parts(bytes: u64) -> (String, &'static str) {
    size_parts_with(bytes, 3)
}

/// The number and unit of `bytes` with `digits` significant digits (3 or 4).
fn size_parts_with(bytes: u64, digits: usize) -> (String, &'static str) {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let (size, mut i) = scaled(bytes, 1000.0, UNITS.len());
    let mut num = significant(size, digits);
    // go-units prints 999999 bytes as `1e+03kB`; rounding up to the next unit reads better.
    if num == "1000" && i < UNITS.len() - 1 {
        num = "1".to_string();
        i += 1;
    }
    (num, UNITS[i])
}

/// Go's `%.Ng` (N = `digits`, 3 or 4) for 0 <= x < 10000, without the
/// exponent form.
fn significant(x: f64, digits: usize) -> String {
    let before = if x >= 1000.0 {
        4
    } else if x >= 100.0 {
        3
    } else if x >= 10.0 {
        2
    } else {
        1
    };
    let decimals = digits.saturating_sub(before);
    let mut s = format!("{x:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

/// How long ago `t` was: `About an hour ago`.
pub fn human_ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds();
    format!("{} ago", human_duration(secs))
}

/// A duration in words, as Docker's go-units `HumanDuration` says it.
pub fn human_duration(secs: i64) -> String {
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go's Duration.Round(time.Hour): halves round away from zero.
    let hours = (secs + 1800) / 3600;
    if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// Parses a Go duration string as Go's `time.ParseDuration` does (Podman
/// reads `--since 1h30m`, `--time 1.5s` and healthcheck intervals with it): an
/// optional sign, then one or more decimal numbers each with a unit, `ns`,
/// `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`: `300ms`, `-1.5h`, `2h45m`,
/// `.5s`, `1.s`; a lone `0` needs no unit. Gives signed nanoseconds; a value
/// beyond Go's range (about 292 years) or any other text is an error naming it.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    const UNITS: [(&str, u64); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    // Go allows up to 1<<63 nanoseconds before the sign, so that the most
    // negative duration parses.
    const LIMIT: u128 = 1 << 63;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("invalid duration {s:?}: missing unit")
            } else {
                format!("invalid duration {s:?}: unknown unit {unit:?}")
            });
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = whole.checked_mul(u128::from(scale)).ok_or_else(invalid)?;
        if v > LIMIT {
            return Err(invalid());
        }
        // Go's leadingFraction: digits beyond what fits in 63 bits are
        // ignored, and the fraction is applied in float64 (exact to the
        // nanosecond for fractions of an hour).
        let (mut frac, mut frac_scale) = (0u64, 1f64);
        for d in frac_part.bytes() {
            if frac > (i64::MAX as u64) / 10 {
                break;
            }
            let y = frac * 10 + u64::from(d - b'0');
            if u128::from(y) > LIMIT {
                break;
            }
            frac = y;
            frac_scale *= 10.0;
        }
        if frac > 0 {
            v += (frac as f64 * (scale as f64 / frac_scale)) as u128;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
        rest = next;
    }
    if neg {
        Ok((total as i128).wrapping_neg() as i64)
    } else if total == LIMIT {
        Err(invalid())
    } else {
        Ok(total as i64)
    }
}

/// Parses a `--since`/`--until` time or an `until=` filter: RFC 3339 times, Unix seconds, or Go durations
/// before now (`10m`, `1h30m`, `1.5s`, `300ms`), as Podman reads them.
pub fn parse_time(
    s: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return chrono::DateTime::from_timestamp(secs, 0);
    }
    let nanos = parse_go_duration(s).ok()?;
    Some(now - chrono::Duration::nanoseconds(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1 kB");
        assert_eq!(human_size(12_345), "12.3 kB");
        assert_eq!(human_size(123_456), "123 kB");
        assert_eq!(human_size(2_130_000), "2.13 MB");
        assert_eq!(human_size(999_999), "1 MB");
        assert_eq!(human_size(5_000_000_000), "5 GB");
        assert_eq!(human_size_compact(1_980_000), "1.98MB");
        assert_eq!(human_size_compact(12), "12B");
        assert_eq!(human_size_compact(u64::MAX), "18.4EB");
        assert_eq!(human_size_4(4_516_000), "4.516MB");
        assert_eq!(human_size_4(281_000_000), "281MB");
        assert_eq!(human_size_4(22), "22B");
        assert_eq!(human_size_4(0), "0B");
        assert_eq!(human_size_4(12_346), "12.35kB");
        assert_eq!(human_size_4(999_999), "1MB");
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1023), "1023B");
        assert_eq!(bytes_size(1536), "1.5KiB");
        assert_eq!(bytes_size(64 << 20), "64MiB");
        assert_eq!(bytes_size(70_000_000), "66.76MiB");
        assert_eq!(bytes_size(5 << 30), "5GiB");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(-5), "Less than a second");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(119), "About a minute");
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3599), "59 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5399), "About an hour");
        assert_eq!(human_duration(5400), "2 hours");
        assert_eq!(human_duration(47 * 3600), "47 hours");
        assert_eq!(human_duration(48 * 3600), "2 days");
        assert_eq!(human_duration(14 * 86400), "2 weeks");
        assert_eq!(human_duration(60 * 86400), "2 months");
        assert_eq!(human_duration(730 * 86400), "2 years");
        let t = chrono::Utc::now() - chrono::Duration::hours(1);
        assert_eq!(human_ago(t), "About an hour ago");
        assert_eq!(human_ago(chrono::Utc::now()), "Less than a second ago");
    }

    #[test]
    fn go_durations() {
        // The cases of Go's time.TestParseDuration.
        let ok: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5_000_000_000),
            ("30s", 30_000_000_000),
            ("1478s", 1_478_000_000_000),
            ("-5s", -5_000_000_000),
            ("+5s", 5_000_000_000),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5_000_000_000),
            ("5.6s", 5_600_000_000),
            ("5.s", 5_000_000_000),
            (".5s", 500_000_000),
            ("1.0s", 1_000_000_000),
            ("1.00s", 1_000_000_000),
            ("1.004s", 1_004_000_000),
            ("1.0040s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14_000_000_000),
            ("15m", 900_000_000_000),
            ("16h", 57_600_000_000_000),
            ("3h30m", 12_600_000_000_000),
            ("10.5s4m", 250_500_000_000),
            ("-2m3.4s", -123_400_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("-9223372036s854ms775us808ns", i64::MIN),
            ("-2562047h47m16.854775808s", i64::MIN),
            ("0.100000000000000000000h", 360_000_000_000),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ];
        for (text, want) in ok {
            assert_eq!(parse_go_duration(text), Ok(*want), "{text}");
        }
        for bad in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "\u{85}\u{85}",
            "\u{ffff}",
            "9223372036854775808ns",
            "9223372036854775.808us",
            "-9223372036854775809ns",
            "2562047h47m16.854775808s",
            "1h 2m",
        ] {
            let e = parse_go_duration(bad).unwrap_err();
            assert!(e.starts_with("invalid duration"), "{bad}: {e}");
        }
    }
}
