//! Sealing small secrets (data keys, customer keys, access key secrets) under a
//! key-encryption key: AES-256-GCM with a fresh random nonce, the context as
//! associated data (what the secret belongs to: opening it under another context
//! fails).
//!
//! A sealed value is `0x01` (this layout), the 12-byte nonce, the ciphertext (as long
//! as the secret), the 16-byte tag.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::{CryptError, Key, KeyError, random_bytes};

const LAYOUT: u8 = 1;
const NONCE: usize = 12;
const TAG: usize = 16;

fn cipher(kek: &Key) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.expose()).expect("a 32-byte key is an AES-256 key"))
}

/// Seals `secret` under `kek`, bound to `context`.
pub fn seal(kek: &Key, secret: &[u8], context: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; NONCE];
    random_bytes(&mut nonce)?;
    let mut out = Vec::with_capacity(1 + NONCE + secret.len() + TAG);
    out.push(LAYOUT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(secret);
    let tag = cipher(kek)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut out[1 + NONCE..],
        )
        .expect("a small secret fits the cipher's limit");
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens what [`seal`] sealed under `kek` and `context`.
pub fn open(kek: &Key, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptError> {
    if sealed.len() < 1 + NONCE + TAG || sealed[0] != LAYOUT {
        return Err(CryptError::Length);
    }
    let nonce: [u8; NONCE] = sealed[1..1 + NONCE].try_into().expect("12 bytes");
    let mut buf = Zeroizing::new(sealed[1 + NONCE..].to_vec());
    let n = cipher(kek)
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut buf[..])
        .map_err(|_| CryptError::Unauthentic)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

/// Seals a key under `kek`.
pub fn seal_key(kek: &Key, key: &Key, context: &[u8]) -> Result<Vec<u8>, KeyError> {
    seal(kek, key.expose(), context)
}

/// Opens a key sealed by [`seal_key`].
pub fn open_key(kek: &Key, sealed: &[u8], context: &[u8]) -> Result<Key, CryptError> {
    let bytes = open(kek, sealed, context)?;
    Key::from_slice(&bytes).map_err(|_| CryptError::Length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let kek = Key::random().unwrap();
        let data_key = Key::random().unwrap();
        let sealed = seal_key(&kek, &data_key, b"ctx").unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 32 + 16);
        assert!(!sealed.windows(32).any(|w| w == data_key.expose()));
        assert_eq!(open_key(&kek, &sealed, b"ctx").unwrap(), data_key);
        // Fresh nonce each time.
        assert_ne!(seal_key(&kek, &data_key, b"ctx").unwrap(), sealed);
        assert_eq!(open_key(&kek, &sealed, b"other"), Err(CryptError::Unauthentic));
        assert_eq!(
            open_key(&Key::random().unwrap(), &sealed, b"ctx"),
            Err(CryptError::Unauthentic)
        );
        for at in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[at] ^= 0x80;
            assert_eq!(open_key(&kek, &bad, b"ctx"), Err(CryptError::Unauthentic), "byte {at}");
        }
        assert_eq!(open_key(&kek, &sealed[..20], b"ctx"), Err(CryptError::Length));
        let mut other_layout = sealed.clone();
        other_layout[0] = 2;
        assert_eq!(open_key(&kek, &other_layout, b"ctx"), Err(CryptError::Length));
    }

    #[test]
    fn secrets_of_any_length() {
        let kek = Key::random().unwrap();
        for secret in [&b""[..], b"x", b"a secret access key of forty characters!"] {
            let sealed = seal(&kek, secret, b"user/alice").unwrap();
            assert_eq!(&open(&kek, &sealed, b"user/alice").unwrap()[..], secret);
        }
    }
}
