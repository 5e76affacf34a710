//! Directory layout and file-name rule of the standardized and extended storage.
//!
//! Standard: `p[0..3]/p[3..6]/pid/date/kind/pid_date_kind_order_timestamp_dept_cond`
//! Extended: `p[0..3]/p[3..6]/pid/date/<kind folder>/<content folder>/<file…>`
//!
//! Paths are given relative to the facility's storage root, with `/` separators.

use serde::{Deserialize, Serialize};

use crate::kinds::DataKind;

/// The order number used by kinds without an order.
pub const NO_ORDER: &str = "999999999999999";

/// The condition flag, last part of every file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// `0`: deleted (the order was cancelled; the delete message itself is also `_0`).
    Deleted,
    /// `1`: current.
    Current,
    /// `2`: superseded by a later update.
    Superseded,
}

impl Condition {
    pub fn flag(self) -> char {
        match self {
            Condition::Deleted => '0',
            Condition::Current => '1',
            Condition::Superseded => '2',
        }
    }

    pub fn from_flag(s: &str) -> Option<Condition> {
        match s {
            "0" => Some(Condition::Deleted),
            "1" => Some(Condition::Current),
            "2" => Some(Condition::Superseded),
            _ => None,
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Condition::Deleted => "削除",
            Condition::Current => "最新",
            Condition::Superseded => "更新前",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("path has {0} levels; a standard file needs 6 (p1/p2/patient/date/kind/file) and an extended file at least 7")]
    Depth(usize),
    #[error("file name {0:?} does not have the 7 parts patient_date_kind_order_timestamp_department_condition")]
    Parts(String),
    #[error("unknown data kind {0:?}")]
    UnknownKind(String),
    #[error("invalid patient ID {0:?} (1–15 letters or digits)")]
    PatientId(String),
    #[error("invalid date {0:?} (YYYYMMDD or '-')")]
    Date(String),
    #[error("invalid order number {0:?} (1–15 letters or digits)")]
    OrderNo(String),
    #[error("invalid timestamp {0:?} (YYYYMMDDHHMMSSfff, 14–17 digits)")]
    Timestamp(String),
    #[error("invalid department code {0:?} (at most 3 characters, or '-')")]
    Department(String),
    #[error("invalid condition flag {0:?} (0 deleted, 1 current, 2 superseded)")]
    Condition(String),
    #[error("{what} folder is {folder:?} but the file name says {name:?}")]
    Misplaced {
        what: &'static str,
        folder: String,
        name: String,
    },
    #[error("kind {kind} is undated and belongs under '-', not under {date:?}")]
    UndatedKindWithDate { kind: DataKind, date: String },
    #[error("kind {kind} needs a date folder, not '-'")]
    DatedKindWithoutDate { kind: DataKind },
}

/// The parsed name of a standardized-storage file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StandardName {
    pub patient_id: String,
    /// `YYYYMMDD`, or `-` for undated kinds.
    pub date: String,
    pub kind: DataKind,
    pub order_no: String,
    /// When the file was written, `YYYYMMDDHHMMSSfff` (15–17 digits accepted).
    pub timestamp: String,
    /// SS-MIX2 department code, or `-`.
    pub department: String,
    pub condition: Condition,
}

