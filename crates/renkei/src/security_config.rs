//! Sign-in security settings of renkei.toml: the limits on failed sign-ins (`[sign_in]`) and
//! the keys that encrypt the TOTP secrets in the database (`[secrets]`).
//!
//! Where the keys come from, first found wins:
//! 1. `RENKEI_SECRET_KEY`: base64 keys separated by commas, the first encrypts;
//! 2. the key file named by `[secrets] key_file`;
//! 3. `<data>/secret.key`, which `renkei serve` and the user commands create (mode 0600) when
//!    no key exists yet, so that a network starts with no configuration. The data folder is
//!    private (0700) and never shipped off-site; a whole-folder backup carries the key with
//!    the database, though, so a network with backups moves the key out of the data folder
//!    (`key_file = "/etc/renkei/secret.key"`, or the environment).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use auth::Keyring;
use serde::Deserialize;

/// `[secrets]` of renkei.toml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// The key file (one base64 key per line, the first encrypts). Default
    /// `<data>/secret.key`.
    pub key_file: Option<PathBuf>,
}

/// `[sign_in]` of renkei.toml: how many failures lock an account, and how many failures from
/// one network address block that address (password spraying). Behind a reverse proxy every
/// client has the proxy's address: raise the address limit there, and limit at the proxy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInSection {
    /// Failures that lock an account (default 5; at least 1).
    pub max_failures: Option<u32>,
    /// How long an account stays locked (default 15 minutes).
    pub lock_minutes: Option<u32>,
    /// Failures from one address, within `address_window_minutes`, that block it (default 30).
    pub address_max_failures: Option<u32>,
    pub address_window_minutes: Option<u32>,
    /// How long an address stays blocked (default 15 minutes).
    pub address_lock_minutes: Option<u32>,
}

impl SignInSection {
    pub fn policies(&self) -> (auth::LockoutPolicy, auth::SourcePolicy) {
        let (a, s) = (
            auth::LockoutPolicy::default(),
            auth::SourcePolicy::default(),
        );
        (
            auth::LockoutPolicy {
                max_failures: self.max_failures.unwrap_or(a.max_failures),
                lock_minutes: self.lock_minutes.unwrap_or(a.lock_minutes),
            },
            auth::SourcePolicy {
                max_failures: self.address_max_failures.unwrap_or(s.max_failures),
                window_minutes: self.address_window_minutes.unwrap_or(s.window_minutes),
                lock_minutes: self.address_lock_minutes.unwrap_or(s.lock_minutes),
            },
        )
    }
}

/// The environment variable that holds the keys (wins over any file).
pub const KEY_ENV: &str = "RENKEI_SECRET_KEY";
/// The key file's name in the data folder when none is configured.
pub const DEFAULT_KEY_FILE: &str = "secret.key";

/// Where the keys were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
}

/// The key file this configuration uses (whether it exists or not).
pub fn key_file(section: &SecretsSection, data: &Path) -> PathBuf {
    section
        .key_file
        .clone()
        .unwrap_or_else(|| data.join(DEFAULT_KEY_FILE))
}

/// The keys, from the environment or the key file; with `create`, a key file with a new
/// key is written when there is none.
pub fn load(
    section: &SecretsSection,
    data: &Path,
    create: bool,
) -> Result<Option<(Keyring, KeySource)>> {
    load_from(std::env::var(KEY_ENV).ok(), section, data, create)
}

fn load_from(
    env: Option<String>,
    section: &SecretsSection,
    data: &Path,
    create: bool,
) -> Result<Option<(Keyring, KeySource)>> {
    if let Some(text) = env.filter(|t| !t.trim().is_empty()) {
        let keys = Keyring::parse(&text).context(KEY_ENV)?;
        return Ok(Some((keys, KeySource::Environment)));
    }
    let path = key_file(section, data);
    if path.exists() {
        return Ok(Some((read_key_file(&path)?, KeySource::File(path))));
    }
    if !create {
        return Ok(None);
    }
    if section.key_file.is_some() {
        // A configured file that is missing is a mistake (a wrong path, an unmounted
        // volume), not a reason to start encrypting with a key nobody else has.
        bail!(
            "the secret key file {} ([secrets] key_file) does not exist; create it with `renkei secrets new-key --out {}` or fix the path",
            path.display(),
            path.display()
        );
    }
    store::private::prepare_private_folder(data)?;
    let keys = Keyring::new(auth::SecretKey::generate()?, []);
    write_key_file(&path, &keys)?;
    println!(
        "created a secret key for the TOTP secrets in {} (keep it private and apart from the backups; see docs/configuration.md)",
        path.display()
    );
    Ok(Some((keys, KeySource::File(path))))
}

/// Read a key file, refusing one that other users can read.
pub fn read_key_file(path: &Path) -> Result<Keyring> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading the secret key file {}", path.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "秘密鍵ファイル {p} は他の利用者からも読めます (mode {mode:04o})。所有者だけに制限してください: chmod 600 {p} / \
                 the secret key file {p} can be read by other users (mode {mode:04o}); restrict it to its owner: chmod 600 {p}",
                p = path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret key file {}", path.display()))?;
    Keyring::parse(&text).with_context(|| format!("the secret key file {}", path.display()))
}

/// Write a key file atomically, private to its owner (0600).
pub fn write_key_file(path: &Path, keys: &Keyring) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = path.with_extension("key.tmp");
    {
        let mut f = store::private::private_file_options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(keys.to_file_text().as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    if let Some(d) = dir.and_then(|d| std::fs::File::open(d).ok()) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_then_read_back() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        let none = load_from(None, &SecretsSection::default(), &data, false).expect("load");
        assert!(none.is_none(), "nothing is created unless asked");
        let (keys, source) = load_from(None, &SecretsSection::default(), &data, true)
            .expect("create")
            .expect("keys");
        let file = data.join(DEFAULT_KEY_FILE);
        assert_eq!(source, KeySource::File(file.clone()));
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&data), 0o700);
        let (again, _) = load_from(None, &SecretsSection::default(), &data, true)
            .expect("load")
            .expect("keys");
        assert_eq!(again, keys, "the same key next time");
        // A key file others can read is refused, with the fix.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = load_from(None, &SecretsSection::default(), &data, true).expect_err("0644");
        assert!(format!("{err:#}").contains("chmod 600"), "{err:#}");
    }

    #[test]
    fn environment_wins_and_a_configured_file_must_exist() {
        let tmp = tempfile::tempdir().expect("tmp");
        let key = auth::SecretKey::generate().expect("key");
        let (keys, source) = load_from(
            Some(key.to_text()),
            &SecretsSection::default(),
            tmp.path(),
            true,
        )
        .expect("env")
        .expect("keys");
        assert_eq!((keys.current(), source), (&key, KeySource::Environment));
        assert!(!tmp.path().join(DEFAULT_KEY_FILE).exists());
        let err = load_from(
            Some("nonsense".into()),
            &SecretsSection::default(),
            tmp.path(),
            true,
        )
        .expect_err("bad env");
        assert!(format!("{err:#}").contains(KEY_ENV), "{err:#}");
        let section = SecretsSection {
            key_file: Some(tmp.path().join("missing.key")),
        };
        let err = load_from(None, &section, tmp.path(), true).expect_err("missing file");
        assert!(format!("{err:#}").contains("missing.key"), "{err:#}");
    }
}
