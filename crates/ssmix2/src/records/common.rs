//! Building blocks shared by every data kind: coded values, people, places, orders (ORC),
//! timing (TQ1), observation requests (OBR), results (OBX), specimens (SPM), insurance.
//!
//! Conventions for every typed record:
//! - `Option<String>`: `None` = the field was not sent; `Some("")` = the HL7 explicit null `""`,
//!   which SS-MIX2 senders use to say "delete the value you have". A plain `String` is empty in
//!   both cases.
//! - Dates and times are the HL7 text as sent (`19480405`, `20111220103059.0000+0900`).
//! - Every repetition is kept (`Vec`), and NTE comments are kept next to what they follow.

use hl7::{Component, Field, Repetition, Segment};
use serde::{Deserialize, Serialize};

/// The HL7 explicit null.
const NULL: &str = "\"\"";

/// Unescaped component text; the explicit null becomes "".
pub(crate) fn comp_text(c: Component<'_>) -> String {
    if c.raw() == NULL {
        String::new()
    } else {
        c.value().into_owned()
    }
}

/// `None` when not sent, `Some("")` for the explicit null, else the unescaped text.
pub(crate) fn comp_opt(c: Component<'_>) -> Option<String> {
    if c.is_empty() {
        None
    } else {
        Some(comp_text(c))
    }
}

/// First component of the first repetition of field `n`, see [`comp_opt`].
pub(crate) fn field_opt(seg: &Segment<'_>, n: usize) -> Option<String> {
    let f = seg.field(n);
    if f.is_null() {
        return Some(String::new());
    }
    comp_opt(f.first().component(1))
}

/// Component `c` of the first repetition of field `n`, see [`comp_opt`].
pub(crate) fn comp_of(seg: &Segment<'_>, n: usize, c: usize) -> Option<String> {
    comp_opt(seg.field(n).first().component(c))
}

/// First component of every non-empty repetition.
pub(crate) fn field_values(f: Field<'_>) -> Vec<String> {
    f.repetitions()
        .filter(|r| !r.is_empty())
        .map(|r| comp_text(r.component(1)))
        .collect()
}

/// A whole repetition as text: free-text fields (ST, TX, FT) may legitimately hold
/// unescaped component separators in real data, so nothing is cut at `^`.
pub(crate) fn repetition_text(r: Repetition<'_>, d: &hl7::Delimiters) -> String {
    if r.raw() == NULL {
        String::new()
    } else {
        hl7::unescape(r.raw(), d).into_owned()
    }
}

/// A coded value (CWE/CE/CNE). SS-MIX2 sends a standard code and a local code side by side:
/// components 1–3 and 4–6 (identifier, text, coding system). Either triple may hold the
/// standard one, so look codes up by system with [`Coded::code_of`] rather than by position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coded {
    pub code: String,
    pub text: String,
    pub system: String,
    pub alt_code: String,
    pub alt_text: String,
    pub alt_system: String,
}

impl Coded {
    /// From the components of one repetition. `None` when the repetition is empty;
    /// an explicit null `""` gives `Some` with every part empty.
    pub(crate) fn from_repetition(r: Repetition<'_>) -> Option<Coded> {
        if r.is_empty() {
            return None;
        }
        let c = |i| comp_text(r.component(i));
        Some(Coded {
            code: c(1),
            text: c(2),
            system: c(3),
            alt_code: c(4),
            alt_text: c(5),
            alt_system: c(6),
        })
    }

    /// From the sub-components of one component: a CWE nested in another type, e.g. the
    /// usage code in TQ1-3 (`1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01`).
    pub(crate) fn from_subcomponents(c: Component<'_>) -> Option<Coded> {
        if c.is_empty() {
            return None;
        }
        let s = |i| {
            let v = c.subcomponent(i).into_owned();
            if v == NULL {
                String::new()
            } else {
                v
            }
        };
        Some(Coded {
            code: s(1),
            text: s(2),
            system: s(3),
            alt_code: s(4),
            alt_text: s(5),
            alt_system: s(6),
        })
    }

    pub fn from_field(f: Field<'_>) -> Option<Coded> {
        Coded::from_repetition(f.first())
    }

    pub fn all_from_field(f: Field<'_>) -> Vec<Coded> {
        f.repetitions().filter_map(Coded::from_repetition).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
            && self.text.is_empty()
            && self.alt_code.is_empty()
            && self.alt_text.is_empty()
    }