impl StandardName {
    /// Parse a bare file name (no directories).
    pub fn parse(file_name: &str) -> Result<StandardName, NameError> {
        let parts: Vec<&str> = file_name.split('_').collect();
        if parts.len() < 7 {
            return Err(NameError::Parts(file_name.to_owned()));
        }
        // Parse from the end: the patient ID is the only part that might (wrongly) hold '_'.
        let n = parts.len();
        let patient_id = parts[..n - 6].join("_");
        let (date, kind, order_no, timestamp, department, condition) = (
            parts[n - 6],
            parts[n - 5],
            parts[n - 4],
            parts[n - 3],
            parts[n - 2],
            parts[n - 1],
        );
        check_patient_id(&patient_id)?;
        check_date(date)?;
        let kind =
            DataKind::from_code(kind).ok_or_else(|| NameError::UnknownKind(kind.to_owned()))?;
        if order_no.is_empty()
            || order_no.len() > 15
            || !order_no.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(NameError::OrderNo(order_no.to_owned()));
        }
        check_timestamp(timestamp)?;
        check_department(department)?;
        let condition = Condition::from_flag(condition)
            .ok_or_else(|| NameError::Condition(condition.to_owned()))?;
        if kind.is_undated() && date != "-" {
            return Err(NameError::UndatedKindWithDate {
                kind,
                date: date.to_owned(),
            });
        }
        if !kind.is_undated() && date == "-" {
            return Err(NameError::DatedKindWithoutDate { kind });
        }
        Ok(StandardName {
            patient_id,
            date: date.to_owned(),
            kind,
            order_no: order_no.to_owned(),
            timestamp: timestamp.to_owned(),
            department: department.to_owned(),
            condition,
        })
    }

    /// The file name, exactly as SS-MIX2 writes it.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}_{}_{}_{}_{}",
            self.patient_id,
            self.date,
            self.kind.code(),
            self.order_no,
            self.timestamp,
            self.department,
            self.condition.flag()
        )
    }

    /// Path relative to the storage root.
    pub fn relative_path(&self) -> String {
        let (p1, p2) = prefix_folders(&self.patient_id);
        format!(
            "{p1}/{p2}/{}/{}/{}/{}",
            self.patient_id,
            self.date,
            self.kind.code(),
            self.file_name()
        )
    }

    /// True when the order number is the "no order" placeholder.
    pub fn has_no_order(&self) -> bool {
        self.order_no.bytes().all(|b| b == b'9') && self.order_no.len() == 15
    }

    /// The identity of an order across its versions: updates and cancellations share it.
    pub fn order_key(&self) -> (String, String, DataKind, String) {
        (
            self.patient_id.clone(),
            self.date.clone(),
            self.kind,
            self.order_no.clone(),
        )
    }
}

/// The first two folder levels for a patient ID: characters 1–3 and 4–6.
///
/// SS-MIX2 gives no rule for IDs shorter than 6 characters *(unsure)*; renkei uses what is
/// there (possibly an empty string would be invalid, so a missing part becomes the ID's own
/// characters as far as they go, then `0`-padded). Readers accept whatever the facility wrote.
pub fn prefix_folders(patient_id: &str) -> (String, String) {
    let chars: Vec<char> = patient_id.chars().collect();
    let take = |from: usize| -> String {
        let s: String = chars.iter().skip(from).take(3).collect();
        format!("{s:0<3}")
    };
    (take(0), take(3))
}

/// The name of an extended-storage content folder: like a standard file name, with a
/// "specific key" in place of the order number and the department possibly missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExtendedContentName {
    pub patient_id: String,
    pub date: String,
    /// The kind part of the name (often equal to the kind folder).
    pub kind: String,
    /// Specific key (≤ 22 characters) in place of the order number.
    pub key: String,
    pub timestamp: String,
    pub department: Option<String>,
    pub condition: Condition,
}

impl ExtendedContentName {
    /// Parse from both ends: patient and date from the front, condition, department and
    /// timestamp from the back; the key is the last remaining part, the kind the rest.
    pub fn parse(name: &str) -> Result<ExtendedContentName, NameError> {
        let parts: Vec<&str> = name.split('_').collect();
        if parts.len() < 6 {
            return Err(NameError::Parts(name.to_owned()));
        }
        let patient_id = parts[0];
        let date = parts[1];
        check_patient_id(patient_id)?;
        check_date(date)?;
        let mut back = parts.len() - 1;
        let condition = Condition::from_flag(parts[back])
            .ok_or_else(|| NameError::Condition(parts[back].to_owned()))?;
        back -= 1;
        let department = if is_timestamp(parts[back]) {
            None
        } else {
            check_department(parts[back])?;
            back -= 1;
            Some(parts[back + 1].to_owned())
        };
        let timestamp = parts[back];
        check_timestamp(timestamp)?;
        if back < 4 {
            return Err(NameError::Parts(name.to_owned()));
        }
        let key = parts[back - 1];
        let kind = parts[2..back - 1].join("_");
        Ok(ExtendedContentName {
            patient_id: patient_id.to_owned(),
            date: date.to_owned(),
            kind,
            key: key.to_owned(),
            timestamp: timestamp.to_owned(),
            department,
            condition,
        })
    }
}

/// A file of the extended storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExtendedPath {
    pub patient_id: String,
    pub date: String,
    /// Free-form kind folder, e.g. `L-OBSERVATIONS^OBSERVATIONS^99ZL01`.
    pub kind_folder: String,
    pub content: ExtendedContentName,
    /// Path of the file inside the content folder (`main_document.hl7`, `images/1.jpg`, …).
    pub file: String,
}

