//! Merging a function's layers into the one directory its environments see as `/opt`.
//!
//! Layers apply in the order the function lists them: a file of a later layer replaces the file
//! of an earlier one at the same path, as when Lambda extracts them one after the other. The
//! merged tree is made of hard links to the layers' unpacked files, so it costs no copy of
//! their content; it is only ever mounted read-only.

use std::io;
use std::path::Path;

/// Builds in `target` (which must not exist yet) the union of `layers`, later ones winning.
pub fn merge_layers(layers: &[&Path], target: &Path) -> io::Result<()> {
    std::fs::create_dir(target)?;
    set_readable(target)?;
    for layer in layers {
        merge_tree(layer, target)?;
    }
    Ok(())
}

fn merge_tree(source: &Path, target: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        // The layers were unpacked by Kumo, which refuses links: only files and directories.
        let file_type = entry.file_type()?;
        let existing = std::fs::symlink_metadata(&to).ok();
        if file_type.is_dir() {
            match existing {
                Some(metadata) if metadata.is_dir() => {}
                Some(_) => {
                    std::fs::remove_file(&to)?;
                    make_dir(&to)?;
                }
                None => make_dir(&to)?,
            }
            merge_tree(&from, &to)?;
        } else {
            match existing {
                Some(metadata) if metadata.is_dir() => std::fs::remove_dir_all(&to)?,
                Some(_) => std::fs::remove_file(&to)?,
                None => {}
            }
            link_or_copy(&from, &to)?;
        }
    }
    Ok(())
}

fn make_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir(path)?;
    set_readable(path)
}

/// Directories get the mode unpacked code has, whatever the umask, so the sandbox user reads them.
fn set_readable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    // Layers and merged trees live in the same data dir, so a link almost always works; a copy
    // keeps a data dir spread over file systems working too.
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tree(root: &Path, files: &[(&str, &str)]) -> PathBuf {
        for (name, content) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        root.to_path_buf()
    }

    fn read(root: &Path, name: &str) -> String {
        std::fs::read_to_string(root.join(name)).unwrap()
    }

    #[test]
    fn later_layers_overwrite_files_of_earlier_ones_and_keep_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let first = tree(
            &dir.path().join("first"),
            &[("python/shared.py", "first"), ("python/only_first.py", "1"), ("bin/tool", "old")],
        );
        let second = tree(&dir.path().join("second"), &[("python/shared.py", "second"), ("bin/tool", "new")]);
        let merged = dir.path().join("merged");
        merge_layers(&[&first, &second], &merged).unwrap();
        assert_eq!(read(&merged, "python/shared.py"), "second");
        assert_eq!(read(&merged, "python/only_first.py"), "1");
        assert_eq!(read(&merged, "bin/tool"), "new");
        // The layers themselves are untouched.
        assert_eq!(read(&first, "python/shared.py"), "first");

        let reversed = dir.path().join("reversed");
        merge_layers(&[&second, &first], &reversed).unwrap();
        assert_eq!(read(&reversed, "python/shared.py"), "first");
        assert_eq!(read(&reversed, "bin/tool"), "old");
    }

    #[test]
    fn a_later_layer_replaces_a_file_with_a_directory_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let file_first = tree(&dir.path().join("a"), &[("lib", "a file"), ("data/x", "x")]);
        let dir_second = tree(&dir.path().join("b"), &[("lib/libz.so", "so"), ("data", "now a file")]);
        let merged = dir.path().join("merged");
        merge_layers(&[&file_first, &dir_second], &merged).unwrap();
        assert_eq!(read(&merged, "lib/libz.so"), "so");
        assert_eq!(read(&merged, "data"), "now a file");
    }

    #[test]
    fn the_target_must_be_new() {
        let dir = tempfile::tempdir().unwrap();
        let layer = tree(&dir.path().join("a"), &[("x", "1")]);
        assert!(merge_layers(&[&layer], &layer).is_err());
    }
}
