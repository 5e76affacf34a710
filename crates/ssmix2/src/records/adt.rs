//! ADT kinds: demographics (ADT-00), attending doctor (ADT-01), encounters (ADT-12 … ADT-52)
//! and allergies (ADT-61).

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{
    comment, comp_of, comp_text, field_opt, field_values, Address, Coded, Insurance, Location,
    Names, Observation, Person, PersonName, Phone,
};
use crate::kinds::DataKind;

/// One patient identifier from PID-3.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientIdentifier {
    pub id: String,
    /// CX-4 assigning authority.
    pub assigning_authority: String,
    /// CX-5 identifier type (`PI` patient internal identifier).
    pub id_type: String,
}

/// A value with its unit (height, weight).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    pub value: String,
    pub unit: String,
}

/// Next of kin / contact person (NK1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextOfKin {
    pub set_id: Option<String>,
    /// NK1-2.
    pub names: Names,
    /// NK1-3 relationship (`SEL^本人^HL70063`, `SPO` spouse…).
    pub relationship: Option<Coded>,
    /// NK1-4.
    pub addresses: Vec<Address>,
    /// NK1-5.
    pub phones: Vec<Phone>,
    /// NK1-6.
    pub work_phones: Vec<Phone>,
    /// NK1-13 organization (employer).
    pub organization: Option<String>,
}

/// An allergy in the short AL1 form sent with demographics (ADT-00).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllergySummary {
    pub set_id: Option<String>,
    /// AL1-2 allergen type (`DA` drug, `FA` food…).
    pub allergen_type: Option<Coded>,
    /// AL1-3 allergen.
    pub allergen: Option<Coded>,
    /// AL1-4 severity.
    pub severity: Option<Coded>,
    /// AL1-5 reactions.
    pub reactions: Vec<String>,
    /// AL1-6 identification date.
    pub identified: Option<String>,
}

/// ADT-00 patient demographics (ADT^A08; ADT^A23 deletes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// PID-3, every repetition.
    pub ids: Vec<PatientIdentifier>,
    /// PID-5 `^L^I` (kanji) name.
    pub kanji_name: Option<PersonName>,
    /// PID-5 `^L^P` (kana) name.
    pub kana_name: Option<PersonName>,
    /// Other PID-5 repetitions.
    pub other_names: Vec<PersonName>,
    /// PID-7.
    pub birth_date: Option<String>,
    /// PID-8: `M`, `F`, `O`, `U`.
    pub sex: Option<String>,
    /// PID-11.
    pub addresses: Vec<Address>,
    /// PID-13 (home, emergency…).
    pub home_phones: Vec<Phone>,
    /// PID-14.
    pub work_phones: Vec<Phone>,
    /// PID-29 date of death.
    pub death_date: Option<String>,
    /// PID-30 death indicator (`Y`/`N`).
    pub deceased: Option<String>,
    /// PID-33 last update of the demographics.
    pub last_updated: Option<String>,
    /// NK1 segments.
    pub next_of_kin: Vec<NextOfKin>,
    /// PV1-2 patient class at the time of the update (`I`, `O`), when PV1 is sent.
    pub patient_class: Option<String>,
    /// OBX height (JLAC10 `9N001…` or 身長).
    pub height: Option<Measurement>,
    /// OBX weight (JLAC10 `9N006…` or 体重).
    pub weight: Option<Measurement>,
    /// OBX blood type ABO (JLAC10 `5H010…`): `A`, `B`, `O`, `AB`.
    pub blood_type_abo: Option<String>,
    /// OBX blood type Rh(D) (JLAC10 `5H020…`): as coded by the sender (`+`, `-`, `P`, `N`).
    pub blood_type_rh: Option<String>,
    /// Every OBX, including the ones above.
    pub observations: Vec<Observation>,
    /// AL1 segments.
    pub allergies: Vec<AllergySummary>,
    /// IN1 segments.
    pub insurances: Vec<Insurance>,
    /// NTE comments not following an OBX.
    pub comments: Vec<String>,
}