    /// The code whose coding system is `system`. `"HOT"` matches every HOT variant
    /// (`HOT`, `HOT7`, `HOT9`, `HOT11`, `HOT13`), since senders pick the length they have.
    pub fn code_of(&self, system: &str) -> Option<&str> {
        self.pair_of(|s| system_matches(s, system))
            .map(|(code, _)| code)
    }

    /// The text that goes with the code of `system`.
    pub fn text_of(&self, system: &str) -> Option<&str> {
        self.pair_of(|s| system_matches(s, system))
            .map(|(_, text)| text)
    }

    /// The coding system actually used for a `system` family, e.g. `HOT9` for `"HOT"`.
    pub fn system_of(&self, system: &str) -> Option<&str> {
        [&self.system, &self.alt_system]
            .into_iter()
            .find(|s| system_matches(s, system))
            .map(|s| s.as_str())
    }

    /// The facility-local code (coding system `99…`) and its system.
    pub fn local(&self) -> Option<(&str, &str)> {
        if is_local_system(&self.system) && !self.code.is_empty() {
            Some((&self.code, &self.system))
        } else if is_local_system(&self.alt_system) && !self.alt_code.is_empty() {
            Some((&self.alt_code, &self.alt_system))
        } else {
            None
        }
    }

    /// JLAC10 lab code (`JC10`).
    pub fn jlac10(&self) -> Option<&str> {
        self.code_of("JC10")
    }
    /// HOT drug code of any length.
    pub fn hot(&self) -> Option<&str> {
        self.code_of("HOT")
    }
    /// YJ drug code.
    pub fn yj(&self) -> Option<&str> {
        self.code_of("YJ")
    }
    /// MEDIS disease master key (`MDCDX2`).
    pub fn medis(&self) -> Option<&str> {
        self.code_of("MDCDX2")
    }
    /// ICD-10 (`I10`).
    pub fn icd10(&self) -> Option<&str> {
        self.code_of("I10")
    }
    /// JJ1017 radiology procedure code.
    pub fn jj1017(&self) -> Option<&str> {
        self.code_of("JJ1017")
    }
    /// JAMI standard usage code (`JAMISDP01`).
    pub fn usage_code(&self) -> Option<&str> {
        self.code_of("JAMISDP01")
    }
    /// MERIT-9 unit or form code (`MR9P`).
    pub fn mr9p(&self) -> Option<&str> {
        self.code_of("MR9P")
    }

    /// Text for display: the first text given, else the first code.
    pub fn display(&self) -> &str {
        [&self.text, &self.alt_text, &self.code, &self.alt_code]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", |s| s)
    }

    fn pair_of(&self, pred: impl Fn(&str) -> bool) -> Option<(&str, &str)> {
        if pred(&self.system) && !self.code.is_empty() {
            Some((&self.code, &self.text))
        } else if pred(&self.alt_system) && !self.alt_code.is_empty() {
            Some((&self.alt_code, &self.alt_text))
        } else {
            None
        }
    }
}

fn system_matches(actual: &str, wanted: &str) -> bool {
    if wanted.eq_ignore_ascii_case("HOT") {
        // HOT, HOT7, HOT9, HOT11, HOT13
        actual.len() >= 3
            && actual
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case("HOT"))
            && actual[3..].bytes().all(|b| b.is_ascii_digit())
    } else {
        !actual.is_empty() && actual.eq_ignore_ascii_case(wanted)
    }
}

fn is_local_system(s: &str) -> bool {
    s.starts_with("99")
}

/// A person name (XPN) as SS-MIX2 sends it: one repetition in kanji (`^L^I`) and one in kana
/// (`^L^P`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub family: String,
    pub given: String,
    /// XPN-7 name type (`L` legal).
    pub name_type: String,
    /// XPN-8 representation: `I` ideographic (kanji), `P` phonetic (kana), `A` alphabetic.
    pub representation: String,
}

impl PersonName {
    pub(crate) fn from_repetition(r: Repetition<'_>) -> PersonName {
        let c = |i| comp_text(r.component(i));
        PersonName {
            family: c(1),
            given: c(2),
            name_type: c(7),
            representation: c(8),
        }
    }

