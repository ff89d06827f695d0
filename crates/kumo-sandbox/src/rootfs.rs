//! The host-side parts of the sandbox root, prepared once when Kumo starts (under
//! `<data dir>/sandbox/`): an empty mount point, a curated userland and a generated `/etc`.
//!
//! The userland is a directory of the programs a function may expect on Amazon Linux (a shell,
//! coreutils, grep, sed, tar, curl…) plus interpreters installed in `/usr/bin`, hard-linked from the
//! host (copied when linking is not possible). It becomes the sandbox's `/usr/bin`: compilers,
//! package managers and the rest of the host's tools stay out of reach. `/etc` is generated (users
//! without the host's, no `shadow`) with the host's CA certificates and loader cache copied in.

use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::mounts::{RootLayout, SystemPath};

/// The uid functions run as, as on AWS.
pub const SANDBOX_UID: u32 = 993;
/// Its group.
pub const SANDBOX_GID: u32 = 990;
/// Its name.
pub const SANDBOX_USER: &str = "sbx_user1051";

/// Programs of the userland, when the host has them.
const USERLAND: &[&str] = &[
    // shells
    "bash",
    "sh",
    "dash",
    // coreutils
    "arch",
    "b2sum",
    "base32",
    "base64",
    "basename",
    "cat",
    "chgrp",
    "chmod",
    "chown",
    "cksum",
    "comm",
    "cp",
    "csplit",
    "cut",
    "date",
    "dd",
    "df",
    "dir",
    "dircolors",
    "dirname",
    "du",
    "echo",
    "env",
    "expand",
    "expr",
    "factor",
    "false",
    "fmt",
    "fold",
    "groups",
    "head",
    "hostid",
    "id",
    "install",
    "join",
    "link",
    "ln",
    "logname",
    "ls",
    "md5sum",
    "mkdir",
    "mkfifo",
    "mknod",
    "mktemp",
    "mv",
    "nice",
    "nl",
    "nohup",
    "nproc",
    "numfmt",
    "od",
    "paste",
    "pathchk",
    "pr",
    "printenv",
    "printf",
    "ptx",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "seq",
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "shred",
    "shuf",
    "sleep",
    "sort",
    "split",
    "stat",
    "stdbuf",
    "stty",
    "sum",
    "sync",
    "tac",
    "tail",
    "tee",
    "test",
    "[",
    "timeout",
    "touch",
    "tr",
    "true",
    "truncate",
    "tsort",
    "tty",
    "uname",
    "unexpand",
    "uniq",
    "unlink",
    "users",
    "vdir",
    "wc",
    "who",
    "whoami",
    "yes",
    // the rest of a minimal base image
    "grep",
    "egrep",
    "fgrep",
    "sed",
    "awk",
    "mawk",
    "gawk",
    "find",
    "xargs",
    "tar",
    "gzip",
    "gunzip",
    "zcat",
    "bzip2",
    "xz",
    "unxz",
    "unzip",
    "zip",
    "curl",
    "which",
    "hostname",
    "getent",
    "ldd",
    "ps",
    "kill",
    "free",
    "pgrep",
    "pkill",
    "top",
    "uptime",
    "setsid",
    "flock",
    "getopt",
    "less",
    "more",
    "diff",
    "cmp",
    "file",
    "openssl",
];

/// Interpreter names that, when the host has them in `/usr/bin`, go into the userland too.
const INTERPRETERS: &[&str] = &[
    "python3",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "node",
    "nodejs",
];

/// Host directories whose programs may enter the userland.
const HOST_BIN_DIRS: [&str; 3] = ["/usr/bin", "/bin", "/usr/sbin"];

/// Prepares `state_dir` (created if needed) and returns the layout every environment shares.
pub fn prepare(state_dir: &Path) -> io::Result<RootLayout> {
    let mount_point = state_dir.join("root");
    let userland = state_dir.join("userland");
    let etc = state_dir.join("etc");
    for dir in [&mount_point, &userland, &etc] {
        std::fs::create_dir_all(dir)?;
        // Readable by the sandbox user once mounted, whatever Kumo's umask.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    for name in USERLAND.iter().chain(INTERPRETERS) {
        if let Some(source) = find_host_program(name) {
            install_program(&source, &userland.join(name))?;
        }
    }
    prepare_etc(&etc)?;
    let resolv_conf = Path::new("/etc/resolv.conf");
    Ok(RootLayout {
        mount_point,
        userland,
        etc,
        system: system_paths(),
        resolv_conf: resolv_conf.exists().then(|| resolv_conf.to_path_buf()),
    })
}

