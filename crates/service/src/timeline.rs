//! The timeline (時系列) and the record detail of one patient, through the access gate.
//!
//! The timeline decides each (source, category) it would show *before* reading: refused
//! categories are left out of the store query (never read) and audited with their reason;
//! filtering and paging run in the store's index, per source, and the sources are merged
//! here, so the first page of a long history reads one page per source.

use std::collections::BTreeSet;

use model::{FacilityCode, Purpose, RecordCategory, RegionalId};
use serde::Serialize;
use ssmix2::{Condition, DataKind};
use store::{RecordCursor, RecordFilter, StoredRecord};

use crate::access::AccessRefusal;
use crate::{Network, Principal, Result, ServiceError};

/// Timeline items per page.
pub const TIMELINE_PAGE: usize = 100;

/// What one timeline page asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineQuery {
    /// Only these SS-MIX2 data kinds; `None` = all.
    pub kinds: Option<Vec<String>>,
    /// Extended-storage documents (with `kinds` set: also them; alone: only them).
    pub extended: bool,
    /// Only this source facility.
    pub facility: Option<FacilityCode>,
    /// `YYYYMMDD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<RecordCursor>,
    /// Also show versions an update superseded.
    pub include_superseded: bool,
    /// 0 = [`TIMELINE_PAGE`].
    pub limit: usize,
}

/// One record on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    pub source: FacilityCode,
    pub source_name: String,
    pub local_id: String,
    pub category: RecordCategory,
    pub record: StoredRecord,
    /// Stored versions of the same order; more than 1 means the order has a history.
    pub versions: u32,
    /// The record is a cancel message (ADT^A11 …, an order cancel ORC-1 `CA` …): it is not
    /// the event or order it names.
    pub cancel_message: bool,
    /// A cancel message stored as a file of its own cancels this event (SS-MIX2 cancel
    /// semantics by message; the `_0` condition flag is in `record.condition`).
    pub cancelled_by_message: bool,
    /// One line of content (drugs, abnormal results, diagnoses …: [`crate::preview`]).
    pub preview: Option<String>,
}

/// A source facility of the patient (for the facility filter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineSource {
    pub code: FacilityCode,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub regional_id: RegionalId,
    /// Newest first.
    pub items: Vec<TimelineItem>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<RecordCursor>,
    pub sources: Vec<TimelineSource>,
    pub refused: Vec<AccessRefusal>,
    pub break_glass: Option<policy::BreakGlass>,
}

/// One version of the order a detail belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct OrderVersion {
    pub version_id: i64,
    pub written_at: String,
    pub condition: Condition,
    /// Still its file's current version.
    pub live: bool,
    /// The version being shown.
    pub shown: bool,
    /// The version is an order cancel sent as a file of its own ([`crate::cancels`]).
    pub cancel_message: bool,
    /// An order cancel sent as a file of its own cancels this version.
    pub cancelled_by_message: bool,
}

/// One segment of a decoded message.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentView {
    pub name: String,
    /// (field number, raw field text), empty fields left out.
    pub fields: Vec<(usize, String)>,
}

/// One record version, decoded.
#[derive(Debug, Clone, Serialize)]
pub struct RecordDetail {
    pub regional_id: RegionalId,
    pub source: FacilityCode,
    pub source_name: String,
    pub local_id: String,
    pub category: RecordCategory,
    pub record: StoredRecord,
    pub live: bool,
    /// The message's text encoding (`ISO-2022-JP`…).
    pub encoding: String,
    pub segments: Vec<SegmentView>,
    /// Why the message could not be shown as segments (the record itself is still there).
    pub decode_error: Option<String>,
    /// The message read as its kind's typed record (what the clinical view shows), or why it
    /// could not be; `None` for files that are not standard-storage kinds.
    pub typed: Option<std::result::Result<ssmix2::records::Record, String>>,
    /// An extended-storage CDA document, read as sections (`None` for other files).
    pub document: Option<cda::Document>,
    /// The media type of the original bytes ([`crate::content_type_of`]): what the record
    /// page may show of an extended-storage file (a PDF, an image) besides its download.
    pub content_type: String,
    /// An extended-storage observation message (vitals, ORU^R30 …) as the vitals table.
    pub vitals: Option<crate::VitalsGrid>,
    /// Every version of the same order, oldest first (just this one for kinds without
    /// orders).
    pub history: Vec<OrderVersion>,
    /// The record is a cancel message (ADT^A11 …).
    pub cancel_message: bool,
    /// The version of the cancel message that cancels this event, when one does.
    pub cancelled_by: Option<i64>,
    pub break_glass: Option<policy::BreakGlass>,
}

