//! The facility agent's upload protocol, shared by `renkei agent` (at the hospital, next to
//! its SS-MIX2 storage) and the server's ingest endpoint. Pure: types, the path rule and the
//! batch framing; no network or disk.
//!
//! The conversation, every request with the facility's API key
//! (`Authorization: Bearer rk_<code>_…`); the facility is the key's, never a parameter:
//!
//! 1. `POST /api/v1/agent/runs` [`StartRun`] → [`RunStarted`]: an import run on the server.
//! 2. `POST /api/v1/agent/check` [`CheckRequest`] → [`CheckAnswer`]: which of these
//!    (path, SHA-256) the server does not hold as current yet. The agent sends only those, so a
//!    file is never sent twice — also after a crash between sending and remembering.
//! 3. `POST /api/v1/agent/runs/{run}/files` with a batch body ([`encode_batch`], content type
//!    [`BATCH_CONTENT_TYPE`]) → [`BatchAnswer`]. The server checks every file's size and
//!    SHA-256 and the path rule ([`check_path`]) before storing anything of the batch; the
//!    batch is stored in one transaction.
//! 4. `POST /api/v1/agent/runs/{run}/finish` [`FinishRun`] → [`RunFinished`]: files deleted
//!    from the tree since the last run are marked removed (their history stays).

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// Content type of a batch body.
pub const BATCH_CONTENT_TYPE: &str = "application/x-renkei-batch";
/// The most files one check request may ask about.
pub const MAX_CHECK: usize = 10_000;
/// The largest batch body the server accepts (bytes, framing included).
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;
/// The longest path accepted (bytes); SS-MIX2 paths are well under 200.
pub const MAX_PATH: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRun {
    /// Who is sending, for the operator: host name and agent version.
    pub agent: String,
    /// This run scans the whole tree (removals are reported at finish).
    pub full_scan: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: i64,
    pub facility: String,
}

/// One file as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Relative to the facility's SS-MIX2 root, `/`-separated.
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    pub files: Vec<FileRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAnswer {
    /// Paths (from the request) whose content the server does not hold as current.
    pub missing: Vec<String>,
}

