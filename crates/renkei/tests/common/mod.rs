//! What the end-to-end tests share: the real `renkei serve` (plain or `--demo`) on a free
//! port, killed when dropped; the demo's printed logins and regional IDs; raw HTTP/1.1
//! requests over `TcpStream` (JSON calls, HTML pages, form posts); TOTP codes and sign-in
//! through the HTML form.

// Each test binary pulls this module in with `mod common;` and uses only a subset of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod labs;

/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "renkei-Demo-2026";

/// A running `renkei serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `renkei --data <data> serve` on a free port, once `/healthz` answers.
    pub fn start(data: &Path) -> Server {
        let (server, _) = Server::spawn(data, &[], Stdio::null());
        server.wait_healthy(Duration::from_secs(30));
        server
    }

    /// `renkei --data <data> serve <extra…>` on a free port, once `/healthz` answers.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        let (server, _) = Server::spawn(data, extra, Stdio::null());
        server.wait_healthy(Duration::from_secs(30));
        server
    }

    /// `renkei --data <data> serve` with these environment variables set for it alone.
    pub fn start_env(data: &Path, env: &[(&str, &str)]) -> Server {
        let (server, _) = Server::spawn_env(data, &[], Stdio::null(), env);
        server.wait_healthy(Duration::from_secs(30));
        server
    }

    /// `renkei --data <data> serve <extra> --listen 127.0.0.1:<free port>`, not waited for.
    fn spawn(data: &Path, extra: &[&str], stdout: Stdio) -> (Server, Option<ChildStdout>) {
        Server::spawn_env(data, extra, stdout, &[])
    }

    fn spawn_env(
        data: &Path,
        extra: &[&str],
        stdout: Stdio,
        env: &[(&str, &str)],
    ) -> (Server, Option<ChildStdout>) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_renkei"))
            .arg("--data")
            .arg(data)
            .arg("serve")
            .args(extra)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .envs(env.iter().copied())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let stdout = child.stdout.take();
        (Server { child, port }, stdout)
    }

    fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while get_with(self, "/healthz", "").0 != 200 {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `renkei serve --demo` in a temporary data folder, and what it printed: a TOTP secret per
/// login, a consented and a non-consenting regional ID.
pub struct DemoServer {
    // Declared first: the server is stopped before its data folder is removed.
    pub server: Server,
    /// Login → base32 TOTP secret.
    pub secrets: BTreeMap<String, String>,
    pub consented: String,
    pub refused: String,
    /// Everything the demo printed up to "renkei is serving", for failure messages.
    pub text: String,
    _tmp: tempfile::TempDir,
}

impl DemoServer {
    /// `renkei serve --demo --demo-patients <patients>`, once `/healthz` answers.
    pub fn start(patients: u32) -> DemoServer {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        DemoServer::start_in(&data, patients, tmp)
    }

    /// `renkei --data <data> serve --demo …` (the data folder may hold a renkei.toml, e.g.
    /// one pointing at PostgreSQL); `keep` lives as long as the server.
    pub fn start_in(data: &Path, patients: u32, keep: tempfile::TempDir) -> DemoServer {
        let tmp = keep;
        let patients = patients.to_string();
        let (server, stdout) = Server::spawn(
            data,
            &["--demo", "--demo-patients", &patients],
            Stdio::piped(),
        );
        let mut lines = Vec::new();
        for line in BufReader::new(stdout.expect("stdout")).lines() {
            let line = line.expect("line");
            let done = line.starts_with("renkei is serving");
            lines.push(line);
            if done {
                break;
            }
        }
        let text = lines.join("\n");
        // `  <login> <facilities>  TOTP secret <base32>`
        let secrets: BTreeMap<String, String> = lines
            .iter()
            .filter_map(|l| {
                let login = l.split_whitespace().next()?;
                let secret = l.split("TOTP secret ").nth(1)?.trim();
                (!secret.is_empty() && !secret.contains(char::is_whitespace))
                    .then(|| (login.to_owned(), secret.to_owned()))
            })
            .collect();
        // `  try regional ID <a> (consented) and <b> (no consent)`
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
        server.wait_healthy(Duration::from_secs(60));
        let [consented, refused]: [String; 2] = ids.try_into().expect("two IDs");
        DemoServer {
            server,
            secrets,
            consented,
            refused,
            text,
            _tmp: tmp,
        }
    }

    /// The TOTP secret the demo printed for `login`.
    pub fn secret(&self, login: &str) -> &str {
        self.secrets
            .get(login)
            .unwrap_or_else(|| panic!("no demo login {login} in:\n{}", self.text))
    }
}

/// One request on its own connection: (status, the whole response as text); status 0 when
/// nothing is listening yet.
pub fn raw(server: &Server, request: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) else {
        return (0, String::new());
    };
    let _ = s.write_all(request.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (
        text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        text,
    )
}

/// The body of a whole response.
pub fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

/// A JSON API call, with a bearer token: (status, body as JSON, or as a string if not JSON).
pub fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let json = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let (status, text) = raw(
        server,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        ),
    );
    if status == 0 {
        return (0, Value::Null);
    }
    let body = self::body(&text);
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

