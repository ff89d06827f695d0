//! Safe inspection and extraction of deployment packages (zip files).
//!
//! Every entry is checked before anything is written: no absolute paths, no `..`, no symlinks,
//! and the declared and actual sizes stay within Lambda's unzipped limit. The number of entries
//! is read from the end-of-central-directory record and capped before the archive is parsed:
//! the parser keeps every entry's header in memory, and a 50 MB package can hold a million
//! entries (central-directory records may all point at one local header).

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
    /// More entries than a package may hold.
    #[error("more than {0} entries")]
    TooManyEntries(u64),
    /// Writing the extracted files failed.
    #[error("io: {0}")]
    Io(String),
}

/// Most entries (files and directories) a package may hold: far above real packages (a large
/// `node_modules` has tens of thousands), far below what would exhaust memory or inodes.
pub const MAX_ZIP_ENTRIES: u64 = 200_000;

/// The end-of-central-directory record's signature, and its zip64 locator's and record's.
const EOCD_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_LOCATOR_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const ZIP64_EOCD_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];

/// The number of entries the archive's end-of-central-directory record declares (the zip64
/// record's when the classic one says 0xFFFF); `None` when there is no such record.
fn declared_entries(bytes: &[u8]) -> Option<u64> {
    const EOCD_LEN: usize = 22;
    // The record ends the file, followed by a comment of at most 65,535 bytes.
    let earliest = bytes.len().saturating_sub(EOCD_LEN + usize::from(u16::MAX));
    let eocd = (earliest..=bytes.len().checked_sub(EOCD_LEN)?).rev().find(|&at| bytes[at..at + 4] == EOCD_SIGNATURE)?;
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |at: usize| bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let classic = u16_at(eocd + 10)?;
    if classic != u16::MAX {
        return Some(u64::from(classic));
    }
    let locator = eocd.checked_sub(20)?;
    if bytes.get(locator..locator + 4)? != ZIP64_LOCATOR_SIGNATURE {
        return Some(u64::from(classic));
    }
    let record = usize::try_from(u64_at(locator + 8)?).ok()?;
    if bytes.get(record..record.checked_add(4)?)? != ZIP64_EOCD_SIGNATURE {
        return None;
    }
    u64_at(record + 32)
}

/// Opens an archive whose declared entry count is within [`MAX_ZIP_ENTRIES`].
fn open_archive(bytes: &[u8]) -> Result<zip::ZipArchive<std::io::Cursor<&[u8]>>, PackageError> {
    let declared = declared_entries(bytes).ok_or(PackageError::NotAZip)?;
    if declared > MAX_ZIP_ENTRIES {
        return Err(PackageError::TooManyEntries(MAX_ZIP_ENTRIES));
    }
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| PackageError::NotAZip)
}

/// Checks that `bytes` is a safe zip and returns its total unzipped size.
pub fn inspect_zip(bytes: &[u8], max_unzipped: u64) -> Result<u64, PackageError> {
    let mut archive = open_archive(bytes)?;
    // The parser trusts neither count alone; neither does Kumo.
    if archive.len() as u64 > MAX_ZIP_ENTRIES {
        return Err(PackageError::TooManyEntries(MAX_ZIP_ENTRIES));
    }
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
    let mut archive = open_archive(bytes)?;
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

    /// A package of `entries` central-directory records that all point at one empty local
    /// file, as a hostile client can build one (a million fit in 50 MB).
    fn many_entries(entries: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        // Local file header of an empty stored file named "a".
        bytes.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0; 12]);
        bytes.extend_from_slice(&[1, 0, 0, 0, b'a']);
        let directory_start = bytes.len() as u32;
        for index in 0..entries {
            let name = format!("{index:x}");
            bytes.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            bytes.extend_from_slice(&[0; 12]);
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&[0; 12]);
            bytes.extend_from_slice(&0u32.to_le_bytes());
            bytes.extend_from_slice(name.as_bytes());
        }
        let directory_len = bytes.len() as u32 - directory_start;
        let count = entries.min(u32::from(u16::MAX)) as u16;
        let count = if entries > u32::from(u16::MAX) { u16::MAX } else { count };
        bytes.extend_from_slice(&EOCD_SIGNATURE);
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&directory_len.to_le_bytes());
        bytes.extend_from_slice(&directory_start.to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes
    }

    #[test]
    fn counts_entries_before_parsing() {
        let small = many_entries(3);
        assert_eq!(declared_entries(&small), Some(3));
        assert_eq!(inspect_zip(&small, 1000), Ok(0));
        let normal = zip_of(&[("a", b"1"), ("b", b"2")]);
        assert_eq!(declared_entries(&normal), Some(2));
    }

    #[test]
    fn refuses_a_million_entries() {
        let mut bytes = many_entries(1000);
        // Declare a million in a zip64 record, as a real million-entry archive must.
        let eocd = bytes.len() - 22;
        bytes[eocd + 8..eocd + 12].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        let record = eocd as u64;
        let mut zip64 = ZIP64_EOCD_SIGNATURE.to_vec();
        zip64.extend_from_slice(&44u64.to_le_bytes());
        zip64.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        zip64.extend_from_slice(&1_000_000u64.to_le_bytes());
        zip64.extend_from_slice(&1_000_000u64.to_le_bytes());
        zip64.extend_from_slice(&[0; 16]);
        let mut locator = ZIP64_LOCATOR_SIGNATURE.to_vec();
        locator.extend_from_slice(&[0; 4]);
        locator.extend_from_slice(&record.to_le_bytes());
        locator.extend_from_slice(&1u32.to_le_bytes());
        bytes.splice(eocd..eocd, zip64.into_iter().chain(locator));
        assert_eq!(declared_entries(&bytes), Some(1_000_000));
        assert_eq!(inspect_zip(&bytes, u64::MAX), Err(PackageError::TooManyEntries(MAX_ZIP_ENTRIES)));
    }

    // 256 cases by default; `PROPTEST_CASES` runs more.
    proptest::proptest! {
        /// Whatever a client uploads, inspection answers without panicking.
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = inspect_zip(&bytes, 1 << 20);
        }

        /// Nor on a real package with some bytes changed.
        #[test]
        fn never_panics_on_a_damaged_package(
            changes in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..16),
        ) {
            let mut bytes = zip_of(&[("lambda_function.py", b"x = 1\n"), ("pkg/mod.py", b"y = 2\n")]);
            for (at, byte) in changes {
                let len = bytes.len();
                bytes[at % len] = byte;
            }
            if inspect_zip(&bytes, 1 << 20).is_ok() {
                let dir = tempfile::tempdir().unwrap();
                let _ = extract_zip(&bytes, dir.path(), 1 << 20);
            }
        }
    }
}