    /// "家族名 名" with a full-width space when both are present, as Japanese screens show it.
    pub fn full(&self) -> String {
        match (self.family.is_empty(), self.given.is_empty()) {
            (false, false) => format!("{}\u{3000}{}", self.family, self.given),
            (false, true) => self.family.clone(),
            _ => self.given.clone(),
        }
    }
}

/// Names split by representation: kanji, kana, anything else (never dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub kanji: Option<PersonName>,
    pub kana: Option<PersonName>,
    /// Repetitions that are neither the first kanji nor the first kana name.
    pub others: Vec<PersonName>,
}

impl Names {
    pub(crate) fn from_field(f: Field<'_>) -> Names {
        let mut names = Names::default();
        for r in f.repetitions().filter(|r| !r.is_empty()) {
            let n = PersonName::from_repetition(r);
            let slot = match n.representation.as_str() {
                "P" => &mut names.kana,
                // A name without representation code is taken as the main (kanji) name.
                "I" | "" => &mut names.kanji,
                _ => {
                    names.others.push(n);
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(n);
            } else {
                names.others.push(n);
            }
        }
        names
    }
}

/// A doctor, nurse or clerk (XCN): ID and name, with the kana reading when sent as a second
/// repetition (`110^医師^一郎^^^^^^^L^^^^^I~^イシ^イチロウ^^^^^^^L^^^^^P`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub family: String,
    pub given: String,
    pub kana_family: String,
    pub kana_given: String,
}

impl Person {
    /// Every person in a repeating XCN field; a kana repetition is merged into the person
    /// before it (same ID or no ID).
    pub fn all_from_field(f: Field<'_>) -> Vec<Person> {
        let mut out: Vec<Person> = Vec::new();
        for r in f.repetitions().filter(|r| !r.is_empty()) {
            let c = |i| comp_text(r.component(i));
            let (id, family, given) = (c(1), c(2), c(3));
            // XCN-15 is the representation code; some senders put one `^` too many, so
            // XCN-16 is accepted as well.
            let kana = c(15) == "P" || (c(15).is_empty() && c(16) == "P");
            if kana {
                if let Some(last) = out.last_mut() {
                    if (id.is_empty() || id == last.id)
                        && last.kana_family.is_empty()
                        && last.kana_given.is_empty()
                    {
                        last.kana_family = family;
                        last.kana_given = given;
                        continue;
                    }
                }
                out.push(Person {
                    id,
                    kana_family: family,
                    kana_given: given,
                    ..Person::default()
                });
            } else {
                out.push(Person {
                    id,
                    family,
                    given,
                    ..Person::default()
                });
            }
        }
        out
    }

    pub fn from_field(f: Field<'_>) -> Option<Person> {
        Person::all_from_field(f).into_iter().next()
    }

    /// Kanji name, else the kana reading, else the ID.
    pub fn display(&self) -> String {
        let kanji = PersonName {
            family: self.family.clone(),
            given: self.given.clone(),
            ..Default::default()
        }
        .full();
        if !kanji.is_empty() {
            return kanji;
        }
        let kana = PersonName {
            family: self.kana_family.clone(),
            given: self.kana_given.clone(),
            ..Default::default()
        }
        .full();
        if kana.is_empty() {
            self.id.clone()
        } else {
            kana
        }
    }
}

/// A place in the hospital (PL). For outpatients SS-MIX2 puts the department code in the first
/// component with location type `C` (`01^^^^^C`); for inpatients ward, room, bed and type `N`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// PL-1 point of care: ward (inpatient) or clinic/department (outpatient).
    pub point_of_care: String,
    pub room: String,
    pub bed: String,
    pub facility: String,
    pub status: String,
    /// PL-6: `N` nursing unit (ward), `C` clinic.
    pub location_type: String,
}

impl Location {
    pub(crate) fn from_field(f: Field<'_>) -> Option<Location> {
        let r = f.first();
        if r.is_empty() {
            return None;
        }
        let c = |i| comp_text(r.component(i));
        Some(Location {
            point_of_care: c(1),
            room: c(2),
            bed: c(3),
            facility: c(4),
            status: c(5),
            location_type: c(6),
        })
    }
}

/// An address (XAD). SS-MIX2 sends the whole address as one text in XAD-8.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub zip: String,
    pub country: String,
    /// XAD-7: `H` home, `B` business…
    pub address_type: String,
    /// XAD-8: the full address text (`静岡県静岡市登呂１−３−５`); XAD-1 street when 8 is empty.
    pub text: String,
}