/// The categories the kinds of a query can fall in.
fn categories_asked(q: &TimelineQuery) -> BTreeSet<RecordCategory> {
    let mut out: BTreeSet<RecordCategory> = match &q.kinds {
        Some(kinds) => kinds.iter().map(|k| policy::category_of_kind(k)).collect(),
        None => DataKind::ALL
            .iter()
            .map(|k| policy::category_of_kind(k.code()))
            .collect(),
    };
    if q.extended || q.kinds.is_none() {
        // Extended-storage folders are not standard kinds: they fall in documents.
        out.insert(policy::category_of_kind("extended"));
    }
    out
}

/// The answer to a record that is not shown: "not found" when nothing is withheld by the
/// rules or the consent, otherwise "not shown" with those reasons (which do not depend on the
/// version asked).
pub(crate) fn not_shown(refused: &[AccessRefusal]) -> ServiceError {
    let message =
        "この患者の記録に該当するものがないか、表示できません (no such record of this patient, or not shown to you)";
    if refused.is_empty() {
        ServiceError::NotFound(message.into())
    } else {
        let reasons: Vec<&str> = refused.iter().map(|r| r.reason.as_str()).collect();
        ServiceError::Forbidden(format!("{message}: {}", reasons.join(" / ")))
    }
}

/// A record that is a cancel message, by its message type (`ADT^A11` …).
fn is_cancel_message(r: &StoredRecord) -> bool {
    r.message_type
        .as_deref()
        .is_some_and(|t| DataKind::is_cancel_event(t.get(..7).unwrap_or(t)))
}

/// Stay-event kinds, whose cancel messages the viewer applies ([`crate::encounters`]).
fn is_stay_kind(kind: &str) -> bool {
    matches!(
        kind,
        "ADT-21" | "ADT-22" | "ADT-41" | "ADT-42" | "ADT-51" | "ADT-52"
    )
}

fn has_order(kind: &str) -> bool {
    DataKind::from_code(kind).is_some_and(|k| k.has_order())
}

/// The typed record and raw segments of a stored message.
type ReadMessage = (
    String,
    Vec<SegmentView>,
    Option<std::result::Result<ssmix2::records::Record, String>>,
);

fn segments_of(bytes: &[u8], kind: &str) -> std::result::Result<ReadMessage, String> {
    let decoded = hl7::decode(bytes).map_err(|e| e.to_string())?;
    let msg = hl7::Message::parse(decoded.text).map_err(|e| e.to_string())?;
    let typed = DataKind::from_code(kind)
        .map(|k| ssmix2::records::read_record(k, &msg).map_err(|e| e.to_string()));
    let segments = msg
        .segments()
        .map(|s| SegmentView {
            name: s.name().to_owned(),
            fields: (1..=s.field_count())
                .filter_map(|n| {
                    let raw = s.field(n).raw();
                    (!raw.is_empty()).then(|| (n, raw.to_owned()))
                })
                .collect(),
        })
        .collect();
    Ok((decoded.encoding.as_str().to_owned(), segments, typed))
}

impl Network {
    /// Mark the stay events of a timeline page that a cancel message cancels: read once per
    /// source whose page holds stay events (a patient's stay facts are few).
    async fn mark_cancelled_stays(
        &self,
        gate: &crate::access::Gate,
        items: &mut [TimelineItem],
    ) -> Result<()> {
        let mut done: Vec<(FacilityCode, String)> = Vec::new();
        for i in 0..items.len() {
            let it = &items[i];
            if !is_stay_kind(&it.record.kind) || it.cancel_message {
                continue;
            }
            let key = (it.source.clone(), it.local_id.clone());
            if done.contains(&key) {
                continue;
            }
            let Some(src) = gate
                .sources
                .iter()
                .find(|s| s.facility == key.0 && s.local_id == key.1)
            else {
                continue;
            };
            let rows = self.store.encounters(src.id, &key.1).await?;
            let (events, _) = crate::encounters::apply_cancels(crate::encounters::resolve_events(
                &key.0, &key.1, rows,
            ));
            let cancelled: BTreeSet<i64> = events
                .iter()
                .filter(|e| e.is_cancelled())
                .map(|e| e.version_id)
                .collect();
            for it in items.iter_mut() {
                if it.source == key.0 && it.local_id == key.1 {
                    it.cancelled_by_message = cancelled.contains(&it.record.version_id);
                }
            }
            done.push(key);
        }
        Ok(())
    }

