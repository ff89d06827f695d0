//! Message signatures as AWS makes them: an RSA key and a self-signed certificate, made once per
//! data dir and kept, sign every message's string-to-sign with SHA1withRSA (`SignatureVersion` 1)
//! or SHA256withRSA (2); the certificate is published at `SigningCertURL`, which Kumo serves
//! itself, so a subscriber verifies a message exactly as it verifies one from AWS.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::RsaPrivateKey;

/// Key size: AWS's SNS certificates carry 2048-bit RSA keys.
const KEY_BITS: usize = 2048;
/// The key, PKCS#8 PEM, under the data dir.
const KEY_FILE: &str = "sns-signing-key.pem";
/// The certificate, PEM, under the data dir.
const CERTIFICATE_FILE: &str = "sns-signing-certificate.pem";
/// Path prefix of the certificate's URL on Kumo's port.
pub const CERTIFICATE_PATH_PREFIX: &str = "/_kumo/sns/";

/// Why the signing key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The filesystem failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The key could not be made, read or written.
    #[error("rsa key: {0}")]
    Key(String),
    /// The certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// Signs SNS messages and names the certificate that verifies them.
pub struct MessageSigner {
    sha1: SigningKey<sha1::Sha1>,
    sha256: SigningKey<sha2::Sha256>,
    certificate_pem: String,
    certificate_file: String,
}

impl MessageSigner {
    /// Reads the key and certificate kept in `data_dir`, making them on first use (blocking:
    /// key generation takes a moment).
    pub fn open(data_dir: &Path) -> Result<Self, SigningError> {
        let key_path = data_dir.join(KEY_FILE);
        let certificate_path = data_dir.join(CERTIFICATE_FILE);
        let (key, certificate_pem) =
            match (std::fs::read_to_string(&key_path), std::fs::read_to_string(&certificate_path)) {
                (Ok(key), Ok(certificate)) => (
                    RsaPrivateKey::from_pkcs8_pem(&key).map_err(|error| SigningError::Key(error.to_string()))?,
                    certificate,
                ),
                _ => Self::create(&key_path, &certificate_path)?,
            };
        Ok(Self::from_parts(key, certificate_pem))
    }

    /// A signer with a fresh key, kept nowhere (tests).
    pub fn ephemeral() -> Result<Self, SigningError> {
        let key = generate_key()?;
        let certificate = self_signed_certificate(&key)?;
        Ok(Self::from_parts(key, certificate))
    }

    fn from_parts(key: RsaPrivateKey, certificate_pem: String) -> Self {
        use sha2::Digest as _;
        // Named after the certificate, as AWS names its files: a new certificate is a new URL.
        let digest = sha2::Sha256::digest(certificate_pem.as_bytes());
        let certificate_file = format!("SimpleNotificationService-{}.pem", hex::encode(&digest[..16]));
        Self {
            sha1: SigningKey::<sha1::Sha1>::new(key.clone()),
            sha256: SigningKey::<sha2::Sha256>::new(key),
            certificate_pem,
            certificate_file,
        }
    }

    fn create(key_path: &Path, certificate_path: &Path) -> Result<(RsaPrivateKey, String), SigningError> {
        let key = generate_key()?;
        let certificate = self_signed_certificate(&key)?;
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|error| SigningError::Key(error.to_string()))?;
        // The certificate is written last: a key without its certificate is made again.
        write_private(key_path, key_pem.as_bytes())?;
        write_private(certificate_path, certificate.as_bytes())?;
        tracing::info!(certificate = %certificate_path.display(), "sns signing certificate created");
        Ok((key, certificate))
    }

    /// The base64 signature of `string_to_sign` for `SignatureVersion` `version` (`2`:
    /// SHA256withRSA; anything else SHA1withRSA, AWS's default).
    pub fn sign(&self, version: &str, string_to_sign: &str) -> String {
        let signature = match version {
            "2" => self.sha256.sign(string_to_sign.as_bytes()).to_bytes(),
            _ => self.sha1.sign(string_to_sign.as_bytes()).to_bytes(),
        };
        base64::engine::general_purpose::STANDARD.encode(signature)
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The certificate's path on Kumo's port (`/_kumo/sns/SimpleNotificationService-<id>.pem`).
    pub fn certificate_path(&self) -> String {
        format!("{CERTIFICATE_PATH_PREFIX}{}", self.certificate_file)
    }
}

fn generate_key() -> Result<RsaPrivateKey, SigningError> {
    RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS).map_err(|error| SigningError::Key(error.to_string()))
}

/// A certificate for `key`, valid for decades (it is Kumo's own; nothing rotates it).
fn self_signed_certificate(key: &RsaPrivateKey) -> Result<String, SigningError> {
    let der = key.to_pkcs8_der().map_err(|error| SigningError::Key(error.to_string()))?;
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, "sns.amazonaws.com");
    name.push(rcgen::DnType::OrganizationName, "Kumo");
    params.distinguished_name = name;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2124, 1, 1);
    Ok(params.self_signed(&key_pair)?.pem())
}

/// Writes `bytes` to `path` readable by Kumo's user only, replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let staging = PathBuf::from(format!("{}.partial", path.display()));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&staging)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&staging, path)
}

/// AWS's string-to-sign: each field as `Name\nvalue\n`, in the order AWS documents (a
/// notification's Subject only when it has one).
pub fn string_to_sign(fields: &[(&str, Option<&str>)]) -> String {
    let mut text = String::new();
    for (name, value) in fields {
        if let Some(value) = value {
            text.push_str(name);
            text.push('\n');
            text.push_str(value);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::signature::Verifier as _;

    use super::*;

    #[test]
    fn signatures_verify_with_the_kept_key_and_the_certificate_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let signer = MessageSigner::open(dir.path()).unwrap();
        let text = string_to_sign(&[("Message", Some("m")), ("Subject", None), ("Type", Some("Notification"))]);
        assert_eq!(text, "Message\nm\nType\nNotification\n");
        let again = MessageSigner::open(dir.path()).unwrap();
        assert_eq!(again.certificate_path(), signer.certificate_path());
        assert!(signer.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let public = signer.sha1.as_ref().to_public_key();
        let decode = |text: &str| base64::engine::general_purpose::STANDARD.decode(text).unwrap();
        let sha1 = rsa::pkcs1v15::Signature::try_from(decode(&again.sign("1", &text)).as_slice()).unwrap();
        VerifyingKey::<sha1::Sha1>::new(public.clone()).verify(text.as_bytes(), &sha1).unwrap();
        let sha256 = rsa::pkcs1v15::Signature::try_from(decode(&again.sign("2", &text)).as_slice()).unwrap();
        VerifyingKey::<sha2::Sha256>::new(public).verify(text.as_bytes(), &sha256).unwrap();
    }
}
