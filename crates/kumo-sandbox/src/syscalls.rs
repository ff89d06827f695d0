//! The seam between the sandbox's logic and the kernel: the calls that build namespaces and the
//! root file system go through [`Syscalls`], so the order and flags of those steps are unit-tested
//! with a recording fake, without root. [`Linux`] is the real thing.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Mount flags (`MS_*`).
pub type MountFlags = libc::c_ulong;

/// The kernel calls the sandbox setup needs.
pub trait Syscalls {
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MountFlags,
        data: Option<&str>,
    ) -> io::Result<()>;
    /// The per-mount flags of the mount holding `path` that a remount must keep (in a user
    /// namespace the kernel refuses to clear flags the parent namespace locked).
    fn locked_mount_flags(&self, path: &Path) -> io::Result<MountFlags>;
    /// `mkdir(2)`; an existing directory is not an error.
    fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Creates an empty regular file (a mount point for a file bind mount).
    fn create_file(&self, path: &Path) -> io::Result<()>;
    /// `symlink(2)`: `path -> link_to`.
    fn symlink(&self, link_to: &Path, path: &Path) -> io::Result<()>;
    /// Makes `new_root` the root of the mount namespace and drops the old root.
    fn pivot_root(&self, new_root: &Path) -> io::Result<()>;
    /// `unshare(2)`.
    fn unshare(&self, flags: libc::c_int) -> io::Result<()>;
    /// Writes `content` to an existing file in one `write(2)` (procfs and cgroupfs need that).
    fn write_file(&self, path: &Path, content: &str) -> io::Result<()>;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &str) -> io::Result<()>;
    /// `umount2(2)` with `MNT_DETACH`.
    fn detach(&self, target: &Path) -> io::Result<()>;
}

fn c_path(path: &Path) -> io::Result<CString> {
    c_bytes(path.as_os_str())
}

fn c_bytes(value: &OsStr) -> io::Result<CString> {
    CString::new(value.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The real kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linux;

impl Syscalls for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MountFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        let source = source.map(c_path).transpose()?;
        let target = c_path(target)?;
        let fstype = fstype.map(|f| c_bytes(OsStr::new(f))).transpose()?;
        let data = data.map(|d| c_bytes(OsStr::new(d))).transpose()?;
        let as_ptr = |value: &Option<CString>| value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: every pointer is either null (allowed by mount(2) for source, fstype and data)
        // or points to a NUL-terminated string that outlives the call.
        check(unsafe { libc::mount(as_ptr(&source), target.as_ptr(), as_ptr(&fstype), flags, as_ptr(&data).cast()) })
    }

    fn locked_mount_flags(&self, path: &Path) -> io::Result<MountFlags> {
        let path = c_path(path)?;
        // SAFETY: statvfs is plain old data; all-zero is a valid value for the kernel to overwrite.
        let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is NUL-terminated and `stats` is a valid, writable statvfs.
        check(unsafe { libc::statvfs(path.as_ptr(), &mut stats) })?;
        let pairs = [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ];
        Ok(pairs.iter().filter(|(st, _)| stats.f_flag & st != 0).fold(0, |flags, (_, ms)| flags | ms))
    }

    fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()> {
        let c = c_path(path)?;
        // SAFETY: `c` is a NUL-terminated path.
        match check(unsafe { libc::mkdir(c.as_ptr(), mode) }) {
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            other => other,
        }
    }

    fn create_file(&self, path: &Path) -> io::Result<()> {
        // An existing file (say in an already read-only directory) is a fine mount point.
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(());
        }
        std::fs::OpenOptions::new().write(true).create_new(true).open(path).map(drop)
    }

    fn symlink(&self, link_to: &Path, path: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(link_to, path)
    }

    fn pivot_root(&self, new_root: &Path) -> io::Result<()> {
        let root = c_path(new_root)?;
        let dot = c".";
        // SAFETY: all paths are NUL-terminated strings that outlive the calls. `pivot_root(".",
        // ".")` stacks the old root on top of the new one; detaching "." then removes the old
        // root without needing a directory for it inside the new root.
        unsafe {
            check(libc::chdir(root.as_ptr()))?;
            check(libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) as libc::c_int)?;
            check(libc::umount2(dot.as_ptr(), libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))
        }
    }

    fn unshare(&self, flags: libc::c_int) -> io::Result<()> {
        // SAFETY: unshare has no memory-safety preconditions; the launcher is single-threaded.
        check(unsafe { libc::unshare(flags) })
    }

    fn write_file(&self, path: &Path, content: &str) -> io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        // One write call: procfs maps and cgroupfs files take each write as a whole value.
        let written = file.write(content.as_bytes())?;
        if written != content.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
        }
        Ok(())
    }

    fn sethostname(&self, name: &str) -> io::Result<()> {
        // SAFETY: the pointer and length describe the bytes of `name`, valid for the call.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
    }

    fn detach(&self, target: &Path) -> io::Result<()> {
        let target = c_path(target)?;
        // SAFETY: `target` is a NUL-terminated path.
        check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) })
    }
}

/// A [`Syscalls`] that records every call and succeeds, for unit tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct Recorder {
    /// One line per call, e.g. `mount tmpfs -> /root [tmpfs] flags=0x6 data=size=1m`.
    pub calls: std::cell::RefCell<Vec<String>>,
    /// Calls whose line starts with this prefix fail with EPERM.
    pub fail_on: Option<String>,
    /// What [`Syscalls::locked_mount_flags`] answers.
    pub locked_flags: MountFlags,
}

#[cfg(test)]
impl Recorder {
    fn record(&self, line: String) -> io::Result<()> {
        let fails = self.fail_on.as_ref().is_some_and(|prefix| line.starts_with(prefix.as_str()));
        self.calls.borrow_mut().push(line);
        if fails {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        } else {
            Ok(())
        }
    }

    /// The recorded lines.
    pub fn lines(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

#[cfg(test)]
impl Syscalls for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MountFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        self.record(format!(
            "mount {} -> {} [{}] flags={flags:#x} data={}",
            source.map_or("-".into(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            data.unwrap_or("-")
        ))
    }
    fn locked_mount_flags(&self, _path: &Path) -> io::Result<MountFlags> {
        Ok(self.locked_flags)
    }
    fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.record(format!("mkdir {} {mode:o}", path.display()))
    }
    fn create_file(&self, path: &Path) -> io::Result<()> {
        self.record(format!("touch {}", path.display()))
    }
    fn symlink(&self, link_to: &Path, path: &Path) -> io::Result<()> {
        self.record(format!("symlink {} -> {}", path.display(), link_to.display()))
    }
    fn pivot_root(&self, new_root: &Path) -> io::Result<()> {
        self.record(format!("pivot_root {}", new_root.display()))
    }
    fn unshare(&self, flags: libc::c_int) -> io::Result<()> {
        self.record(format!("unshare {flags:#x}"))
    }
    fn write_file(&self, path: &Path, content: &str) -> io::Result<()> {
        self.record(format!("write {} {content:?}", path.display()))
    }
    fn sethostname(&self, name: &str) -> io::Result<()> {
        self.record(format!("sethostname {name}"))
    }
    fn detach(&self, target: &Path) -> io::Result<()> {
        self.record(format!("detach {}", target.display()))
    }
}