/// A classified path inside a facility's storage root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoragePath {
    Standard(StandardName),
    Extended(ExtendedPath),
}

impl StoragePath {
    /// Classify and validate a path relative to the storage root.
    pub fn parse(relative: &str) -> Result<StoragePath, NameError> {
        let parts: Vec<&str> = relative.split('/').filter(|p| !p.is_empty()).collect();
        match parts.len() {
            6 => {
                let name = StandardName::parse(parts[5])?;
                check_folders(&parts, &name.patient_id, &name.date)?;
                if parts[4] != name.kind.code() {
                    return Err(NameError::Misplaced {
                        what: "kind",
                        folder: parts[4].to_owned(),
                        name: name.kind.code().to_owned(),
                    });
                }
                Ok(StoragePath::Standard(name))
            }
            n if n >= 7 => {
                let content = ExtendedContentName::parse(parts[5])?;
                check_folders(&parts, &content.patient_id, &content.date)?;
                Ok(StoragePath::Extended(ExtendedPath {
                    patient_id: content.patient_id.clone(),
                    date: content.date.clone(),
                    kind_folder: parts[4].to_owned(),
                    content,
                    file: parts[6..].join("/"),
                }))
            }
            n => Err(NameError::Depth(n)),
        }
    }

    pub fn patient_id(&self) -> &str {
        match self {
            StoragePath::Standard(n) => &n.patient_id,
            StoragePath::Extended(e) => &e.patient_id,
        }
    }

    pub fn date(&self) -> &str {
        match self {
            StoragePath::Standard(n) => &n.date,
            StoragePath::Extended(e) => &e.date,
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            StoragePath::Standard(n) => n.condition,
            StoragePath::Extended(e) => e.content.condition,
        }
    }
}

fn check_folders(parts: &[&str], patient_id: &str, date: &str) -> Result<(), NameError> {
    if parts[2] != patient_id {
        return Err(NameError::Misplaced {
            what: "patient",
            folder: parts[2].to_owned(),
            name: patient_id.to_owned(),
        });
    }
    // For IDs of 6 or more characters the prefix folders are fixed; shorter IDs have no rule
    // *(unsure)*, so anything that is a prefix-compatible spelling is accepted.
    if patient_id.chars().count() >= 6 {
        let (p1, p2) = prefix_folders(patient_id);
        if parts[0] != p1 || parts[1] != p2 {
            return Err(NameError::Misplaced {
                what: "patient prefix",
                folder: format!("{}/{}", parts[0], parts[1]),
                name: format!("{p1}/{p2}"),
            });
        }
    }
    if parts[3] != date {
        return Err(NameError::Misplaced {
            what: "date",
            folder: parts[3].to_owned(),
            name: date.to_owned(),
        });
    }
    Ok(())
}

fn check_patient_id(id: &str) -> Result<(), NameError> {
    let ok = !id.is_empty()
        && id.len() <= 15
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NameError::PatientId(id.to_owned()))
    }
}

fn check_date(date: &str) -> Result<(), NameError> {
    if date == "-" || is_valid_date(date) {
        Ok(())
    } else {
        Err(NameError::Date(date.to_owned()))
    }
}

/// `YYYYMMDD` with a real month and day.
pub fn is_valid_date(s: &str) -> bool {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let y: u32 = s[..4].parse().unwrap_or(0);
    let m: u32 = s[4..6].parse().unwrap_or(0);
    let d: u32 = s[6..].parse().unwrap_or(0);
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2999).contains(&y) && (1..=days).contains(&d)
}

fn is_timestamp(s: &str) -> bool {
    (14..=17).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && is_valid_date(&s[..8])
}

fn check_timestamp(s: &str) -> Result<(), NameError> {
    if is_timestamp(s) {
        Ok(())
    } else {
        Err(NameError::Timestamp(s.to_owned()))
    }
}

