//! Deciding what one file of a facility's tree is. Pure: bytes and path in, outcome out.

use hl7::{DecodeError, Message, ParseError};
use model::Demographics;
use ssmix2::records::read_record_header;
use ssmix2::records::{read_record, Body};
use ssmix2::{Condition, DataKind};
use ssmix2::{StandardName, StoragePath};
use store::{ClinicalFact, FileOutcome, RecordIndex, StorageKind};

use crate::document_patient::DocumentPatient;

/// The outcome for one file plus notices for the operator (things that did not stop it).
pub struct Classified {
    pub outcome: FileOutcome,
    pub notices: Vec<String>,
    /// Demographics of a current ADT-00 message.
    pub demographics: Option<Demographics>,
    /// Clinical facts of a current message (labs, medications, diagnoses, allergies,
    /// admissions), for the viewer.
    pub facts: Vec<ClinicalFact>,
}

fn quarantine(reason: impl Into<String>, line: Option<u32>) -> Classified {
    Classified {
        outcome: FileOutcome::Quarantined {
            reason: reason.into(),
            line,
        },
        notices: Vec::new(),
        demographics: None,
        facts: Vec::new(),
    }
}

/// Choices an operator can make per import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyOptions {
    /// Accept standard-storage files whose last segment has no terminator (CR), with a
    /// notice, instead of quarantining them as truncated. For vendors known to omit the final
    /// CR; off by default because a cut-off lab result file looks exactly like that.
    pub accept_unterminated: bool,
}

/// Classify the file at `path` (relative to the storage root, `/`-separated).
pub fn classify(path: &str, bytes: &[u8], options: &ClassifyOptions) -> Classified {
    match StoragePath::parse(path) {
        Err(e) => quarantine(format!("file name or place in the tree: {e}"), None),
        Ok(StoragePath::Standard(name)) => standard(&name, bytes, options),
        Ok(StoragePath::Extended(ext)) => {
            let mut notices = Vec::new();
            let mut message_type = None;
            let mut nonconforming = None;
            let mut facts = Vec::new();
            // An HL7 main document is read as such; other documents (CDA, PDF, images) are
            // kept as bytes and indexed by their folder names.
            if ext.file.ends_with(".hl7") {
                match hl7::decode(bytes).map_err(|e| e.to_string()).and_then(|d| {
                    if !d.encoding.is_conforming() {
                        nonconforming = Some(d.encoding.as_str().to_owned());
                    }
                    Message::parse(d.text).map_err(|e| e.to_string())
                }) {
                    Ok(m) => {
                        // The same check as a standard-storage message: the document must
                        // be the folder's patient's.
                        if let Some(pid) = ssmix2::records::message_patient_id(&m) {
                            if pid != ext.patient_id {
                                return quarantine(
                                    format!(
                                        "PID-3 patient ID {pid:?} of the extended-storage document does not match the patient folder {:?}",
                                        ext.patient_id
                                    ),
                                    None,
                                );
                            }
                        }
                        // Observation messages (vitals) have facts, from the current
                        // version only, as in the standard storage. A kind folder named
                        // like a standard kind is left out: the stores tell lab results
                        // from extended observations by the record's kind.
                        if ext.content.condition == Condition::Current
                            && DataKind::from_code(&ext.kind_folder).is_none()
                        {
                            facts = crate::facts::extract_extended(&m);
                        }
                        message_type = Some(m.message_type())
                    }
                    Err(e) => notices.push(format!(
                        "extended-storage HL7 document could not be read: {e}"
                    )),
                }
            } else if is_xml(bytes) {
                // CDA: recordTarget/patientRole/id. XML declares its own encoding; the IDs
                // compared are ASCII, so a lossy read is enough for the check.
                let text = String::from_utf8_lossy(bytes);
                match crate::document_patient::cda_patient(&text, &ext.patient_id) {
                    DocumentPatient::Matches => {}
                    DocumentPatient::Other(id) => {
                        return quarantine(
                            format!(
                                "CDA recordTarget patient ID {id:?} does not match the patient folder {:?}",
                                ext.patient_id
                            ),
                            None,
                        )
                    }
                    DocumentPatient::Unknown => notices.push(
                        "CDA document names no facility patient ID (recordTarget/patientRole/id) to check against its folder".into(),
                    ),
                }
            }
            let c = &ext.content;
            Classified {
                outcome: FileOutcome::Record(RecordIndex {
                    storage: StorageKind::Extended,
                    patient_id: ext.patient_id.clone(),
                    date: ext.date.clone(),
                    kind: ext.kind_folder.clone(),
                    order_no: c.key.clone(),
                    written_at: c.timestamp.clone(),
                    department: c.department.clone().unwrap_or_else(|| "-".into()),
                    condition: c.condition,
                    message_type,
                    nonconforming_encoding: nonconforming,
                    cancels: false,
                }),
                notices,
                demographics: None,
                facts,
            }
        }
    }
}