impl Address {
    pub(crate) fn all_from_field(f: Field<'_>) -> Vec<Address> {
        f.repetitions()
            .filter(|r| !r.is_empty())
            .map(|r| {
                let c = |i| comp_text(r.component(i));
                let text = if c(8).is_empty() { c(1) } else { c(8) };
                Address {
                    zip: c(5),
                    country: c(6),
                    address_type: c(7),
                    text,
                }
            })
            .collect()
    }
}

/// A telephone number (XTN): `^PRN^PH^^^^^^^^^054-000-0000`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// XTN-2: `PRN` home, `WPN` work, `EMR` emergency…
    pub use_code: String,
    /// XTN-3: `PH` telephone, `FX` fax, `CP` mobile…
    pub equipment: String,
    /// XTN-12 unformatted number, or XTN-1 when 12 is empty.
    pub number: String,
}

impl Phone {
    pub(crate) fn all_from_field(f: Field<'_>) -> Vec<Phone> {
        f.repetitions()
            .filter(|r| !r.is_empty())
            .map(|r| {
                let c = |i| comp_text(r.component(i));
                let number = if c(12).is_empty() { c(1) } else { c(12) };
                Phone {
                    use_code: c(2),
                    equipment: c(3),
                    number,
                }
            })
            .collect()
    }
}

/// An amount with its unit (CQ), e.g. TQ1-6 `3^D&日&ISO+` or RXE-19 `3^TAB&錠&MR9P`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantity {
    pub amount: String,
    pub unit: Option<Coded>,
}

impl Quantity {
    pub(crate) fn from_field(f: Field<'_>) -> Option<Quantity> {
        let r = f.first();
        if r.is_empty() {
            return None;
        }
        Some(Quantity {
            amount: comp_text(r.component(1)),
            unit: Coded::from_subcomponents(r.component(2)),
        })
    }

    /// The unit code (`D`, `TAB`…), empty when none.
    pub fn unit_code(&self) -> &str {
        self.unit.as_ref().map_or("", |u| u.code.as_str())
    }

    /// The amount in days when the unit is days (`D`, `d`, `日`).
    pub fn days(&self) -> Option<u32> {
        let unit = self.unit.as_ref()?;
        let is_day = ["D", "d", "日"].contains(&unit.code.as_str())
            || (unit.code.is_empty() && unit.text == "日");
        if is_day {
            self.amount.trim().parse().ok()
        } else {
            None
        }
    }
}

/// An order (ORC): the common part of every order group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// ORC-1: `NW` new, `XO` change, `CA` cancel, `SC` status change, `PA`/`CH` parent/child…
    pub control: String,
    /// ORC-2 placer order number (the order number of the file name).
    pub order_no: String,
    /// ORC-3 filler order number.
    pub filler_order_no: Option<String>,
    /// ORC-4 placer group number: the Rp number of a prescription.
    pub group_no: Option<String>,
    /// ORC-5 order status (`CM` completed, `CA` cancelled…).
    pub status: Option<String>,
    /// ORC-8 parent order number.
    pub parent_order_no: Option<String>,
    /// ORC-9 when the order was entered.
    pub ordered_at: Option<String>,
    /// ORC-10 who entered it.
    pub entered_by: Option<Person>,
    /// ORC-12 ordering doctor.
    pub ordering_doctor: Option<Person>,
    /// ORC-13 where it was entered (ward/clinic).
    pub location: Option<Location>,
    /// ORC-17 ordering department (`01^内科^99XY1`).
    pub department: Option<Coded>,
    /// ORC-21 ordering facility name.
    pub facility_name: Option<String>,
    /// ORC-29 order type (`O` outpatient, `I` inpatient).
    pub order_type: Option<Coded>,
}

impl Order {
    pub(crate) fn read(seg: &Segment<'_>) -> Order {
        Order {
            control: comp_of(seg, 1, 1).unwrap_or_default(),
            order_no: comp_of(seg, 2, 1).unwrap_or_default(),
            filler_order_no: comp_of(seg, 3, 1),
            group_no: comp_of(seg, 4, 1),
            status: field_opt(seg, 5),
            parent_order_no: comp_of(seg, 8, 1),
            ordered_at: field_opt(seg, 9),
            entered_by: Person::from_field(seg.field(10)),
            ordering_doctor: Person::from_field(seg.field(12)),
            location: Location::from_field(seg.field(13)),
            department: Coded::from_field(seg.field(17)),
            facility_name: comp_of(seg, 21, 1),
            order_type: Coded::from_field(seg.field(29)),
        }
    }