impl Patient {
    pub(crate) fn read(msg: &Message) -> Patient {
        let d = msg.delimiters();
        let mut p = Patient::default();
        if let Some(pid) = msg.segment("PID") {
            p.ids = pid
                .field(3)
                .repetitions()
                .filter(|r| !r.is_empty())
                .map(|r| PatientIdentifier {
                    id: comp_text(r.component(1)),
                    assigning_authority: comp_text(r.component(4)),
                    id_type: comp_text(r.component(5)),
                })
                .collect();
            let names = Names::from_field(pid.field(5));
            p.kanji_name = names.kanji;
            p.kana_name = names.kana;
            p.other_names = names.others;
            p.birth_date = field_opt(&pid, 7);
            p.sex = field_opt(&pid, 8);
            p.addresses = Address::all_from_field(pid.field(11));
            p.home_phones = Phone::all_from_field(pid.field(13));
            p.work_phones = Phone::all_from_field(pid.field(14));
            p.death_date = field_opt(&pid, 29);
            p.deceased = field_opt(&pid, 30);
            p.last_updated = field_opt(&pid, 33);
        }
        p.patient_class = msg.segment("PV1").and_then(|s| field_opt(&s, 2));
        // NTE belongs to the OBX right before it; other NTEs are general comments.
        let mut after_obx = false;
        for seg in msg.segments() {
            match seg.name() {
                "NK1" => p.next_of_kin.push(NextOfKin {
                    set_id: field_opt(&seg, 1),
                    names: Names::from_field(seg.field(2)),
                    relationship: Coded::from_field(seg.field(3)),
                    addresses: Address::all_from_field(seg.field(4)),
                    phones: Phone::all_from_field(seg.field(5)),
                    work_phones: Phone::all_from_field(seg.field(6)),
                    organization: comp_of(&seg, 13, 1),
                }),
                "OBX" => p.observations.push(Observation::read(&seg, d)),
                "AL1" => p.allergies.push(AllergySummary {
                    set_id: field_opt(&seg, 1),
                    allergen_type: Coded::from_field(seg.field(2)),
                    allergen: Coded::from_field(seg.field(3)),
                    severity: Coded::from_field(seg.field(4)),
                    reactions: field_values(seg.field(5)),
                    identified: field_opt(&seg, 6),
                }),
                "IN1" => p.insurances.push(Insurance::read(&seg)),
                "NTE" => {
                    let text = comment(&seg, d);
                    match p.observations.last_mut() {
                        Some(obx) if after_obx => obx.comments.push(text),
                        _ => p.comments.push(text),
                    }
                }
                _ => {}
            }
            if seg.name() != "NTE" {
                after_obx = seg.name() == "OBX";
            }
        }
        for obx in &p.observations {
            let code = obx.code.as_ref();
            let jlac = code.and_then(|c| c.jlac10()).unwrap_or("");
            let text = code.map_or("", |c| c.display());
            let measurement = || Measurement {
                value: obx.value().to_owned(),
                unit: obx.unit_text().to_owned(),
            };
            if jlac.starts_with("9N001") || text.contains("身長") {
                p.height.get_or_insert_with(measurement);
            } else if jlac.starts_with("9N006") || text.contains("体重") {
                p.weight.get_or_insert_with(measurement);
            } else if jlac.starts_with("5H010") || text.contains("ABO") {
                p.blood_type_abo
                    .get_or_insert_with(|| obx.value().to_owned());
            } else if jlac.starts_with("5H020") || text.contains("Rh") {
                p.blood_type_rh
                    .get_or_insert_with(|| obx.value().to_owned());
            }
        }
        p
    }

    /// The ID with type `PI`, else the first one.
    pub fn patient_id(&self) -> Option<&str> {
        self.ids
            .iter()
            .find(|i| i.id_type == "PI")
            .or_else(|| self.ids.first())
            .map(|i| i.id.as_str())
    }
}

/// A role (ROL): who takes care of the patient, from when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// ROL-1 role instance ID.
    pub instance_id: Option<String>,
    /// ROL-2 action (`AD` add, `UP` update, `DE` delete, `UC` unchanged).
    pub action: Option<String>,
    /// ROL-3 role (`AT` attending…).
    pub role: Option<Coded>,
    /// ROL-4 people.
    pub persons: Vec<Person>,
    /// ROL-5 start.
    pub start: Option<String>,
    /// ROL-6 end.
    pub end: Option<String>,
    /// ROL-9 department/provider type.
    pub department: Option<Coded>,
}

/// ADT-01 attending doctor change (ADT^A54; ADT^A55 cancels).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attending {
    /// MSH-9 event (`A54`, `A55`).
    pub event_type: String,
    /// EVN-6 when the change happened.
    pub occurred_at: Option<String>,
    /// ROL segments.
    pub roles: Vec<Role>,
    /// PV1-7 attending doctors.
    pub attending_doctors: Vec<Person>,
    /// PV1-2.
    pub patient_class: Option<String>,
    /// PV1-3.
    pub location: Option<Location>,
    /// PV1-10 department (hospital service).
    pub department: Option<String>,
    /// A55: the change is cancelled.
    pub cancelled: bool,
}