fn check_department(s: &str) -> Result<(), NameError> {
    let ok = s == "-"
        || (!s.is_empty()
            && s.chars().count() <= 3
            && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(NameError::Department(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";

    #[test]
    fn standard_sample() {
        let StoragePath::Standard(n) = StoragePath::parse(SAMPLE).unwrap() else {
            panic!("not standard")
        };
        assert_eq!(n.patient_id, "9999013");
        assert_eq!(n.kind, DataKind::Oml11);
        assert_eq!(n.order_no, "000000011000354");
        assert_eq!(n.timestamp, "20111220103059000");
        assert_eq!(n.department, "01");
        assert_eq!(n.condition, Condition::Current);
        assert_eq!(n.relative_path(), SAMPLE);
    }

    #[test]
    fn rejects_with_reason() {
        let bad = |p: &str| StoragePath::parse(p).unwrap_err();
        assert!(matches!(
            bad("999/901/9999013/20111220/OML-11/x"),
            NameError::Parts(_)
        ));
        assert!(matches!(
            bad("999/901/9999013/20111221/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1"),
            NameError::Misplaced { what: "date", .. }
        ));
        assert!(matches!(
            bad("999/901/9999013/20111220/OML-12/9999013_20111220_OML-12_000000011000354_20111220103059000_01_1"),
            NameError::UnknownKind(_)
        ));
        assert!(matches!(
            bad("999/901/9999013/20111220/ADT-00/9999013_20111220_ADT-00_999999999999999_20111220103059000_-_1"),
            NameError::UndatedKindWithDate { .. }
        ));
        assert!(matches!(
            bad("999/901/9999013/20111320/OML-11/9999013_20111320_OML-11_000000011000354_20111220103059000_01_1"),
            NameError::Date(_)
        ));
        assert!(matches!(
            bad("999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_3"),
            NameError::Condition(_)
        ));
        assert!(matches!(
            bad("998/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1"),
            NameError::Misplaced { what: "patient prefix", .. }
        ));
        assert!(matches!(bad("999/901/9999013"), NameError::Depth(3)));
    }

    #[test]
    fn extended_paths() {
        let p = "999/901/9999013/20111220/L-OBSERVATIONS^OBSERVATIONS^99ZL01/9999013_20111220_L-OBSERVATIONS^OBSERVATIONS^99ZL01_K0001_20111220103059000_01_1/main_document.hl7";
        let StoragePath::Extended(e) = StoragePath::parse(p).unwrap() else {
            panic!("not extended")
        };
        assert_eq!(e.kind_folder, "L-OBSERVATIONS^OBSERVATIONS^99ZL01");
        assert_eq!(e.content.key, "K0001");
        assert_eq!(e.content.department.as_deref(), Some("01"));
        assert_eq!(e.file, "main_document.hl7");
        // Department missing.
        let c =
            ExtendedContentName::parse("9999013_20111220_SUMMARY_K1_20111220103059000_1").unwrap();
        assert_eq!(c.department, None);
        assert_eq!(c.kind, "SUMMARY");
        assert_eq!(c.key, "K1");
    }

    #[test]
    fn short_ids_are_accepted() {
        let n = StandardName {
            patient_id: "12".into(),
            date: "-".into(),
            kind: DataKind::Adt00,
            order_no: NO_ORDER.into(),
            timestamp: "20200101000000000".into(),
            department: "-".into(),
            condition: Condition::Current,
        };
        let path = n.relative_path();
        assert_eq!(StoragePath::parse(&path).unwrap(), StoragePath::Standard(n));
    }

    proptest! {
        #[test]
        fn name_round_trip(
            pid in "[0-9A-Z]{1,15}",
            kind_idx in 0usize..26,
            order in "[0-9]{1,15}",
            y in 1990u32..2030, m in 1u32..=12, d in 1u32..=28,
            ms in "[0-9]{9}",
            dept in "(-|[0-9A-Z]{1,3})",
            cond in 0u8..3,
        ) {
            let kind = DataKind::ALL[kind_idx];
            let date = if kind.is_undated() { "-".to_owned() } else { format!("{y:04}{m:02}{d:02}") };
            let n = StandardName {
                patient_id: pid, date, kind, order_no: order,
                timestamp: format!("{y:04}{m:02}{d:02}{ms}"),
                department: dept,
                condition: [Condition::Deleted, Condition::Current, Condition::Superseded][cond as usize],
            };
            prop_assert_eq!(StandardName::parse(&n.file_name()).unwrap(), n.clone());
            prop_assert_eq!(StoragePath::parse(&n.relative_path()).unwrap(), StoragePath::Standard(n));
        }
    }
}