    /// Whether this ORC cancels the order: control `CA` (cancel), `OC` (cancelled by the
    /// filler), `CR` (cancelled as requested), or status `CA`.
    pub fn is_cancel(&self) -> bool {
        matches!(self.control.as_str(), "CA" | "OC" | "CR") || self.status.as_deref() == Some("CA")
    }
}

/// Timing (TQ1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub set_id: Option<String>,
    /// TQ1-2 quantity per administration.
    pub quantity: Option<Quantity>,
    /// TQ1-3 repeat pattern / usage (`JAMISDP01` usage code, `HL70335` like `TID`).
    pub usage: Vec<Coded>,
    /// TQ1-4 explicit times.
    pub explicit_times: Vec<String>,
    /// TQ1-6 service duration (`3^D&日&ISO+`).
    pub duration: Option<Quantity>,
    /// TQ1-7 start.
    pub start: Option<String>,
    /// TQ1-8 end.
    pub end: Option<String>,
    /// TQ1-9 priority (`R` routine…).
    pub priority: Option<Coded>,
    /// TQ1-10 condition text.
    pub condition: Option<String>,
    /// TQ1-11 free-text instruction.
    pub instruction: Option<String>,
    /// TQ1-13 occurrence duration: how long one administration lasts (an infusion over
    /// `2^H&時間&ISO+`).
    #[serde(default)]
    pub occurrence_duration: Option<Quantity>,
    /// TQ1-14 total occurrences.
    pub total_occurrences: Option<String>,
}

impl Timing {
    pub fn read(seg: &Segment<'_>) -> Timing {
        Timing {
            set_id: field_opt(seg, 1),
            quantity: Quantity::from_field(seg.field(2)),
            usage: seg
                .field(3)
                .repetitions()
                .filter_map(|r| Coded::from_subcomponents(r.component(1)))
                .collect(),
            explicit_times: field_values(seg.field(4)),
            duration: Quantity::from_field(seg.field(6)),
            start: field_opt(seg, 7),
            end: field_opt(seg, 8),
            priority: Coded::from_field(seg.field(9)),
            condition: field_opt(seg, 10),
            instruction: field_opt(seg, 11),
            occurrence_duration: Quantity::from_field(seg.field(13)),
            total_occurrences: field_opt(seg, 14),
        }
    }

    /// TQ1-6 in days, when the unit is days.
    pub fn days(&self) -> Option<u32> {
        self.duration.as_ref().and_then(Quantity::days)
    }
}

/// An observation request (OBR): the test, examination or battery asked for or reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationRequest {
    pub set_id: Option<String>,
    /// OBR-2 placer order number.
    pub order_no: Option<String>,
    /// OBR-3 filler order number.
    pub filler_order_no: Option<String>,
    /// OBR-4 test / procedure (JLAC10 for labs, JJ1017 for radiology).
    pub service: Option<Coded>,
    /// OBR-6 requested date/time.
    pub requested_at: Option<String>,
    /// OBR-7 observation (collection / examination) date/time.
    pub observed_at: Option<String>,
    /// OBR-8 observation end.
    pub observed_end: Option<String>,
    /// OBR-13 relevant clinical information.
    pub clinical_info: Option<String>,
    /// OBR-15 component 4: body site (for examinations).
    pub body_site: Option<String>,
    /// OBR-16 ordering doctor.
    pub ordering_doctor: Option<Person>,
    /// OBR-22 results reported / status changed.
    pub reported_at: Option<String>,
    /// OBR-24 diagnostic service section (`CT`, `RX`, `LAB`…).
    pub section: Option<String>,
    /// OBR-25 result status (`F` final, `P` preliminary, `C` corrected, `X` cancelled).
    pub result_status: Option<String>,
    /// OBR-26 parent result: component 2, the sub-ID (OBX-4) of the parent OBX — in
    /// microbiology, the organism a susceptibility panel belongs to.
    pub parent_sub_id: Option<String>,
    /// OBR-26 component 3: the parent result's value as text (the organism's name).
    pub parent_value: Option<String>,
    /// OBR-29 parent order number (for child examinations).
    pub parent_order_no: Option<String>,
    /// OBR-31 reason for study.
    pub reasons: Vec<Coded>,
    /// OBR-32 principal result interpreter.
    pub interpreter: Option<String>,
    /// OBR-34 technician.
    pub technician: Option<String>,
    /// OBR-36 scheduled date/time.
    pub scheduled_at: Option<String>,
}

