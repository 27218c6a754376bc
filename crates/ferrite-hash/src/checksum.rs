//! Body digests: the MD5 behind every ETag and the `x-amz-checksum-*` algorithms,
//! computed in one pass while the body streams through.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

use crate::md5_lanes::Md5Stream;
use crate::{HashError, HashResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    /// The name S3 uses (`x-amz-checksum-algorithm`, and the header suffix lowercased).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether a multipart object can carry a full-object checksum of this algorithm
    /// (CRCs combine across parts; hashes do not).
    pub fn supports_full_object(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }

    /// Whether a multipart object can carry a composite checksum of this algorithm
    /// (all but CRC64NVME, which S3 defines as full-object only).
    pub fn supports_composite(self) -> bool {
        self != Self::Crc64Nvme
    }

    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Self::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Self::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Self::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// A checksum as S3 shows it: the algorithm and the base64 of the digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksumValue {
    pub algorithm: ChecksumAlgorithm,
    pub base64: String,
}

impl ChecksumValue {
    /// Validates a client-supplied value. One that is not base64 of a digest of the
    /// algorithm's length can never match the body: `BadDigest`, as S3 answers.
    pub fn parse(algorithm: ChecksumAlgorithm, base64: &str) -> HashResult<Self> {
        match B64.decode(base64.trim()) {
            Ok(raw) if raw.len() == algorithm.digest_len() => Ok(Self {
                algorithm,
                base64: B64.encode(raw),
            }),
            _ => Err(HashError::BadDigest(checksum_label(algorithm))),
        }
    }
}

impl ChecksumValue {
    /// A composite checksum (a checksum of the parts' checksums) is shown as
    /// `<base64>-<part count>`.
    pub fn is_composite(&self) -> bool {
        self.base64.contains('-')
    }

    fn raw(&self) -> HashResult<Vec<u8>> {
        B64.decode(&self.base64)
            .map_err(|_| HashError::Corrupt("stored checksum is not base64".into()))
    }
}

/// The checksum of a multipart object from its parts' checksums and sizes: a
/// full-object CRC combined from the part CRCs (no data is read again), or a
/// composite checksum, the algorithm over the concatenated binary part checksums,
/// suffixed `-N`.
pub fn multipart_checksum(
    algorithm: ChecksumAlgorithm,
    full_object: bool,
    parts: &[(&ChecksumValue, u64)],
) -> HashResult<ChecksumValue> {
    let mut raws = Vec::with_capacity(parts.len());
    for (c, _) in parts {
        if c.algorithm != algorithm || c.is_composite() {
            return Err(HashError::Internal("part checksum of another algorithm".into()));
        }
        raws.push(c.raw()?);
    }
    let base64 = if full_object {
        let crc = algorithm.crc().ok_or_else(|| {
            HashError::InvalidArgument(format!("{} cannot be a full-object checksum", algorithm.name()))
        })?;
        let mut acc: Option<u64> = None;
        for (raw, (_, len)) in raws.iter().zip(parts) {
            let v = raw.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
            acc = Some(match acc {
                None => v,
                Some(a) => crc_fast::checksum_combine(crc, a, v, *len),
            });
        }
        let v = acc.unwrap_or(0);
        if algorithm == ChecksumAlgorithm::Crc64Nvme {
            B64.encode(v.to_be_bytes())
        } else {
            B64.encode((v as u32).to_be_bytes())
        }
    } else {
        let mut h = BodyHasher::new(Some(algorithm));
        for raw in &raws {
            h.update(raw);
        }
        let whole = h.finish().checksum.expect("an algorithm was given");
        format!("{}-{}", whole.base64, parts.len())
    };
    Ok(ChecksumValue { algorithm, base64 })
}

/// What the client claims about the body, checked once it has been read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub md5: Option<[u8; 16]>,
    pub checksum: Option<ChecksumValue>,
    /// Declared body length, if any.
    pub length: Option<u64>,
}

impl Expected {
    /// Parses a `Content-MD5` header value (base64 of 16 bytes).
    pub fn parse_content_md5(value: &str) -> HashResult<[u8; 16]> {
        let raw = B64
            .decode(value.trim())
            .map_err(|_| HashError::InvalidDigest("Content-MD5 is not base64".into()))?;
        raw.try_into()
            .map_err(|_| HashError::InvalidDigest("Content-MD5 is not 16 bytes".into()))
    }
}

