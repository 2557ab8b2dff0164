//! Just enough DER to read a certificate's validity end (`notAfter`), so the TLS step can
//! warn before the server certificate expires. RDS rotates its CA and server
//! certificates on a schedule; an expired one takes every verifying client down at once.
//!
//! Only the path `Certificate → tbsCertificate → validity → notAfter` is walked; anything
//! unexpected yields `None` (the handshake itself already validated the certificate when
//! verification is on).

use chrono::{DateTime, NaiveDate, Utc};

/// One DER element: tag, content, and what follows it.
fn tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` time of an X.509 certificate in DER.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    const SEQUENCE: u8 = 0x30;
    let (tag, cert, _) = tlv(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] EXPLICIT version, optional.
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = tlv(rest)?.2;
    }
    let (tag, validity, _) = tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, time, _) = tlv(after_not_before)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, s: &str) -> Option<DateTime<Utc>> {
    let s = s.strip_suffix('Z')?;
    // Byte-indexed slicing below is only safe on ASCII digits: a certificate is outside
    // input, and a multi-byte character would otherwise split mid-character and panic.
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy: i32 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 if s.len() == 14 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(year, num(0..2)?, num(2..4)?)?;
    let time = date.and_hms_opt(num(4..6)?, num(6..8)?, num(8..10)?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reads_not_after_of_generated_certificates() {
        for (y, m, d) in [(2031, 7, 9), (2049, 12, 31), (2050, 1, 1), (1999, 3, 4)] {
            let mut params = rcgen::CertificateParams::new(vec!["db.example".to_string()]).unwrap();
            params.not_before = rcgen::date_time_ymd(1990, 1, 1);
            params.not_after = rcgen::date_time_ymd(y, m, d);
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            assert_eq!(
                not_after(cert.der()),
                Some(
                    Utc.with_ymd_and_hms(y, u32::from(m), u32::from(d), 0, 0, 0)
                        .unwrap()
                ),
                "{y}-{m}-{d}"
            );
        }
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None);
        assert_eq!(not_after(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }

    #[test]
    fn non_ascii_times_are_none_not_a_panic() {
        // 12 bytes whose byte 2 falls inside a multi-byte character: used to panic.
        for s in [
            "2é010100000Z",
            "202é010100000Z",
            "é9991231000000Z",
            "26０101000000Z",
            "+1+101000000Z",
        ] {
            assert_eq!(parse_time(0x17, s), None, "{s}");
            assert_eq!(parse_time(0x18, s), None, "{s}");
        }
        assert_eq!(
            parse_time(0x17, "310709000000Z"),
            Some(Utc.with_ymd_and_hms(2031, 7, 9, 0, 0, 0).unwrap())
        );
    }
}
