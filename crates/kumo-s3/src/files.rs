//! Objects' content, one file each under `<data dir>/s3/objects/<xx>/<name>`. A file is written
//! once and never changed: an upload streams into a temporary file while its MD5 is computed,
//! is synced, then renamed into place (and the directory synced) before the metadata row that
//! names it is committed, so an answered PUT survives a `kill -9`. Overwriting or deleting an
//! object removes its file after the row is gone; a reader that opened it keeps reading the
//! old content. A copy is a hard link. A crash between the rename and the commit leaves a file
//! no row names, which [`ObjectFiles::sweep`] removes at the next start.

use std::collections::HashSet;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::BodyExt;
use md5::{Digest as _, Md5};
use tokio::io::AsyncWriteExt;

/// A file written: its name, length and MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file's name (what rows store).
    pub blob: String,
    /// Its length.
    pub size: u64,
    /// Its MD5.
    pub md5: [u8; 16],
}

/// Why writing an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request body failed (the gateway's verdict: a bad chunk signature, a body over its
    /// limit, a client that went away).
    #[error("body: {0}")]
    Body(s3s::StdError),
    /// The disk failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The directory of objects' files.
#[derive(Debug, Clone)]
pub struct ObjectFiles {
    objects: PathBuf,
    temporary: PathBuf,
}

impl ObjectFiles {
    /// Opens (creating) `<data_dir>/s3`, emptying its temporary directory (uploads a stop cut
    /// short). Blocking.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("s3");
        let objects = root.join("objects");
        let temporary = root.join("tmp");
        if temporary.exists() {
            std::fs::remove_dir_all(&temporary)?;
        }
        std::fs::create_dir_all(&objects)?;
        std::fs::create_dir_all(&temporary)?;
        Ok(Self { objects, temporary })
    }

    /// Where file `blob` is.
    pub fn path(&self, blob: &str) -> PathBuf {
        // Names are UUIDs in hex (ASCII): the first two characters spread them over 256 dirs.
        self.objects.join(blob.get(..2).unwrap_or("00")).join(blob)
    }

    fn new_name() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Streams `body` into a new file, synced and in place when this returns.
    pub async fn write(&self, body: s3s::Body) -> Result<Written, WriteError> {
        let blob = Self::new_name();
        let temporary = Temporary(self.temporary.join(&blob));
        let mut file =
            tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary.0).await?;
        let mut body = body;
        let mut md5 = Md5::new();
        let mut size = 0u64;
        // Writes are gathered into large ones: each tokio file write is a trip to a blocking thread.
        let mut pending = Vec::with_capacity(WRITE_CHUNK);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(WriteError::Body)?;
            let Ok(data): Result<Bytes, _> = frame.into_data() else { continue };
            md5.update(&data);
            size += data.len() as u64;
            pending.extend_from_slice(&data);
            if pending.len() >= WRITE_CHUNK {
                file.write_all(&pending).await?;
                pending.clear();
            }
        }
        file.write_all(&pending).await?;
        file.sync_all().await?;
        drop(file);
        self.place(temporary, &blob).await?;
        Ok(Written { blob, size, md5: md5.finalize().into() })
    }

    /// Moves a synced temporary file into place as `blob` and syncs its directory.
    async fn place(&self, temporary: Temporary, blob: &str) -> std::io::Result<()> {
        let target = self.path(blob);
        tokio::task::spawn_blocking(move || {
            let directory = target.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&directory)?;
            std::fs::rename(&temporary.0, &target)?;
            // Its drop now finds nothing to remove.
            drop(temporary);
            std::fs::File::open(&directory)?.sync_all()
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// A new file with the content of `parts` one after the other (a completed multipart upload).
    pub async fn concatenate(&self, parts: Vec<String>) -> std::io::Result<Written> {
        let blob = Self::new_name();
        let temporary = Temporary(self.temporary.join(&blob));
        let sources: Vec<PathBuf> = parts.iter().map(|part| self.path(part)).collect();
        let destination = temporary.0.clone();
        let size = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&destination)?;
            let mut size = 0;
            for source in sources {
                // `io::copy` between files uses copy_file_range: the kernel copies, no buffer here.
                size += std::io::copy(&mut std::fs::File::open(source)?, &mut file)?;
            }
            file.flush()?;
            file.sync_all()?;
            Ok(size)
        })
        .await
        .map_err(std::io::Error::other)??;
        self.place(temporary, &blob).await?;
        // The ETag of a multipart object is not its MD5: callers compute it from the parts'.
        Ok(Written { blob, size, md5: [0; 16] })
    }

    /// A new name for the content of `blob` (a copy: a hard link, no bytes copied).
    pub async fn link(&self, blob: &str) -> std::io::Result<String> {
        let name = Self::new_name();
        let (source, target) = (self.path(blob), self.path(&name));
        tokio::task::spawn_blocking(move || {
            let directory = target.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&directory)?;
            std::fs::hard_link(source, &target)?;
            std::fs::File::open(&directory)?.sync_all()
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(name)
    }

    /// Removes files no row names any more (in the background).
    pub fn remove(&self, blobs: Vec<String>) {
        if blobs.is_empty() {
            return;
        }
        let paths: Vec<PathBuf> = blobs.iter().map(|blob| self.path(blob)).collect();
        tokio::task::spawn_blocking(move || {
            for path in paths {
                if let Err(error) = std::fs::remove_file(&path) {
                    if error.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(%error, path = %path.display(), "removing an object's file failed");
                    }
                }
            }
        });
    }

    /// Removes every file that `referenced` does not name (blocking; at start, before serving).
    pub fn sweep(&self, referenced: &HashSet<String>) -> std::io::Result<usize> {
        let mut removed = 0;
        for directory in std::fs::read_dir(&self.objects)? {
            let directory = directory?;
            if !directory.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(directory.path())? {
                let file = file?;
                let name = file.file_name();
                if !referenced.contains(name.to_string_lossy().as_ref()) {
                    std::fs::remove_file(file.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Bytes gathered before one write to the file.
const WRITE_CHUNK: usize = 1 << 20;

/// A temporary file, removed unless it was moved into place.
struct Temporary(PathBuf);

impl Drop for Temporary {
    fn drop(&mut self) {
        // An unlink: quick enough not to matter on the async thread that dropped a failed upload.
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_written_file_has_its_content_md5_and_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::open(dir.path()).unwrap();
        let written = files.write(s3s::Body::from(Bytes::from_static(b"hello"))).await.unwrap();
        assert_eq!(written.size, 5);
        assert_eq!(hex::encode(written.md5), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(std::fs::read(files.path(&written.blob)).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path().join("s3/tmp")).unwrap().count(), 0);
        let joined = files.concatenate(vec![written.blob.clone(), written.blob.clone()]).await.unwrap();
        assert_eq!(std::fs::read(files.path(&joined.blob)).unwrap(), b"hellohello");
        let linked = files.link(&written.blob).await.unwrap();
        let referenced: HashSet<String> = [written.blob.clone(), linked.clone()].into();
        assert_eq!(files.sweep(&referenced).unwrap(), 1);
        assert_eq!(std::fs::read(files.path(&linked)).unwrap(), b"hello");
    }
}
