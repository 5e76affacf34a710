//! The body of a shipment to a replica: the upload crate's checked batch framing, first the
//! feed itself as `feed.json`, then each content as `contents/<sha256>`. Every part's size and
//! SHA-256 are checked on arrival, so a shipment damaged on the way is refused whole.

use std::collections::HashMap;

use model::Sha256;
use store::Feed;
use upload::BatchFile;

use crate::{Result, SiteError};

pub const CONTENT_TYPE: &str = "application/x-renkei-shipment";
/// Largest shipment body a replica accepts.
pub const MAX_SHIPMENT_BYTES: usize = 256 * 1024 * 1024;

const FEED_PART: &str = "feed.json";
const CONTENT_PREFIX: &str = "contents/";

pub fn encode(feed: &Feed, contents: &HashMap<Sha256, Vec<u8>>) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(feed).map_err(|e| SiteError::Wire(e.to_string()))?;
    let mut parts = Vec::with_capacity(contents.len() + 1);
    parts.push(BatchFile {
        path: FEED_PART.into(),
        sha256: upload::sha256_hex(&json),
        bytes: json,
    });
    for (sha, bytes) in contents {
        parts.push(BatchFile {
            path: format!("{CONTENT_PREFIX}{}", sha.to_hex()),
            sha256: sha.to_hex(),
            bytes: bytes.clone(),
        });
    }
    Ok(upload::encode_batch(&parts))
}

pub fn decode(body: &[u8]) -> Result<(Feed, HashMap<Sha256, Vec<u8>>)> {
    let parts = upload::decode_batch(body).map_err(|e| SiteError::Wire(e.to_string()))?;
    let mut feed = None;
    let mut contents = HashMap::new();
    for part in parts {
        if part.path == FEED_PART {
            feed = Some(
                serde_json::from_slice::<Feed>(&part.bytes)
                    .map_err(|e| SiteError::Wire(format!("feed.json: {e}")))?,
            );
        } else if let Some(hex) = part.path.strip_prefix(CONTENT_PREFIX) {
            let sha = Sha256::from_hex(hex)
                .ok_or_else(|| SiteError::Wire(format!("{}: not a SHA-256", part.path)))?;
            contents.insert(sha, part.bytes);
        } else {
            return Err(SiteError::Wire(format!("unexpected part {}", part.path)));
        }
    }
    let feed = feed.ok_or_else(|| SiteError::Wire("feed.json missing".into()))?;
    for v in &feed.versions {
        if let Some(sha) = &v.sha256 {
            if !contents.contains_key(sha) {
                return Err(SiteError::Wire(format!(
                    "version {} ({}) arrived without its content",
                    v.id, v.facility
                )));
            }
        }
    }
    Ok((feed, contents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_content_refused() {
        let bytes = b"MSH|^~\\&|\r".to_vec();
        let sha = store::packs::sha256(&bytes);
        let feed = Feed {
            versions: vec![store::FeedVersion {
                id: 7,
                facility: model::FacilityCode::parse("0123456789").unwrap(),
                path: "a/b".into(),
                sha256: Some(sha),
                size: bytes.len() as u64,
                recorded_at: "2026-01-01T00:00:00Z".into(),
                location: None,
                accept_unterminated: false,
            }],
            ..Feed::default()
        };
        let mut contents = HashMap::new();
        contents.insert(sha, bytes.clone());
        let (back, got) = decode(&encode(&feed, &contents).unwrap()).unwrap();
        assert_eq!(back, feed);
        assert_eq!(got[&sha], bytes);
        let err = decode(&encode(&feed, &HashMap::new()).unwrap()).unwrap_err();
        assert!(err.to_string().contains("without its content"), "{err}");
    }
}