impl Attending {
    pub(crate) fn read(msg: &Message) -> Attending {
        let message_type = msg.message_type();
        let pv1 = msg.segment("PV1");
        Attending {
            event_type: event_of(&message_type),
            occurred_at: msg.segment("EVN").and_then(|s| field_opt(&s, 6)),
            roles: msg
                .segments_named("ROL")
                .map(|s| Role {
                    instance_id: comp_of(&s, 1, 1),
                    action: field_opt(&s, 2),
                    role: Coded::from_field(s.field(3)),
                    persons: Person::all_from_field(s.field(4)),
                    start: field_opt(&s, 5),
                    end: field_opt(&s, 6),
                    department: Coded::from_field(s.field(9)),
                })
                .collect(),
            attending_doctors: pv1
                .map(|s| Person::all_from_field(s.field(7)))
                .unwrap_or_default(),
            patient_class: pv1.and_then(|s| field_opt(&s, 2)),
            location: pv1.and_then(|s| Location::from_field(s.field(3))),
            department: pv1.and_then(|s| field_opt(&s, 10)),
            cancelled: DataKind::is_cancel_event(&message_type),
        }
    }

    /// The current attending doctors: ROL people when sent, else PV1-7.
    pub fn doctors(&self) -> Vec<&Person> {
        let from_roles: Vec<&Person> = self
            .roles
            .iter()
            .filter(|r| r.action.as_deref() != Some("DE"))
            .flat_map(|r| &r.persons)
            .collect();
        if from_roles.is_empty() {
            self.attending_doctors.iter().collect()
        } else {
            from_roles
        }
    }
}

/// The event an ADT cancel event cancels (`A11` → `A01`), `None` for other events.
pub fn cancelled_event(event: &str) -> Option<&'static str> {
    Some(match event {
        "A11" => "A01",
        "A12" => "A02",
        "A13" => "A03",
        "A23" => "A08",
        "A25" => "A16",
        "A26" => "A15",
        "A27" => "A14",
        "A52" => "A21",
        "A53" => "A22",
        "A55" => "A54",
        _ => return None,
    })
}

fn event_of(message_type: &str) -> String {
    message_type.split('^').nth(1).unwrap_or("").to_owned()
}

/// ADT-12 … ADT-52: outpatient visit, admission (planned/done), leave and return, transfer
/// (planned/done), discharge (planned/done), and their cancellations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encounter {
    /// MSH-9 event (`A01`, `A11`…).
    pub event_type: String,
    /// EVN-2 when the event was recorded.
    pub recorded_at: Option<String>,
    /// EVN-6 when the event happened.
    pub occurred_at: Option<String>,
    /// PV1-2 patient class (`I` inpatient, `O` outpatient, `E` emergency).
    pub patient_class: Option<String>,
    /// PV1-3 current (or new) location: ward/room/bed, or clinic for outpatients.
    pub location: Option<Location>,
    /// PV1-4 admission type.
    pub admission_type: Option<String>,
    /// PV1-6 prior location (transfers).
    pub prior_location: Option<Location>,
    /// PV1-7 attending doctors.
    pub attending_doctors: Vec<Person>,
    /// PV1-8 referring doctors.
    pub referring_doctors: Vec<Person>,
    /// PV1-10 department (hospital service, table 0069).
    pub department: Option<String>,
    /// PV1-10 component 2: the department's name when the sender gives it.
    #[serde(default)]
    pub department_text: Option<String>,
    /// PV1-14 admit source.
    pub admit_source: Option<String>,
    /// PV1-19 visit number.
    pub visit_number: Option<String>,
    /// PV1-36 discharge disposition.
    pub discharge_disposition: Option<String>,
    /// PV1-36 component 2: the disposition's text when the sender gives it.
    #[serde(default)]
    pub discharge_disposition_text: Option<String>,
    /// PV1-44 admit / visit date-time.
    pub admitted_at: Option<String>,
    /// PV1-45 discharge date-time.
    pub discharged_at: Option<String>,
    /// PV2-3 admit reason.
    pub admit_reason: Option<Coded>,
    /// PV2-8 expected admit date (planned admissions and transfers).
    pub expected_admit_at: Option<String>,
    /// PV2-9 expected discharge date.
    pub expected_discharge_at: Option<String>,
    /// The message is a cancel event (A11, A12, A13, A25, A26, A27, A52, A53).
    pub cancelled: bool,
}

