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