fn find_host_program(name: &str) -> Option<PathBuf> {
    HOST_BIN_DIRS.iter().map(|dir| Path::new(dir).join(name)).find(|path| path.is_file())
}

/// Puts the file `source` (symlinks followed) at `target`: a hard link when possible, else a copy.
/// An up-to-date target is left alone, so restarts cost a few `stat`s.
pub fn install_program(source: &Path, target: &Path) -> io::Result<()> {
    let source = std::fs::canonicalize(source)?;
    let source_meta = std::fs::metadata(&source)?;
    if let Ok(target_meta) = std::fs::symlink_metadata(target) {
        let same_file = target_meta.dev() == source_meta.dev() && target_meta.ino() == source_meta.ino();
        let same_copy = target_meta.len() == source_meta.len() && target_meta.mtime() >= source_meta.mtime();
        if same_file || same_copy {
            return Ok(());
        }
    }
    let staging = target.with_extension("kumo-staging");
    let _ = std::fs::remove_file(&staging);
    if std::fs::hard_link(&source, &staging).is_err() {
        std::fs::copy(&source, &staging)?;
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&staging, target)
}

/// Shared libraries and data the runtimes load, mirrored from the host.
fn system_paths() -> Vec<SystemPath> {
    let candidates = [
        "/lib",
        "/lib64",
        "/lib32",
        "/libx32",
        "/usr/lib",
        "/usr/lib64",
        "/usr/lib32",
        "/usr/libx32",
        "/usr/share/zoneinfo",
    ];
    candidates
        .iter()
        .filter_map(|path| {
            let path = Path::new(path);
            let meta = std::fs::symlink_metadata(path).ok()?;
            if meta.file_type().is_symlink() {
                let link_to = std::fs::read_link(path).ok()?;
                Some(SystemPath::Symlink { path: path.to_path_buf(), link_to })
            } else if meta.is_dir() {
                Some(SystemPath::Directory(path.to_path_buf()))
            } else {
                None
            }
        })
        .collect()
}

/// Writes the sandbox's `/etc`.
fn prepare_etc(etc: &Path) -> io::Result<()> {
    let generated = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/sbin/nologin\n{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}::/tmp:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
            ),
        ),
        ("group", format!("root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_GID}:\nnobody:x:65534:\n")),
        ("hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string()),
        ("hostname", "localhost\n".to_string()),
        ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\nservices: files\nprotocols: files\n".to_string()),
        // A mount point for the host's live resolv.conf.
        ("resolv.conf", String::new()),
    ];
    for (name, content) in generated {
        write_if_changed(&etc.join(name), content.as_bytes())?;
    }
    for name in ["ld.so.cache", "services", "protocols", "os-release", "mime.types"] {
        if let Ok(content) = std::fs::read(Path::new("/etc").join(name)) {
            write_if_changed(&etc.join(name), &content)?;
        }
    }
    let ssl = etc.join("ssl");
    std::fs::create_dir_all(ssl.join("certs"))?;
    if let Ok(content) = std::fs::read("/etc/ssl/openssl.cnf") {
        write_if_changed(&ssl.join("openssl.cnf"), &content)?;
    }
    copy_certificates(Path::new("/etc/ssl/certs"), &ssl.join("certs"))
}

