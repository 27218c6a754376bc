//! What the log says about a loaded certificate: subject, serial number, expiry and
//! SHA-256 fingerprint, read from the DER of the end-entity certificate.
//!
//! Only the few fields of the TBSCertificate that the log names are read, with a
//! bounded reader that gives up (None) on anything it does not expect; rustls and
//! webpki do the real parsing and validation. The input is the operator's own file,
//! never the network's, but nothing here may panic on it all the same.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// A certificate as the log names it. Holds nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// The subject's distinguished name (`CN=..., O=...`), or empty when it has none
    /// the reader knows.
    pub subject: String,
    /// Hex of the serial number's bytes.
    pub serial: String,
    pub not_after: Option<OffsetDateTime>,
    /// SHA-256 of the certificate's DER, hex, as `openssl x509 -fingerprint -sha256`
    /// prints it (without the colons).
    pub sha256: String,
    /// Certificates in the chain (the end-entity one first).
    pub chain_len: usize,
}

impl CertSummary {
    pub fn of(end_entity: &[u8], chain_len: usize) -> Self {
        let fields = tbs_fields(end_entity);
        Self {
            subject: fields.as_ref().map(|f| f.subject.clone()).unwrap_or_default(),
            serial: fields.as_ref().map(|f| f.serial.clone()).unwrap_or_default(),
            not_after: fields.and_then(|f| f.not_after),
            sha256: hex::encode(Sha256::digest(end_entity)),
            chain_len,
        }
    }

    /// `notAfter` as RFC 3339, or `unknown`.
    pub fn not_after_text(&self) -> String {
        self.not_after
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| "unknown".into())
    }
}

struct TbsFields {
    serial: String,
    not_after: Option<OffsetDateTime>,
    subject: String,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version`, present in every v3 certificate.
const VERSION_TAG: u8 = 0xA0;

/// One DER element of `input`: its tag, its contents and what follows it. Low tag
/// numbers only (every field read here has one); lengths up to 4 bytes.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (digits, rest) = rest.split_at(n);
        (digits.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// An element that must have `tag`.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match element(input)? {
        (t, contents, rest) if t == tag => Some((contents, rest)),
        _ => None,
    }
}

/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serialNumber,
/// signature, issuer, validity SEQUENCE { notBefore, notAfter }, subject, ... }, ... }
fn tbs_fields(der: &[u8]) -> Option<TbsFields> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let tbs = match element(tbs)? {
        (VERSION_TAG, _, rest) => rest,
        _ => tbs,
    };
    let (serial, rest) = expect(tbs, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, _) = expect(rest, SEQUENCE)?;
    let (_, _not_before, validity_rest) = element(validity)?;
    let not_after = element(validity_rest).and_then(|(tag, text, _)| parse_time(tag, text));
    Some(TbsFields {
        serial: hex::encode(serial),
        not_after,
        subject: distinguished_name(subject),
    })
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950-2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(tag: u8, text: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(text).ok()?;
    let full = match tag {
        UTC_TIME if text.len() == 13 => {
            let yy: u8 = text.get(..2)?.parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        GENERALIZED_TIME if text.len() == 15 => text.to_string(),
        _ => return None,
    };
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    time::PrimitiveDateTime::parse(&full, &format)
        .ok()
        .map(|t| t.assume_utc())
}

/// Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }: the attributes the log
/// names, in order, as `CN=..., O=...`.
fn distinguished_name(mut rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((SET, mut set, rest)) = element(rdns) {
        rdns = rest;
        while let Some((attribute, rest)) = expect(set, SEQUENCE) {
            set = rest;
            let Some((oid, value)) = expect(attribute, OID) else {
                continue;
            };
            let Some((_, value, _)) = element(value) else {
                continue;
            };
            if let Some(name) = attribute_name(oid) {
                parts.push(format!("{name}={}", printable(value)));
            }
        }
    }
    parts.join(", ")
}

/// The short names of the usual attributes (id-at, 2.5.4.x).
fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    match oid {
        [0x55, 0x04, 0x03] => Some("CN"),
        [0x55, 0x04, 0x06] => Some("C"),
        [0x55, 0x04, 0x07] => Some("L"),
        [0x55, 0x04, 0x08] => Some("ST"),
        [0x55, 0x04, 0x0A] => Some("O"),
        [0x55, 0x04, 0x0B] => Some("OU"),
        _ => None,
    }
}

/// A string value fit for one log line: control characters become `?`.
fn printable(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: &str, serial: u64, not_after: OffsetDateTime) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Ferrite tests");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial.to_be_bytes()));
        params.not_after = not_after;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn names_subject_serial_and_expiry() {
        let not_after = time::macros::datetime!(2031-05-06 07:08:09 UTC);
        let der = cert("ferrite.test", 0x0102_0304, not_after);
        let s = CertSummary::of(&der, 2);
        assert_eq!(s.subject, "CN=ferrite.test, O=Ferrite tests");
        assert!(s.serial.ends_with("01020304"), "{}", s.serial);
        assert_eq!(s.not_after, Some(not_after));
        assert_eq!(s.not_after_text(), "2031-05-06T07:08:09Z");
        assert_eq!(s.sha256, hex::encode(Sha256::digest(&der)));
        assert_eq!(s.chain_len, 2);
    }

    #[test]
    fn generalized_time_after_2049() {
        let not_after = time::macros::datetime!(2060-01-02 03:04:05 UTC);
        let s = CertSummary::of(&cert("late", 7, not_after), 1);
        assert_eq!(s.not_after, Some(not_after));
    }

    #[test]
    fn a_control_character_in_the_subject_cannot_forge_a_log_line() {
        let s = CertSummary::of(&cert("a\nb", 1, OffsetDateTime::now_utc()), 1);
        assert!(s.subject.starts_with("CN=a?b"), "{}", s.subject);
    }

    /// Every prefix and every one-byte change of a certificate reads without panicking.
    #[test]
    fn damaged_input_never_panics() {
        let der = cert("x", 9, time::macros::datetime!(2030-01-01 00:00:00 UTC));
        for len in 0..der.len() {
            // The outer length no longer fits: nothing is read.
            let s = CertSummary::of(&der[..len], 1);
            assert!(s.subject.is_empty() && s.not_after.is_none(), "{len}");
        }
        for i in 0..der.len().min(400) {
            for b in [0x00, 0x7f, 0x80, 0x84, 0xff] {
                let mut d = der.clone();
                d[i] = b;
                let _ = CertSummary::of(&d, 1);
            }
        }
        assert_eq!(CertSummary::of(b"not a certificate", 1).subject, "");
    }
}
