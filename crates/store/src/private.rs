//! The data folder holds every patient's raw records, the index and the network's
//! credentials, so it belongs to the account renkei runs as and nobody else: folders are
//! created 0700 and files 0600, and a data folder that other local users can read or write
//! is refused (with the command that fixes it) rather than used.

use std::fs;
use std::io;
use std::path::Path;

use crate::{Result, StoreError};

/// Create `path` and any missing parents; the folders created are private (0700).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Options that create a file private to its owner (0600). Existing files keep their mode.
pub fn private_file_options() -> fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Make an existing file private (0600) if others may read or write it.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path)?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The refusal for a folder others can reach, with the fix.
fn not_private(path: &Path, mode: u32) -> StoreError {
    let p = path.display();
    StoreError::NotPrivate(format!(
        "データフォルダ {p} は他の利用者からも読み書きできます (mode {mode:04o})。患者データと認証情報を\
         守るため、このままでは使いません。所有者だけに制限してください: chmod -R go-rwx {p} / \
         the data folder {p} can be read or written by other users (mode {mode:04o}); it holds \
         patient records and credentials, so renkei will not use it as it is. Restrict it to its \
         owner: chmod -R go-rwx {p}"
    ))
}

/// Create the data folder private (0700), or check that an existing one is: a folder that
/// group or others may read, write or enter is refused with [`StoreError::NotPrivate`].
pub fn prepare_private_folder(path: &Path) -> Result<()> {
    if !path.exists() {
        return create_private_dir_all(path).map_err(|e| StoreError::Blob {
            path: path.display().to_string(),
            source: e,
        });
    }
    check_private_folder(path)
}

/// Refuse a folder that group or others may read, write or enter.
pub fn check_private_folder(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| StoreError::Blob {
            path: path.display().to_string(),
            source: e,
        })?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(not_private(path, mode));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_folders_and_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("a/b/data");
        prepare_private_folder(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let f = data.join("x");
        private_file_options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&f)
            .unwrap();
        assert_eq!(mode(&f), 0o600);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        restrict_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        // Checked again, a private folder passes.
        prepare_private_folder(&data).unwrap();
    }

    #[test]
    fn folders_others_can_reach_are_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        for m in [0o755, 0o750, 0o701, 0o770, 0o777] {
            let data = tmp.path().join(format!("data{m:o}"));
            fs::create_dir(&data).unwrap();
            fs::set_permissions(&data, fs::Permissions::from_mode(m)).unwrap();
            let err = prepare_private_folder(&data).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StoreError::NotPrivate(_)), "{text}");
            assert!(
                text.contains(&format!("chmod -R go-rwx {}", data.display()))
                    && text.contains(&format!("{m:04o}"))
                    && text.contains("他の利用者"),
                "{text}"
            );
        }
    }
}
