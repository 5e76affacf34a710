//! SS-MIX2 standardized storage (標準化ストレージ) and extended storage (拡張ストレージ).
//!
//! Pure logic, no I/O: the file-name rule and directory layout ([`naming`]), the data-kind table
//! ([`kinds`]) and typed records read from each kind's HL7 message ([`records`]).

pub mod departments;
pub mod dosing;
pub mod kinds;
pub mod naming;
pub mod orders;
pub mod records;

pub use kinds::{Category, DataKind};
pub use naming::{Condition, ExtendedPath, NameError, StandardName, StoragePath};
pub use records::{
    clinical_date, read_record, read_record_header, Body, Header, Record, RecordError,
};
