//! The viewer in a real browser: `renkei serve --demo` and Debian chromium driven by
//! playwright-core (tests/browser/viewer.mjs). Signs in with password + TOTP, searches by
//! regional ID and by kana, opens the summary, timeline, a record, the lab matrix and a trend
//! chart, the medications, is refused for a patient without consent, and checks that no page
//! can be cached. Screenshots are kept as test artifacts in
//! `<target>/tmp/browser-screenshots/` (or `$RENKEI_SCREENSHOTS`).
//!
//! Needs `node`, `/usr/bin/chromium` (or `$CHROMIUM`) and `npm ci --prefix tests/browser`;
//! `.ci/run` installs all three on a fresh machine.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the test needs from the machine, with the command that provides it.
fn check_prerequisites(browser_dir: &Path, chromium: &str) {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.map(|o| o.status.success()).unwrap_or(false),
        "node is not installed: install Node.js (Debian: apt-get install nodejs npm), or run .ci/run"
    );
    assert!(
        Path::new(chromium).exists(),
        "{chromium} not found: install Debian's chromium (apt-get install chromium), set $CHROMIUM, or run .ci/run"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (or .ci/run)"
    );
}

#[test]
fn clinician_viewer_in_chromium() {
    let browser_dir = workspace().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    check_prerequisites(&browser_dir, &chromium);

    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(&data)
        .args([
            "serve",
            "--demo",
            "--demo-patients",
            "30",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve --demo");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Server { child };

    // The demo prints its logins (TOTP secrets) and two regional IDs to try.
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.starts_with("renkei is serving");
        lines.push(line);
        if done {
            break;
        }
    }
    let text = lines.join("\n");
    let mut secrets = BTreeMap::new();
    for l in &lines {
        if let (Some(login), Some(secret)) =
            (l.split_whitespace().next(), l.split("TOTP secret ").nth(1))
        {
            secrets.insert(login.to_owned(), secret.trim().to_owned());
        }
    }
    let ids: Vec<String> = lines
        .iter()
        .find(|l| l.contains("try regional ID"))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| w.len() == 16 && w.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ids.len(),
        2,
        "demo output without two regional IDs:\n{text}"
    );
    assert!(secrets.contains_key("doctor"), "{text}");

    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let shots = std::env::var("RENKEI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots"));
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(browser_dir.join("viewer.mjs"))
        .env("RENKEI_URL", format!("http://127.0.0.1:{port}"))
        .env("RENKEI_PASSWORD", "renkei-Demo-2026")
        .env(
            "RENKEI_SECRETS",
            serde_json::to_string(&secrets).expect("json"),
        )
        .env("RENKEI_CONSENTED", &ids[0])
        .env("RENKEI_REFUSED", &ids[1])
        .env("RENKEI_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "browser test failed (screenshots in {}):\n{report}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join("08-lab-chart.png").exists());
}
