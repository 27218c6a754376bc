//! 256-bit key material.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
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