impl Encounter {
    pub(crate) fn read(msg: &Message) -> Encounter {
        let message_type = msg.message_type();
        let mut e = Encounter {
            event_type: event_of(&message_type),
            cancelled: DataKind::is_cancel_event(&message_type),
            ..Encounter::default()
        };
        if let Some(evn) = msg.segment("EVN") {
            e.recorded_at = field_opt(&evn, 2);
            e.occurred_at = field_opt(&evn, 6);
        }
        if let Some(pv1) = msg.segment("PV1") {
            e.patient_class = field_opt(&pv1, 2);
            e.location = Location::from_field(pv1.field(3));
            e.admission_type = field_opt(&pv1, 4);
            e.prior_location = Location::from_field(pv1.field(6));
            e.attending_doctors = Person::all_from_field(pv1.field(7));
            e.referring_doctors = Person::all_from_field(pv1.field(8));
            e.department = field_opt(&pv1, 10);
            e.department_text = comp_of(&pv1, 10, 2);
            e.admit_source = field_opt(&pv1, 14);
            e.visit_number = comp_of(&pv1, 19, 1);
            e.discharge_disposition = field_opt(&pv1, 36);
            e.discharge_disposition_text = comp_of(&pv1, 36, 2);
            e.admitted_at = field_opt(&pv1, 44);
            e.discharged_at = field_opt(&pv1, 45);
        }
        if let Some(pv2) = msg.segment("PV2") {
            e.admit_reason = Coded::from_field(pv2.field(3));
            e.expected_admit_at = field_opt(&pv2, 8);
            e.expected_discharge_at = field_opt(&pv2, 9);
        }
        e
    }
}

/// One allergy or intolerance (IAM).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allergy {
    pub set_id: Option<String>,
    /// IAM-2 allergen type (`DA` drug, `FA` food, `EA` environmental, `LA` pollen…).
    pub allergen_type: Option<Coded>,
    /// IAM-3 allergen: HOT code for drugs, JLAC10/JFAGY or local codes for others.
    pub allergen: Option<Coded>,
    /// IAM-4 severity (`SV` severe, `MO` moderate, `MI` mild).
    pub severity: Option<Coded>,
    /// IAM-5 reactions, every repetition.
    pub reactions: Vec<String>,
    /// IAM-6 action (`A` add, `U` update, `D` delete, `X` no change).
    pub action: Option<Coded>,
    /// IAM-7 unique identifier of the allergy entry.
    pub entry_id: Option<String>,
    /// IAM-11 onset date (may be partial, `199601`).
    pub onset: Option<String>,
    /// IAM-12 onset as text (`小学校低学年の頃`).
    pub onset_text: Option<String>,
    /// IAM-13 reported date-time.
    pub reported_at: Option<String>,
    /// IAM-14 reported by.
    pub reported_by: Option<Person>,
    /// IAM-17 clinician-reported status.
    pub clinical_status: Option<Coded>,
    /// NTE comments following this IAM.
    pub comments: Vec<String>,
}

impl Allergy {
    /// The action code (`A`, `U`, `D`, `X`), "" when not sent.
    pub fn action_code(&self) -> &str {
        self.action.as_ref().map_or("", |a| a.code.as_str())
    }
}

/// ADT-61 allergies (ADT^A60, IAM segments).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allergies {
    pub entries: Vec<Allergy>,
    /// NTE comments before the first IAM.
    pub comments: Vec<String>,
}

impl Allergies {
    pub(crate) fn read(msg: &Message) -> Allergies {
        let d = msg.delimiters();
        let mut out = Allergies::default();
        for seg in msg.segments() {
            match seg.name() {
                "IAM" => out.entries.push(Allergy {
                    set_id: field_opt(&seg, 1),
                    allergen_type: Coded::from_field(seg.field(2)),
                    allergen: Coded::from_field(seg.field(3)),
                    severity: Coded::from_field(seg.field(4)),
                    reactions: field_values(seg.field(5)),
                    action: Coded::from_field(seg.field(6)),
                    entry_id: comp_of(&seg, 7, 1),
                    onset: field_opt(&seg, 11),
                    onset_text: field_opt(&seg, 12),
                    reported_at: field_opt(&seg, 13),
                    reported_by: Person::from_field(seg.field(14)),
                    clinical_status: Coded::from_field(seg.field(17)),
                    comments: Vec::new(),
                }),
                "NTE" => match out.entries.last_mut() {
                    Some(a) => a.comments.push(comment(&seg, d)),
                    None => out.comments.push(comment(&seg, d)),
                },
                _ => {}
            }
        }
        out
    }
}