enum Extra {
    Crc(crc_fast::Digest, ChecksumAlgorithm),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// MD5 plus at most one extra checksum, fed in one pass.
pub struct BodyHasher {
    /// Also counts the length. Staging lends it to the lane hashing threads
    /// ([`BodyHasher::lend_md5`]) while it feeds the extra checksum itself.
    md5: Md5Stream,
    extra: Option<Extra>,
}

/// Digests of a whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub md5: [u8; 16],
    pub checksum: Option<ChecksumValue>,
    pub len: u64,
}

impl BodyHasher {
    pub fn new(extra: Option<ChecksumAlgorithm>) -> Self {
        let extra = extra.map(|a| match a {
            ChecksumAlgorithm::Crc32 => Extra::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc), a),
            ChecksumAlgorithm::Crc32c => Extra::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi), a),
            ChecksumAlgorithm::Crc64Nvme => Extra::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme), a),
            ChecksumAlgorithm::Sha1 => Extra::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Extra::Sha256(sha2::Sha256::new()),
        });
        Self {
            md5: Md5Stream::new(),
            extra,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.update_extra(data);
    }

    /// Takes the MD5 state out, to be continued elsewhere and given back with
    /// [`BodyHasher::return_md5`]; meanwhile feed the body to [`BodyHasher::update_extra`].
    pub fn lend_md5(&mut self) -> Md5Stream {
        std::mem::take(&mut self.md5)
    }

    pub fn return_md5(&mut self, md5: Md5Stream) {
        self.md5 = md5;
    }

    /// Feeds only the extra checksum.
    pub fn update_extra(&mut self, data: &[u8]) {
        match &mut self.extra {
            Some(Extra::Crc(d, _)) => d.update(data),
            Some(Extra::Sha1(d)) => d.update(data),
            Some(Extra::Sha256(d)) => d.update(data),
            None => {}
        }
    }

    pub fn finish(self) -> Digests {
        let checksum = self.extra.map(|e| match e {
            Extra::Crc(d, algorithm) => {
                let v = d.finalize();
                let raw = if algorithm == ChecksumAlgorithm::Crc64Nvme {
                    v.to_be_bytes().to_vec()
                } else {
                    (v as u32).to_be_bytes().to_vec()
                };
                ChecksumValue {
                    algorithm,
                    base64: B64.encode(raw),
                }
            }
            Extra::Sha1(d) => ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha1,
                base64: B64.encode(d.finalize()),
            },
            Extra::Sha256(d) => ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha256,
                base64: B64.encode(d.finalize()),
            },
        });
        Digests {
            len: self.md5.len,
            md5: self.md5.finalize(),
            checksum,
        }
    }
}