/// Copies a certificate directory so that it stands on its own: links within the directory (the
/// OpenSSL hash names) stay links, everything else (links into `/usr/share`) becomes a file.
fn copy_certificates(source: &Path, target: &Path) -> io::Result<()> {
    let Ok(entries) = std::fs::read_dir(source) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let destination = target.join(entry.file_name());
        let link = std::fs::read_link(&path).ok();
        match link {
            Some(link) if link.components().count() == 1 => {
                if std::fs::read_link(&destination).ok().as_ref() != Some(&link) {
                    let _ = std::fs::remove_file(&destination);
                    std::os::unix::fs::symlink(&link, &destination)?;
                }
            }
            _ => {
                if let Ok(content) = std::fs::read(&path) {
                    write_if_changed(&destination, &content)?;
                }
            }
        }
    }
    Ok(())
}

fn write_if_changed(path: &Path, content: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    let staging = path.with_extension("kumo-staging");
    std::fs::write(&staging, content)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o644))?;
    std::fs::rename(staging, path)
}

/// Where interpreters appear inside the sandbox, as in AWS's images (`/var/lang/bin/python3.12`,
/// `/var/lang/bin/node`).
pub const LANG_DIR: &str = "/var/lang";

/// How a runtime's program is reached inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedProgram {
    /// The program's path inside the sandbox.
    pub path: PathBuf,
    /// Host directories to bind (read-only) at sandbox paths for the program to work: its
    /// installation below [`LANG_DIR`].
    pub dirs: Vec<(PathBuf, PathBuf)>,
}

/// Makes an interpreter reachable at [`LANG_DIR`]`/bin/<name>`, as on AWS, with no host path
/// visible inside. One in `/usr/bin` is linked into a `bin` directory of its own under
/// `lang_root` (and into the userland). One elsewhere (pyenv, nvm, `/usr/local`, `/opt`) brings
/// its installation prefix: each directory of it is bound below [`LANG_DIR`], except `bin`,
/// which is a directory of Kumo's holding the interpreter relocated: such builds find their
/// shared library through an absolute `RUNPATH` into the prefix, rewritten to `$ORIGIN/../lib`.
/// Python then finds its standard library from its own path, as AWS's does.
pub fn expose_program(userland: &Path, lang_root: &Path, program: &Path) -> io::Result<ExposedProgram> {
    let real = std::fs::canonicalize(program)?;
    let parent = real.parent().unwrap_or(Path::new("/"));
    let name = real.file_name().ok_or_else(|| io::Error::other("program without a file name"))?;
    let lang = Path::new(LANG_DIR);
    // One directory per interpreter: its path, flattened.
    let bin = lang_root.join(real.display().to_string().trim_start_matches('/').replace('/', "_")).join("bin");
    if HOST_BIN_DIRS.iter().any(|dir| Path::new(dir) == parent) {
        let user_name = program.file_name().unwrap_or(name);
        install_program(&real, &userland.join(user_name))?;
        std::fs::create_dir_all(&bin)?;
        install_program(&real, &bin.join(name))?;
        return Ok(ExposedProgram { path: lang.join("bin").join(name), dirs: vec![(bin, lang.join("bin"))] });
    }
    let in_bin = parent.file_name().is_some_and(|dir| dir == "bin");
    let prefix = if in_bin { parent.parent().unwrap_or(parent) } else { parent };
    if prefix == Path::new("/") || prefix == Path::new("/usr") {
        return Err(io::Error::other(format!(
            "cannot expose {} without the whole of {}",
            real.display(),
            prefix.display()
        )));
    }
    if !in_bin {
        let relative = real.strip_prefix(prefix).map_err(io::Error::other)?;
        return Ok(ExposedProgram {
            path: lang.join(relative),
            dirs: vec![(prefix.to_path_buf(), lang.to_path_buf())],
        });
    }
    std::fs::create_dir_all(&bin)?;
    relocate(&real, &bin.join(name), prefix)?;
    let mut dirs = vec![(bin, lang.join("bin"))];
    for entry in std::fs::read_dir(prefix)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && entry.file_name() != "bin" {
            dirs.push((entry.path(), lang.join(entry.file_name())));
        }
    }
    dirs.sort();
    Ok(ExposedProgram { path: lang.join("bin").join(name), dirs })
}