impl ObservationRequest {
    pub(crate) fn read(seg: &Segment<'_>) -> ObservationRequest {
        ObservationRequest {
            set_id: field_opt(seg, 1),
            order_no: comp_of(seg, 2, 1),
            filler_order_no: comp_of(seg, 3, 1),
            service: Coded::from_field(seg.field(4)),
            requested_at: field_opt(seg, 6),
            observed_at: field_opt(seg, 7),
            observed_end: field_opt(seg, 8),
            clinical_info: field_opt(seg, 13),
            body_site: comp_of(seg, 15, 4),
            ordering_doctor: Person::from_field(seg.field(16)),
            reported_at: field_opt(seg, 22),
            section: field_opt(seg, 24),
            result_status: field_opt(seg, 25),
            parent_sub_id: comp_of(seg, 26, 2),
            parent_value: comp_of(seg, 26, 3),
            parent_order_no: comp_of(seg, 29, 1),
            reasons: Coded::all_from_field(seg.field(31)),
            interpreter: comp_of(seg, 32, 1).or_else(|| comp_of(seg, 32, 2)),
            technician: comp_of(seg, 34, 1).or_else(|| comp_of(seg, 34, 2)),
            scheduled_at: field_opt(seg, 36),
        }
    }
}

/// One result or observation (OBX).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub set_id: Option<String>,
    /// OBX-2 value type: `NM`, `ST`, `TX`, `FT`, `CWE`, `CE`, `SN`…
    pub value_type: String,
    /// OBX-3 what was observed (JLAC10 17 characters with system `JC10`, plus a local code).
    pub code: Option<Coded>,
    /// OBX-4 sub-ID.
    pub sub_id: Option<String>,
    /// OBX-5, one entry per repetition. For coded types (`CWE`, `CE`, `CNE`) the code of
    /// each repetition, or its text when it has no code (the full coded values are in
    /// `coded_values`); for other types the whole repetition text, unescaped.
    pub values: Vec<String>,
    /// OBX-5 repetitions as coded values when the value type is coded.
    pub coded_values: Vec<Coded>,
    /// OBX-5 is the explicit null `""`: the sender deletes the value.
    pub value_deleted: bool,
    /// OBX-6 unit.
    pub unit: Option<Coded>,
    /// OBX-7 reference range text (`6.7-8.3`).
    pub reference_range: Option<String>,
    /// OBX-8 abnormal flags (`H`, `L`, `N`, `A`…), every repetition.
    pub abnormal_flags: Vec<String>,
    /// OBX-11 result status (`F` final, `P` preliminary, `O` order only, `X` cancelled…).
    pub status: Option<String>,
    /// OBX-14 observation date/time.
    pub observed_at: Option<String>,
    /// OBX-16 responsible observer.
    pub observer: Option<Person>,
    /// NTE comments following this OBX.
    pub comments: Vec<String>,
}

impl Observation {
    pub(crate) fn read(seg: &Segment<'_>, d: &hl7::Delimiters) -> Observation {
        let value_type = field_opt(seg, 2).unwrap_or_default();
        let coded = matches!(value_type.as_str(), "CWE" | "CE" | "CNE" | "CF");
        let f5 = seg.field(5);
        let reps: Vec<Repetition<'_>> = f5.repetitions().filter(|r| !r.is_empty()).collect();
        let (values, coded_values) = if coded {
            let cv: Vec<Coded> = reps
                .iter()
                .filter_map(|r| Coded::from_repetition(*r))
                .collect();
            (
                cv.iter()
                    .map(|c| {
                        if c.code.is_empty() {
                            c.text.clone()
                        } else {
                            c.code.clone()
                        }
                    })
                    .collect(),
                cv,
            )
        } else {
            (
                reps.iter().map(|r| repetition_text(*r, d)).collect(),
                Vec::new(),
            )
        };
        Observation {
            set_id: field_opt(seg, 1),
            value_type,
            code: Coded::from_field(seg.field(3)),
            sub_id: field_opt(seg, 4),
            values,
            coded_values,
            value_deleted: f5.is_null(),
            unit: Coded::from_field(seg.field(6)),
            reference_range: field_opt(seg, 7),
            abnormal_flags: field_values(seg.field(8)),
            status: field_opt(seg, 11),
            observed_at: field_opt(seg, 14),
            observer: Person::from_field(seg.field(16)),
            comments: Vec::new(),
        }
    }

