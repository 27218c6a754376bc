//! Typed condition values: dates, IP ranges and base64, parsed once from the policy and,
//! for dates and addresses, again from each request's values (without allocating).

use std::net::{IpAddr, Ipv6Addr};

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// A point in time as Unix nanoseconds.
pub(crate) type Instant = i128;

/// A date in epoch seconds (`1700000000`) or in one of the "W3C implementations of the
/// ISO 8601 date formats" the IAM User Guide names for the Date operators: `YYYY`,
/// `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm`, `YYYY-MM-DDThh:mm:ss`, with optional
/// fractional seconds, and a zone designator `Z` or `±hh:mm` (absent = UTC). A value of
/// digits only is epoch seconds (so `2020` is 2020 seconds after the epoch, not a year).
pub(crate) fn parse_date(s: &str) -> Option<Instant> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: i64 = s.parse().ok()?;
        return Some(i128::from(seconds) * 1_000_000_000);
    }
    parse_iso8601(s)
}

fn parse_iso8601(s: &str) -> Option<Instant> {
    let mut p = Scanner { s: s.as_bytes(), at: 0 };
    let year = p.number(4)?;
    let (mut month, mut day) = (1, 1);
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    let mut offset_minutes: i32 = 0;
    if p.eat(b'-') {
        month = p.number(2)?;
        if p.eat(b'-') {
            day = p.number(2)?;
            if p.eat(b'T') || p.eat(b't') {
                hour = p.number(2)?;
                if !p.eat(b':') {
                    return None;
                }
                minute = p.number(2)?;
                if p.eat(b':') {
                    second = p.number(2)?;
                    if p.eat(b'.') {
                        nanos = p.fraction()?;
                    }
                }
                offset_minutes = p.zone()?;
            }
        }
    }
    if !p.done() {
        return None;
    }
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .unix_timestamp_nanos(),
    )
}

struct Scanner<'a> {
    s: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn eat(&mut self, b: u8) -> bool {
        let hit = self.s.get(self.at) == Some(&b);
        if hit {
            self.at += 1;
        }
        hit
    }

    /// Exactly `n` ASCII digits.
    fn number(&mut self, n: usize) -> Option<u32> {
        let digits = self.s.get(self.at..self.at + n)?;
        let mut value = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(d - b'0');
        }
        self.at += n;
        Some(value)
    }

    /// One or more digits after the decimal point, as nanoseconds (beyond 9 ignored).
    fn fraction(&mut self) -> Option<u32> {
        let start = self.at;
        let mut nanos = 0;
        while let Some(d) = self.s.get(self.at).filter(|d| d.is_ascii_digit()) {
            if self.at - start < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            self.at += 1;
        }
        let len = self.at - start;
        if len == 0 {
            return None;
        }
        Some(nanos * 10u32.pow(9u32.saturating_sub(len as u32)))
    }

    /// `Z`, `±hh:mm`, or nothing (UTC); the offset in minutes.
    fn zone(&mut self) -> Option<i32> {
        if self.done() || self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2)?;
        if !self.eat(b':') {
            return None;
        }
        let minutes = self.number(2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 60 + minutes) as i32)
    }

    fn done(&self) -> bool {
        self.at == self.s.len()
    }
}

/// An IPv4 or IPv6 range. "If you specify an IP address without the associated routing
/// prefix, IAM uses the default prefix value of /32" (/128 for IPv6).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cidr {
    V4 { net: u32, prefix: u8 },
    V6 { net: u128, prefix: u8 },
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => {
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (addr, Some(prefix.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let prefix = prefix.unwrap_or(32);
                (prefix <= 32).then(|| Cidr::V4 {
                    net: u32::from(a) & mask32(prefix),
                    prefix,
                })
            }
            IpAddr::V6(a) => {
                let prefix = prefix.unwrap_or(128);
                (prefix <= 128).then(|| Cidr::V6 {
                    net: u128::from(a) & mask128(prefix),
                    prefix,
                })
            }
        }
    }

    /// Whether the address is in the range. An
    /// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as its IPv4 address.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Cidr::V4 { net, prefix }, IpAddr::V4(a)) => u32::from(a) & mask32(*prefix) == *net,
            (Cidr::V4 { .. }, IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| self.contains(IpAddr::V4(a))),
            (Cidr::V6 { net, prefix }, IpAddr::V6(a)) => u128::from(a) & mask128(*prefix) == *net,
            (Cidr::V6 { .. }, IpAddr::V4(_)) => false,
        }
    }

    pub(crate) fn prefix_len(&self) -> (bool, u8) {
        match self {
            Cidr::V4 { prefix, .. } => (true, *prefix),
            Cidr::V6 { prefix, .. } => (false, *prefix),
        }
    }
}

pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().or_else(|| {
        // Tolerate the bracketed form some proxies send (`[2001:db8::1]`).
        let inner = s.strip_prefix('[')?.strip_suffix(']')?;
        inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    })
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

/// Standard base64 with padding (RFC 4648 §4), as `BinaryEquals` values are written.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn sextet(b: u8) -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (n, chunk) in bytes.chunks(4).enumerate() {
        let last = n + 1 == chunks;
        let pad = if last {
            chunk.iter().rev().take_while(|&&b| b == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut word = 0u32;
        for &b in &chunk[..4 - pad] {
            word = word << 6 | sextet(b)?;
        }
        word <<= 6 * pad as u32;
        let decoded = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = |s| parse_date(s);
        assert_eq!(t("0"), Some(0));
        assert_eq!(t("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("1970-01-01T00:00Z"), Some(0));
        assert_eq!(t("1970-01-01"), Some(0));
        // All digits is epoch seconds, even when it could be a W3C year.
        assert_eq!(t("1970"), Some(1_970_000_000_000));
        assert_eq!(t("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(t("1970-01-01T00:00:00.5Z"), Some(500_000_000));
        assert_eq!(t("2020-01-01T00:00:01Z"), Some(1_577_836_801_000_000_000));
        for bad in [
            "",
            "x",
            "2020-13-01",
            "2020-02-30",
            "2020-01-01T25:00Z",
            "2020-01-01T00:00:00Zjunk",
            "2020-1-1",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.255".parse().unwrap()));
        assert!(!c.contains("203.0.114.0".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.7".parse().unwrap()));
        let c = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!c.contains("2001:db8:1234:5679::1".parse().unwrap()));
        let c = Cidr::parse("192.0.2.1").unwrap();
        assert!(c.contains("192.0.2.1".parse().unwrap()));
        assert!(!c.contains("192.0.2.2".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["1.2.3.4/33", "::/129", "1.2.3.4/", "1.2.3/24", "x", "1.2.3.4/+1"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(
            decode_base64("QmluYXJ5VmFsdWVJbkJhc2U2NA==").unwrap(),
            b"BinaryValueInBase64"
        );
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert!(decode_base64("YQ=").is_none());
        assert!(decode_base64("Y===").is_none());
        assert!(decode_base64("YQ==YQ==").is_none());
        assert!(decode_base64("!!!!").is_none());
    }
}