    /// Mark the order records of a timeline page that an order cancel sent as a file of its
    /// own cancels, and the cancels themselves ([`crate::cancels`]): one index probe per
    /// source whose page holds orders.
    async fn mark_cancelled_orders(
        &self,
        gate: &crate::access::Gate,
        items: &mut [TimelineItem],
    ) -> Result<()> {
        let mut done: Vec<(FacilityCode, String)> = Vec::new();
        for i in 0..items.len() {
            let it = &items[i];
            if !has_order(&it.record.kind) {
                continue;
            }
            let key = (it.source.clone(), it.local_id.clone());
            if done.contains(&key) {
                continue;
            }
            let Some(src) = gate
                .sources
                .iter()
                .find(|s| s.facility == key.0 && s.local_id == key.1)
            else {
                continue;
            };
            let cancels = self.store.order_cancels(src.id, &key.1).await?;
            for it in items.iter_mut() {
                if it.source != key.0 || it.local_id != key.1 || !has_order(&it.record.kind) {
                    continue;
                }
                let r = &it.record;
                if cancels.iter().any(|c| c.version_id == r.version_id) {
                    it.cancel_message = true;
                } else if crate::cancels::cancel_of(
                    &cancels,
                    &r.kind,
                    &r.order_no,
                    &r.written_at,
                    r.version_id,
                )
                .is_some()
                {
                    it.cancelled_by_message = true;
                }
            }
            done.push(key);
        }
        Ok(())
    }

