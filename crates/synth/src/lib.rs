//! Deterministic generator of a synthetic Japanese region (Miyagi-like) stored as SS-MIX2.
//!
//! [`generate`] writes one SS-MIX2 standardized storage root per facility under
//! `out/<facility code>/` (plus, optionally, a few extended-storage files) and
//! `out/manifest.json` with the ground truth: facilities, persons and the local patient IDs
//! that belong to each person, and every deliberately injected fault.
//!
//! Same [`Options`] ⇒ byte-identical tree and manifest, whatever the number of threads: every
//! facility × patient gets its own PRNG stream derived from the seed (the PRNG is part of this
//! crate and frozen). Nothing depends on the clock.

mod faults;
mod history;
mod region;
mod rng;
mod tables;
mod time;
mod writer;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use region::default_facilities;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub patients: usize,
    pub seed: u64,
    /// Number of facilities; `None` derives it from `patients` ([`default_facilities`]).
    pub facilities: Option<usize>,
    /// Length of the history in years (ending at `end_date`).
    pub years: u32,
    /// Last day of the history `(year, month, day)`. Fixed (never "today"): determinism.
    pub end_date: (i32, u32, u32),
    /// Fraction of standardized-storage files replaced by a fault (0.0 = none).
    pub fault_rate: f64,
    /// Also write some extended-storage files (vitals HL7, discharge summaries as CDA XML).
    pub extended: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            patients: 100,
            seed: 1,
            facilities: None,
            years: 3,
            end_date: (2026, 10, 31),
            fault_rate: 0.0,
            extended: false,
        }
    }
}

impl Options {
    /// Rough number of messages [`generate`] will write (for progress bars).
    pub fn estimated_messages(&self) -> u64 {
        (self.patients as f64 * self.years.max(1) as f64 * 34.0) as u64
    }
}

/// Counts of what was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub facilities: usize,
    pub patients: usize,
    /// All files written (standard, extended, faults; not the manifest).
    pub files: u64,
    /// Standardized-storage message files (faulty ones included).
    pub messages: u64,
    /// Bytes of all files written.
    pub bytes: u64,
    pub faults: u64,
    /// Standardized-storage files per data kind code (`ADT-00`, `OML-11`, …).
    pub per_kind: BTreeMap<String, u64>,
}

/// One facility of the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityInfo {
    /// 10 digits: medical institution code (prefecture 04, point table 1/3/4/6, 7 digits) or,
    /// for care facilities, the care-provider number (04 7 …).
    pub code: String,
    /// Japanese name.
    pub name: String,
    /// `hospital`, `clinic`, `dental_clinic`, `pharmacy`, `home_nursing` or `care_facility`.
    pub kind: String,
    /// 二次医療圏 name.
    pub area: String,
}

/// One local patient ID of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Facility code.
    pub facility: String,
    /// The facility's own patient ID (PID-3, folder name).
    pub local_id: String,
    /// How the demographics at this facility differ from the truth, if they do
    /// (`kanji_variant`, `kana_long_vowel`, `name_in_one_component`, `address_half_width_digits`,
    /// `address_hyphenated`, `no_phone`, `birth_date_typo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The ground truth about one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub person_id: String,
    /// `family given`, separated by one ASCII space.
    pub name_kanji: String,
    pub name_kana: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// `M` or `F`.
    pub sex: String,
    #[serde(default)]
    pub zip: String,
    /// Address at the start of the history (a few persons move; facilities then update ADT-00).
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    pub links: Vec<Link>,
}

/// A deliberately broken file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Path relative to the output directory (`<facility code>/…`), `/`-separated.
    pub path: String,
    /// `truncated`, `shift_jis`, `utf8`, `not_hl7`, `misplaced`, `bad_name` or `empty`.
    pub kind: String,
}

