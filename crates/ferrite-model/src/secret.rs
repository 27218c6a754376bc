//! Secret keys in memory: hidden from `Debug`, wiped when dropped, compared in
//! constant time. Every secret the server holds (root's, each user's access key
//! secret) lives in a [`Secret`] from the moment it is read until it is dropped; only
//! [`Secret::expose`] lets the bytes out (to sign with, or to hand a new key's secret
//! to its creator once).

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A secret string. `Debug` prints `Secret(***)`; there is no `Display`.
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret itself. Call sites are few and named: signing, and answering the
    /// request that created it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Constant time in the contents (the length of the two may leak, as with any
/// comparison of variable-length strings).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let shown = format!("{s:?} {:?}", Some(&s));
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(Secret::new("abc"), Secret::from("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert_ne!(Secret::new(""), Secret::new("a"));
    }
}
