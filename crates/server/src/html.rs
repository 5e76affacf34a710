//! What every HTML screen shares: the signed-in user (checked by the front door before the
//! handler runs, see `front.rs`), errors as pages (mapped to HTTP statuses here, in one
//! place), the session cookie, the static assets (stylesheet, script, htmx) and the patient
//! header with its tabs. `no-store` and the security headers are set once for every answer
//! by the front door.
//!
//! Screens are plain server-rendered pages that work without JavaScript; htmx only swaps
//! parts (next timeline page, a chart) so a tablet on a home visit stays quick.

use askama::Template;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use model::{Purpose, RegionalId};
use serde::Deserialize;
use service::{Principal, ServiceError};

use crate::api::SESSION_COOKIE;
use crate::AppState;

/// The stylesheet, the page script and htmx, compiled into the binary: no CDN, nothing
/// fetched at run time.
pub const CSS: &str = include_str!("../static/renkei.css");
pub const JS: &str = include_str!("../static/renkei.js");
pub const HTMX: &str = include_str!("../static/htmx.min.js");

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// Confirmation prompts and select-on-focus: behaviour the Content-Security-Policy forbids as
/// inline event handlers.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

pub async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HTMX,
    )
        .into_response()
}

/// A rendered page (the front door marks it `no-store`).
pub fn page(html: String) -> Response {
    Html(html).into_response()
}

/// The session cookie: HttpOnly (scripts cannot read it), SameSite=Strict (other sites
/// cannot send it), `Secure` whenever the server or its proxy speaks TLS.
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// The cookie that removes the session cookie.
pub fn cleared_session_cookie(state: &AppState) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// The session token from the cookie.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .map(str::trim)
                .find_map(|kv| kv.strip_prefix(&format!("{SESSION_COOKIE}=")))
        })
        .map(str::to_owned)
}

/// Was this request made by htmx (a partial swap rather than a full page)?
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// The signed-in user of an HTML request. Without a valid session the request is sent to the
/// sign-in page (htmx requests get `HX-Redirect` so the whole page moves, not a fragment).
pub struct SignedIn {
    pub principal: Principal,
    /// Shown in the header: name (profession) — facility.
    pub who: String,
    pub is_office: bool,
    pub token: String,
}

pub struct ToLogin {
    pub htmx: bool,
}

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        if self.htmx {
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            r.headers_mut()
                .insert("hx-redirect", HeaderValue::from_static("/login"));
            r
        } else {
            Redirect::to("/login").into_response()
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ToLogin;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let htmx = is_htmx(&parts.headers);
        let Some(auth) = parts.extensions.get::<crate::front::Authenticated>() else {
            return Err(ToLogin { htmx });
        };
        let principal = auth.principal.clone();
        let who = match &principal {
            Principal::User { user, acting_for } => format!(
                "{} ({}){}",
                user.display_name,
                user.profession.label_ja(),
                acting_for
                    .as_ref()
                    .map(|f| format!(" — {}", f.name))
                    .unwrap_or_default()
            ),
            Principal::FacilitySystem { facility, .. } => facility.code.to_string(),
        };
        Ok(SignedIn {
            is_office: principal.is_office(),
            principal,
            who,
            token: auth.token.clone(),
        })
    }
}

impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// The header every signed-in page shows (network name, user, navigation).
pub struct Chrome {
    pub network_name: String,
    pub who: String,
    pub is_office: bool,
}

