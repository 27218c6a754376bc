//! Virtual-hosted-style addressing: `bucket.DOMAIN[:port]` names a bucket; every other
//! Host (the domain itself, an IP, `localhost`) is path style.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

pub struct VirtualHostDomain {
    domain: String,
}

impl VirtualHostDomain {
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
        }
    }
}

impl VirtualHostDomain {
    /// The bucket a Host header names, if it is `bucket.DOMAIN`.
    pub fn bucket_of(&self, host: &str) -> Option<String> {
        self.parse_host_header(host).ok()?.bucket().map(str::to_string)
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

impl S3Host for VirtualHostDomain {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        let bucket = name
            .len()
            .checked_sub(self.domain.len() + 1)
            .filter(|&cut| name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(&format!(".{}", self.domain)))
            .map(|cut| &name[..cut]);
        Ok(match bucket {
            Some(b) if !b.is_empty() => VirtualHost::new(self.domain.as_str()).with_bucket(b),
            _ => VirtualHost::new(self.domain.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_come_from_subdomains_only() {
        let h = VirtualHostDomain::new("s3.example.com");
        let bucket = |host: &str| h.parse_host_header(host).unwrap().bucket().map(str::to_string);
        assert_eq!(bucket("photos.s3.example.com"), Some("photos".into()));
        assert_eq!(bucket("photos.s3.example.com:9000"), Some("photos".into()));
        assert_eq!(
            bucket("my.dotted.bucket.s3.example.com"),
            Some("my.dotted.bucket".into())
        );
        assert_eq!(bucket("s3.example.com:9000"), None);
        assert_eq!(bucket("localhost:9000"), None);
        assert_eq!(bucket("127.0.0.1:9000"), None);
        assert_eq!(bucket("evil-s3.example.com"), None);
    }
}