/// An XML document (a CDA), by its first bytes rather than its name.
fn is_xml(bytes: &[u8]) -> bool {
    let start = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = start.trim_ascii_start();
    start.starts_with(b"<?xml") || start.starts_with(b"<ClinicalDocument") || {
        // A prefixed root element (`<v3:ClinicalDocument`).
        let head = &start[..start.len().min(64)];
        head.starts_with(b"<") && head.windows(17).any(|w| w == b"ClinicalDocument ")
    }
}

fn line_of(e: &ParseError) -> Option<u32> {
    match e {
        ParseError::BadSegmentName { line, .. } => Some(*line as u32),
        _ => Some(1),
    }
}

/// Whether the file ends with a segment terminator (CR or LF), MLLP end bytes aside.
fn ends_with_terminator(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0x1C && b != 0x0B)
        .map_or(0, |i| i + 1);
    matches!(bytes[..end].last(), Some(b'\r' | b'\n'))
}

fn standard(name: &StandardName, bytes: &[u8], options: &ClassifyOptions) -> Classified {
    let decoded = match hl7::decode(bytes) {
        Ok(d) => d,
        Err(DecodeError::Empty) => return quarantine("empty file", None),
        Err(e) => return quarantine(format!("encoding: {e}"), None),
    };
    let mut notices = Vec::new();
    let nonconforming = (!decoded.encoding.is_conforming()).then(|| {
        notices.push(format!(
            "written in {}; SS-MIX2 requires ISO-2022-JP",
            decoded.encoding
        ));
        decoded.encoding.as_str().to_owned()
    });
    if decoded.half_width_kana {
        notices.push("contains half-width katakana, which SS-MIX2 forbids".into());
    }
    let msg = match Message::parse(decoded.text) {
        Ok(m) => m,
        Err(e) => return quarantine(format!("not a valid HL7 message: {e}"), line_of(&e)),
    };
    if !ends_with_terminator(bytes) {
        let segments = msg.segment_count() as u32;
        if !options.accept_unterminated {
            return quarantine(
                "truncated: the last segment has no terminator (CR); the file was probably cut off while being written \
                 (import with --accept-unterminated if this facility's system never writes the final CR)",
                Some(segments),
            );
        }
        notices.push(
            "the last segment has no terminator (CR); accepted by --accept-unterminated".into(),
        );
    }
    let header = match read_record_header(name.kind, &msg) {
        Ok(r) => r,
        Err(e) => return quarantine(format!("{e}"), None),
    };
    let h = &header;
    if !h.patient_id.is_empty() && h.patient_id != name.patient_id {
        return quarantine(
            format!(
                "PID-3 patient ID {:?} does not match the patient folder {:?}",
                h.patient_id, name.patient_id
            ),
            None,
        );
    }
    if let Some(date) = &h.clinical_date {
        if name.date != "-" && date != &name.date {
            notices.push(format!(
                "date folder {} differs from the message's date of care {date}",
                name.date
            ));
        }
    }
    // An order cancel (ORC-1 `CA` …) stored as a current file beside its order: SS-MIX2
    // files cancellations as `_0` and renames the order's files. The index entry says it
    // cancels, and the viewer shows the order's earlier files cancelled by it; the operator
    // is told that the sender's tree does not follow the convention.
    let cancels_order = crate::facts::cancels_order(name.kind, h.cancels);
    if name.condition == Condition::Current && cancels_order {
        notices.push(format!(
            "this message cancels order {} but is stored as a current file (_1); SS-MIX2 files a cancellation as _0 and renames the order's files to _0 — renkei shows the order's earlier files as cancelled by this message",
            name.order_no
        ));
    }
    // Demographics from the current ADT-00 feed matching and name search; reading the full
    // typed record costs ~3× the header, but ADT-00 is a few percent of all messages.
    let demographics =
        (name.kind == DataKind::Adt00 && name.condition == Condition::Current && !h.cancels)
            .then(|| read_record(name.kind, &msg).ok())
            .flatten()
            .and_then(|r| match r.body {
                Body::Patient(p) => Some(demographics_of(&p)),
                _ => None,
            });
    // Facts only from the current version of a file (`_1`): `_2` (superseded) and `_0`
    // (cancelled) files are history, shown from the raw message. A current file that itself
    // cancels has none, except a stay event's cancel message (A11 …), whose fact says what
    // it cancels so that the viewer can apply it.
    let facts = if name.condition == Condition::Current
        && (!h.cancels || crate::facts::reads_cancels(name.kind))
        && crate::facts::has_facts(name.kind)
    {
        crate::facts::extract(name.kind, &msg)
    } else {
        Vec::new()
    };
    Classified {
        outcome: FileOutcome::Record(RecordIndex {
            storage: StorageKind::Standard,
            patient_id: name.patient_id.clone(),
            date: name.date.clone(),
            kind: name.kind.code().to_owned(),
            order_no: name.order_no.clone(),
            written_at: name.timestamp.clone(),
            department: name.department.clone(),
            condition: name.condition,
            message_type: Some(h.message_type.clone()),
            nonconforming_encoding: nonconforming,
            cancels: cancels_order,
        }),
        notices,
        demographics,
        facts,
    }
}