impl Chrome {
    pub fn new(state: &AppState, me: &SignedIn) -> Chrome {
        Chrome {
            network_name: state.network_name.clone(),
            who: me.who.clone(),
            is_office: me.is_office,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Option<&'a Chrome>,
    network_name: &'a str,
    status: u16,
    title: &'a str,
    message: String,
}

/// An error on an HTML screen: the status says what kind, the page says why in Japanese and
/// English. Store and internal failures are logged for the operator and shown as a plain
/// "internal error" — their details never reach the browser.
pub struct HtmlError {
    pub error: ServiceError,
    pub chrome: Option<Chrome>,
    pub network_name: String,
}

impl HtmlError {
    pub fn new(state: &AppState, chrome: Option<Chrome>, error: ServiceError) -> HtmlError {
        HtmlError {
            error,
            chrome,
            network_name: state.network_name.clone(),
        }
    }
}

pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Store(_) | ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        let status = status_of(&self.error);
        let (title, message) = match &self.error {
            ServiceError::Store(_) | ServiceError::Internal(_) => {
                eprintln!("page error: {}", self.error);
                ("内部エラー / Internal error", "内部エラーが発生しました。事務局に連絡してください (internal error; please tell the operations office)".to_owned())
            }
            ServiceError::Unauthenticated(_) => (
                "サインインが必要です / Sign-in needed",
                self.error.to_string(),
            ),
            ServiceError::Forbidden(_) => {
                ("権限がありません / Not permitted", self.error.to_string())
            }
            ServiceError::NotFound(_) => ("見つかりません / Not found", self.error.to_string()),
            ServiceError::Invalid(_) => (
                "入力に誤りがあります / Invalid input",
                self.error.to_string(),
            ),
            ServiceError::Conflict(_) => ("処理できません / Conflict", self.error.to_string()),
        };
        let html = ErrorPage {
            chrome: self.chrome.as_ref(),
            network_name: &self.network_name,
            status: status.as_u16(),
            title,
            message,
        }
        .render()
        .unwrap_or_else(|_| "内部エラー / internal error".into());
        (status, page(html)).into_response()
    }
}

/// Render a template; a failure is an internal error (logged, never shown).
pub fn render<T: Template>(t: &T) -> Result<String, ServiceError> {
    t.render()
        .map_err(|e| ServiceError::Internal(format!("template: {e}")))
}

/// Why the user is looking, carried from page to page of one patient: normal care, or an
/// emergency (break-the-glass), which every screen passes to the gate. The emergency window
/// itself is started by `POST /patients/{id}/emergency`; a `reason` in the query is still
/// accepted (old links) but starts nothing and is not carried on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PurposeQuery {
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub reason: String,
}

impl PurposeQuery {
    pub fn purpose(&self) -> Purpose {
        Purpose::parse(&self.purpose).unwrap_or(Purpose::Care)
    }

    pub fn reason(&self) -> Option<&str> {
        let r = self.reason.trim();
        (!r.is_empty()).then_some(r)
    }

    /// `purpose=…` to append to links inside the patient (empty for normal care).
    pub fn suffix(&self) -> String {
        match self.purpose() {
            Purpose::Care => String::new(),
            p => format!("purpose={}", p.as_str()),
        }
    }
}

/// Percent-encode a query value (UTF-8), for links the server builds.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One tab of a patient's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Summary,
    Timeline,
    Labs,
    Vitals,
    Medications,
}

/// The patient header: regional ID, tabs, emergency banner. Every patient page shows it.
pub struct PatientChrome {
    pub regional_id: RegionalId,
    /// `1234-5678-9012-3456`.
    pub grouped: String,
    pub tab: Tab,
    /// Appended to the tab links (`purpose=emergency`), or empty.
    pub suffix: String,
    pub break_glass: bool,
}

impl PatientChrome {
    pub fn new(id: &RegionalId, tab: Tab, q: &PurposeQuery, break_glass: bool) -> PatientChrome {
        PatientChrome {
            regional_id: id.clone(),
            grouped: id.grouped(),
            tab,
            suffix: q.suffix(),
            break_glass,
        }
    }

    /// `/patients/<id><path>` with the purpose carried along.
    pub fn link(&self, path: &str) -> String {
        let base = format!("/patients/{}{path}", self.regional_id);
        if self.suffix.is_empty() {
            base
        } else if base.contains('?') {
            format!("{base}&{}", self.suffix)
        } else {
            format!("{base}?{}", self.suffix)
        }
    }

