//! Content-addressed storage of code packages (function code and layers): `blobs/<sha256>.zip`,
//! unpacked once into `code/<sha256>/`; the layers of a function merged once into
//! `layers/<sha256 of their list>/`. Writes go to a temporary name first and are renamed into place, so a
//! crash never leaves a half-written package under its final name.

use std::path::{Path, PathBuf};

use crate::layered::merge_layers;
use crate::unzip::{extract_zip, inspect_zip, PackageError};

/// A stored, unpacked code package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePackage {
    /// Hex sha256 of the zip: the blob's address.
    pub sha256_hex: String,
    /// Base64 sha256, as Lambda reports `CodeSha256`.
    pub code_sha256: String,
    /// Size of the zip in bytes.
    pub code_size: u64,
    /// Total size of the unpacked files.
    pub unzipped_size: u64,
}

/// Blob store rooted in the data dir.
pub struct BlobStore {
    blobs: PathBuf,
    code: PathBuf,
    layers: PathBuf,
    scratch: PathBuf,
}

impl BlobStore {
    /// Opens the blob directories under `data_dir`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let store = Self {
            blobs: data_dir.join("blobs"),
            code: data_dir.join("code"),
            layers: data_dir.join("layers"),
            scratch: data_dir.join("tmp"),
        };
        for dir in [&store.blobs, &store.code, &store.layers, &store.scratch] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(store)
    }

    /// Validates, stores and unpacks a zip; storing the same bytes twice is a no-op.
    pub fn put_zip(&self, bytes: &[u8], max_unzipped: u64) -> Result<CodePackage, PackageError> {
        let package = self.store_zip(bytes, max_unzipped)?;
        self.unpack_zip(&package.sha256_hex, max_unzipped)?;
        Ok(package)
    }

    /// Validates and stores a zip without unpacking it: Lambda unpacks a function's code while
    /// the function is `Pending` (see [`Self::unpack_zip`]), after the API call has answered.
    pub fn store_zip(&self, bytes: &[u8], max_unzipped: u64) -> Result<CodePackage, PackageError> {
        let unzipped_size = inspect_zip(bytes, max_unzipped)?;
        let sha256_hex = kumo_core::sha256_hex(bytes);
        let io = |e: std::io::Error| PackageError::Io(e.to_string());
        let zip_path = self.zip_path(&sha256_hex);
        if !zip_path.exists() {
            let temporary = tempfile::NamedTempFile::new_in(&self.scratch).map_err(io)?;
            std::fs::write(temporary.path(), bytes).map_err(io)?;
            temporary.persist(&zip_path).map_err(|error| io(error.error))?;
        }
        Ok(CodePackage {
            code_sha256: kumo_core::code_sha256_base64(bytes),
            code_size: bytes.len() as u64,
            unzipped_size,
            sha256_hex,
        })
    }

    /// Unpacks a stored zip into its code directory, once; a no-op when it is already unpacked.
    pub fn unpack_zip(&self, sha256_hex: &str, max_unzipped: u64) -> Result<PathBuf, PackageError> {
        let io = |e: std::io::Error| PackageError::Io(e.to_string());
        let code_dir = self.code_dir(sha256_hex);
        if code_dir.exists() {
            return Ok(code_dir);
        }
        let bytes = std::fs::read(self.zip_path(sha256_hex)).map_err(io)?;
        let temporary = tempfile::tempdir_in(&self.scratch).map_err(io)?;
        extract_zip(&bytes, temporary.path(), max_unzipped)?;
        let unpacked = temporary.keep();
        if let Err(error) = std::fs::rename(&unpacked, &code_dir) {
            // Another request unpacked the same package first; theirs is identical.
            let _ = std::fs::remove_dir_all(&unpacked);
            if !code_dir.exists() {
                return Err(io(error));
            }
        }
        Ok(code_dir)
    }

    /// Path of the stored zip for a package.
    pub fn zip_path(&self, sha256_hex: &str) -> PathBuf {
        self.blobs.join(format!("{sha256_hex}.zip"))
    }

    /// Directory holding the unpacked package.
    pub fn code_dir(&self, sha256_hex: &str) -> PathBuf {
        self.code.join(sha256_hex)
    }

    /// Where the merge of these layer packages (in this order) lives; see [`Self::merge_layers`].
    pub fn merged_layers_dir(&self, layers: &[String]) -> PathBuf {
        self.layers.join(kumo_core::sha256_hex(layers.join("\n").as_bytes()))
    }

    /// Merges stored layer packages, later ones winning, once per distinct list: functions with
    /// the same layers share one directory.
    pub fn merge_layers(&self, layers: &[String]) -> std::io::Result<PathBuf> {
        let merged = self.merged_layers_dir(layers);
        if merged.exists() {
            return Ok(merged);
        }
        let sources: Vec<PathBuf> = layers.iter().map(|sha256_hex| self.code_dir(sha256_hex)).collect();
        let sources: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
        let building = tempfile::tempdir_in(&self.scratch)?;
        let temporary = building.path().join("merged");
        merge_layers(&sources, &temporary)?;
        if let Err(error) = std::fs::rename(&temporary, &merged) {
            // Another request merged the same layers first; theirs is identical.
            if !merged.exists() {
                return Err(error);
            }
        }
        Ok(merged)
    }
}
