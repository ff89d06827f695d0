//! Safe inspection and extraction of deployment packages (zip files).
//!
//! Every entry is checked before anything is written: no absolute paths, no `..`, no symlinks,
//! and the declared and actual sizes stay within Lambda's unzipped limit.

use std::io::{Read, Write};
use std::path::Path;

/// Why a package was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackageError {
    /// Not a readable zip archive.
    #[error("not a zip file")]
    NotAZip,
    /// An entry escapes the extraction directory or is a link.
    #[error("unsafe entry {0}")]
    UnsafeEntry(String),
    /// Unzipped content exceeds the limit.
    #[error("unzipped size exceeds {0} bytes")]
    TooLarge(u64),
    /// Writing the extracted files failed.
    #[error("io: {0}")]
    Io(String),
}

/// Checks that `bytes` is a safe zip and returns its total unzipped size.
pub fn inspect_zip(bytes: &[u8], max_unzipped: u64) -> Result<u64, PackageError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| PackageError::NotAZip)?;
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|_| PackageError::NotAZip)?;
        if entry.enclosed_name().is_none() || entry.is_symlink() {
            return Err(PackageError::UnsafeEntry(entry.name().map(|n| n.to_string()).unwrap_or_default()));
        }
        total = total.saturating_add(entry.size());
        if total > max_unzipped {
            return Err(PackageError::TooLarge(max_unzipped));
        }
    }
    Ok(total)
}

/// Extracts a zip already checked by [`inspect_zip`] into `target`, keeping unix modes,
/// and never writing more than `max_unzipped` bytes whatever the headers claim.
pub fn extract_zip(bytes: &[u8], target: &Path, max_unzipped: u64) -> Result<(), PackageError> {
    let io = |e: std::io::Error| PackageError::Io(e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| PackageError::NotAZip)?;
    let mut written: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|_| PackageError::NotAZip)?;
        let relative = entry
            .enclosed_name()
            .filter(|_| !entry.is_symlink())
            .ok_or_else(|| PackageError::UnsafeEntry(entry.name().map(|n| n.to_string()).unwrap_or_default()))?;
        let path = target.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(io)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io)?;
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let read = entry.read(&mut buffer).map_err(|_| PackageError::NotAZip)?;
            if read == 0 {
                break;
            }
            written += read as u64;
            if written > max_unzipped {
                return Err(PackageError::TooLarge(max_unzipped));
            }
            file.write_all(&buffer[..read]).map_err(io)?;
        }
        set_mode(&path, entry.unix_mode()).map_err(io)?;
    }
    Ok(())
}

/// Keeps the executable bit (a custom runtime's `bootstrap` needs it); everything is readable.
fn set_mode(path: &Path, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let executable = mode.is_some_and(|m| m & 0o111 != 0);
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in entries {
            writer.start_file(*name, SimpleFileOptions::default()).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn accepts_and_extracts_a_normal_package() {
        let bytes = zip_of(&[("lambda_function.py", b"x = 1\n"), ("pkg/mod.py", b"y = 2\n")]);
        assert_eq!(inspect_zip(&bytes, 1000).unwrap(), 12);
        let dir = tempfile::tempdir().unwrap();
        extract_zip(&bytes, dir.path(), 1000).unwrap();
        assert_eq!(std::fs::read(dir.path().join("pkg/mod.py")).unwrap(), b"y = 2\n");
    }

    #[test]
    fn rejects_garbage_traversal_and_oversize() {
        assert_eq!(inspect_zip(b"not a zip", 1000), Err(PackageError::NotAZip));
        let escaping = zip_of(&[("../../etc/evil", b"x")]);
        assert!(matches!(inspect_zip(&escaping, 1000), Err(PackageError::UnsafeEntry(_))));
        let big = zip_of(&[("a", &[0u8; 2000])]);
        assert_eq!(inspect_zip(&big, 1000), Err(PackageError::TooLarge(1000)));
    }
}
