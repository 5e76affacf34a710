//! Prescriptions, injections and administrations as the JAHIS 処方データ交換規約 sends the
//! awkward cases (fixtures/OMP-*-<case>.hl7, hand-written, UTF-8 with LF line ends):
//! uneven per-time doses (4-2-1), supplementary usages in a second TQ1-3 repetition or a
//! second TQ1 (隔日, 週2回（月・木）, １日３回まで), as-needed lines, a rhythm that cannot be
//! read with certainty (３日おき), a topical line without a day count, an infusion with rate,
//! per-administration duration, time slots and a start condition, and administrations
//! refused or not given.

use ssmix2::dosing::Rhythm;
use ssmix2::records::*;
use ssmix2::DataKind;

fn read(kind: DataKind, name: &str) -> Record {
    let path = format!("{}/tests/fixtures/{name}.hl7", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let msg = hl7::Message::parse(&text).expect("parses");
    read_record(kind, &msg).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn order(name: &str, kind: DataKind) -> MedicationOrder {
    match read(kind, name).body {
        Body::MedicationOrder(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn uneven_doses_keep_every_time() {
    let m = order("OMP-01-timing", DataKind::Omp01);
    assert_eq!(m.items.len(), 6);
    let rp1 = &m.items[0];
    assert_eq!(rp1.order.group_no.as_deref(), Some("1"));
    assert_eq!(rp1.dose.as_deref(), Some("1"));
    assert_eq!(rp1.dose_max.as_deref(), Some("4"));
    assert_eq!(rp1.instructions[0].text, "朝4錠-昼2錠-夕1錠");
    assert!(rp1.uneven());
    let owned = rp1.per_time_doses();
    assert_eq!(
        owned
            .iter()
            .map(|p| (p.when.as_str(), p.amount.as_str(), p.unit.as_str()))
            .collect::<Vec<_>>(),
        [
            ("朝食後", "4", "錠"),
            ("昼食後", "2", "錠"),
            ("夕食後", "1", "錠")
        ]
    );
    // The per-time TQ1s are not supplementary usages: the line is daily for 7 days.
    assert!(rp1.supplementary_usages().is_empty());
    assert_eq!(rp1.rhythm(), Rhythm::Daily);
    assert_eq!(rp1.days(), Some(7));
    assert_eq!(rp1.calendar_end().as_deref(), Some("20260307"));
    assert_eq!(rp1.total_amount.as_deref(), Some("49"));
    assert_eq!(rp1.dispensing(), Some("院外"));
    assert_eq!(
        rp1.order.ordering_doctor.as_ref().map(|p| p.display()),
        Some("医師\u{3000}一郎".to_owned())
    );
}

#[test]
fn supplementary_usages_set_the_calendar_span() {
    let m = order("OMP-01-timing", DataKind::Omp01);
    // Rp 2: 隔日 in the second TQ1-3 repetition; 7 taking days span 13 calendar days.
    let rp2 = &m.items[1];
    assert_eq!(rp2.supplementary_usages()[0].text, "隔日");
    assert_eq!(rp2.rhythm(), Rhythm::EveryDays(2));
    assert_eq!(rp2.start(), Some("20260301"));
    assert_eq!(rp2.calendar_end().as_deref(), Some("20260313"));
    // Rp 3: weekdays in a second TQ1 segment; 8 Mondays and Thursdays from Monday 2 March.
    let rp3 = &m.items[2];
    assert_eq!(rp3.supplementary_usages()[0].text, "週2回（月・木）");
    assert_eq!(rp3.rhythm(), Rhythm::Weekdays(vec![0, 3]));
    assert_eq!(rp3.calendar_end().as_deref(), Some("20260326"));
    // Rp 4: as needed, 10 times, at most 3 a day: no schedule, no day count.
    let rp4 = &m.items[3];
    assert!(rp4.as_needed());
    assert_eq!(rp4.rhythm(), Rhythm::AsNeeded);
    assert_eq!(rp4.days(), None);
    assert_eq!(
        rp4.timing[0].duration.as_ref().map(|d| d.amount.as_str()),
        Some("10")
    );
    assert_eq!(rp4.supplementary_usages()[0].text, "１日３回まで");
    assert_eq!(rp4.calendar_end(), None);
    // Rp 5: ３日おき is not certain (every 3rd or 4th day): no end date.
    let rp5 = &m.items[4];
    assert_eq!(rp5.rhythm(), Rhythm::Unknown);
    assert_eq!(rp5.days(), Some(5));
    assert_eq!(rp5.calendar_end(), None);
    // Rp 6: topical, a site, no day count.
    let rp6 = &m.items[5];
    assert_eq!(rp6.days(), None);
    assert_eq!(rp6.calendar_end(), None);
    assert_eq!(
        rp6.routes[0].site.as_ref().map(|s| s.text.as_str()),
        Some("腰部")
    );
    assert_eq!(rp6.kinds[0].text, "外用");
}

#[test]
fn infusion_rate_duration_slots_and_start_condition() {
    let m = order("OMP-02-infusion", DataKind::Omp02);
    let it = &m.items[0];
    assert_eq!(it.rate.as_deref(), Some("250"));
    assert_eq!(
        it.rate_unit.as_ref().map(|u| u.text.as_str()),
        Some("ミリリッター／時間")
    );
    assert_eq!(it.instructions[0].text, "２時間かけて");
    assert_eq!(it.total_amount.as_deref(), Some("1000"));
    let t = &it.timing[0];
    assert_eq!(t.explicit_times, ["0900", "2100"]);
    assert_eq!(t.condition.as_deref(), Some("手術翌日から"));
    let d = t.occurrence_duration.as_ref().expect("TQ1-13");
    assert_eq!(
        (d.amount.as_str(), d.unit.as_ref().map(|u| u.text.as_str())),
        ("2", Some("時間"))
    );
    assert_eq!(it.calendar_end().as_deref(), Some("20260302"));
    assert_eq!(it.dispensing(), Some("院内"));
    let r = &it.routes[0];
    assert_eq!(r.route.as_ref().map(|c| c.text.as_str()), Some("静脈内"));
    assert_eq!(r.site.as_ref().map(|c| c.text.as_str()), Some("左前腕"));
    assert_eq!(
        r.device.as_ref().map(|c| c.text.as_str()),
        Some("点滴ポンプ")
    );
    assert_eq!(it.components.len(), 2);
    assert_eq!(it.components[1].component_type, "A");
}

#[test]
fn refused_and_not_given_administrations_are_read() {
    let m = match read(DataKind::Omp12, "OMP-12-refused").body {
        Body::MedicationAdministration(m) => m,
        other => panic!("{other:?}"),
    };
    let a: Vec<&Administration> = m.all().collect();
    assert_eq!(a.len(), 3);
    assert_eq!(a[0].completion_status.as_deref(), Some("CP"));
    assert_eq!(a[0].end.as_deref(), Some("202603011110"));
    assert_eq!(a[1].completion_status.as_deref(), Some("RE"));
    assert_eq!(a[1].notes[0].text, "本人拒否");
    assert_eq!(a[2].completion_status.as_deref(), Some("NA"));
    assert_eq!(a[2].notes[0].text, "検査のため中止");
    assert_eq!(a[2].administered_by[0].display(), "看護\u{3000}花子");
}