    pub fn is(&self, tab: &str) -> bool {
        matches!(
            (self.tab, tab),
            (Tab::Summary, "summary")
                | (Tab::Timeline, "timeline")
                | (Tab::Labs, "labs")
                | (Tab::Vitals, "vitals")
                | (Tab::Medications, "medications")
        )
    }
}

/// The date of an HL7 TS (any precision, any zone) in JST: `YYYY-MM-DD`, `YYYY-MM`, `YYYY`;
/// "undated" for `-` and empty; a value that is not a TS as sent, flagged
/// ([`model::show_hl7_date`] — the one date display of the viewer).
pub fn show_date(d: &str) -> String {
    model::show_hl7_date(d)
}

/// The date and time of an HL7 TS in JST (`YYYY-MM-DD HH:MM`, or the precision sent).
pub fn show_time(t: &str) -> String {
    model::show_hl7_time(t)
}

/// The label of an SS-MIX2 data kind (`OML-11` → 検体検査結果), or the extended storage.
pub fn kind_label(code: &str) -> String {
    ssmix2::DataKind::from_code(code)
        .map(|k| k.label_ja().to_owned())
        .unwrap_or_else(|| extended_kind_label(code))
}

/// The title of an extended-storage kind folder: its text when the folder is CWE-shaped
/// (`57133-1^診療情報提供書^LN`, `…^18842-5^退院時サマリー^LN`), the document type of a known
/// LOINC code, else the folder name as sent — never a generic "document".
pub fn extended_kind_label(folder: &str) -> String {
    let parts: Vec<&str> = folder.split('^').map(str::trim).collect();
    if let Some(text) = parts.iter().find(|p| !p.is_ascii() && !p.is_empty()) {
        return (*text).to_owned();
    }
    const LOINC: [(&str, &str); 6] = [
        ("18842-5", "退院時サマリー"),
        ("57133-1", "診療情報提供書"),
        ("34133-9", "診療サマリー"),
        ("18748-4", "画像診断報告書"),
        ("11526-1", "病理診断報告書"),
        ("28570-0", "処置記録"),
    ];
    if let Some((_, label)) = LOINC.iter().find(|(code, _)| parts.contains(code)) {
        return (*label).to_owned();
    }
    match parts.as_slice() {
        [_, text, ..] if !text.is_empty() => format!("{text} (拡張ストレージ)"),
        _ => format!("{folder} (拡張ストレージ)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_keeps_unreserved_and_encodes_japanese() {
        assert_eq!(urlencode("a-b_c.d~"), "a-b_c.d~");
        assert_eq!(
            urlencode("意識 なし"),
            "%E6%84%8F%E8%AD%98%20%E3%81%AA%E3%81%97"
        );
    }

    #[test]
    fn dates_show_with_dashes() {
        assert_eq!(show_date("20260401"), "2026-04-01");
        assert_eq!(show_date("-"), "日付なし (undated)");
        assert_eq!(show_time("202604011230"), "2026-04-01 12:30");
        // Issue 14 fault 7: a date with a time (every admission) is not "undated".
        assert_eq!(show_date("20111120100000"), "2011-11-20");
        assert_eq!(show_date("20111120100000+0000"), "2011-11-20");
        assert_eq!(show_time("20111119160000+0000"), "2011-11-20 01:00");
        assert_eq!(show_time("20260401123000000"), "2026-04-01 12:30");
    }

    #[test]
    fn extended_documents_are_titled_by_their_type() {
        assert_eq!(
            extended_kind_label("57133-1^診療情報提供書^LN"),
            "診療情報提供書"
        );
        assert_eq!(
            extended_kind_label("DOC^18842-5^退院時サマリー^LN"),
            "退院時サマリー"
        );
        assert_eq!(extended_kind_label("18842-5^^LN"), "退院時サマリー");
        assert_eq!(
            extended_kind_label("L-OBSERVATIONS^OBSERVATIONS^99ZL01"),
            "OBSERVATIONS (拡張ストレージ)"
        );
        assert_eq!(extended_kind_label("SCAN"), "SCAN (拡張ストレージ)");
        assert_eq!(kind_label("OML-11"), "検体検査結果通知");
    }
}
