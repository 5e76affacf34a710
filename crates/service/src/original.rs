//! The original bytes of one record version (原本), exactly as the facility sent them: an
//! SS-MIX2 message, or an extended-storage file (CDA, PDF, image, HL7). Through the same gate
//! as the record detail ([`Network::record_detail`]), with the same one answer for an unknown
//! version, another patient's version and a refused one; every decision is audited as
//! [`audit::Action::Download`], since the file leaves the viewer.
//!
//! The content type is read from the bytes, never from the file name a facility chose: the
//! browser must not be told a document is something it is not.

use model::{Purpose, RegionalId};
use store::StorageKind;

use crate::{Network, Principal, Result};

/// One record version's bytes with what a download needs.
#[derive(Debug, Clone)]
pub struct RecordOriginal {
    /// Byte-identical to what the facility sent.
    pub bytes: Vec<u8>,
    /// The file's own name (the last part of its path in the facility's tree).
    pub file_name: String,
    /// From the content ([`content_type_of`]).
    pub content_type: String,
    pub storage: StorageKind,
}

/// The media type of a stored file, from its first bytes: PDF, PNG, JPEG, GIF, TIFF, DICOM,
/// XML (CDA), an HL7 message as text with the charset it is written in; anything else is
/// `application/octet-stream` (downloaded, never shown).
pub fn content_type_of(bytes: &[u8]) -> String {
    let b = bytes;
    let kind = if b.starts_with(b"%PDF-") {
        "application/pdf"
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        "image/gif"
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        "image/tiff"
    } else if b.get(128..132) == Some(b"DICM") {
        "application/dicom"
    } else {
        let text = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        let start = text
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(text.len());
        let text = &text[start..];
        if text.starts_with(b"MSH") || text.starts_with(b"FHS") || text.starts_with(b"BHS") {
            // An HL7 message: text, in the encoding it is written in (ISO-2022-JP for
            // SS-MIX2; what a non-conforming vendor wrote otherwise).
            return match hl7::decode(bytes) {
                Ok(d) => format!(
                    "text/plain; charset={}",
                    match d.encoding {
                        hl7::TextEncoding::Ascii => "us-ascii",
                        hl7::TextEncoding::Iso2022Jp => "iso-2022-jp",
                        hl7::TextEncoding::Utf8 => "utf-8",
                        hl7::TextEncoding::ShiftJis => "shift_jis",
                        hl7::TextEncoding::EucJp => "euc-jp",
                    }
                ),
                Err(_) => "text/plain".into(),
            };
        }
        if text.starts_with(b"<?xml") || text.starts_with(b"<ClinicalDocument") {
            "application/xml"
        } else {
            "application/octet-stream"
        }
    };
    kind.to_owned()
}

/// May a file of this type be shown inside the viewer (`Content-Disposition: inline`)? Only
/// what the browser renders without running anything of the file: PDF in its viewer and
/// bitmap images. XML, SVG and HTML never (they could carry script).
pub fn shows_inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "application/pdf" | "image/png" | "image/jpeg" | "image/gif"
    )
}

/// The last part of a `/`-separated path.
fn file_name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Network {
    /// The original bytes of one record version of a patient (see the module documentation).
    /// Refused (audited as a download) unless the version belongs to a linked source of this
    /// patient and its category is allowed; an unknown version, another patient's one and a
    /// refused one get the same answer as [`Network::record_detail`] gives.
    pub async fn record_original(
        &self,
        actor: &Principal,
        id: &RegionalId,
        version_id: i64,
        purpose: Purpose,
    ) -> Result<RecordOriginal> {
        let gate = self
            .open_gate_as(actor, id, purpose, audit::Action::Download)
            .await?;
        let (mut gate, i, v, category) = self.gated_version(gate, version_id, "original").await?;
        let bytes = self
            .store
            .read_blobs(&[v.record.sha256])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        gate.count(i, category, 1);
        self.close_gate(gate, Some("original")).await?;
        Ok(RecordOriginal {
            content_type: content_type_of(&bytes),
            file_name: file_name_of(&v.record.path).to_owned(),
            storage: v.record.storage,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_read_from_the_content() {
        assert_eq!(content_type_of(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(
            content_type_of(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            "image/png"
        );
        assert_eq!(content_type_of(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), "image/jpeg");
        assert_eq!(content_type_of(b"GIF89a..."), "image/gif");
        assert_eq!(content_type_of(b"II*\0\x08\0\0\0"), "image/tiff");
        assert_eq!(content_type_of(b"MM\0*\0\0\0\x08"), "image/tiff");
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\0");
        assert_eq!(content_type_of(&dicom), "application/dicom");
        assert_eq!(
            content_type_of("\u{feff}<?xml version=\"1.0\"?><ClinicalDocument/>".as_bytes()),
            "application/xml"
        );
        assert_eq!(
            content_type_of(b"  <ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>"),
            "application/xml"
        );
        // The SS-MIX2 encoding (ESC $ B … ESC ( B) and plain ASCII.
        assert_eq!(
            content_type_of(b"MSH|^~\\&|A\x1b$B%F%9%H\x1b(B|\r"),
            "text/plain; charset=iso-2022-jp"
        );
        assert_eq!(
            content_type_of(b"MSH|^~\\&|HIS\rPID|||1\r"),
            "text/plain; charset=us-ascii"
        );
        assert_eq!(
            content_type_of("MSH|^~\\&|病院\r".as_bytes()),
            "text/plain; charset=utf-8"
        );
        // What a facility names .pdf but is not: never called a PDF.
        assert_eq!(
            content_type_of(b"<html><script>"),
            "application/octet-stream"
        );
        assert_eq!(content_type_of(b""), "application/octet-stream");
        assert_eq!(content_type_of(b"%PD"), "application/octet-stream");
    }

    #[test]
    fn only_what_runs_nothing_is_shown_inline() {
        for t in ["application/pdf", "image/png", "image/jpeg", "image/gif"] {
            assert!(shows_inline(t), "{t}");
        }
        for t in [
            "application/xml",
            "image/tiff",
            "text/plain; charset=iso-2022-jp",
            "application/octet-stream",
            "image/svg+xml",
            "text/html",
        ] {
            assert!(!shows_inline(t), "{t}");
        }
    }

    #[test]
    fn the_file_name_is_the_last_part_of_the_path() {
        assert_eq!(
            file_name_of(
                "123/456/1234567/20240101/OMP-01/1234567_20240101_OMP-01_1_20240101120000000_01_1"
            ),
            "1234567_20240101_OMP-01_1_20240101120000000_01_1"
        );
        assert_eq!(file_name_of("退院時サマリー.pdf"), "退院時サマリー.pdf");
    }
}