fn demographics_of(p: &ssmix2::records::Patient) -> Demographics {
    let join = |family: &str, given: &str| match (family.is_empty(), given.is_empty()) {
        (false, false) => format!("{family} {given}"),
        _ => format!("{family}{given}"),
    };
    let phone = p
        .home_phones
        .iter()
        .chain(&p.work_phones)
        .map(|ph| ph.number.clone())
        .find(|n| !n.is_empty())
        .unwrap_or_default();
    let address = p.addresses.first();
    Demographics {
        name_kanji: p
            .kanji_name
            .as_ref()
            .map(|n| join(&n.family, &n.given))
            .unwrap_or_default(),
        name_kana: p
            .kana_name
            .as_ref()
            .map(|n| join(&n.family, &n.given))
            .unwrap_or_default(),
        birth_date: p
            .birth_date
            .clone()
            .unwrap_or_default()
            .chars()
            .take(8)
            .collect(),
        sex: p.sex.clone().unwrap_or_default(),
        phone,
        zip: address.map(|a| a.zip.clone()).unwrap_or_default(),
        address: address.map(|a| a.text.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str =
        "100/000/1000001/-/ADT-00/1000001_-_ADT-00_999999999999999_20240401120000000_-_1";

    fn adt00(pid: &str) -> String {
        format!(
            "MSH|^~\\&|HIS|0411111111|||20240401120000||ADT^A08^ADT_A01|1|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO\r\
EVN||20240401120000\r\
PID|||{pid}^^^^PI||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||19480405|M\r\
PV1||N\r"
        )
    }

    #[test]
    fn good_file_is_a_record() {
        let bytes = hl7::encode_iso2022jp(&adt00("1000001")).unwrap();
        let c = classify(PATH, &bytes, &ClassifyOptions::default());
        let FileOutcome::Record(r) = c.outcome else {
            panic!("quarantined: {:?}", c.outcome)
        };
        assert_eq!(r.kind, "ADT-00");
        assert_eq!(r.message_type.as_deref(), Some("ADT^A08"));
        assert!(c.notices.is_empty());
        let d = c.demographics.expect("ADT-00 demographics");
        assert_eq!(
            (d.name_kanji.as_str(), d.name_kana.as_str()),
            ("患者 太郎", "カンジャ タロウ")
        );
        assert_eq!((d.birth_date.as_str(), d.sex.as_str()), ("19480405", "M"));
    }

    #[test]
    fn reasons_are_precise() {
        let reason =
            |path: &str, bytes: &[u8]| match classify(path, bytes, &ClassifyOptions::default())
                .outcome
            {
                FileOutcome::Quarantined { reason, .. } => reason,
                FileOutcome::Record(_) => panic!("accepted {path}"),
            };
        assert_eq!(reason(PATH, b""), "empty file");
        assert!(reason(PATH, b"%PDF-1.4 binary").contains("not a valid HL7 message"));
        assert!(reason("100/000/1000001/ADT-00/x", b"MSH").contains("file name or place"));
        let other = hl7::encode_iso2022jp(&adt00("2000002")).unwrap();
        assert!(reason(PATH, &other).contains("does not match the patient folder"));
        let full = hl7::encode_iso2022jp(&adt00("1000001")).unwrap();
        let esc = full.windows(3).position(|w| w == b"\x1b$B").unwrap();
        assert!(reason(PATH, &full[..esc + 5]).contains("truncated"));
        let pid = full.windows(4).position(|w| w == b"PID|").unwrap();
        assert!(reason(PATH, &full[..pid]).contains("no PID segment"));
        // Cut inside the last segment, in ASCII: only the missing terminator shows it.
        let cut = &full[..full.len() - 2];
        assert!(reason(PATH, cut).starts_with("truncated"));
        let lenient = ClassifyOptions {
            accept_unterminated: true,
        };
        assert!(matches!(
            classify(PATH, cut, &lenient).outcome,
            FileOutcome::Record(_)
        ));
        // MLLP end-of-message bytes after the final CR are fine.
        let mut framed = full.clone();
        framed.push(0x1C);
        assert!(matches!(
            classify(PATH, &framed, &ClassifyOptions::default()).outcome,
            FileOutcome::Record(_)
        ));
    }

    #[test]
    fn shift_jis_is_accepted_and_reported() {
        let text = adt00("1000001");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        let c = classify(PATH, &sjis, &ClassifyOptions::default());
        let FileOutcome::Record(r) = c.outcome else {
            panic!("quarantined")
        };
        assert_eq!(r.nonconforming_encoding.as_deref(), Some("Shift_JIS"));
        assert!(c.notices[0].contains("Shift_JIS"));
    }

    /// Fault 6 of issue 14: an extended-storage document is checked against its patient
    /// folder as a standard-storage message is.
    #[test]
    fn extended_documents_of_another_patient_are_quarantined() {
        let folder = "100/000/1000001/20240401/57133-1^診療情報提供書^LC";
        let content = "1000001_20240401_57133-1_R0001_20240401120000000_01_1";
        let outcome = |file: &str, bytes: &[u8]| {
            classify(
                &format!("{folder}/{content}/{file}"),
                bytes,
                &ClassifyOptions::default(),
            )
        };
        // HL7 main document of another patient (PID-3 2000002).
        let other = hl7::encode_iso2022jp(&adt00("2000002")).unwrap();
        match outcome("main_document.hl7", &other).outcome {
            FileOutcome::Quarantined { reason, .. } => {
                assert!(reason.contains("\"2000002\""), "{reason}");
                assert!(reason.contains("\"1000001\""), "{reason}");
            }
            r => panic!("filed under the wrong patient: {r:?}"),
        }
        let mine = hl7::encode_iso2022jp(&adt00("1000001")).unwrap();
        assert!(matches!(
            outcome("main_document.hl7", &mine).outcome,
            FileOutcome::Record(_)
        ));
        // CDA naming another patient, whatever the file is called.
        let cda = |id: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\
                 <recordTarget><patientRole><id root=\"1.2.392.100495.20.3.51.11411111111\" extension=\"{id}\"/>\
                 <patient><name>患者 太郎</name></patient></patientRole></recordTarget></ClinicalDocument>"
            )
        };
        match outcome("document.dat", cda("2000002").as_bytes()).outcome {
            FileOutcome::Quarantined { reason, .. } => {
                assert!(
                    reason.contains("CDA recordTarget patient ID \"2000002\""),
                    "{reason}"
                )
            }
            r => panic!("filed under the wrong patient: {r:?}"),
        }
        let c = outcome("document.xml", cda("1000001").as_bytes());
        assert!(matches!(c.outcome, FileOutcome::Record(_)));
        assert!(c.notices.is_empty(), "{:?}", c.notices);
        // A CDA without a facility patient ID is filed, with a notice; a PDF is filed as is.
        let c = outcome(
            "document.xml",
            b"<?xml version=\"1.0\"?><ClinicalDocument/>",
        );
        assert!(matches!(c.outcome, FileOutcome::Record(_)));
        assert!(c.notices[0].contains("names no facility patient ID"));
        let c = outcome("scan.pdf", b"%PDF-1.4 binary");
        assert!(matches!(c.outcome, FileOutcome::Record(_)));
        assert!(c.notices.is_empty());
    }

    /// Issue 14: an extended-storage observation message (vitals) has facts, one per OBX,
    /// from its current version only; the record keeps the kind folder as its kind.
    #[test]
    fn extended_vitals_have_facts_when_current() {
        let text = std::fs::read_to_string(format!(
            "{}/../ssmix2/tests/fixtures/vitals/ORU-R30-vitals.hl7",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
        .replace("9999013", "1000001")
        .replace('\n', "\r");
        let bytes = hl7::encode_iso2022jp(&text).unwrap();
        let path = |folder: &str, condition: &str| {
            format!(
                "100/000/1000001/20260310/{folder}/1000001_20260310_{folder}_V1_20260310090500000_01_{condition}/main_document.hl7"
            )
        };
        let folder = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
        let c = classify(&path(folder, "1"), &bytes, &ClassifyOptions::default());
        let FileOutcome::Record(r) = &c.outcome else {
            panic!("{:?}", c.outcome)
        };
        assert_eq!(r.storage, StorageKind::Extended);
        assert_eq!(r.kind, folder);
        assert_eq!(r.message_type.as_deref(), Some("ORU^R30"));
        assert_eq!(c.facts.len(), 11);
        assert_eq!(
            c.facts.iter().map(|f| f.line).collect::<Vec<_>>(),
            (0..11).collect::<Vec<u32>>()
        );
        for condition in ["0", "2"] {
            let c = classify(
                &path(folder, condition),
                &bytes,
                &ClassifyOptions::default(),
            );
            assert!(matches!(c.outcome, FileOutcome::Record(_)));
            assert!(c.facts.is_empty(), "history has no facts (_{condition})");
        }
        // A folder named like a standard kind would be read as lab results: none.
        let c = classify(&path("OML-11", "1"), &bytes, &ClassifyOptions::default());
        assert!(c.facts.is_empty());
        // Another message in the extended storage: none.
        let adt = hl7::encode_iso2022jp(&adt00("1000001")).unwrap();
        assert!(
            classify(&path(folder, "1"), &adt, &ClassifyOptions::default())
                .facts
                .is_empty()
        );
    }

    fn fixture(kind: &str, patient: &str) -> String {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{kind}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .expect("fixture")
            .replace("9999013", patient)
            .replace('\n', "\r")
    }

    /// Issue 14: AL1 of a current ADT-00 are facts; a stay's cancel message stored as a
    /// current file has its fact (naming what it cancels); an order cancel has none; a
    /// superseded file has none.
    #[test]
    fn facts_of_demographics_and_cancel_messages() {
        let facts = |path: &str, text: &str| {
            let bytes = hl7::encode_iso2022jp(text).unwrap();
            let c = classify(path, &bytes, &ClassifyOptions::default());
            assert!(
                matches!(c.outcome, FileOutcome::Record(_)),
                "{:?}",
                c.outcome
            );
            c.facts
        };
        let adt00 = fixture("ADT-00", "1000001");
        assert_eq!(facts(PATH, &adt00).len(), 1, "the AL1");
        assert!(facts(&PATH.replace("_-_1", "_-_2"), &adt00).is_empty());
        let a11 = fixture("ADT-22", "1000001").replace("ADT^A01^ADT_A01", "ADT^A11^ADT_A09");
        let path = "100/000/1000001/20111120/ADT-22/1000001_20111120_ADT-22_999999999999999_20111121100000000_01_1";
        match facts(path, &a11).as_slice() {
            [store::ClinicalFact {
                fact: store::Fact::Encounter(e),
                ..
            }] => assert_eq!(
                (e.event.as_str(), e.detail.cancels.as_str()),
                ("A11", "A01")
            ),
            other => panic!("{other:?}"),
        }
        let ca = fixture("OMP-01", "1000001").replace("ORC|NW|", "ORC|CA|");
        let path = "100/000/1000001/20110701/OMP-01/1000001_20110701_OMP-01_000000011000185_20110701120000000_01_1";
        assert!(
            facts(path, &ca).is_empty(),
            "an order cancel is no prescription"
        );
        // Its index entry says it cancels its order, with a notice for the operator; the
        // order itself and a stay's cancel message (applied through its fact) do not.
        let cancels = |path: &str, text: &str| {
            let bytes = hl7::encode_iso2022jp(text).unwrap();
            let c = classify(path, &bytes, &ClassifyOptions::default());
            match c.outcome {
                FileOutcome::Record(r) => (r.cancels, c.notices.len()),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(cancels(path, &ca), (true, 1));
        assert_eq!(cancels(path, &fixture("OMP-01", "1000001")), (false, 0));
        let cancelled_copy = path.replace("_01_1", "_01_0");
        assert!(cancels(&cancelled_copy, &ca).0, "a `_0` cancel too");
        let a11_path = "100/000/1000001/20111120/ADT-22/1000001_20111120_ADT-22_999999999999999_20111121100000000_01_1";
        assert!(!cancels(a11_path, &a11).0);
    }
}