/// Copies `source` to `target` with every `<prefix>/lib` in its dynamic strings (its `RUNPATH`)
/// rewritten to `$ORIGIN/../lib`, padded with NULs to the same length; a program without one
/// is linked as it is. Leaves an up-to-date `target` alone.
fn relocate(source: &Path, target: &Path, prefix: &Path) -> io::Result<()> {
    const RELOCATED: &[u8] = b"$ORIGIN/../lib";
    let mut old = prefix.as_os_str().as_encoded_bytes().to_vec();
    old.extend_from_slice(b"/lib\0");
    let mut content = std::fs::read(source)?;
    if old.len() <= RELOCATED.len() || !content.windows(old.len()).any(|window| window == old.as_slice()) {
        return install_program(source, target);
    }
    let mut replacement = RELOCATED.to_vec();
    replacement.resize(old.len(), 0);
    let mut at = 0;
    while let Some(found) = content[at..].windows(old.len()).position(|window| window == old.as_slice()) {
        let start = at + found;
        content[start..start + old.len()].copy_from_slice(&replacement);
        at = start + old.len();
    }
    if std::fs::read(target).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    let staging = target.with_extension("kumo-staging");
    std::fs::write(&staging, &content)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(staging, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_links_or_copies_and_skips_up_to_date_targets() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("tool");
        std::fs::write(&source, "#!/bin/sh\n").unwrap();
        let target = dir.path().join("userland-tool");
        install_program(&source, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"#!/bin/sh\n");
        let inode = std::fs::metadata(&target).unwrap().ino();
        install_program(&source, &target).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().ino(), inode);
    }

    #[test]
    fn interpreters_outside_usr_bin_appear_at_var_lang_relocated() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("versions/3.12.1");
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        std::fs::create_dir_all(prefix.join("lib/python3.12")).unwrap();
        let prefix = std::fs::canonicalize(prefix).unwrap();
        let runpath = format!("{}/lib", prefix.display());
        let elf = [b"\x7fELF..".as_slice(), runpath.as_bytes(), b"\0libc.so.6\0"].concat();
        std::fs::write(prefix.join("bin/python3.12"), &elf).unwrap();
        let userland = dir.path().join("userland");
        let lang = dir.path().join("lang");
        let exposed = expose_program(&userland, &lang, &prefix.join("bin/python3.12")).unwrap();
        assert_eq!(exposed.path, PathBuf::from("/var/lang/bin/python3.12"));
        let targets: Vec<&Path> = exposed.dirs.iter().map(|(_, target)| target.as_path()).collect();
        assert_eq!(targets, [Path::new("/var/lang/bin"), Path::new("/var/lang/lib")]);
        assert_eq!(exposed.dirs[1].0, prefix.join("lib"));
        // The copy finds libpython next to itself; the same length keeps the ELF's offsets.
        let relocated = std::fs::read(exposed.dirs[0].0.join("python3.12")).unwrap();
        assert_eq!(relocated.len(), elf.len());
        let text = String::from_utf8_lossy(&relocated);
        assert!(text.contains("$ORIGIN/../lib\0") && !text.contains(&runpath), "{text:?}");
        assert!(text.ends_with("\0libc.so.6\0"));
    }

    #[test]
    fn interpreters_in_usr_bin_appear_at_var_lang_too() {
        let Some(sh) = ["/usr/bin/sh", "/bin/sh"].into_iter().map(Path::new).find(|path| path.is_file()) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let userland = dir.path().join("userland");
        std::fs::create_dir_all(&userland).unwrap();
        let exposed = expose_program(&userland, &dir.path().join("lang"), sh).unwrap();
        let name = std::fs::canonicalize(sh).unwrap().file_name().unwrap().to_owned();
        assert_eq!(exposed.path, Path::new("/var/lang/bin").join(&name));
        assert!(exposed.dirs[0].0.join(&name).is_file());
    }

    #[test]
    fn etc_has_the_sandbox_user_and_no_shadow() {
        let dir = tempfile::tempdir().unwrap();
        prepare_etc(dir.path()).unwrap();
        let passwd = std::fs::read_to_string(dir.path().join("passwd")).unwrap();
        assert!(passwd.contains("sbx_user1051:x:993:990:"));
        assert!(!dir.path().join("shadow").exists());
        assert!(dir.path().join("resolv.conf").exists());
    }
}