    /// The first value (`7.2`), or "" when none.
    pub fn value(&self) -> &str {
        self.values.first().map_or("", |s| s.as_str())
    }

    /// All repetitions joined by line feeds: report text sent as several TX repetitions.
    pub fn text(&self) -> String {
        self.values.join("\n")
    }

    /// The unit code or text (`g/dL`), "" when none.
    pub fn unit_text(&self) -> &str {
        self.unit.as_ref().map_or("", |u| {
            if u.code.is_empty() {
                u.text.as_str()
            } else {
                u.code.as_str()
            }
        })
    }
}

/// A specimen (SPM).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specimen {
    pub set_id: Option<String>,
    /// SPM-2 specimen ID.
    pub specimen_id: Option<String>,
    /// SPM-4 specimen type (JLAC10 material code, 3 digits, system `JC10`: `023^血清^JC10`).
    pub specimen_type: Option<Coded>,
    /// SPM-7 collection method.
    pub collection_method: Option<Coded>,
    /// SPM-8 source site.
    pub source_site: Option<Coded>,
    /// SPM-17 collection date/time (start of the range).
    pub collected_at: Option<String>,
    /// SPM-17 component 2: end of the collection range.
    pub collected_end: Option<String>,
    /// SPM-18 received date/time.
    pub received_at: Option<String>,
}

impl Specimen {
    pub(crate) fn read(seg: &Segment<'_>) -> Specimen {
        Specimen {
            set_id: field_opt(seg, 1),
            specimen_id: comp_of(seg, 2, 1),
            specimen_type: Coded::from_field(seg.field(4)),
            collection_method: Coded::from_field(seg.field(7)),
            source_site: Coded::from_field(seg.field(8)),
            collected_at: comp_of(seg, 17, 1),
            collected_end: comp_of(seg, 17, 2),
            received_at: field_opt(seg, 18),
        }
    }
}

/// Health insurance (IN1 in ADT-00, ZI1 in PPR-01: same layout).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insurance {
    pub set_id: Option<String>,
    /// IN1-2 insurance kind (JAHIS table `JHSD0001`: `67^国民健康保険退職者`).
    pub plan: Option<Coded>,
    /// IN1-3 insurer number (保険者番号).
    pub insurer_number: Option<String>,
    /// IN1-4 insurer name.
    pub insurer_name: Option<String>,
    /// IN1-10 card symbol (記号).
    pub symbol: Option<String>,
    /// IN1-11 card number (番号).
    pub number: Option<String>,
    /// IN1-12 valid from.
    pub valid_from: Option<String>,
    /// IN1-13 valid until.
    pub valid_until: Option<String>,
    /// IN1-15 plan type.
    pub plan_type: Option<String>,
    /// IN1-17 insured's relationship to the patient (`SEL` self…).
    pub relationship: Option<Coded>,
}

impl Insurance {
    pub(crate) fn read(seg: &Segment<'_>) -> Insurance {
        Insurance {
            set_id: field_opt(seg, 1),
            plan: Coded::from_field(seg.field(2)),
            insurer_number: comp_of(seg, 3, 1),
            insurer_name: comp_of(seg, 4, 1),
            symbol: comp_of(seg, 10, 1),
            number: comp_of(seg, 11, 1),
            valid_from: field_opt(seg, 12),
            valid_until: field_opt(seg, 13),
            plan_type: field_opt(seg, 15),
            relationship: Coded::from_field(seg.field(17)),
        }
    }
}

/// NTE-3 text; repetitions become lines.
pub(crate) fn comment(seg: &Segment<'_>, d: &hl7::Delimiters) -> String {
    seg.field(3)
        .repetitions()
        .map(|r| repetition_text(r, d))
        .collect::<Vec<_>>()
        .join("\n")
}
