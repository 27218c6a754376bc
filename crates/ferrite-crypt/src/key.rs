//! 256-bit key material.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// 32 bytes of key material: a master key, a customer key, a data key. `Debug` prints
/// `Key(***)`, there is no `Display`, the bytes are wiped when it is dropped, and
/// equality is constant-time. Only [`Key::expose`] lets the bytes out.
#[derive(Clone)]
pub struct Key([u8; 32]);

/// Key material that could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a key is 32 bytes, not {0}")]
    Length(usize),
    #[error("the system's random source failed")]
    Random,
}

impl Key {
    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<Key, KeyError> {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes)?;
        Ok(Key(bytes))
    }

    /// The key whose bytes are `bytes` (exactly 32).
    pub fn from_slice(bytes: &[u8]) -> Result<Key, KeyError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Key(array))
    }

    /// The key's bytes: to seal it, or to hand it to a cipher.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A key's fingerprint under `salt`: HMAC-SHA256 keyed by the key itself over a fixed
/// label and the salt. It recognises the key again ([`Key::matches`]) without
/// revealing it: finding a key with a given fingerprint is as hard as finding the
/// key. SSE-C stores this instead of the customer's key.
pub fn fingerprint(key: &Key, salt: &[u8; 16]) -> [u8; 32] {
    let mac = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key.0);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&mac);
    ctx.update(b"ferrite/key-fingerprint/");
    ctx.update(salt);
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// A 256-bit tag of `data` under `key` for the purpose `label` (HMAC-SHA256 over the
/// label and the data): a value derived from a secret key that reveals nothing of it.
pub fn keyed_tag(key: &Key, label: &[u8], data: &[u8]) -> [u8; 32] {
    let mac = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key.0);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&mac);
    ctx.update(label);
    ctx.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

impl Key {
    /// Whether this key's fingerprint under `salt` is `expected` (constant time).
    pub fn matches(&self, salt: &[u8; 16], expected: &[u8; 32]) -> bool {
        fingerprint(self, salt).ct_eq(expected).into()
    }
}

/// Fills `out` from the operating system's random source.
pub fn random_bytes(out: &mut [u8]) -> Result<(), KeyError> {
    SystemRandom::new().fill(out).map_err(|_| KeyError::Random)
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(***)")
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Key {}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_recognises_only_its_key_and_salt() {
        let key = Key::from_slice(&[7; 32]).unwrap();
        let salt = [1u8; 16];
        let print = fingerprint(&key, &salt);
        assert!(key.matches(&salt, &print));
        assert!(!Key::from_slice(&[8; 32]).unwrap().matches(&salt, &print));
        assert!(!key.matches(&[2u8; 16], &print));
        assert_ne!(&print, key.expose(), "the fingerprint is not the key");
    }

    #[test]
    fn debug_hides_the_bytes() {
        let key = Key::from_slice(&[0xab; 32]).unwrap();
        let shown = format!("{key:?} {:?}", Some(&key));
        assert_eq!(shown, "Key(***) Some(Key(***))");
        assert!(!shown.to_ascii_lowercase().contains("ab"));
    }

    #[test]
    fn random_keys_differ_and_lengths_are_checked() {
        assert_ne!(Key::random().unwrap(), Key::random().unwrap());
        assert_eq!(Key::from_slice(&[1; 31]), Err(KeyError::Length(31)));
        assert_eq!(Key::from_slice(&[1; 33]), Err(KeyError::Length(33)));
        assert_eq!(Key::from_slice(&[7; 32]).unwrap().expose(), &[7; 32]);
    }
}
