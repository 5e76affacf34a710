//! The demo region produces the prescription patterns of issue 14 (uneven doses, TQ1
//! supplementary usages, as needed, an uncertain rhythm, an infusion, refused and not-given
//! administrations), once per person at their first hospital or clinic.

use std::path::Path;

use ssmix2::dosing::Rhythm;
use ssmix2::records::Body;
use ssmix2::{DataKind, StandardName};
use synth::{generate, Options};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_person_gets_the_jahis_medication_patterns() {
    let o = Options {
        patients: 6,
        seed: 3,
        fault_rate: 0.0,
        ..Options::default()
    };
    let dir = tempfile::tempdir().expect("tmp");
    generate(&o, dir.path(), &|_| {}).expect("generate");
    let mut all = Vec::new();
    files(dir.path(), &mut all);
    let (mut every_other, mut refused, mut infusions) = (0, 0, 0);
    for p in all {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(sp) = StandardName::parse(name) else {
            continue;
        };
        if !matches!(sp.kind, DataKind::Omp01 | DataKind::Omp02 | DataKind::Omp12) {
            continue;
        }
        let bytes = std::fs::read(&p).expect("read");
        let decoded = hl7::decode(&bytes).expect("decodes");
        let msg = hl7::Message::parse(decoded.text).expect("parses");
        let record = ssmix2::read_record(sp.kind, &msg).expect("reads");
        match record.body {
            Body::MedicationOrder(m) => {
                for it in &m.items {
                    if it.rhythm() == Rhythm::EveryDays(2) {
                        every_other += 1;
                        let start =
                            ssmix2::dosing::day_number(it.start().expect("start")).expect("day");
                        let end = ssmix2::dosing::day_number(&it.calendar_end().expect("end"))
                            .expect("day");
                        assert_eq!(end - start, 12, "隔日 × 7 spans 13 days");
                    }
                    if it.rate.is_some()
                        && it.timing.iter().any(|t| t.occurrence_duration.is_some())
                    {
                        infusions += 1;
                    }
                }
                // The pattern prescription carries every case at once.
                if m.items.iter().any(|i| i.rhythm() == Rhythm::EveryDays(2)) {
                    assert!(m
                        .items
                        .iter()
                        .any(|i| i.uneven() && i.per_time_doses().len() == 3));
                    assert!(m.items.iter().any(|i| i.as_needed()));
                    assert!(m
                        .items
                        .iter()
                        .any(|i| i.rhythm() == Rhythm::Weekdays(vec![0, 3])));
                    assert!(m.items.iter().any(|i| i.rhythm() == Rhythm::Unknown));
                }
            }
            Body::MedicationAdministration(a)
                if a.all()
                    .any(|x| x.completion_status.as_deref() == Some("RE"))
                    && a.all()
                        .any(|x| x.completion_status.as_deref() == Some("NA")) =>
            {
                refused += 1;
            }
            _ => {}
        }
    }
    assert!(every_other >= 3, "{every_other} every-other-day lines");
    assert!(infusions >= 3, "{infusions} infusions");
    assert!(refused >= 3, "{refused} refused administrations");
}
