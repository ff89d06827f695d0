//! The identifiers IAM and STS hand out, shaped as AWS's: a four-letter prefix naming the
//! entity kind (`AROA` role, `ANPA` managed policy, `ASIA` temporary access key) followed by
//! base32 characters, 40-character secrets and opaque session tokens.

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The alphabet of AWS unique ids.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The alphabet of secret access keys.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Prefix of role ids.
pub const ROLE_PREFIX: &str = "AROA";
/// Prefix of managed policy ids.
pub const POLICY_PREFIX: &str = "ANPA";
/// Prefix of temporary (STS) access key ids.
pub const TEMPORARY_KEY_PREFIX: &str = "ASIA";

fn random_from(alphabet: &[u8], length: usize) -> String {
    let mut rng = rand::rng();
    (0..length).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// A fresh unique id: `prefix` and 17 characters (21 in all, like `AROADBQP57FF2AEXAMPLE`).
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(ID_ALPHABET, 17))
}

/// A stable unique id derived from `seed`, for entities that exist in every account (the
/// AWS-managed policies) or were never created (roles named only by an ARN).
pub fn stable_id(prefix: &str, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let suffix: String = digest.iter().take(17).map(|byte| ID_ALPHABET[usize::from(*byte) % 32] as char).collect();
    format!("{prefix}{suffix}")
}

/// A fresh temporary access key id (`ASIA` and 16 characters).
pub fn temporary_access_key_id() -> String {
    format!("{TEMPORARY_KEY_PREFIX}{}", random_from(ID_ALPHABET, 16))
}

/// A fresh 40-character secret access key.
pub fn secret_access_key() -> String {
    random_from(SECRET_ALPHABET, 40)
}

/// A fresh session token: 192 random bytes, base64.
pub fn session_token() -> String {
    let mut bytes = [0u8; 192];
    rand::rng().fill(&mut bytes[..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_id(value: &str, prefix: &str, length: usize) -> bool {
        value.len() == length
            && value.starts_with(prefix)
            && value[prefix.len()..].bytes().all(|byte| ID_ALPHABET.contains(&byte))
    }

    #[test]
    fn ids_have_aws_shapes() {
        assert!(is_id(&unique_id(ROLE_PREFIX), "AROA", 21));
        assert!(is_id(&unique_id(POLICY_PREFIX), "ANPA", 21));
        assert!(is_id(&temporary_access_key_id(), "ASIA", 20));
        assert_ne!(unique_id(ROLE_PREFIX), unique_id(ROLE_PREFIX));
        let secret = secret_access_key();
        assert_eq!(secret.len(), 40);
        assert!(session_token().len() > 200);
    }

    #[test]
    fn stable_ids_depend_only_on_their_seed() {
        let arn = "arn:aws:iam::aws:policy/AdministratorAccess";
        assert_eq!(stable_id(POLICY_PREFIX, arn), stable_id(POLICY_PREFIX, arn));
        assert!(is_id(&stable_id(POLICY_PREFIX, arn), "ANPA", 21));
        assert_ne!(stable_id(POLICY_PREFIX, arn), stable_id(POLICY_PREFIX, "other"));
    }
}
