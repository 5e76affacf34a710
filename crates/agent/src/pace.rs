//! Pure arithmetic of the upload: batch planning, bandwidth pacing and retry backoff — no
//! clock and no sleeping here, so it is tested exactly.

use std::ops::Range;
use std::time::Duration;

/// Bytes a batch entry adds besides the file's own bytes: its JSON header line.
pub fn frame_overhead(path: &str) -> u64 {
    // {"path":"…","sha256":"<64>","size":<≤20>}\n, with room for JSON escapes.
    path.len() as u64 * 2 + 120
}

/// Cut files (their costs in bytes, framing included, in order) into consecutive batches of
/// at most `max_files` files and `max_bytes` bytes. A file costing more than `max_bytes` goes
/// alone in its batch.
pub fn plan_batches(costs: &[u64], max_files: usize, max_bytes: u64) -> Vec<Range<usize>> {
    let max_files = max_files.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, &cost) in costs.iter().enumerate() {
        let n = i - start;
        if n > 0 && (n >= max_files || bytes.saturating_add(cost) > max_bytes) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(cost);
    }
    if start < costs.len() {
        out.push(start..costs.len());
    }
    out
}

/// How long to wait before sending more so that, with `bytes` sent in total (this body
/// included) since `elapsed` ago, the average stays at most `limit_kbps` kB/s (1 kB = 1000
/// bytes). Zero when under the limit or with no limit.
pub fn pace_delay(bytes: u64, elapsed: Duration, limit_kbps: Option<u64>) -> Duration {
    match limit_kbps {
        Some(kbps) if kbps > 0 => {
            let due = Duration::from_secs_f64(bytes as f64 / (kbps as f64 * 1000.0));
            due.saturating_sub(elapsed)
        }
        _ => Duration::ZERO,
    }
}

/// The wait before retry number `attempt` (1-based): 1, 2, 4, 8 … seconds, at most 60.
pub fn backoff(attempt: u32) -> Duration {
    let secs = 1u64 << attempt.saturating_sub(1).min(6);
    Duration::from_secs(secs.min(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_file_and_byte_limits() {
        assert_eq!(plan_batches(&[], 3, 100), Vec::<Range<usize>>::new());
        assert_eq!(plan_batches(&[10; 7], 3, 1000), vec![0..3, 3..6, 6..7]);
        assert_eq!(plan_batches(&[40, 40, 40, 40], 10, 100), vec![0..2, 2..4]);
        // Exactly at the limit stays in one batch.
        assert_eq!(plan_batches(&[50, 50, 1], 10, 100), vec![0..2, 2..3]);
        // A file larger than the byte limit goes alone, before and after it batches resume.
        assert_eq!(
            plan_batches(&[10, 500, 10, 10], 10, 100),
            vec![0..1, 1..2, 2..4]
        );
        assert_eq!(plan_batches(&[500], 10, 100), vec![0..1]);
        assert_eq!(
            plan_batches(&[1, 1], 0, 100),
            vec![0..1, 1..2],
            "at least one"
        );
    }

    #[test]
    fn pacing_keeps_the_average_under_the_limit() {
        let s = Duration::from_secs;
        assert_eq!(pace_delay(1_000_000, s(0), None), Duration::ZERO);
        assert_eq!(pace_delay(1_000_000, s(0), Some(0)), Duration::ZERO);
        // 100 kB/s: 1 MB is due after 10 s.
        assert_eq!(pace_delay(1_000_000, s(0), Some(100)), s(10));
        assert_eq!(pace_delay(1_000_000, s(4), Some(100)), s(6));
        assert_eq!(pace_delay(1_000_000, s(10), Some(100)), Duration::ZERO);
        assert_eq!(pace_delay(1_000_000, s(30), Some(100)), Duration::ZERO);
        assert_eq!(
            pace_delay(50_000, Duration::ZERO, Some(100)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let got: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