impl Digests {
    /// Checks the body against what the client claimed. Length first, then MD5, then
    /// the checksum, so a truncated body is reported as such.
    pub fn verify(&self, expected: &Expected) -> HashResult<()> {
        if let Some(len) = expected.length
            && len != self.len
        {
            return Err(HashError::IncompleteBody);
        }
        if let Some(md5) = expected.md5
            && md5 != self.md5
        {
            return Err(HashError::BadDigest("Content-MD5"));
        }
        if let Some(want) = &expected.checksum {
            match &self.checksum {
                Some(got) if got.algorithm == want.algorithm && got.base64 == want.base64 => {}
                Some(got) if got.algorithm == want.algorithm => {
                    return Err(HashError::BadDigest(checksum_label(want.algorithm)));
                }
                _ => {
                    return Err(HashError::Internal(
                        "checksum was not computed with the expected algorithm".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }
}

fn checksum_label(a: ChecksumAlgorithm) -> &'static str {
    match a {
        ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
        ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
        ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
        ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
        ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(algo: ChecksumAlgorithm, data: &[u8]) -> Digests {
        let mut h = BodyHasher::new(Some(algo));
        // Feed in uneven pieces: the result must not depend on chunking.
        for piece in data.chunks(3) {
            h.update(piece);
        }
        h.finish()
    }

    /// MD5 (the ETag) against values computed outside Rust (RFC 1321's suite and
    /// Python's hashlib), fed in pieces that straddle 64-byte blocks: the server uses
    /// md-5's assembly implementation, and it must agree with everyone else's.
    #[test]
    fn md5_matches_reference_values() {
        let md5_hex = |data: &[u8], piece: usize| {
            let mut h = BodyHasher::new(None);
            for p in data.chunks(piece.max(1)) {
                h.update(p);
            }
            hex::encode(h.finish().md5)
        };
        let rfc = [
            (&b""[..], "d41d8cd98f00b204e9800998ecf8427e"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (data, want) in rfc {
            for piece in [1, 7, 64, 1000] {
                assert_eq!(md5_hex(data, piece), want, "{data:?} in pieces of {piece}");
            }
        }
        let big: Vec<u8> = (0..1_000_003usize).map(|i| (i * 31 % 251) as u8).collect();
        for piece in [65_536, 100_003, 1 << 20] {
            assert_eq!(md5_hex(&big, piece), "b6beeeb589e7009dc4109f5014dba093");
        }
    }

    /// Known answers for "hello world", as AWS computes them.
    #[test]
    fn multipart_checksums_combine_like_the_whole_body() {
        let a = vec![7u8; 5000];
        let b = b"the second part".to_vec();
        let whole = [a.clone(), b.clone()].concat();
        for algo in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let pa = digest(algo, &a).checksum.unwrap();
            let pb = digest(algo, &b).checksum.unwrap();
            let combined = multipart_checksum(algo, true, &[(&pa, a.len() as u64), (&pb, b.len() as u64)]).unwrap();
            assert_eq!(combined, digest(algo, &whole).checksum.unwrap(), "{algo:?}");
        }
        // Composite: the checksum of the concatenated raw part checksums, then -N.
        let pa = digest(ChecksumAlgorithm::Sha256, &a).checksum.unwrap();
        let pb = digest(ChecksumAlgorithm::Sha256, &b).checksum.unwrap();
        let composite = multipart_checksum(ChecksumAlgorithm::Sha256, false, &[(&pa, 1), (&pb, 1)]).unwrap();
        let raw = [B64.decode(&pa.base64).unwrap(), B64.decode(&pb.base64).unwrap()].concat();
        let expected = digest(ChecksumAlgorithm::Sha256, &raw).checksum.unwrap().base64;
        assert_eq!(composite.base64, format!("{expected}-2"));
        assert!(composite.is_composite());
        assert!(multipart_checksum(ChecksumAlgorithm::Sha1, true, &[(&pa, 1)]).is_err());
    }

    #[test]
    fn known_answers() {
        let data = b"hello world";
        let cases = [
            (ChecksumAlgorithm::Crc32, "DUoRhQ=="),
            (ChecksumAlgorithm::Crc32c, "yZRlqg=="),
            (ChecksumAlgorithm::Crc64Nvme, "jSnVw/bqjr4="),
            (ChecksumAlgorithm::Sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            (
                ChecksumAlgorithm::Sha256,
                "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
            ),
        ];
        for (algo, want) in cases {
            let d = digest(algo, data);
            assert_eq!(d.checksum.as_ref().unwrap().base64, want, "{algo:?}");
            assert_eq!(d.etag(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
            assert_eq!(d.len, 11);
        }
    }

    #[test]
    fn verify_reports_each_mismatch() {
        let d = digest(ChecksumAlgorithm::Crc32, b"hello world");
        let good_md5 = d.md5;
        assert!(d.verify(&Expected::default()).is_ok());
        assert!(
            d.verify(&Expected {
                md5: Some(good_md5),
                length: Some(11),
                ..Default::default()
            })
            .is_ok()
        );
        assert!(matches!(
            d.verify(&Expected {
                md5: Some([0; 16]),
                ..Default::default()
            }),
            Err(HashError::BadDigest("Content-MD5"))
        ));
        assert!(matches!(
            d.verify(&Expected {
                length: Some(12),
                ..Default::default()
            }),
            Err(HashError::IncompleteBody)
        ));
        let wrong = ChecksumValue::parse(ChecksumAlgorithm::Crc32, "AAAAAA==").unwrap();
        assert!(matches!(
            d.verify(&Expected {
                checksum: Some(wrong),
                ..Default::default()
            }),
            Err(HashError::BadDigest("x-amz-checksum-crc32"))
        ));
        let right = ChecksumValue::parse(ChecksumAlgorithm::Crc32, "DUoRhQ==").unwrap();
        assert!(
            d.verify(&Expected {
                checksum: Some(right),
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn malformed_digests_are_invalid() {
        assert!(matches!(
            Expected::parse_content_md5("not base64!"),
            Err(HashError::InvalidDigest(_))
        ));
        assert!(matches!(
            Expected::parse_content_md5("AAAA"),
            Err(HashError::InvalidDigest(_))
        ));
        // A checksum that cannot be a digest of the algorithm can never match: BadDigest.
        for bad in ["AAAAAA==", "bad", "!!!"] {
            assert!(matches!(
                ChecksumValue::parse(ChecksumAlgorithm::Sha256, bad),
                Err(HashError::BadDigest(_))
            ));
        }
    }
}