/// A GET with extra header lines (each ending in `\r\n`): (status, headers + body).
pub fn get_with(server: &Server, path: &str, headers: &str) -> (u16, String) {
    raw(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"),
    )
}

/// A page with the session cookie (`name=value`): (status, headers + body).
pub fn get_html(server: &Server, path: &str, cookie: &str) -> (u16, String) {
    get_with(server, path, &format!("Cookie: {cookie}\r\n"))
}

/// A response split into its parts.
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn location(&self) -> String {
        self.header("location").unwrap_or_default()
    }

    pub fn no_store(&self) -> bool {
        self.header("cache-control")
            .is_some_and(|v| v.contains("no-store"))
    }

    /// The session cookie (`name=value`) the response sets.
    pub fn cookie(&self) -> Option<String> {
        self.header("set-cookie")
            .and_then(|c| c.split(';').next().map(str::to_owned))
    }
}

/// One HTTP/1.1 request with an optional session cookie, extra header lines (each ending in
/// `\r\n`) and an url-encoded form as a POST body.
pub fn http(
    server: &Server,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    extra: &str,
) -> Resp {
    let host = format!("127.0.0.1:{}", server.port);
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let content = form
        .map(|f| {
            format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                f.len()
            )
        })
        .unwrap_or_default();
    let (status, text) = raw(
        server,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{cookie}{extra}{content}\r\n{}",
            form.unwrap_or("")
        ),
    );
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Resp {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Percent-encoding for a form field or a query parameter.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The TOTP code `step` 30-s steps from now. A code is used once per user and step: a test
/// signing a user in again takes another step.
pub fn totp(secret: &str, step: i64) -> String {
    auth::TotpSecret::from_base32(secret)
        .expect("secret")
        .code_at(model::UnixTime::now().plus_seconds(30 * step))
}

/// Post the HTML sign-in form with a TOTP code; a 303 with the session cookie on success.
pub fn post_login(server: &Server, login: &str, password: &str, code: &str) -> Resp {
    let form = format!(
        "login={}&password={}&totp={code}&facility=",
        enc(login),
        enc(password)
    );
    http(server, "POST", "/login", None, Some(&form), "")
}

/// Sign in through the HTML form with the code of `step`; returns the session cookie
/// (`name=value`).
pub fn html_login(server: &Server, login: &str, password: &str, secret: &str, step: i64) -> String {
    let r = post_login(server, login, password, &totp(secret, step));
    assert_eq!(
        r.status, 303,
        "sign-in {login}: {}\r\n\r\n{}",
        r.head, r.body
    );
    r.cookie().expect("session cookie")
}

/// `POST /api/v1/login` with a password and a TOTP code: (status, answer).
pub fn login_call(server: &Server, login: &str, password: &str, code: &str) -> (u16, Value) {
    call(
        server,
        "POST",
        "/api/v1/login",
        None,
        Some(&serde_json::json!({ "login": login, "password": password, "totp": code })),
    )
}

/// Sign in through the JSON API with the code of `step`; returns the bearer token.
pub fn api_login(server: &Server, login: &str, password: &str, secret: &str, step: i64) -> String {
    let (status, body) = login_call(server, login, password, &totp(secret, step));
    assert_eq!(status, 200, "login {login}: {body}");
    body["token"].as_str().expect("token").to_owned()
}

/// The password every test user gets (through `RENKEI_NEW_PASSWORD` for the CLI).
pub const PASSWORD: &str = "Kx7#mPq2vLw9-renkei";

/// Run the `renkei` command line on a data folder; panics with its stderr if it fails.
pub fn renkei(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RENKEI_NEW_PASSWORD", PASSWORD)
        .output()
        .expect("run renkei");
    assert!(
        out.status.success(),
        "renkei {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `root`, by `/`-separated relative path.
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &rel, out);
            } else {
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

/// `diff -r want got` must print nothing.
pub fn assert_same_tree(want: &Path, got: &Path) {
    let out = Command::new("diff")
        .arg("-r")
        .arg(want)
        .arg(got)
        .output()
        .expect("diff");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "diff -r {} {}:\n{}",
        want.display(),
        got.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The number after `word` in a summary or status text.
pub fn number(text: &str, word: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == word)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or_else(|| panic!("no number after {word:?} in {text}"))
}

/// `renkei agent status --state DIR`.
pub fn agent_status(state: &Path) -> String {
    Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(["agent", "status", "--state"])
        .arg(state)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `renkei user bootstrap --login admin` (server stopped); the administrator's TOTP secret.
pub fn bootstrap_admin(data: &Path) -> String {
    let boot = renkei(data, &["user", "bootstrap", "--login", "admin"]);
    boot.lines()
        .find_map(|l| l.strip_prefix("secret:"))
        .expect("secret")
        .trim()
        .to_owned()
}

/// Register (or change) a participating hospital that discloses and views.
pub fn put_facility(server: &Server, token: &str, code: &str, name: &str) {
    let (status, body) = call(
        server,
        "PUT",
        &format!("/api/v1/facilities/{code}"),
        Some(token),
        Some(
            &serde_json::json!({"name": name, "kind": "hospital", "area": "仙台", "discloses": true, "views": true}),
        ),
    );
    assert_eq!(status, 200, "{body}");
}

/// Create the `office` user (network operator); its TOTP secret.
pub fn add_office(server: &Server, admin: &str) -> String {
    let (status, body) = call(
        server,
        "POST",
        "/api/v1/users",
        Some(admin),
        Some(
            &serde_json::json!({"login": "office", "display_name": "事務局", "profession": "network_operator", "password": PASSWORD}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    body["totp_secret"].as_str().expect("secret").to_owned()
}

/// A new API key (the facility agent's credential) of the facility.
pub fn api_key(server: &Server, token: &str, code: &str) -> String {
    let (status, key) = call(
        server,
        "POST",
        &format!("/api/v1/facilities/{code}/api-keys"),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{key}");
    key["key"].as_str().expect("key").to_owned()
}

/// `renkei synth` of a region into `region`; the code and tree of its facility with the most
/// files.
pub fn largest_synth_facility(
    region: &Path,
    patients: u32,
    seed: u64,
) -> (String, std::path::PathBuf) {
    let scratch = region.with_extension("synth-data");
    renkei(
        &scratch,
        &[
            "synth",
            "--out",
            region.to_str().expect("utf8"),
            "--patients",
            &patients.to_string(),
            "--seed",
            &seed.to_string(),
        ],
    );
    std::fs::read_dir(region)
        .expect("region")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .max_by_key(|(_, p)| tree(p).len())
        .expect("a facility")
}

/// A data folder made by hand, private to its owner as renkei requires.
pub fn private_folder(path: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .expect("data folder");
}

/// Every pack file under `dir` (a data folder's blobs, a bucket's folder), sorted; the
/// `damaged/` folders where renkei keeps evidence are left out.
pub fn packs_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("damaged") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "pack") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Sign in through the API with a TOTP code this user has not used yet (one session per
/// code), waiting for the next 30 s window when the current and the next code are spent —
/// as after a rebuild or promotion, which keeps the codes used on the old primary.
pub fn api_login_fresh(server: &Server, login: &str, password: &str, secret: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(75);
    loop {
        for step in [0, 1] {
            let (status, body) = login_call(server, login, password, &totp(secret, step));
            if status == 200 {
                return body["token"].as_str().expect("token").to_owned();
            }
            assert_eq!(status, 401, "login {login}: {body}");
        }
        assert!(Instant::now() < deadline, "{login} never signed in");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `renkei serve --replica` on a new private data folder that accepts `token`.
pub fn start_replica(data: &Path, token: &str) -> Server {
    private_folder(data);
    std::fs::write(
        data.join("renkei.toml"),
        format!("[replication]\ntoken = \"{token}\"\n"),
    )
    .expect("replica config");
    Server::start_with(data, &["--replica"])
}