/// A file the server kept but did not index, with why (as `renkei quarantine` shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Files in the batch.
    pub received: u64,
    /// New file versions stored.
    pub stored: u64,
    /// Files whose content was already current (sent twice: harmless, nothing changes).
    pub already_current: u64,
    pub quarantined: Vec<Quarantined>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishRun {
    /// Paths deleted from the facility's tree since the last run.
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinished {
    /// Current files marked removed.
    pub removed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("path {path:?}: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("batch entry {index}: {why}")]
    BadFrame { index: usize, why: String },
    #[error("batch entry {index} ({path}): {why}")]
    BadFile {
        index: usize,
        path: String,
        why: String,
    },
}

/// The path rule: relative, `/`-separated, no empty, `.` or `..` part, no backslash, NUL or
/// control character, valid UTF-8 (by type), at most [`MAX_PATH`] bytes. A path passing it
/// stays inside the facility's tree wherever the tree is written back.
pub fn check_path(path: &str) -> Result<(), ProtocolError> {
    let bad = |why| {
        Err(ProtocolError::BadPath {
            path: path.chars().take(120).collect(),
            why,
        })
    };
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > MAX_PATH {
        return bad("longer than 1024 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute (starts with /)");
    }
    if path.chars().any(|c| c == '\\' || c.is_control()) {
        return bad("contains a backslash or a control character");
    }
    for part in path.split('/') {
        match part {
            "" => return bad("has an empty part (//, or ends with /)"),
            "." | ".." => return bad("has a . or .. part"),
            _ => {}
        }
    }
    Ok(())
}

/// SHA-256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// One file of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFile {
    pub path: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// The batch body: for each file one JSON line (a [`FileRef`]) then exactly `size` bytes.
pub fn encode_batch(files: &[BatchFile]) -> Vec<u8> {
    let mut out = Vec::with_capacity(files.iter().map(|f| f.bytes.len() + 150).sum());
    for f in files {
        let head = FileRef {
            path: f.path.clone(),
            sha256: f.sha256.clone(),
            size: f.bytes.len() as u64,
        };
        // A FileRef always serialises (strings and a number).
        out.extend_from_slice(serde_json::to_string(&head).unwrap_or_default().as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&f.bytes);
    }
    out
}

/// Parse and check a batch body: every header well-formed, every path by [`check_path`],
/// every size and SHA-256 matching its bytes, no path twice. The first problem rejects the
/// whole batch, naming the entry.
pub fn decode_batch(body: &[u8]) -> Result<Vec<BatchFile>, ProtocolError> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rest = body;
    let mut index = 0;
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Err(ProtocolError::BadFrame {
                index,
                why: "header line without newline".into(),
            });
        };
        if nl > MAX_PATH + 200 {
            return Err(ProtocolError::BadFrame {
                index,
                why: "header line too long".into(),
            });
        }
        let head: FileRef =
            serde_json::from_slice(&rest[..nl]).map_err(|e| ProtocolError::BadFrame {
                index,
                why: format!("header is not a file reference: {e}"),
            })?;
        check_path(&head.path)?;
        let body_start = nl + 1;
        let size = usize::try_from(head.size).unwrap_or(usize::MAX);
        let Some(bytes) = rest
            .get(body_start..)
            .and_then(|r| r.get(..size))
            .map(<[u8]>::to_vec)
        else {
            return Err(ProtocolError::BadFile {
                index,
                path: head.path,
                why: format!("body ends before the {} bytes announced", head.size),
            });
        };
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&head.sha256) {
            return Err(ProtocolError::BadFile {
                index,
                path: head.path,
                why: format!(
                    "SHA-256 mismatch: announced {}, received {actual}",
                    head.sha256
                ),
            });
        }
        if !seen.insert(head.path.clone()) {
            return Err(ProtocolError::BadFile {
                index,
                path: head.path,
                why: "the same path twice in one batch".into(),
            });
        }
        files.push(BatchFile {
            path: head.path,
            sha256: actual,
            bytes,
        });
        rest = &rest[body_start + size..];
        index += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, bytes: &[u8]) -> BatchFile {
        BatchFile {
            path: path.into(),
            sha256: sha256_hex(bytes),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn paths_stay_inside_the_tree() {
        for ok in [
            "000/123/4567890/20260401/OML-11/4567890_20260401_OML-11_202604011230000_01_1",
            "a",
            "日本語/ファイル",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            "a\nb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn a_batch_round_trips_including_empty_and_binary_files() {
        let files = vec![
            file("a/b", b"MSH|^~\\&|\r"),
            file("a/empty", b""),
            file("a/bin", &[0, 10, 13, 255, b'\n', b'{']),
        ];
        let body = encode_batch(&files);
        assert_eq!(decode_batch(&body).expect("decode"), files);
        assert_eq!(decode_batch(b"").expect("empty batch"), vec![]);
    }

    #[test]
    fn a_damaged_batch_is_refused_naming_the_entry() {
        let files = vec![file("a/1", b"one"), file("a/2", b"two")];
        let mut body = encode_batch(&files);
        let last = body.len() - 1;
        body[last] = b'X';
        let e = decode_batch(&body).expect_err("corrupt");
        assert!(
            matches!(&e, ProtocolError::BadFile { index: 1, path, .. } if path == "a/2"),
            "{e}"
        );
        let body = encode_batch(&files);
        assert!(decode_batch(&body[..body.len() - 1]).is_err(), "truncated");
        let twice = encode_batch(&[file("a/1", b"x"), file("a/1", b"x")]);
        assert!(decode_batch(&twice).is_err(), "same path twice");
        let evil = encode_batch(&[file("../../etc/cron.d/x", b"x")]);
        assert!(matches!(
            decode_batch(&evil),
            Err(ProtocolError::BadPath { .. })
        ));
        assert!(decode_batch(b"not json\nabc").is_err());
    }
}