    /// The one-line preview of each item of a page, read from the records' bytes (one blob
    /// read for the page, parsed off the async workers).
    async fn add_previews(&self, items: &mut [TimelineItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let hashes: Vec<model::Sha256> = items.iter().map(|it| it.record.sha256).collect();
        let blobs = self.store.read_blobs(&hashes).await?;
        let kinds: Vec<(String, bool)> = items
            .iter()
            .map(|it| {
                (
                    it.record.kind.clone(),
                    it.record.storage == store::StorageKind::Extended,
                )
            })
            .collect();
        let previews = tokio::task::spawn_blocking(move || {
            use rayon::prelude::*;
            kinds
                .par_iter()
                .zip(blobs.par_iter())
                .map(|((kind, extended), bytes)| crate::preview::preview(kind, *extended, bytes))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| crate::ServiceError::Internal(format!("timeline previews: {e}")))?;
        for (it, p) in items.iter_mut().zip(previews) {
            it.preview = p;
        }
        Ok(())
    }

    /// One page of a patient's timeline (see the module documentation). Audited per
    /// (source, category) with screen `timeline`.
    pub async fn timeline(
        &self,
        actor: &Principal,
        id: &RegionalId,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
        q: &TimelineQuery,
    ) -> Result<Timeline> {
        let limit = if q.limit == 0 { TIMELINE_PAGE } else { q.limit };
        let mut gate = self.open_gate(actor, id, purpose).await?;
        let asked = categories_asked(q);
        let mut sources: Vec<TimelineSource> = Vec::new();
        let mut fetched: Vec<(usize, store::PagedRecord)> = Vec::new();
        let mut more = false;
        for i in 0..gate.sources.len() {
            let (code, local_id, fid, name) = {
                let s = &gate.sources[i];
                (
                    s.facility.clone(),
                    s.local_id.clone(),
                    s.id,
                    s.details.name.clone(),
                )
            };
            // Decide first, every source (also one the facility filter leaves out, so the
            // filter's list does not depend on it); only allowed categories are read.
            let allowed: BTreeSet<RecordCategory> = asked
                .iter()
                .copied()
                .filter(|c| gate.allows(i, *c))
                .collect();
            if allowed.is_empty() {
                // A facility none of whose asked records may be shown is not named.
                continue;
            }
            if !sources.iter().any(|s| s.code == code) {
                sources.push(TimelineSource {
                    code: code.clone(),
                    name,
                });
            }
            if q.facility.as_ref().is_some_and(|f| *f != code) {
                continue;
            }
            let standard: Vec<String> = match &q.kinds {
                Some(kinds) => kinds.clone(),
                None => DataKind::ALL.iter().map(|k| k.code().to_owned()).collect(),
            };
            let kinds: Vec<String> = standard
                .into_iter()
                .filter(|k| allowed.contains(&policy::category_of_kind(k)))
                .collect();
            let extended = (q.extended || q.kinds.is_none())
                && allowed.contains(&policy::category_of_kind("extended"));
            let every = q.kinds.is_none() && !q.extended && allowed == asked;
            let filter = RecordFilter {
                // Everything asked is allowed: no kind list (one index range, no IN).
                kinds: (!every).then_some(kinds),
                extended,
                from: q.from.clone(),
                to: q.to.clone(),
                before: q.before.clone(),
                include_superseded: q.include_superseded,
                limit: limit + 1,
            };
            let page = self
                .store
                .patient_records_page(fid, &local_id, &filter)
                .await?;
            if page.len() > limit {
                more = true;
            }
            fetched.extend(page.into_iter().map(|r| (i, r)));
        }
        fetched.sort_by(|a, b| RecordCursor::of(&b.1.record).cmp(&RecordCursor::of(&a.1.record)));
        if fetched.len() > limit {
            more = true;
            fetched.truncate(limit);
        }
        let mut items = Vec::with_capacity(fetched.len());
        for (i, r) in fetched {
            let category = policy::category_of_kind(&r.record.kind);
            // An extended-storage folder named like a standard kind: decided on its own.
            if !gate.allows(i, category) {
                gate.count(i, category, 1);
                continue;
            }
            gate.count(i, category, 1);
            let s = &gate.sources[i];
            items.push(TimelineItem {
                source: s.facility.clone(),
                source_name: s.details.name.clone(),
                local_id: s.local_id.clone(),
                category,
                cancel_message: is_cancel_message(&r.record),
                cancelled_by_message: false,
                preview: None,
                record: r.record,
                versions: r.versions,
            });
        }
        self.mark_cancelled_stays(&gate, &mut items).await?;
        self.mark_cancelled_orders(&gate, &mut items).await?;
        self.add_previews(&mut items).await?;
        let next = if more {
            items.last().map(|it| RecordCursor::of(&it.record))
        } else {
            None
        };
        let break_glass = gate.break_glass.clone();
        let refused = self.close_gate(gate, Some("timeline")).await?;
        Ok(Timeline {
            regional_id: id.clone(),
            items,
            next,
            sources,
            refused,
            break_glass,
        })
    }

    /// The record version `version_id` if it belongs to a linked source of the gate's patient
    /// and its category is allowed: the gate, the source's index, the version and its
    /// category. Unknown, another patient's, or refused: one answer for all three
    /// ([`not_shown`]), so that asking version after version tells nothing about which
    /// records the patient has; each is audited with its real reason, as the gate's act
    /// (`screen`: `record`, `original`).
    pub(crate) async fn gated_version(
        &self,
        mut gate: crate::access::Gate,
        version_id: i64,
        screen: &str,
    ) -> Result<(
        crate::access::Gate,
        usize,
        store::RecordVersion,
        RecordCategory,
    )> {
        let version = self.store.record_version(version_id).await?;
        let found = version.and_then(|v| {
            gate.sources
                .iter()
                .position(|s| s.id == v.facility && s.local_id == v.local_id)
                .map(|i| (i, v))
        });
        let Some((i, v)) = found else {
            let mut e = self.event(gate.actor(), gate.action);
            e.purpose = Some(gate.purpose());
            e.patient = Some(gate.regional_id.clone());
            e.target = format!("record/{version_id}");
            e.detail = format!("{screen}: not read");
            e.outcome = audit::Outcome::Refused {
                code: "unknown_record".into(),
                reason: "no such record of this patient".into(),
            };
            self.audit(e).await?;
            return Err(not_shown(&gate.explain()));
        };
        let category = policy::category_of_kind(&v.record.kind);
        if !gate.allows(i, category) {
            let refused = self.close_gate(gate, Some(screen)).await?;
            return Err(not_shown(&refused));
        }
        Ok((gate, i, v, category))
    }

    /// One record version of a patient, decoded, with its order's history. Refused (audited)
    /// unless the version belongs to a linked source of this patient and its category is
    /// allowed. An unknown version, another patient's version and a refused one get the same
    /// answer: "not found" when nothing is withheld by the rules or the consent, otherwise
    /// "not shown" with those reasons (which do not depend on the version asked).
    pub async fn record_detail(
        &self,
        actor: &Principal,
        id: &RegionalId,
        version_id: i64,
        purpose: Purpose,
        _break_glass_reason: Option<&str>,
    ) -> Result<RecordDetail> {
        let gate = self.open_gate(actor, id, purpose).await?;
        let (mut gate, i, v, category) = self.gated_version(gate, version_id, "record").await?;
        let bytes = self
            .store
            .read_blobs(&[v.record.sha256])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        // An extended-storage CDA document is read as a document, not as HL7.
        let document = (v.record.storage == store::StorageKind::Extended
            && cda::looks_like_cda(&bytes))
        .then(|| cda::read(&bytes));
        let (encoding, segments, typed, decode_error) = match segments_of(&bytes, &v.record.kind) {
            Ok((enc, segs, typed)) => (enc, segs, typed, None),
            Err(_) if document.is_some() => (String::new(), Vec::new(), None, None),
            Err(e) => (String::new(), Vec::new(), None, Some(e)),
        };
        let content_type = crate::content_type_of(&bytes);
        gate.count(i, category, 1);
        let versions = if has_order(&v.record.kind) {
            self.store
                .order_versions(v.facility, &v.local_id, &v.record.kind, &v.record.order_no)
                .await?
        } else {
            vec![v.clone()]
        };
        // The order's cancels sent as files of their own (read once: the history and the
        // shown version are marked from them).
        let order_cancels = if has_order(&v.record.kind) && !is_stay_kind(&v.record.kind) {
            self.store.order_cancels(v.facility, &v.local_id).await?
        } else {
            Vec::new()
        };
        let cancel_of = |r: &store::StoredRecord| {
            crate::cancels::cancel_of(
                &order_cancels,
                &r.kind,
                &r.order_no,
                &r.written_at,
                r.version_id,
            )
        };
        let history = versions
            .iter()
            .map(|o| OrderVersion {
                version_id: o.record.version_id,
                written_at: o.record.written_at.clone(),
                condition: o.record.condition,
                live: o.live,
                shown: o.record.version_id == version_id,
                cancel_message: order_cancels
                    .iter()
                    .any(|c| c.version_id == o.record.version_id),
                cancelled_by_message: o.live && cancel_of(&o.record).is_some(),
            })
            .collect();
        let (source, source_name, local_id) = {
            let s = &gate.sources[i];
            (
                s.facility.clone(),
                s.details.name.clone(),
                s.local_id.clone(),
            )
        };
        let cancelled_by = if is_stay_kind(&v.record.kind) {
            let rows = self.store.encounters(v.facility, &v.local_id).await?;
            let (events, _) = crate::encounters::apply_cancels(crate::encounters::resolve_events(
                &source, &local_id, rows,
            ));
            events
                .into_iter()
                .find(|e| e.version_id == version_id)
                .and_then(|e| e.cancelled_by)
        } else if has_order(&v.record.kind) {
            cancel_of(&v.record)
        } else {
            None
        };
        // A cancel message by its type (ADT^A11 …), or an order cancel (ORC-1 `CA` …) by its
        // typed header: either way not the event or order itself.
        let cancel_message =
            is_cancel_message(&v.record) || matches!(&typed, Some(Ok(r)) if r.header.cancels);
        let vitals = (v.record.storage == store::StorageKind::Extended && document.is_none())
            .then(|| crate::vitals::record_vitals(&bytes, &source, version_id))
            .flatten();
        let break_glass = gate.break_glass.clone();
        self.close_gate(gate, Some("record")).await?;
        Ok(RecordDetail {
            vitals,
            cancel_message,
            cancelled_by,
            regional_id: id.clone(),
            source,
            source_name,
            local_id,
            category,
            record: v.record,
            live: v.live,
            encoding,
            segments,
            decode_error,
            typed,
            document,
            content_type,
            history,
            break_glass,
        })
    }
}
