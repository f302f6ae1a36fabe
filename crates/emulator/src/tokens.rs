//! Bearer tokens in the platform's format: 32 random bytes as unpadded base64url (43 characters,
//! no prefix), stored only as their sha256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh 43-character token.
pub fn mint_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator only fails on systems this program does not run on; a token made of a
    // weaker source would be worse than stopping.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_platform_shape() {
        let t = mint_token();
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(t, mint_token());
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), hash_token(&mint_token()));
    }
}
