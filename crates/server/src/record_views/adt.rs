//! ADT: demographics (ADT-00), attending doctor (ADT-01), visits / admissions / transfers /
//! discharges, planned or done (ADT-12…52), allergies (ADT-61) — as a clinician reads them.
//! Dates in JST at the precision sent; codes shown next to their text; a cancel message is
//! said to be one, never shown as the event it names.

use askama::Template;
use ssmix2::departments::department_label;
use ssmix2::records::adt::cancelled_event;
use ssmix2::records::*;

use super::{view, ViewContext};
use crate::html::{show_date, show_time};
use service::ServiceError;

/// A label (Japanese, with English alongside) and its value, shown as a definition list.
pub(crate) struct Item {
    pub ja: &'static str,
    pub en: &'static str,
    pub value: String,
}

impl Item {
    /// From a label written `日本語 (english)`.
    fn new(label: &'static str, value: String) -> Item {
        let (ja, en) = label
            .split_once(" (")
            .map_or((label, ""), |(ja, en)| (ja, en.trim_end_matches(')')));
        Item { ja, en, value }
    }
}

fn items(pairs: Vec<(&'static str, String)>) -> Vec<Item> {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(label, value)| Item::new(label, value))
        .collect()
}

fn time(o: &Option<String>) -> String {
    o.as_deref()
        .filter(|t| !t.is_empty())
        .map(show_time)
        .unwrap_or_default()
}

fn date(o: &Option<String>) -> String {
    o.as_deref()
        .filter(|t| !t.is_empty())
        .map(show_date)
        .unwrap_or_default()
}

fn s(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

/// Text with its code and coding system: `ペニシリン [1 99XYZ]`; both triples when sent.
pub(crate) fn coded(c: &Option<Coded>) -> String {
    let Some(c) = c else {
        return String::new();
    };
    let one = |code: &str, text: &str, system: &str| -> String {
        let tag = [code, system]
            .iter()
            .filter(|x| !x.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        match (text.is_empty(), tag.is_empty()) {
            (true, _) => tag,
            (false, true) => text.to_owned(),
            (false, false) => format!("{text} [{tag}]"),
        }
    };
    let first = one(&c.code, &c.text, &c.system);
    let second = one(&c.alt_code, &c.alt_text, &c.alt_system);
    match (first.is_empty(), second.is_empty()) {
        (_, true) => first,
        (true, false) => second,
        (false, false) => format!("{first} / {second}"),
    }
}

/// Text only (code when no text).
fn text(c: &Option<Coded>) -> String {
    c.as_ref()
        .map(|c| c.display().to_owned())
        .unwrap_or_default()
}

fn person(p: &Person) -> String {
    let name = p.display();
    if p.id.is_empty() || name == p.id {
        name
    } else {
        format!("{name} ({})", p.id)
    }
}

fn persons(ps: &[Person]) -> String {
    ps.iter().map(person).collect::<Vec<_>>().join("、")
}

fn person_name(n: &Option<PersonName>) -> String {
    n.as_ref().map(PersonName::full).unwrap_or_default()
}

fn place(l: &Option<Location>) -> String {
    let Some(l) = l else {
        return String::new();
    };
    if l.location_type == "C" && l.room.is_empty() {
        // Outpatients: the clinic (department code) in the first component.
        return format!("外来 {}", department_label(&l.point_of_care, ""));
    }
    crate::summary_adt::place(&l.point_of_care, &l.room, &l.bed)
}

fn sex(code: &str) -> &'static str {
    match code {
        "M" => "男 (male)",
        "F" => "女 (female)",
        "O" => "その他 (other)",
        "U" => "不明 (unknown)",
        _ => "",
    }
}

fn phone_use(code: &str) -> &'static str {
    match code {
        "PRN" => "自宅 (home)",
        "WPN" => "勤務先 (work)",
        "EMR" => "緊急連絡先 (emergency)",
        "ORN" => "その他 (other)",
        "NET" => "メール (e-mail)",
        _ => "",
    }
}

fn phones(ps: &[Phone]) -> Vec<String> {
    ps.iter()
        .filter(|p| !p.number.is_empty())
        .map(|p| {
            let u = phone_use(&p.use_code);
            if u.is_empty() {
                p.number.clone()
            } else {
                format!("{} {u}", p.number)
            }
        })
        .collect()
}

fn address(a: &Address) -> String {
    [a.zip.as_str(), a.text.as_str()]
        .iter()
        .filter(|x| !x.is_empty())
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The label of an ADT event.
pub(crate) fn event_label(event: &str) -> String {
    let base = |e: &str| -> &'static str {
        match e {
            "A01" => "入院 (admission)",
            "A02" => "転棟・転科 (transfer)",
            "A03" => "退院 (discharge)",
            "A04" => "外来受診 (outpatient visit)",
            "A08" => "患者基本情報 (demographics)",
            "A14" => "入院予定 (planned admission)",
            "A15" => "転棟予定 (planned transfer)",
            "A16" => "退院予定 (planned discharge)",
            "A21" => "外出・外泊 (leave of absence)",
            "A22" => "外出・外泊からの帰院 (return from leave)",
            "A54" => "担当医変更 (attending doctor change)",
            _ => "",
        }
    };
    match cancelled_event(event) {
        Some(target) => format!("{} の取消 (cancel) — {event}", base(target)),
        None => {
            let b = base(event);
            if b.is_empty() {
                event.to_owned()
            } else {
                format!("{b} — {event}")
            }
        }
    }
}

fn patient_class(code: &str) -> String {
    match code {
        "I" => "入院 (inpatient) I".into(),
        "O" => "外来 (outpatient) O".into(),
        "E" => "救急 (emergency) E".into(),
        other => other.to_owned(),
    }
}

pub(crate) struct AllergyRow {
    pub kind: String,
    pub allergen: String,
    pub severity: String,
    pub reactions: String,
    pub when: String,
    pub note: String,
    pub deleted: bool,
}

pub(crate) struct ContactRow {
    pub name: String,
    pub relationship: String,
    pub phones: String,
    pub address: String,
}

pub(crate) struct PatientView {
    pub facts: Vec<Item>,
    pub body: Vec<Item>,
    pub contacts: Vec<ContactRow>,
    pub allergies: Vec<AllergyRow>,
    pub comments: Vec<String>,
}

pub(crate) struct EncounterView {
    pub title: String,
    pub cancel: bool,
    pub facts: Vec<Item>,
}

pub(crate) struct AttendingView {
    pub title: String,
    pub cancel: bool,
    pub facts: Vec<Item>,
    pub roles: Vec<Item>,
}

pub(crate) enum AdtBody {
    Patient(PatientView),
    Encounter(EncounterView),
    Attending(AttendingView),
    Allergies(Vec<AllergyRow>, Vec<String>),
}

#[derive(Template)]
#[template(path = "records/adt.html")]
struct AdtTemplate {
    body: AdtBody,
}

/// The blood type as sent: ABO and Rh(D) with the sender's text when it differs.
fn blood(p: &Patient) -> String {
    let coded_text = |jlac: &str| -> String {
        p.observations
            .iter()
            .find(|o| {
                o.code
                    .as_ref()
                    .and_then(|c| c.jlac10())
                    .is_some_and(|c| c.starts_with(jlac))
            })
            .and_then(|o| o.coded_values.first())
            .map(|c| c.text.clone())
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    if let Some(abo) = p.blood_type_abo.as_deref().filter(|v| !v.is_empty()) {
        parts.push(format!("ABO {abo}"));
    }
    if let Some(rh) = p.blood_type_rh.as_deref().filter(|v| !v.is_empty()) {
        let t = coded_text("5H020");
        if t.is_empty() || t == rh {
            parts.push(format!("Rh {rh}"));
        } else {
            parts.push(format!("{t} ({rh})"));
        }
    }
    parts.join(" · ")
}

fn measurement(m: &Option<Measurement>) -> String {
    m.as_ref()
        .filter(|m| !m.value.is_empty())
        .map(|m| format!("{} {}", m.value, m.unit).trim().to_owned())
        .unwrap_or_default()
}

pub(super) fn patient(
    _header: &Header,
    p: &Patient,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let emergency_phones: Vec<String> = phones(
        &p.home_phones
            .iter()
            .filter(|ph| ph.use_code == "EMR")
            .cloned()
            .collect::<Vec<_>>(),
    );
    let mut contacts: Vec<ContactRow> = p
        .next_of_kin
        .iter()
        .map(|k| ContactRow {
            name: [person_name(&k.names.kanji), person_name(&k.names.kana)]
                .iter()
                .filter(|x| !x.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" / "),
            relationship: text(&k.relationship),
            phones: phones(&k.phones)
                .into_iter()
                .chain(phones(&k.work_phones))
                .collect::<Vec<_>>()
                .join("、"),
            address: k.addresses.first().map(address).unwrap_or_default(),
        })
        .collect();
    if !emergency_phones.is_empty() {
        contacts.push(ContactRow {
            name: "(患者の緊急連絡先 patient's emergency number)".into(),
            relationship: String::new(),
            phones: emergency_phones.join("、"),
            address: String::new(),
        });
    }
    let facts = items(vec![
        ("氏名 (name)", person_name(&p.kanji_name)),
        ("カナ (kana)", person_name(&p.kana_name)),
        ("患者ID (ID)", p.patient_id().unwrap_or("").to_owned()),
        ("生年月日 (birth)", date(&p.birth_date)),
        ("性別 (sex)", sex(p.sex.as_deref().unwrap_or("")).to_owned()),
        (
            "住所 (address)",
            p.addresses.first().map(address).unwrap_or_default(),
        ),
        (
            "電話 (phone)",
            phones(&p.home_phones)
                .into_iter()
                .chain(phones(&p.work_phones))
                .collect::<Vec<_>>()
                .join("、"),
        ),
        ("死亡日 (date of death)", date(&p.death_date)),
        (
            "患者区分 (class)",
            p.patient_class
                .as_deref()
                .map(patient_class)
                .unwrap_or_default(),
        ),
        (
            "保険 (insurance)",
            p.insurances
                .iter()
                .map(|i| text(&i.plan))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join("、"),
        ),
        ("最終更新 (last updated)", time(&p.last_updated)),
    ]);
    let body = items(vec![
        ("身長 (height)", measurement(&p.height)),
        ("体重 (weight)", measurement(&p.weight)),
        ("血液型 (blood type)", blood(p)),
    ]);
    let allergies = p
        .allergies
        .iter()
        .filter(|a| a.allergen.as_ref().is_some_and(|c| !c.is_empty()))
        .map(|a| AllergyRow {
            kind: text(&a.allergen_type),
            allergen: coded(&a.allergen),
            severity: text(&a.severity),
            reactions: a.reactions.join("、"),
            when: date(&a.identified),
            note: String::new(),
            deleted: false,
        })
        .collect();
    view(&AdtTemplate {
        body: AdtBody::Patient(PatientView {
            facts,
            body,
            contacts,
            allergies,
            // Comments on an observation (NTE after OBX) name the observation they follow.
            comments: p
                .observations
                .iter()
                .flat_map(|o| {
                    let name = text(&o.code);
                    o.comments.iter().map(move |c| format!("{name}: {c}"))
                })
                .chain(p.comments.iter().cloned())
                .collect(),
        }),
    })
}

pub(super) fn attending(
    _header: &Header,
    a: &Attending,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let doctors: Vec<String> = a.doctors().into_iter().map(person).collect();
    let facts = items(vec![
        ("日時 (when)", time(&a.occurred_at)),
        ("担当医 (attending)", doctors.join("、")),
        (
            "診療科 (department)",
            a.department
                .as_deref()
                .map(|d| department_label(d, ""))
                .unwrap_or_default(),
        ),
        ("場所 (location)", place(&a.location)),
        (
            "患者区分 (class)",
            a.patient_class
                .as_deref()
                .map(patient_class)
                .unwrap_or_default(),
        ),
    ]);
    let roles = a
        .roles
        .iter()
        .map(|r| {
            Item::new(
                if r.action.as_deref() == Some("DE") {
                    "削除された役割 (role removed)"
                } else {
                    "役割 (role)"
                },
                format!(
                    "{} {} {}{}{}",
                    text(&r.role),
                    persons(&r.persons),
                    r.department
                        .as_ref()
                        .map(|d| department_label(&d.code, &d.text))
                        .unwrap_or_default(),
                    if r.start.is_some() {
                        format!(" {}〜", time(&r.start))
                    } else {
                        String::new()
                    },
                    time(&r.end)
                )
                .trim()
                .to_owned(),
            )
        })
        .collect();
    view(&AdtTemplate {
        body: AdtBody::Attending(AttendingView {
            title: event_label(&a.event_type),
            cancel: a.cancelled,
            facts,
            roles,
        }),
    })
}

pub(super) fn encounter(
    _header: &Header,
    e: &Encounter,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let department = e
        .department
        .as_deref()
        .map(|d| department_label(d, e.department_text.as_deref().unwrap_or("")))
        .unwrap_or_default();
    let facts = items(vec![
        ("発生日時 (occurred)", time(&e.occurred_at)),
        ("入院日時 (admitted)", time(&e.admitted_at)),
        ("退院日時 (discharged)", time(&e.discharged_at)),
        (
            "入院予定日 (expected admission)",
            time(&e.expected_admit_at),
        ),
        (
            "退院予定日 (expected discharge)",
            time(&e.expected_discharge_at),
        ),
        ("場所 (ward · room · bed)", place(&e.location)),
        ("移動前 (from)", place(&e.prior_location)),
        ("診療科 (department)", department),
        ("主治医 (attending)", persons(&e.attending_doctors)),
        ("紹介医 (referring)", persons(&e.referring_doctors)),
        (
            "患者区分 (class)",
            e.patient_class
                .as_deref()
                .map(patient_class)
                .unwrap_or_default(),
        ),
        ("入院区分 (admission type)", s(&e.admission_type)),
        ("入院経路 (admit source)", s(&e.admit_source)),
        ("入院理由 (reason)", text(&e.admit_reason)),
        (
            "転帰 (discharge disposition)",
            crate::summary_adt::disposition(
                e.discharge_disposition.as_deref().unwrap_or(""),
                e.discharge_disposition_text.as_deref().unwrap_or(""),
            ),
        ),
        ("来院番号 (visit no.)", s(&e.visit_number)),
        ("記録日時 (recorded)", time(&e.recorded_at)),
    ]);
    view(&AdtTemplate {
        body: AdtBody::Encounter(EncounterView {
            title: event_label(&e.event_type),
            cancel: e.cancelled,
            facts,
        }),
    })
}

pub(super) fn allergies(
    _header: &Header,
    a: &Allergies,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let rows = a
        .entries
        .iter()
        .map(|e| {
            let mut note = Vec::new();
            if let Some(t) = e.onset_text.as_deref().filter(|t| !t.is_empty()) {
                note.push(format!("発症 (onset) {t}"));
            }
            if e.reported_at.is_some() {
                note.push(format!("報告 (reported) {}", time(&e.reported_at)));
            }
            if let Some(p) = &e.reported_by {
                note.push(format!("報告者 (by) {}", person(p)));
            }
            let status = text(&e.clinical_status);
            if !status.is_empty() {
                note.push(format!("状態 (status) {status}"));
            }
            note.extend(e.comments.iter().cloned());
            AllergyRow {
                kind: text(&e.allergen_type),
                allergen: coded(&e.allergen),
                severity: text(&e.severity),
                reactions: e.reactions.join("、"),
                when: date(&e.onset),
                note: note.join(" · "),
                deleted: e.action_code() == "D",
            }
        })
        .collect();
    view(&AdtTemplate {
        body: AdtBody::Allergies(rows, a.comments.clone()),
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use ssmix2::DataKind;

    /// The clinical view of a crates/ssmix2 fixture, after `edit` on its text.
    pub(crate) fn view_of(kind: DataKind, edit: &dyn Fn(String) -> String) -> String {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{}.hl7",
            env!("CARGO_MANIFEST_DIR"),
            kind.code()
        );
        let text = edit(std::fs::read_to_string(path).expect("fixture")).replace('\n', "\r");
        let msg = hl7::Message::parse(&text).expect("parses");
        let record = read_record(kind, &msg).expect("reads");
        super::super::clinical_view(&record, &ViewContext { today: "20260401" })
            .expect("renders")
            .expect("has a view")
    }

    #[test]
    fn demographics_show_body_blood_contacts_and_al1_allergies() {
        let html = view_of(DataKind::Adt00, &|t| t);
        for want in [
            "患者\u{3000}太郎",
            "1948-04-05",
            "男 (male)",
            "167.8 cm",
            "63.5 kg",
            "ABO A",
            "Rh(+) (+)",
            "配偶者",
            "054-000-0001",
            "03-5999-9999 緊急連絡先 (emergency)",
            "ペニシリン [1 99XYZ]",
            "薬剤アレルギー",
            "輸血歴あり",
            "2011-12-19 12:15",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
    }

    #[test]
    fn stay_events_show_times_places_doctor_and_disposition() {
        let html = view_of(DataKind::Adt22, &|t| t);
        for want in [
            "入院 (admission) — A01",
            "2011-11-20 10:00",
            "病棟 32 302号室 ベッド 1",
            "01 内科",
            "医師",
            "肺炎治療のため",
            "V0001",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        let html = view_of(DataKind::Adt42, &|t| t);
        assert!(html.contains("転棟・転科 (transfer) — A02"), "{html}");
        assert!(html.contains("病棟 35 501号室 ベッド 2"), "{html}");
        assert!(
            html.contains("移動前 <span class=\"en\">from</span>")
                && html.contains("病棟 32 302号室 ベッド 1"),
            "{html}"
        );
        assert!(html.contains("02 精神科"), "{html}");
        let html = view_of(DataKind::Adt52, &|t| {
            t.replace(
                "|01||||||||20111120100000|",
                "|01^自宅^HL70112||||||||20111120100000|",
            )
        });
        assert!(html.contains("自宅 (01)"), "{html}");
        assert!(html.contains("01 内科"), "{html}");
        assert!(html.contains("2011-12-28 11:00"), "{html}");
        // Planned: the expected dates; a zone is converted to JST.
        let html = view_of(DataKind::Adt21, &|t| {
            t.replace("|20111120|20111205", "|20111119160000+0000|20111205")
        });
        assert!(html.contains("入院予定 (planned admission)"), "{html}");
        assert!(html.contains("2011-11-20 01:00"), "{html}");
        assert!(html.contains("2011-12-05"), "{html}");
    }

    /// Issue 14 fault 4 on the record page: a cancel message says it is one.
    #[test]
    fn a_cancel_message_is_not_shown_as_the_event() {
        let html = view_of(DataKind::Adt22, &|t| {
            t.replace("ADT^A01^ADT_A01", "ADT^A11^ADT_A09")
        });
        assert!(
            html.contains("入院 (admission) の取消 (cancel) — A11"),
            "{html}"
        );
        assert!(html.contains("取消メッセージです"), "{html}");
    }

    #[test]
    fn allergies_show_codes_onset_text_and_comments() {
        let html = view_of(DataKind::Adt61, &|t| t);
        for want in [
            "スギ [5A1002216023023 JC10]",
            "アリナミン [106824501 HOT9]",
            "軽度",
            "目のかゆみ、くしゃみ",
            "1996-01",
            "小学校低学年の頃",
            "服用中止で軽快",
            "2007-07-10",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        let html = view_of(DataKind::Adt61, &|t| {
            t.replace("|A^追加^HL70323|||||199601", "|D^削除^HL70323|||||199601")
        });
        assert!(html.contains("削除 (deleted)"), "{html}");
    }

    #[test]
    fn attending_change_shows_the_doctors() {
        let html = view_of(DataKind::Adt01, &|t| t);
        assert!(
            html.contains("担当医変更 (attending doctor change)"),
            "{html}"
        );
    }
}
