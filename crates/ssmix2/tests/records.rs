//! Typed records of every SS-MIX2 data kind, read from hand-written JAHIS-style messages
//! (fixtures/<kind>.hl7, UTF-8 with LF line ends for readability; the parser accepts both).

use ssmix2::records::*;
use ssmix2::DataKind;

fn fixture(kind: DataKind) -> String {
    let path = format!(
        "{}/tests/fixtures/{}.hl7",
        env!("CARGO_MANIFEST_DIR"),
        kind.code()
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(text: &str) -> hl7::Message {
    hl7::Message::parse(text).expect("fixture parses")
}

fn read(kind: DataKind) -> Record {
    read_record(kind, &parse(&fixture(kind))).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn coded(code: &str, text: &str, system: &str) -> Coded {
    Coded {
        code: code.into(),
        text: text.into(),
        system: system.into(),
        ..Coded::default()
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

#[test]
fn every_kind_has_a_fixture_that_reads() {
    for &kind in DataKind::ALL {
        let r = read(kind);
        assert!(!r.header.patient_id.is_empty(), "{kind}");
        assert!(kind.accepts(&r.header.message_type), "{kind}");
        assert!(!r.header.cancels, "{kind} fixture is not a cancellation");
        assert_eq!(
            r.header.clinical_date.is_none(),
            kind.is_undated(),
            "{kind} date"
        );
        // Round trip through JSON: the store keeps records serialized.
        let json = serde_json::to_string(&r).unwrap();
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r, "{kind}");
    }
}

#[test]
fn adt00_patient() {
    let r = read(DataKind::Adt00);
    let h = &r.header;
    assert_eq!(h.message_type, "ADT^A08");
    assert_eq!(h.control_id, "20111220000001");
    assert_eq!(h.sent_at, "20111220224447");
    assert_eq!(h.sending_facility, "SEND");
    assert_eq!(h.patient_id, "9999013");
    assert_eq!(h.order_control, None);
    assert_eq!(h.order_no, None);
    assert_eq!(h.clinical_date, None);
    let Body::Patient(p) = r.body else {
        panic!("{:?}", r.body)
    };
    assert_eq!(
        p.ids,
        vec![PatientIdentifier {
            id: "9999013".into(),
            assigning_authority: "".into(),
            id_type: "PI".into()
        }]
    );
    let kanji = p.kanji_name.as_ref().unwrap();
    assert_eq!(
        (kanji.family.as_str(), kanji.given.as_str()),
        ("患者", "太郎")
    );
    assert_eq!(kanji.full(), "患者\u{3000}太郎");
    let kana = p.kana_name.as_ref().unwrap();
    assert_eq!(
        (
            kana.family.as_str(),
            kana.given.as_str(),
            kana.representation.as_str()
        ),
        ("カンジャ", "タロウ", "P")
    );
    assert!(p.other_names.is_empty());
    assert_eq!(p.birth_date, s("19480405"));
    assert_eq!(p.sex, s("M"));
    assert_eq!(p.addresses.len(), 1);
    assert_eq!(p.addresses[0].zip, "422-8033");
    assert_eq!(p.addresses[0].address_type, "H");
    assert_eq!(p.addresses[0].text, "静岡県静岡市登呂１－３－５");
    assert_eq!(p.home_phones.len(), 2);
    assert_eq!(p.home_phones[0].number, "054-000-0000");
    assert_eq!(p.home_phones[1].use_code, "EMR");
    assert_eq!(p.home_phones[1].number, "03-5999-9999");
    assert_eq!(p.work_phones[0].number, "03-3599-9993");
    assert_eq!(p.death_date, None);
    assert_eq!(p.deceased, s("N"));
    assert_eq!(p.last_updated, s("20111219121551"));
    assert_eq!(p.patient_class, s("I"));
    assert_eq!(p.next_of_kin.len(), 1);
    let nk = &p.next_of_kin[0];
    assert_eq!(nk.names.kanji.as_ref().unwrap().given, "花子");
    assert_eq!(nk.names.kana.as_ref().unwrap().given, "ハナコ");
    assert_eq!(nk.relationship, Some(coded("SPO", "配偶者", "HL70063")));
    assert_eq!(nk.phones[0].number, "054-000-0001");
    assert_eq!(nk.organization, s("鹿ノ門商事株式会社"));
    assert_eq!(
        p.height,
        Some(Measurement {
            value: "167.8".into(),
            unit: "cm".into()
        })
    );
    assert_eq!(
        p.weight,
        Some(Measurement {
            value: "63.5".into(),
            unit: "kg".into()
        })
    );
    assert_eq!(p.blood_type_abo, s("A"));
    assert_eq!(p.blood_type_rh, s("+"));
    assert_eq!(p.observations.len(), 4);
    assert_eq!(
        p.observations[3].coded_values,
        vec![coded("+", "Rh(+)", "JSHR002")]
    );
    // The NTE after the Rh OBX belongs to it; `\.br\` is a line break.
    assert_eq!(
        p.observations[3].comments,
        vec!["輸血歴あり\n2005年 手術時".to_owned()]
    );
    assert!(p.comments.is_empty());
    assert_eq!(p.allergies.len(), 1);
    assert_eq!(
        p.allergies[0].allergen_type,
        Some(coded("DA", "薬剤アレルギー", "HL70127"))
    );
    assert_eq!(p.allergies[0].allergen.as_ref().unwrap().text, "ペニシリン");
    assert_eq!(
        p.allergies[0].allergen.as_ref().unwrap().local(),
        Some(("1", "99XYZ"))
    );
    assert_eq!(p.insurances.len(), 1);
    let ins = &p.insurances[0];
    assert_eq!(ins.plan, Some(coded("06", "組合管掌健康保険", "JHSD0001")));
    assert_eq!(ins.insurer_number, s("06271234"));
    assert_eq!(ins.insurer_name, s("トロ健康保険組合"));
    assert_eq!(ins.symbol, s("1234"));
    assert_eq!(ins.number, s("56789"));
    assert_eq!(ins.valid_from, s("20090401"));
    assert_eq!(ins.relationship.as_ref().unwrap().code, "SEL");
}

/// ISO-2022-JP bytes of `text`. Encoded run by run (ASCII / non-ASCII), because
/// `hl7::encode_iso2022jp` sizes its output buffer as `text.len() + 16` and fails with
/// `Unmappable('\0')` when a long text switches between ASCII and kanji many times (the
/// escape sequences outgrow the buffer). Each run ends back in ASCII, so the concatenation is
/// valid ISO-2022-JP.
fn to_iso2022jp(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut run = String::new();
    let mut run_ascii = true;
    for ch in text.chars() {
        if ch.is_ascii() != run_ascii && !run.is_empty() {
            out.extend(hl7::encode_iso2022jp(&run).unwrap());
            run.clear();
        }
        run_ascii = ch.is_ascii();
        run.push(ch);
    }
    out.extend(hl7::encode_iso2022jp(&run).unwrap());
    out
}

#[test]
fn adt00_in_iso2022jp_reads_the_same() {
    let text = fixture(DataKind::Adt00).replace('\n', "\r");
    let bytes = to_iso2022jp(&text);
    assert!(bytes.contains(&0x1B), "kanji are escaped into JIS X 0208");
    let decoded = hl7::decode(&bytes).unwrap();
    assert_eq!(decoded.encoding, hl7::TextEncoding::Iso2022Jp);
    let msg = hl7::Message::parse(decoded.text).unwrap();
    assert_eq!(
        read_record(DataKind::Adt00, &msg).unwrap(),
        read(DataKind::Adt00)
    );
}

#[test]
fn every_fixture_reads_the_same_from_iso2022jp_bytes() {
    for &kind in DataKind::ALL {
        let bytes = to_iso2022jp(&fixture(kind).replace('\n', "\r"));
        let msg = hl7::Message::parse(hl7::decode(&bytes).unwrap().text).unwrap();
        assert_eq!(read_record(kind, &msg).unwrap(), read(kind), "{kind}");
    }
}

#[test]
fn adt01_attending() {
    let r = read(DataKind::Adt01);
    assert_eq!(r.header.message_type, "ADT^A54");
    let Body::Attending(a) = r.body else { panic!() };
    assert_eq!(a.event_type, "A54");
    assert_eq!(a.occurred_at, s("20111220090000"));
    assert!(!a.cancelled);
    assert_eq!(a.roles.len(), 1);
    let role = &a.roles[0];
    assert_eq!(role.action, s("AD"));
    assert_eq!(role.role, Some(coded("AT", "担当医", "HL70443")));
    assert_eq!(role.start, s("20111220"));
    // Kanji and kana repetitions of one doctor become one person.
    assert_eq!(
        role.persons,
        vec![Person {
            id: "110".into(),
            family: "医師".into(),
            given: "一郎".into(),
            kana_family: "イシ".into(),
            kana_given: "イチロウ".into()
        }]
    );
    assert_eq!(a.doctors().len(), 1);
    assert_eq!(a.doctors()[0].display(), "医師\u{3000}一郎");
    assert_eq!(a.attending_doctors[0].id, "110");
    assert_eq!(a.patient_class, s("I"));
    assert_eq!(a.department, s("01"));
    let loc = a.location.unwrap();
    assert_eq!(
        (
            loc.point_of_care.as_str(),
            loc.room.as_str(),
            loc.bed.as_str()
        ),
        ("32", "302", "1")
    );
}

fn encounter(kind: DataKind) -> (Header, Encounter) {
    let r = read(kind);
    match r.body {
        Body::Encounter(e) => (r.header, e),
        other => panic!("{kind}: {other:?}"),
    }
}

#[test]
fn adt12_outpatient_visit() {
    let (h, e) = encounter(DataKind::Adt12);
    assert_eq!(h.clinical_date, s("20111220"));
    assert_eq!(e.event_type, "A04");
    assert_eq!(e.patient_class, s("O"));
    let loc = e.location.unwrap();
    assert_eq!(
        (loc.point_of_care.as_str(), loc.location_type.as_str()),
        ("01", "C")
    );
    assert_eq!(e.department, s("01"));
    assert_eq!(e.admitted_at, s("20111220091500"));
    assert_eq!(e.attending_doctors[0].family, "医師");
    assert!(!e.cancelled);
}

#[test]
fn adt21_admission_planned() {
    let (h, e) = encounter(DataKind::Adt21);
    assert_eq!(h.clinical_date, s("20111120"), "PV2-8");
    assert_eq!(e.event_type, "A14");
    assert_eq!(e.expected_admit_at, s("20111120"));
    assert_eq!(e.expected_discharge_at, s("20111205"));
    assert_eq!(e.admit_reason.unwrap().text, "肺炎治療のため");
    assert_eq!(e.admitted_at, None);
}

#[test]
fn adt22_admission_and_its_cancellation() {
    let (h, e) = encounter(DataKind::Adt22);
    assert_eq!(h.clinical_date, s("20111120"), "PV1-44");
    assert_eq!(e.event_type, "A01");
    assert_eq!(e.recorded_at, s("20111120100000"));
    assert_eq!(e.occurred_at, s("20111120100000"));
    let loc = e.location.unwrap();
    assert_eq!(
        (
            loc.point_of_care.as_str(),
            loc.room.as_str(),
            loc.bed.as_str(),
            loc.location_type.as_str()
        ),
        ("32", "302", "1", "N")
    );
    assert_eq!(e.visit_number, s("V0001"));
    assert_eq!(e.admitted_at, s("20111120100000"));
    assert!(!h.cancels && !e.cancelled);

    // ADT^A11 cancels the admission; it is filed under ADT-22 and has no PV2.
    let text = fixture(DataKind::Adt22).replace("ADT^A01^ADT_A01", "ADT^A09^ADT_A09");
    assert!(matches!(
        read_record(DataKind::Adt22, &parse(&text)),
        Err(RecordError::WrongMessageType { .. })
    ));
    let text: String = fixture(DataKind::Adt22)
        .replace("ADT^A01^ADT_A01", "ADT^A11^ADT_A09")
        .lines()
        .filter(|l| !l.starts_with("PV2"))
        .map(|l| format!("{l}\r"))
        .collect();
    let r = read_record(DataKind::Adt22, &parse(&text)).unwrap();
    assert!(r.header.cancels);
    assert_eq!(r.header.clinical_date, s("20111120"));
    let Body::Encounter(e) = r.body else { panic!() };
    assert!(e.cancelled);
    assert_eq!(e.event_type, "A11");
}

#[test]
fn adt31_32_leave_and_return() {
    let (h, e) = encounter(DataKind::Adt31);
    assert_eq!(h.clinical_date, s("20111205"), "EVN-6");
    assert_eq!(
        (e.event_type.as_str(), e.occurred_at.as_deref()),
        ("A21", Some("20111205130000"))
    );
    let (h, e) = encounter(DataKind::Adt32);
    assert_eq!(h.clinical_date, s("20111206"));
    assert_eq!(
        (e.event_type.as_str(), e.occurred_at.as_deref()),
        ("A22", Some("20111206170000"))
    );
    assert_eq!(e.recorded_at, s("20111206170500"));
}

#[test]
fn adt41_42_transfer() {
    let (h, e) = encounter(DataKind::Adt41);
    assert_eq!(h.clinical_date, s("20111215"), "PV2-8");
    assert_eq!(e.event_type, "A15");
    assert_eq!(e.expected_admit_at, s("20111215"));
    let (h, e) = encounter(DataKind::Adt42);
    assert_eq!(h.clinical_date, s("20111220"), "EVN-6");
    assert_eq!(e.event_type, "A02");
    let new = e.location.unwrap();
    let old = e.prior_location.unwrap();
    assert_eq!(
        (
            new.point_of_care.as_str(),
            new.room.as_str(),
            new.bed.as_str()
        ),
        ("35", "501", "2")
    );
    assert_eq!(
        (
            old.point_of_care.as_str(),
            old.room.as_str(),
            old.bed.as_str()
        ),
        ("32", "302", "1")
    );
    assert_eq!(e.department, s("02"));
    assert_eq!(e.attending_doctors[0].given, "三郎");
}

#[test]
fn adt51_52_discharge() {
    let (h, e) = encounter(DataKind::Adt51);
    assert_eq!(h.clinical_date, s("20111228"), "PV2-9");
    assert_eq!(
        (e.event_type.as_str(), e.expected_discharge_at.as_deref()),
        ("A16", Some("20111228"))
    );
    let (h, e) = encounter(DataKind::Adt52);
    assert_eq!(h.clinical_date, s("20111228"), "PV1-45");
    assert_eq!(e.event_type, "A03");
    assert_eq!(e.admitted_at, s("20111120100000"));
    assert_eq!(e.discharged_at, s("20111228110000"));
    assert_eq!(e.discharge_disposition, s("01"));
}

#[test]
fn adt61_allergies() {
    let r = read(DataKind::Adt61);
    assert_eq!(r.header.message_type, "ADT^A60");
    let Body::Allergies(a) = r.body else { panic!() };
    assert_eq!(a.entries.len(), 3);
    let pollen = &a.entries[0];
    assert_eq!(pollen.set_id, s("1"));
    assert_eq!(
        pollen.allergen_type,
        Some(coded("LA", "花粉アレルギー", "HL70127"))
    );
    assert_eq!(
        pollen.allergen.as_ref().unwrap().jlac10(),
        Some("5A1002216023023")
    );
    assert_eq!(pollen.severity.as_ref().unwrap().code, "MI");
    assert_eq!(
        pollen.reactions,
        vec!["目のかゆみ".to_owned(), "くしゃみ".to_owned()]
    );
    assert_eq!(pollen.action_code(), "A");
    assert_eq!(pollen.onset, s("199601"));
    let food = &a.entries[1];
    assert_eq!(food.allergen.as_ref().unwrap().text, "ソバ");
    assert_eq!(food.onset, None);
    assert_eq!(food.onset_text, s("小学校低学年の頃"));
    let drug = &a.entries[2];
    assert_eq!(drug.allergen.as_ref().unwrap().hot(), Some("106824501"));
    assert_eq!(
        drug.allergen.as_ref().unwrap().system_of("HOT"),
        Some("HOT9")
    );
    assert_eq!(drug.reactions, vec!["のどの渇きが止まらない".to_owned()]);
    assert_eq!(drug.onset, s("20070710"));
    assert_eq!(drug.reported_at, s("20070711103000"));
    assert_eq!(drug.comments, vec!["服用中止で軽快".to_owned()]);
}

#[test]
fn ppr01_diagnoses() {
    let r = read(DataKind::Ppr01);
    assert_eq!(r.header.clinical_date, None);
    assert_eq!(r.header.order_control, s("NW"));
    let Body::Diagnoses(d) = r.body else { panic!() };
    assert_eq!(d.problems.len(), 3);
    let g = &d.problems[0];
    assert_eq!(g.action, "AD");
    assert_eq!(g.action_at, s("20110915"));
    assert_eq!(g.medis_code, s("20054174"));
    assert_eq!(g.name, "胃炎");
    assert!(!g.uncoded);
    assert_eq!(g.instance_id, s("123456789012345"));
    assert_eq!(g.diagnosed_at, s("20110831"));
    assert_eq!(g.resolved_at, s("20110915"));
    assert_eq!(g.icd10, s("K297"));
    assert_eq!(g.classification.as_ref().unwrap().alt_code, "O");
    assert_eq!(g.classification.as_ref().unwrap().alt_text, "外来時");
    assert!(!g.suspected);
    assert_eq!(g.outcome, Some(coded("N", "回復せず", "HL70241")));
    assert_eq!(g.outcome_at, s("20110915"));
    assert_eq!(g.onset, s("20110831"));
    assert!(g.main_diagnosis);
    assert_eq!(g.rank, Some(coded("1", "主診断", "JHSD0007")));
    assert_eq!(g.sensitivity.as_ref().unwrap().code, "V");
    assert_eq!(g.exchange_code, s("TSQF"));
    assert_eq!(g.medis_disease, Some(coded("20054174", "胃炎", "MDCDX2")));
    assert_eq!(g.insurances.len(), 1);
    assert_eq!(g.insurances[0].insurer_number, s("1130012"));
    assert_eq!(g.insurances[0].symbol, s("123456"));
    assert_eq!(g.insurances[0].number, s("11010203"));
    assert_eq!(g.insurances[0].valid_until, s("20120831"));
    assert_eq!(g.orders.len(), 1);
    let doctor = g.orders[0].ordering_doctor.as_ref().unwrap();
    assert_eq!(
        (doctor.family.as_str(), doctor.kana_family.as_str()),
        ("医師", "イシ")
    );
    assert_eq!(g.orders[0].department.as_ref().unwrap().text, "内科");

    let knee = &d.problems[1];
    assert!(knee.uncoded, "20084317 = uncoded name");
    assert_eq!(knee.medis_code.as_deref(), Some(UNCODED_DISEASE));
    assert_eq!(knee.name, "左膝の違和感");
    assert!(knee.suspected);
    assert!(!knee.main_diagnosis);
    assert_eq!(knee.onset, s("20110925"));
    assert_eq!(knee.icd10, None);
    assert_eq!(knee.exchange_code, s("ZZZZ"));
    assert_eq!(
        knee.modifiers,
        vec![DiagnosisModifier {
            set_id: s("1"),
            modifier: Some(coded("1051", "左", "MDCDX2")),
            exchange_code: s("XA1F")
        }]
    );
    assert_eq!(knee.comments, vec!["整形外科へ紹介予定".to_owned()]);

    let deleted = &d.problems[2];
    assert!(deleted.is_deleted());
    assert_eq!(deleted.icd10, s("I10"));
    assert_eq!(d.current().count(), 2);
}

#[test]
fn omd_meal() {
    let r = read(DataKind::Omd);
    assert_eq!(r.header.clinical_date, s("20111013"), "ORC-9");
    assert_eq!(r.header.order_no, s("123456789012345"));
    let Body::Meal(m) = r.body else { panic!() };
    assert_eq!(m.orders.len(), 1);
    let o = &m.orders[0];
    assert_eq!(o.order.control, "NW");
    assert_eq!(o.order.entered_by.as_ref().unwrap().given, "花子");
    assert_eq!(o.order.department, Some(coded("01", "内科", "99XY1")));
    assert_eq!(o.start(), Some("2011101607"));
    assert_eq!(o.end(), Some("2011102019"));
    assert_eq!(o.timing[0].usage, vec![coded("TID", "１日３回", "HL70335")]);
    assert_eq!(o.diets.len(), 1);
    let diet = &o.diets[0];
    assert_eq!(diet.diet_type, "D");
    assert_eq!(diet.codes.len(), 2);
    assert_eq!(
        diet.codes[1],
        coded("E01", "エネルギー制限食１６００kcal", "99XY3")
    );
    assert_eq!(
        diet.texts,
        vec!["塩分控えめ".to_owned(), "刻み食".to_owned()]
    );
    assert_eq!(o.comments, vec!["嚥下状態により変更あり".to_owned()]);
}

#[test]
fn omp01_prescription() {
    let r = read(DataKind::Omp01);
    assert_eq!(r.header.message_type, "RDE^O11");
    assert_eq!(r.header.sent_at, "20110701224603.984");
    assert_eq!(r.header.clinical_date, s("20110701"));
    assert_eq!(r.header.order_no, s("000000011000185"));
    let Body::MedicationOrder(m) = r.body else {
        panic!()
    };
    assert_eq!(m.items.len(), 2);
    let rp1 = &m.items[0];
    assert_eq!(rp1.order.group_no, s("1"));
    assert_eq!(rp1.order.ordered_at, s("20110701103045"));
    assert_eq!(rp1.order.ordering_doctor.as_ref().unwrap().id, "110");
    assert_eq!(rp1.order.department.as_ref().unwrap().code, "01");
    assert_eq!(rp1.order.facility_name, s("登呂病院"));
    assert_eq!(rp1.order.order_type.as_ref().unwrap().code, "O");
    assert_eq!(rp1.hot(), Some("108665201"));
    assert_eq!(rp1.drug.as_ref().unwrap().text, "ダーゼン錠（５mg)");
    assert_eq!(rp1.dose, s("1"));
    assert_eq!(rp1.dose_unit, Some(coded("TAB", "錠", "MR9P")));
    assert_eq!(rp1.total_amount, s("15"));
    assert_eq!(rp1.prescription_no, s("2011070112345"));
    let daily = rp1.daily_dose.as_ref().unwrap();
    assert_eq!((daily.amount.as_str(), daily.unit_code()), ("3", "TAB"));
    assert_eq!(daily.unit, Some(coded("TAB", "錠", "MR9P")));
    assert_eq!(
        rp1.categories
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>(),
        ["OHP", "OHI"]
    );
    assert_eq!(rp1.kinds, vec![coded("21", "内服", "JHSP0003")]);
    assert_eq!(rp1.yj(), Some("2149039F1031"));
    let usage = rp1.usage().unwrap();
    assert_eq!(usage.usage_code(), Some("1013044400000000"));
    assert_eq!(usage.text, "内服・経口・１日３回朝昼夕食後");
    assert_eq!(rp1.days(), Some(5), "TQ1-6 5^D&日&ISO+");
    assert_eq!(rp1.timing[0].start, s("20110701"));
    assert_eq!(rp1.timing[0].end, s("20110705"));
    assert_eq!(rp1.routes[0].route, Some(coded("PO", "口", "HL70162")));
    assert!(rp1.components.is_empty());

    let rp2 = &m.items[1];
    assert_eq!(rp2.order.group_no, s("2"));
    assert_eq!(rp2.form, Some(coded("PWD", "散剤", "MR9P")));
    assert_eq!(rp2.dose_unit.as_ref().unwrap().mr9p(), Some("MG"));
    assert_eq!(rp2.days(), Some(14), "TQ1-6 14^d");
    assert_eq!(rp2.yj(), None);
    assert_eq!(rp2.comments, vec!["粉砕不可".to_owned()]);
}

#[test]
fn omp02_injection() {
    let r = read(DataKind::Omp02);
    assert_eq!(r.header.clinical_date, s("20110701"));
    let Body::MedicationOrder(m) = r.body else {
        panic!()
    };
    assert_eq!(m.items.len(), 1);
    let inj = &m.items[0];
    assert_eq!(inj.order.group_no, s("123456789012345_01_001"));
    assert_eq!(inj.order.location.as_ref().unwrap().room, "302");
    assert_eq!(inj.drug, Some(coded("00", "一般", "99I02")));
    assert_eq!(inj.total_amount, None);
    assert_eq!(inj.dose, s("510"));
    assert_eq!(inj.form, Some(coded("INJ", "注射剤", "MR9P")));
    assert_eq!(inj.instructions[0].text, "５時間一定速度で");
    assert_eq!(inj.rate, s("102"));
    assert_eq!(inj.rate_unit.as_ref().unwrap().code, "ml/hr");
    assert_eq!(inj.timing[0].start, s("201107010800"));
    assert_eq!(inj.timing[0].end, s("201107011300"));
    assert_eq!(inj.routes[0].route.as_ref().unwrap().code, "IV");
    assert_eq!(inj.routes[0].device.as_ref().unwrap().code, "IVP");
    assert_eq!(inj.components.len(), 2);
    let base = &inj.components[0];
    assert_eq!(base.component_type, "B");
    assert_eq!(base.drug.as_ref().unwrap().hot(), Some("620007329"));
    assert_eq!(base.amount, s("1"));
    assert_eq!(base.unit, Some(coded("HON", "本", "MR9P")));
    assert_eq!(inj.components[1].component_type, "A");
    assert_eq!(
        inj.components[1].drug.as_ref().unwrap().text,
        "アドナ注（静脈用）50mg"
    );
}

#[test]
fn omp11_prescription_administered() {
    let r = read(DataKind::Omp11);
    assert_eq!(r.header.message_type, "RAS^O17");
    assert_eq!(r.header.clinical_date, s("20110701"), "RXA-3");
    let Body::MedicationAdministration(a) = r.body else {
        panic!()
    };
    assert_eq!(a.groups.len(), 1);
    let g = &a.groups[0];
    assert_eq!(g.administrations.len(), 2);
    let first = &g.administrations[0];
    assert_eq!(first.start, s("201107010830"));
    assert_eq!(first.end, s("201107010830"));
    assert_eq!(first.drug.as_ref().unwrap().hot(), Some("108665201"));
    assert_eq!(first.amount, s("1"));
    assert_eq!(first.unit.as_ref().unwrap().code, "TAB");
    assert_eq!(first.administered_by[0].family, "看護");
    assert_eq!(first.location, s("09A"));
    assert_eq!(first.completion_status, s("CP"));
    assert_eq!(first.action_code, None);
    assert_eq!(first.recorded_at, s("20110701100613"));
    assert_eq!(a.all().nth(1).unwrap().amount, s("2"));
    assert_eq!(g.routes[0].route.as_ref().unwrap().code, "PO");
}

#[test]
fn omp12_injection_administered() {
    let r = read(DataKind::Omp12);
    assert_eq!(r.header.clinical_date, s("20110701"));
    let Body::MedicationAdministration(a) = r.body else {
        panic!()
    };
    let g = &a.groups[0];
    assert_eq!(g.order.order_no, "123456789012345");
    assert_eq!(g.administrations.len(), 2);
    assert_eq!(g.administrations[0].start, s("201107010805"));
    assert_eq!(g.administrations[0].end, s("201107011310"));
    assert_eq!(g.administrations[0].amount, s("500"));
    assert_eq!(
        g.administrations[0].unit.as_ref().unwrap().text,
        "ミリリットル"
    );
    assert_eq!(g.administrations[1].sequence, s("2"));
    assert_eq!(g.routes[0].device.as_ref().unwrap().text, "点滴ポンプ");
    assert_eq!(g.comments, vec!["刺入部の発赤なし".to_owned()]);

    // Every RXA deleted (RXA-21 D) = the administration record is withdrawn.
    let text = fixture(DataKind::Omp12).replace("|CP||20110701131500", "|CP|D|20110701131500");
    let r = read_record(DataKind::Omp12, &parse(&text)).unwrap();
    assert!(r.header.cancels);
}

#[test]
fn oml01_lab_order() {
    let r = read(DataKind::Oml01);
    assert_eq!(r.header.clinical_date, s("20111220"), "ORC-9");
    assert_eq!(r.header.order_no, s("000000011000354"));
    let Body::LabOrder(o) = r.body else { panic!() };
    assert_eq!(o.specimens.len(), 2);
    let serum = &o.specimens[0];
    let t = serum.specimen.specimen_type.as_ref().unwrap();
    assert_eq!(t.jlac10(), Some("023"));
    assert_eq!(t.local(), Some(("01", "99Z01")));
    assert_eq!(serum.specimen.collected_at, s("201112191500"));
    assert_eq!(serum.orders.len(), 1);
    let item = &serum.orders[0];
    assert_eq!(item.order.department.as_ref().unwrap().text, "呼吸器外科");
    assert_eq!(item.timing[0].start, s("201112200900"));
    let req = item.request.as_ref().unwrap();
    assert_eq!(req.service, Some(coded("E002", "生化学的検査", "99O03")));
    assert_eq!(req.observed_at, s("20111219"));
    assert_eq!(req.ordering_doctor.as_ref().unwrap().family, "医師一郎");
    assert_eq!(item.tests.len(), 2);
    assert_eq!(
        item.tests[0].code.as_ref().unwrap().jlac10(),
        Some("3A010000002327101")
    );
    assert_eq!(
        item.tests[0].code.as_ref().unwrap().local(),
        Some(("10222", "99X03"))
    );
    assert_eq!(item.tests[1].code.as_ref().unwrap().text, "総ビリルビン");
    assert_eq!(item.tests[1].status, s("O"));
    let plasma = &o.specimens[1];
    assert_eq!(plasma.specimen.specimen_type.as_ref().unwrap().text, "血漿");
    assert_eq!(plasma.orders[0].tests[0].comments, vec!["至急".to_owned()]);
    assert_eq!(o.items().count(), 2);
}

#[test]
fn oml11_lab_result() {
    let r = read(DataKind::Oml11);
    assert_eq!(r.header.message_type, "OUL^R22");
    assert_eq!(r.header.clinical_date, s("20111219"), "SPM-17");
    assert_eq!(r.header.order_control, s("SC"));
    assert_eq!(r.header.order_no, s("000000011000354"));
    assert!(!r.header.cancels);
    let Body::LabResult(l) = r.body else { panic!() };
    assert_eq!(l.specimens.len(), 1);
    let sp = &l.specimens[0];
    assert_eq!(sp.specimen.specimen_id, s("000000001219001"));
    assert_eq!(
        sp.specimen.specimen_type,
        Some(coded("023", "血清", "JC10"))
    );
    assert_eq!(sp.items.len(), 1);
    let item = &sp.items[0];
    assert_eq!(item.request.service.as_ref().unwrap().code, "E001");
    assert_eq!(item.request.observed_at, s("20111219"));
    assert_eq!(item.request.reported_at, s("20111220103059"));
    let order = item.order.as_ref().unwrap();
    assert_eq!(
        (order.control.as_str(), order.status.as_deref()),
        ("SC", Some("CM"))
    );
    assert_eq!(item.results.len(), 3);
    let tp = &item.results[1];
    assert_eq!(tp.value_type, "NM");
    assert_eq!(
        tp.code.as_ref().unwrap().jlac10(),
        Some("3A010000002327101")
    );
    assert_eq!(tp.code.as_ref().unwrap().jlac10().unwrap().len(), 17);
    assert_eq!(tp.value(), "8.9");
    assert_eq!(tp.unit_text(), "g/dL");
    assert_eq!(tp.reference_range, s("6.7-8.3"));
    assert_eq!(tp.abnormal_flags, vec!["H".to_owned()]);
    assert_eq!(tp.status, s("F"));
    assert_eq!(tp.observed_at, s("201112191500"));
    assert_eq!(tp.comments, vec!["再検済み".to_owned()]);
    assert_eq!(item.results[0].unit, None);
    assert_eq!(item.results[0].comments, Vec::<String>::new());
    // `\T\` is the escaped sub-component separator.
    assert_eq!(item.results[2].value(), "陰性(&0.05)");
    assert_eq!(l.results().count(), 3);
}

#[test]
fn omg01_radiology_order() {
    let r = read(DataKind::Omg01);
    assert_eq!(r.header.clinical_date, s("20111220"));
    assert_eq!(r.header.order_control, s("PA"));
    let Body::ExamOrder(o) = r.body else { panic!() };
    assert_eq!(o.items.len(), 2);
    let parent = &o.items[0];
    assert_eq!(parent.order.as_ref().unwrap().order_no, "000201101200100");
    assert_eq!(
        parent.procedure().unwrap().jj1017(),
        Some("1000000000000000")
    );
    assert_eq!(parent.timing[0].start, s("201112201400"));
    let req = parent.request.as_ref().unwrap();
    assert_eq!(req.clinical_info, s("咳嗽持続"));
    assert_eq!(req.reasons[0].text, "肺炎疑い");
    assert_eq!(parent.modality(), Some("RX"));
    assert_eq!(parent.observations[0].value(), "62");
    assert_eq!(parent.observations[0].unit_text(), "kg");
    let child = &o.items[1];
    assert_eq!(child.order.as_ref().unwrap().control, "CH");
    assert_eq!(
        child.order.as_ref().unwrap().parent_order_no,
        s("000201101200100")
    );
    assert_eq!(
        child.procedure().unwrap().text,
        "胸部.Ｘ線単純撮影.立位正面(A→P)"
    );
    assert_eq!(
        child.request.as_ref().unwrap().parent_order_no,
        s("000201101200100")
    );
}

#[test]
fn omg02_03_endoscopy_and_physiology_orders() {
    let r = read(DataKind::Omg02);
    assert_eq!(r.header.clinical_date, s("20111220"));
    let Body::ExamOrder(o) = r.body else { panic!() };
    let item = &o.items[0];
    assert_eq!(
        item.procedure(),
        Some(&coded("32200", "上部消化管内視鏡検査", "99E01"))
    );
    assert_eq!(item.timing[0].start, s("201112221000"));
    assert_eq!(item.request.as_ref().unwrap().reasons[0].text, "胃潰瘍疑い");
    assert_eq!(item.comments, vec!["抗凝固薬内服中".to_owned()]);

    let r = read(DataKind::Omg03);
    assert_eq!(r.header.order_no, s("201112200089100"));
    let Body::ExamOrder(o) = r.body else { panic!() };
    assert_eq!(o.items[0].procedure().unwrap().jlac10(), Some("9A110"));
    assert_eq!(
        o.items[0].request.as_ref().unwrap().clinical_info,
        s("動悸")
    );
}

#[test]
fn omg11_radiology_performed() {
    let r = read(DataKind::Omg11);
    assert_eq!(r.header.message_type, "OMI^Z23");
    assert_eq!(r.header.clinical_date, s("20111220"), "OBR-7");
    assert_eq!(r.header.patient_id, "3330000333");
    let Body::ExamReport(x) = r.body else {
        panic!()
    };
    assert_eq!(x.items.len(), 2);
    let parent = &x.items[0];
    assert_eq!(
        parent
            .order
            .as_ref()
            .unwrap()
            .department
            .as_ref()
            .unwrap()
            .text,
        "産科"
    );
    assert_eq!(parent.request.as_ref().unwrap().observed_at, s("20111220"));
    assert_eq!(
        parent.request.as_ref().unwrap().reported_at,
        s("20111220113540")
    );
    assert_eq!(parent.request.as_ref().unwrap().result_status, s("F"));
    let study = &parent.imaging[0];
    assert_eq!(study.accession_no, "A201112200030001");
    assert_eq!(study.requested_procedure_id, s("P1234"));
    assert_eq!(
        study.study_instance_uid,
        s("1.2.392.1114.20045.43233.5.300001")
    );
    assert_eq!(study.modality, Some(coded("US", "", "DCM")));
    assert_eq!(parent.modality(), Some("US"));
    let child = &x.items[1];
    assert_eq!(
        child.procedure().unwrap().jj1017(),
        Some("99A00005550000000000000000000000")
    );
    assert_eq!(child.performed.len(), 1);
    assert_eq!(child.performed[0].category, s("RS"));
    assert_eq!(
        child.performed[0].details,
        vec!["NS-03".to_owned(), "EM-01".to_owned()]
    );
    assert_eq!(child.performed[0].performers[0].family, "助産師");
    assert_eq!(child.imaging.len(), 1);
}

#[test]
fn omg12_endoscopy_performed() {
    let r = read(DataKind::Omg12);
    assert_eq!(r.header.clinical_date, s("20111220"));
    let Body::ExamReport(x) = r.body else {
        panic!()
    };
    let item = &x.items[0];
    assert_eq!(
        item.request.as_ref().unwrap().observed_at,
        s("20111220165600")
    );
    assert_eq!(
        item.observations[0].values.len(),
        2,
        "both TX repetitions kept"
    );
    assert_eq!(
        item.findings_text(),
        "食道：異常なし\n胃：前庭部にびらんを認める\n慢性胃炎"
    );
    assert_eq!(item.observations[1].comments, vec!["生検なし".to_owned()]);
    assert_eq!(item.modality(), Some("ES"));
    assert_eq!(
        item.imaging[0].study_instance_uid,
        s("1.2.392.200036.9116.1.20111220.1")
    );
}

#[test]
fn omg13_physiology_result() {
    let r = read(DataKind::Omg13);
    assert_eq!(r.header.message_type, "ORU^R01");
    assert_eq!(
        r.header.patient_id, "12345678",
        "PID-3 without type: first ID"
    );
    assert_eq!(r.header.order_no, None, "ORU without ORC");
    assert_eq!(r.header.clinical_date, s("20111220"));
    let Body::ExamReport(x) = r.body else {
        panic!()
    };
    assert_eq!(x.items.len(), 1);
    let ecg = &x.items[0];
    assert!(ecg.order.is_none());
    assert_eq!(ecg.procedure().unwrap().jlac10(), Some("9A110"));
    assert_eq!(
        ecg.request.as_ref().unwrap().reported_at,
        s("20111220152000")
    );
    assert_eq!(ecg.observations.len(), 4);
    let finding = &ecg.observations[0];
    // OBX-3 component with sub-components stays whole.
    assert_eq!(finding.code.as_ref().unwrap().code, "9A100&IMP");
    assert_eq!(finding.value(), "心筋虚血疑い");
    let hr = &ecg.observations[1];
    assert_eq!(
        (hr.value(), hr.unit_text(), hr.sub_id.as_deref()),
        ("67", "bpm", Some("2"))
    );
    assert_eq!(
        x.observations().last().unwrap().code.as_ref().unwrap().text,
        "QTc 時間&Bazzet"
    );
    assert_eq!(ecg.findings_text(), "心筋虚血疑い");
}

// ---- errors -------------------------------------------------------------------------------

#[test]
fn wrong_message_type() {
    let msg = parse(&fixture(DataKind::Oml11));
    let err = read_record(DataKind::Oml01, &msg).unwrap_err();
    assert_eq!(
        err,
        RecordError::WrongMessageType {
            kind: DataKind::Oml01,
            found: "OUL^R22".into(),
            expected: "OML^O33".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "MSH-9 is \"OUL^R22\" but data kind OML-01 holds only OML^O33"
    );
    let msg = parse(&fixture(DataKind::Adt00));
    let err = read_record(DataKind::Adt22, &msg).unwrap_err();
    assert!(err.to_string().contains("ADT^A01 or ADT^A11"), "{err}");
}

/// The message cut after its `n` first segments.
fn truncated(kind: DataKind, n: usize) -> hl7::Message {
    let text: Vec<String> = fixture(kind).lines().take(n).map(str::to_owned).collect();
    parse(&text.join("\r"))
}

#[test]
fn truncated_messages_fail_with_the_missing_segment() {
    // OUL^R22 cut before its OBR.
    let err = read_record(DataKind::Oml11, &truncated(DataKind::Oml11, 4)).unwrap_err();
    assert_eq!(
        err,
        RecordError::MissingSegment {
            kind: DataKind::Oml11,
            segment: "OBR"
        }
    );
    assert_eq!(
        err.to_string(),
        "OML-11 message has no OBR segment (truncated or incomplete message)"
    );
    // Planned admission without PV2 (its date source).
    let err = read_record(DataKind::Adt21, &truncated(DataKind::Adt21, 4)).unwrap_err();
    assert_eq!(
        err,
        RecordError::MissingSegment {
            kind: DataKind::Adt21,
            segment: "PV2"
        }
    );
    // Only MSH left.
    for &kind in DataKind::ALL {
        let err = read_record(kind, &truncated(kind, 1)).unwrap_err();
        assert!(
            matches!(err, RecordError::MissingSegment { .. }),
            "{kind}: {err}"
        );
    }
    // Prescription with ORC but no RXE.
    let err = read_record(DataKind::Omp01, &truncated(DataKind::Omp01, 4)).unwrap_err();
    assert_eq!(
        err,
        RecordError::MissingSegment {
            kind: DataKind::Omp01,
            segment: "RXE"
        }
    );
}

#[test]
fn missing_patient_id() {
    let text = fixture(DataKind::Adt61).replace("PID|0001||9999013^^^^PI|", "PID|0001|||");
    let err = read_record(DataKind::Adt61, &parse(&text)).unwrap_err();
    assert_eq!(
        err,
        RecordError::MissingField {
            segment: "PID",
            field: 3,
            what: "patient ID"
        }
    );
    assert_eq!(err.to_string(), "PID-3 (patient ID) is empty");
}

#[test]
fn invalid_date_of_care() {
    let text = fixture(DataKind::Omd).replace("|20111013232213|058", "|2011/10/13|058");
    let msg = parse(&text);
    let err = read_record(DataKind::Omd, &msg).unwrap_err();
    assert_eq!(
        err,
        RecordError::InvalidValue {
            segment: "ORC",
            field: 9,
            value: "2011/10/13".into(),
            reason: "expected a date YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]"
        }
    );
    assert!(
        err.to_string()
            .starts_with("ORC-9 has invalid value \"2011/10/13\""),
        "{err}"
    );
    assert_eq!(clinical_date(DataKind::Omd, &msg), None);
    let text = fixture(DataKind::Omd).replace("|20111013232213|058", "|20111332|058");
    assert!(
        read_record(DataKind::Omd, &parse(&text)).is_err(),
        "month 13"
    );
}

#[test]
fn clinical_date_per_kind() {
    for &kind in DataKind::ALL {
        let msg = parse(&fixture(kind));
        assert_eq!(
            clinical_date(kind, &msg),
            read(kind).header.clinical_date,
            "{kind}"
        );
    }
    assert_eq!(
        clinical_date(DataKind::Oml11, &parse(&fixture(DataKind::Oml11))),
        s("20111219")
    );
    assert_eq!(
        clinical_date(DataKind::Ppr01, &parse(&fixture(DataKind::Ppr01))),
        None
    );
}

// ---- cancellations ------------------------------------------------------------------------

#[test]
fn order_cancel_sets_cancels() {
    let text = fixture(DataKind::Omp01).replace("ORC|NW|", "ORC|CA|");
    let r = read_record(DataKind::Omp01, &parse(&text)).unwrap();
    assert!(r.header.cancels);
    assert_eq!(r.header.order_control, s("CA"));
    let Body::MedicationOrder(m) = r.body else {
        panic!()
    };
    assert!(m.items.iter().all(|i| i.order.is_cancel()));

    // Order status CA on a result.
    let text = fixture(DataKind::Oml11).replace(
        "ORC|SC|000000011000354|000000001219001||CM",
        "ORC|SC|000000011000354|000000001219001||CA",
    );
    assert!(
        read_record(DataKind::Oml11, &parse(&text))
            .unwrap()
            .header
            .cancels
    );

    // ADT cancel events of every kind that has one.
    for (kind, event) in [
        (DataKind::Adt00, "ADT^A23"),
        (DataKind::Adt01, "ADT^A55"),
        (DataKind::Adt21, "ADT^A27"),
        (DataKind::Adt31, "ADT^A52"),
        (DataKind::Adt32, "ADT^A53"),
        (DataKind::Adt41, "ADT^A26"),
        (DataKind::Adt42, "ADT^A12"),
        (DataKind::Adt51, "ADT^A25"),
        (DataKind::Adt52, "ADT^A13"),
    ] {
        let text = fixture(kind);
        let first_line_end = text.find('\n').unwrap();
        let old = text[..first_line_end].split('|').nth(8).unwrap().to_owned();
        let text = text.replacen(&old, event, 1);
        let r = read_record(kind, &parse(&text)).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(r.header.cancels, "{kind} {event}");
        assert_eq!(r.header.message_type, event);
    }
}

#[test]
fn explicit_null_means_delete() {
    // `""` in PID-8 and PID-11: the sender deletes sex and address.
    let text = fixture(DataKind::Adt00).replace(
        "19480405|M|||^^^^422-8033^JPN^H^静岡県静岡市登呂１－３－５|",
        "19480405|\"\"|||\"\"|",
    );
    let r = read_record(DataKind::Adt00, &parse(&text)).unwrap();
    let Body::Patient(p) = r.body else { panic!() };
    assert_eq!(p.sex, s(""), "Some(\"\") = delete");
    assert_eq!(p.death_date, None, "None = not sent");
    assert_eq!(p.addresses, vec![Address::default()]);
}

// ---- robustness ---------------------------------------------------------------------------

#[test]
fn never_panics_on_cut_or_damaged_fixtures() {
    for &fixture_kind in DataKind::ALL {
        let text = fixture(fixture_kind);
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(5).collect();
        for cut in cuts {
            for damaged in [
                text[..cut].to_owned(),
                text[cut..].replacen('^', "|", 3),
                text.replacen('|', "", cut % 40),
            ] {
                if let Ok(msg) = hl7::Message::parse(damaged) {
                    let _ = read_record(fixture_kind, &msg);
                    let _ = clinical_date(fixture_kind, &msg);
                }
            }
        }
    }
}

#[test]
fn never_panics_on_any_kind_for_any_fixture() {
    for &fixture_kind in DataKind::ALL {
        let msg = parse(&fixture(fixture_kind));
        for &kind in DataKind::ALL {
            let _ = read_record(kind, &msg);
        }
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn random_segments_never_panic(body in "(PID|ORC|OBR|OBX|SPM|RXE|RXA|TQ1|PRB|ZPR|IAM|PV1|PV2|EVN|NTE|IPC|ODS|RXC)(\\|[A-Z0-9^~&\\\\\"]{0,12}){0,50}") {
            for &kind in DataKind::ALL {
                for t in kind.message_types() {
                    let text = format!("MSH|^~\\&|A|B|||20240101||{t}|1|P|2.5\r{body}\rPID|||1^^^^PI\rOBR|1\rORC|CA\r{body}");
                    if let Ok(msg) = hl7::Message::parse(text) {
                        let _ = read_record(kind, &msg);
                    }
                }
            }
        }
    }
}

/// The importer validates with `read_record_header`; it must agree with `read_record` on
/// every fixture and on every cut-off version of it.
#[test]
fn header_only_reading_agrees_with_full_reading() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    // Fixtures and the fixtures of sub-folders (`lab/`…).
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            for sub in std::fs::read_dir(&path).expect("fixture folder") {
                paths.push(sub.expect("entry").path());
            }
        } else {
            paths.push(path);
        }
    }
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("fixture text");
        for kind in ssmix2::DataKind::ALL {
            for cut in (0..text.len()).step_by(37).chain([text.len()]) {
                let Some(part) = text.get(..cut) else {
                    continue;
                };
                let Ok(msg) = hl7::Message::parse(part) else {
                    continue;
                };
                let full = ssmix2::read_record(*kind, &msg).map(|r| r.header);
                let header = ssmix2::read_record_header(*kind, &msg);
                assert_eq!(full, header, "{} as {kind}, cut at {cut}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "checked {checked} cases");
}

/// Issue 14: the texts a sender gives next to the department and disposition codes, and
/// which event each cancel event cancels.
#[test]
fn encounter_texts_and_cancelled_events() {
    let text = fixture(DataKind::Adt52)
        .replace(
            "|01||||||||20111120100000|",
            "|01^自宅^HL70112||||||||20111120100000|",
        )
        .replace("|||01|||||||||V0001", "|||01^総合内科^99XYZ|||||||||V0001");
    let rec = read_record(DataKind::Adt52, &parse(&text)).expect("reads");
    let Body::Encounter(e) = rec.body else {
        panic!("not an encounter")
    };
    assert_eq!(e.department, s("01"));
    assert_eq!(e.department_text, s("総合内科"));
    assert_eq!(e.discharge_disposition, s("01"));
    assert_eq!(e.discharge_disposition_text, s("自宅"));
    let (_, plain) = encounter(DataKind::Adt52);
    assert_eq!(
        (plain.department_text, plain.discharge_disposition_text),
        (None, None)
    );

    use ssmix2::records::adt::cancelled_event;
    for (cancel, event) in [
        ("A11", "A01"),
        ("A12", "A02"),
        ("A13", "A03"),
        ("A23", "A08"),
        ("A25", "A16"),
        ("A26", "A15"),
        ("A27", "A14"),
        ("A52", "A21"),
        ("A53", "A22"),
        ("A55", "A54"),
    ] {
        assert_eq!(cancelled_event(cancel), Some(event), "{cancel}");
        assert!(
            DataKind::is_cancel_event(&format!("ADT^{cancel}")),
            "{cancel}"
        );
    }
    assert_eq!(cancelled_event("A01"), None);
}

/// A fixture of `fixtures/lab/` (patterns of the JAHIS lab convention beyond the samples).
fn lab_fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/lab/{name}.hl7",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn oml11_culture_keeps_every_organism_with_its_quantity_and_susceptibilities() {
    let r = read_record(DataKind::Oml11, &parse(&lab_fixture("OML-11-culture"))).unwrap();
    assert_eq!(
        r.header.clinical_date,
        s("20260308"),
        "SPM-17 start of the range"
    );
    let Body::LabResult(l) = r.body else { panic!() };
    let sp = &l.specimens[0].specimen;
    assert_eq!(sp.specimen_type.as_ref().unwrap().text, "尿");
    assert_eq!(sp.collected_end, s("202603081030"));
    let item = &l.specimens[0].items[0];
    assert_eq!(item.request.section, s("MB"));
    assert_eq!(item.request.result_status, s("C"));
    assert_eq!(item.comments, vec!["抗菌薬投与前に採取".to_owned()]);
    assert_eq!(item.results.len(), 11);
    assert_eq!(item.results[1].sub_id, s("1"));
    assert_eq!(item.results[8].sub_id, s("2.1"));
    assert_eq!(item.results[2].value(), "10^5", "\\S\\ is ^");
    assert_eq!(item.results[3].value(), ">^16", "SN kept as sent");
    assert_eq!(
        item.results[3].comments,
        vec!["再判定により訂正".to_owned()]
    );

    let c = item.culture().expect("a culture");
    assert_eq!(
        c.specimen_findings,
        vec![("グラム染色".to_owned(), "グラム陰性桿菌 (2+)".to_owned())]
    );
    assert_eq!(c.organisms.len(), 2, "the second organism is kept");
    let ec = &c.organisms[0];
    assert_eq!(
        (
            ec.key.as_str(),
            ec.name.as_str(),
            ec.code.as_str(),
            ec.code_system.as_str()
        ),
        ("1", "Escherichia coli", "1001", "JANIS")
    );
    assert_eq!(
        ec.findings,
        vec![("菌量".to_owned(), "10^5 CFU/mL".to_owned())]
    );
    assert_eq!(ec.comments, vec!["再判定により訂正".to_owned()]);
    let row = |s: &Susceptibility| {
        (
            s.drug.clone(),
            s.mic.clone(),
            s.unit.clone(),
            s.interpretation.clone(),
            s.status.clone(),
        )
    };
    let t = |d: &str, m: &str, u: &str, i: &str, st: &str| {
        (
            d.to_owned(),
            m.to_owned(),
            u.to_owned(),
            i.to_owned(),
            st.to_owned(),
        )
    };
    assert_eq!(
        ec.susceptibilities.iter().map(row).collect::<Vec<_>>(),
        vec![
            t("ABPC", ">16", "μg/mL", "R", "C"),
            t("CEZ", "<=4", "μg/mL", "S", "F"),
            t("LVFX", "2", "μg/mL", "I", "F"),
        ]
    );
    let ef = &c.organisms[1];
    assert_eq!(ef.name, "Enterococcus faecalis");
    assert_eq!(
        ef.findings,
        vec![("菌量".to_owned(), "10^4 CFU/mL".to_owned())]
    );
    // The judgement sent as its own row (sub-ID 2.2) joins the VCM row.
    assert_eq!(
        ef.susceptibilities.iter().map(row).collect::<Vec<_>>(),
        vec![
            t("ABPC", "<=2", "μg/mL", "S", "F"),
            t("VCM", "1", "μg/mL", "S", "F"),
        ]
    );
    // An ordinary chemistry result is not a culture.
    let r = read(DataKind::Oml11);
    let Body::LabResult(l) = r.body else { panic!() };
    assert!(l.items().all(|i| i.culture().is_none()));
}

#[test]
fn oml11_susceptibility_panel_of_its_own_keeps_its_organism_through_obr26() {
    let r = read_record(
        DataKind::Oml11,
        &parse(&lab_fixture("OML-11-culture-parent")),
    )
    .unwrap();
    let Body::LabResult(l) = r.body else { panic!() };
    let items: Vec<&LabResultItem> = l.items().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].request.parent_sub_id, s("1"));
    assert_eq!(
        items[1].request.parent_value,
        s("Staphylococcus aureus (MRSA)")
    );
    let parent = items[0].culture().expect("culture");
    assert_eq!(parent.organisms.len(), 1);
    assert_eq!(
        parent.organisms[0].findings,
        vec![("菌量".to_owned(), "3+".to_owned())]
    );
    let child = items[1].culture().expect("susceptibility panel");
    assert!(
        child.specimen_findings.is_empty(),
        "no row lost to 'the specimen'"
    );
    assert_eq!(child.organisms.len(), 1);
    let o = &child.organisms[0];
    assert_eq!(
        (o.key.as_str(), o.name.as_str()),
        ("1", "Staphylococcus aureus (MRSA)")
    );
    let rows: Vec<(&str, &str, &str)> = o
        .susceptibilities
        .iter()
        .map(|s| (s.drug.as_str(), s.mic.as_str(), s.interpretation.as_str()))
        .collect();
    assert_eq!(rows, vec![("MPIPC", ">2", "R"), ("VCM", "1", "S")]);
}

#[test]
fn oml11_orc_before_obr_is_one_result_group() {
    // The SS-MIX2 order is OBR then ORC; an ORC sent first must not become a group of its own.
    let text = fixture(DataKind::Oml11);
    let obr = text.lines().find(|l| l.starts_with("OBR|")).unwrap();
    let orc = text.lines().find(|l| l.starts_with("ORC|")).unwrap();
    let swapped = text
        .replace(obr, "@OBR@")
        .replace(orc, obr)
        .replace("@OBR@", orc);
    let r = read_record(DataKind::Oml11, &parse(&swapped)).unwrap();
    let Body::LabResult(l) = r.body else { panic!() };
    let items: Vec<&LabResultItem> = l.items().collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].request.service.as_ref().unwrap().code, "E001");
    assert_eq!(items[0].order.as_ref().unwrap().control, "SC");
    assert_eq!(items[0].results.len(), 3);
}
