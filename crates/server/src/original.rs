//! The original bytes of a record version (原本): `/patients/{id}/records/{version}/original`
//! and its API twin `/api/v1/patients/{id}/records/{version}/original`. Byte-identical to
//! what the facility sent, typed from the content (`service::content_type_of`), a download
//! (`attachment`) named after the file; `?inline=1` shows a PDF or a bitmap image inside the
//! record page (the only types the browser renders without running anything of the file).
//! Every answer is `no-store` and `nosniff` ([`crate::front::response_headers`]).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service::{RecordOriginal, ServiceError};

use crate::api::ApiError;
use crate::front::{Authed, FramedBySelf};
use crate::html::{Chrome, HtmlError, PurposeQuery, SignedIn};
use crate::AppState;

#[derive(Deserialize)]
pub struct OriginalPath {
    id: String,
    version: String,
}

#[derive(Deserialize)]
pub struct OriginalQuery {
    /// `1`: shown inside the record page (PDF, images); anything else is a download.
    #[serde(default)]
    inline: String,
    #[serde(flatten)]
    purpose: PurposeQuery,
}

async fn read(
    state: &AppState,
    who: &service::Principal,
    p: &OriginalPath,
    q: &OriginalQuery,
) -> Result<RecordOriginal, ServiceError> {
    let id = model::RegionalId::parse(&p.id)
        .map_err(|e| ServiceError::Invalid(format!("地域共通ID (regional ID): {e}")))?;
    let v: i64 = p.version.parse().map_err(|_| {
        ServiceError::Invalid(format!(
            "記録番号 (record version) 「{}」が正しくありません (invalid)",
            p.version
        ))
    })?;
    state
        .network
        .record_original(who, &id, v, q.purpose.purpose())
        .await
}

/// `Content-Disposition` for a file name a facility chose (RFC 6266): an ASCII fallback
/// (`filename`, anything outside printable ASCII or quoting-sensitive replaced by `_`) and
/// the name itself percent-encoded as UTF-8 (`filename*`, RFC 5987).
pub fn content_disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '_',
        })
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "record".to_owned()
    } else {
        fallback
    };
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(b as char)
            }
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

fn respond(o: RecordOriginal, inline: bool) -> Response {
    let inline = inline && service::shows_inline(&o.content_type);
    let disposition =
        content_disposition(if inline { "inline" } else { "attachment" }, &o.file_name);
    let mut res = (StatusCode::OK, o.bytes).into_response();
    let h = res.headers_mut();
    // Both values are built from ASCII only (the type from a fixed list, the name
    // percent-encoded); a value that still would not fit is left to the generic type.
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&o.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    if inline && o.content_type == "application/pdf" {
        // The record page frames the PDF: only this answer may be framed, by this server.
        res.extensions_mut().insert(FramedBySelf);
    }
    res
}

pub async fn original_page(
    State(state): State<AppState>,
    me: SignedIn,
    Path(p): Path<OriginalPath>,
    Query(q): Query<OriginalQuery>,
) -> Result<Response, HtmlError> {
    let o = read(&state, &me.principal, &p, &q)
        .await
        .map_err(|e| HtmlError::new(&state, Some(Chrome::new(&state, &me)), e))?;
    Ok(respond(o, q.inline == "1"))
}

pub async fn original_json(
    State(state): State<AppState>,
    Authed(who): Authed,
    Path(p): Path<OriginalPath>,
    Query(q): Query<OriginalQuery>,
) -> Result<Response, ApiError> {
    let o = read(&state, &who, &p, &q).await?;
    Ok(respond(o, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(bytes: &[u8], name: &str) -> RecordOriginal {
        RecordOriginal {
            bytes: bytes.to_vec(),
            file_name: name.into(),
            content_type: service::content_type_of(bytes),
            storage: store::StorageKind::Extended,
        }
    }

    fn header(r: &Response, name: header::HeaderName) -> String {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn only_a_pdf_or_an_image_is_shown_inline_and_only_a_pdf_may_be_framed() {
        let pdf = respond(original(b"%PDF-1.4 x", "summary.pdf"), true);
        assert_eq!(header(&pdf, header::CONTENT_TYPE), "application/pdf");
        assert!(header(&pdf, header::CONTENT_DISPOSITION).starts_with("inline; "));
        assert!(pdf.extensions().get::<FramedBySelf>().is_some());
        let png = respond(original(b"\x89PNG\r\n\x1a\n...", "x.png"), true);
        assert!(header(&png, header::CONTENT_DISPOSITION).starts_with("inline; "));
        assert!(png.extensions().get::<FramedBySelf>().is_none());
        // A document the browser would interpret is never inline, whatever is asked.
        let xml = respond(original(b"<?xml version=\"1.0\"?><x/>", "a.pdf"), true);
        assert_eq!(header(&xml, header::CONTENT_TYPE), "application/xml");
        assert!(header(&xml, header::CONTENT_DISPOSITION).starts_with("attachment; "));
        assert!(xml.extensions().get::<FramedBySelf>().is_none());
        // Without `inline`, a PDF is a download, not framable.
        let pdf = respond(original(b"%PDF-1.4 x", "summary.pdf"), false);
        assert!(header(&pdf, header::CONTENT_DISPOSITION).starts_with("attachment; "));
        assert!(pdf.extensions().get::<FramedBySelf>().is_none());
    }

    #[test]
    fn a_file_name_is_quoted_safely_and_kept_exactly_in_utf8() {
        assert_eq!(
            content_disposition("attachment", "1234_20240101_OMP-01_1_20240101120000000_01_1"),
            "attachment; filename=\"1234_20240101_OMP-01_1_20240101120000000_01_1\"; filename*=UTF-8''1234_20240101_OMP-01_1_20240101120000000_01_1"
        );
        assert_eq!(
            content_disposition("inline", "退院時サマリー.pdf"),
            "inline; filename=\"_______.pdf\"; filename*=UTF-8''%E9%80%80%E9%99%A2%E6%99%82%E3%82%B5%E3%83%9E%E3%83%AA%E3%83%BC.pdf"
        );
        // Quotes, backslashes, separators and line breaks never reach the header as such.
        let d = content_disposition("attachment", "a\"b\\c;d\r\nX-Evil: 1");
        assert_eq!(
            d,
            "attachment; filename=\"a_b_c;d__X-Evil: 1\"; filename*=UTF-8''a%22b%5Cc%3Bd%0D%0AX-Evil%3A%201"
        );
        assert!(HeaderValue::from_str(&d).is_ok());
        assert_eq!(
            content_disposition("attachment", ""),
            "attachment; filename=\"record\"; filename*=UTF-8''"
        );
    }
}
