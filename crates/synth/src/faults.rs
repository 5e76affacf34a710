//! Deliberately broken files, as real facility storages contain them.

use crate::rng::Rng;

pub enum FaultKind {
    Truncated,
    ShiftJis,
    Utf8,
    NotHl7,
    Misplaced,
    BadName,
    Empty,
}

impl FaultKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FaultKind::Truncated => "truncated",
            FaultKind::ShiftJis => "shift_jis",
            FaultKind::Utf8 => "utf8",
            FaultKind::NotHl7 => "not_hl7",
            FaultKind::Misplaced => "misplaced",
            FaultKind::BadName => "bad_name",
            FaultKind::Empty => "empty",
        }
    }

    pub fn pick(rng: &mut Rng) -> FaultKind {
        match rng.weighted(&[20, 15, 8, 12, 15, 15, 10]) {
            0 => FaultKind::Truncated,
            1 => FaultKind::ShiftJis,
            2 => FaultKind::Utf8,
            3 => FaultKind::NotHl7,
            4 => FaultKind::Misplaced,
            5 => FaultKind::BadName,
            _ => FaultKind::Empty,
        }
    }
}

/// Cut an encoded message in the middle of a segment (never at a segment boundary).
pub fn truncate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let n = bytes.len();
    let mut cut = (n as f64 * (0.3 + 0.6 * rng.unit())) as usize;
    cut = cut.clamp(1, n.saturating_sub(2).max(1));
    while cut > 1 && (bytes[cut - 1] == b'\r' || bytes[cut] == b'\r') {
        cut -= 1;
    }
    bytes[..cut].to_vec()
}

pub fn shift_jis(text: &str) -> Vec<u8> {
    let (b, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    b.into_owned()
}

pub fn not_hl7(rng: &mut Rng) -> Vec<u8> {
    match rng.index(3) {
        0 => (0..64 + rng.index(512))
            .map(|_| rng.next_u64() as u8)
            .collect(),
        1 => "バックアップ作業ログ\r\n転送エラー: 接続がタイムアウトしました\r\n"
            .as_bytes()
            .to_vec(),
        _ => b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><error>export failed</error>\n".to_vec(),
    }
}

/// A file name that breaks the rule, derived from a valid one.
pub fn bad_name(rng: &mut Rng, name: &str) -> String {
    match rng.index(4) {
        0 => format!("{name}.hl7"),
        1 => name.replacen('_', "-", 1),
        2 => format!("{name}.bak"),
        _ => {
            // Drop the department part.
            let mut parts: Vec<&str> = name.split('_').collect();
            if parts.len() > 2 {
                parts.remove(parts.len() - 2);
            }
            parts.join("_")
        }
    }
}