/// `out/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub start_date: String,
    pub end_date: String,
    pub facilities: Vec<FacilityInfo>,
    pub persons: Vec<Person>,
    pub faults: Vec<Fault>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest, SynthError> {
        let bytes = std::fs::read(path).map_err(|e| SynthError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| SynthError::Json(e.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid options: {0}")]
    Options(String),
    #[error("generated text cannot be encoded as ISO-2022-JP: {0}")]
    Encode(String),
    #[error("manifest: {0}")]
    Json(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What one facility × patient work item produced.
#[derive(Default)]
pub(crate) struct ItemResult {
    pub files: u64,
    pub messages: u64,
    pub bytes: u64,
    pub per_kind: [u64; 26],
    pub faults: Vec<Fault>,
}

/// Generate the region into `out` (created if missing; existing files of the same names are
/// overwritten, others are left alone — use an empty directory).
///
/// `progress` is called from worker threads with the number of messages written since its
/// previous call (an increment, not a total); see [`Options::estimated_messages`].
pub fn generate(
    opts: &Options,
    out: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, SynthError> {
    if !(0.0..=1.0).contains(&opts.fault_rate) {
        return Err(SynthError::Options(format!(
            "fault_rate {} is not within 0..=1",
            opts.fault_rate
        )));
    }
    let (y, m, d) = opts.end_date;
    if !ssmix2::naming::is_valid_date(&format!("{y:04}{m:02}{d:02}")) {
        return Err(SynthError::Options(format!(
            "end_date {y}-{m}-{d} is not a valid date"
        )));
    }
    let region = region::Region::build(opts);
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    for f in &region.facilities {
        let dir = out.join(&f.info.code);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    }
    // Work items: (person, link) ordered by facility, then local ordinal.
    let mut items: Vec<(usize, usize)> = Vec::new();
    for (pi, p) in region.persons.iter().enumerate() {
        for li in 0..p.links.len() {
            items.push((pi, li));
        }
    }
    items.sort_by_key(|&(pi, li)| {
        let l = &region.persons[pi].links[li];
        (l.facility, l.ordinal)
    });
    let results: Vec<Result<ItemResult, SynthError>> = items
        .par_iter()
        .map(|&(pi, li)| {
            let r = history::run(&region, opts, out, pi, li)?;
            progress(r.messages);
            Ok(r)
        })
        .collect();
    let mut summary = Summary {
        facilities: region.facilities.len(),
        patients: region.persons.len(),
        ..Summary::default()
    };
    let mut faults = Vec::new();
    let mut per_kind = [0u64; 26];
    for r in results {
        let r = r?;
        summary.files += r.files;
        summary.messages += r.messages;
        summary.bytes += r.bytes;
        for (a, b) in per_kind.iter_mut().zip(r.per_kind) {
            *a += b;
        }
        faults.extend(r.faults);
    }
    summary.faults = faults.len() as u64;
    for (i, k) in ssmix2::DataKind::ALL.iter().enumerate() {
        if per_kind[i] > 0 {
            summary.per_kind.insert(k.code().to_owned(), per_kind[i]);
        }
    }
    let manifest = Manifest {
        seed: opts.seed,
        start_date: time::date8(region.start),
        end_date: time::date8(region.end),
        facilities: region.facilities.iter().map(|f| f.info.clone()).collect(),
        persons: region
            .persons
            .iter()
            .map(|p| region.manifest_person(p))
            .collect(),
        faults,
    };
    let path = out.join("manifest.json");
    let file = std::fs::File::create(&path).map_err(io_err(&path))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, &manifest).map_err(|e| SynthError::Json(e.to_string()))?;
    w.write_all(b"\n").map_err(io_err(&path))?;
    w.flush().map_err(io_err(&path))?;
    Ok(summary)
}

/// Build the region's ground truth without writing any message (cheap).
pub fn manifest_only(opts: &Options) -> Manifest {
    let region = region::Region::build(opts);
    Manifest {
        seed: opts.seed,
        start_date: time::date8(region.start),
        end_date: time::date8(region.end),
        facilities: region.facilities.iter().map(|f| f.info.clone()).collect(),
        persons: region
            .persons
            .iter()
            .map(|p| region.manifest_person(p))
            .collect(),
        faults: Vec::new(),
    }
}
