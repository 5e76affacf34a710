//! Prescriptions and injections (OMP-01/02: one fact per drug line) and their
//! administrations (OMP-11/12: one per RXA).

use hl7::{Message, Segment};
use store::{add_days_to, Fact, MedicationFact};

use super::{date8, get, text_or_code};

/// One ORC group of a prescription or injection order being read.
#[derive(Default)]
struct DrugGroup {
    base: MedicationFact,
    has_drug: bool,
    /// TQ1-7 / TQ1-8 as sent.
    start: String,
    end: String,
    /// Injection components (RXC): each is its own drug line.
    components: Vec<(String, String, String, String, String)>,
}

fn drug_codes(seg: &Segment<'_>, n: usize, f: &mut MedicationFact) {
    for (c, t, s) in [(1, 2, 3), (4, 5, 6)] {
        let system = get(seg, n, s);
        let code = get(seg, n, c);
        if code.is_empty() {
            continue;
        }
        if system.starts_with("HOT") && f.hot_code.is_empty() {
            f.hot_code = code;
        } else if system == "YJ" && f.yj_code.is_empty() {
            f.yj_code = code;
        } else if f.local_code.is_empty() && f.hot_code.is_empty() {
            f.local_code = code;
        }
        if f.drug_name.is_empty() {
            f.drug_name = get(seg, n, t);
        }
    }
}

impl DrugGroup {
    fn finish(self, out: &mut Vec<Fact>) {
        let mut base = self.base;
        base.start_date = if self.start.len() >= 8 {
            date8(&self.start)
        } else {
            date8(&base.ordered_at)
        };
        base.end_date = if self.end.len() >= 8 {
            date8(&self.end)
        } else {
            match base.days {
                Some(d) if d > 0 => add_days_to(&base.start_date, i64::from(d) - 1),
                _ => String::new(),
            }
        };
        if self.components.is_empty() {
            if self.has_drug {
                out.push(Fact::Medication(base));
            }
            return;
        }
        for (hot, yj, name, amount, unit) in self.components {
            let local_code = if hot.is_empty() && yj.is_empty() {
                base.local_code.clone()
            } else {
                String::new()
            };
            out.push(Fact::Medication(MedicationFact {
                hot_code: hot,
                yj_code: yj,
                local_code,
                drug_name: name,
                dose: amount,
                dose_unit: unit,
                ..base.clone()
            }));
        }
    }
}

pub(crate) fn medications(msg: &Message) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut group: Option<DrugGroup> = None;
    for seg in msg.segments() {
        if seg.name() == "ORC" {
            if let Some(g) = group.take() {
                g.finish(&mut out);
            }
            group = Some(DrugGroup {
                base: MedicationFact {
                    rp: get(&seg, 4, 1),
                    ordered_at: get(&seg, 9, 1),
                    ..Default::default()
                },
                ..Default::default()
            });
            continue;
        }
        let Some(g) = group.as_mut() else { continue };
        match seg.name() {
            "RXE" if !g.has_drug => {
                g.has_drug = true;
                let f = &mut g.base;
                drug_codes(&seg, 2, f);
                // RXE-31 supplementary codes: the YJ code usually travels here.
                for rep in seg.field(31).repetitions() {
                    if rep.component(3).value() == "YJ" && f.yj_code.is_empty() {
                        f.yj_code = rep.component(1).value().into_owned();
                    }
                }
                f.dose = get(&seg, 3, 1);
                f.dose_unit = text_or_code(&seg, 5);
                let daily = get(&seg, 19, 1);
                if !daily.is_empty() {
                    let c = seg.field(19).component(2);
                    let unit = c.subcomponent(2);
                    let unit = if unit.is_empty() {
                        c.subcomponent(1)
                    } else {
                        unit
                    };
                    f.daily_dose = format!("{daily}{unit}");
                }
            }
            "TQ1" => {
                let usage = seg.field(3).component(1);
                let text = usage.subcomponent(2);
                if g.base.usage.is_empty() {
                    g.base.usage = if text.is_empty() {
                        usage.subcomponent(1).into_owned()
                    } else {
                        text.into_owned()
                    };
                }
                let amount = get(&seg, 6, 1);
                let unit = seg.field(6).component(2).subcomponent(1);
                let unit_text = seg.field(6).component(2).subcomponent(2);
                if ["D", "d", "日"].contains(&unit.as_ref()) || unit_text == "日" {
                    g.base.days = g.base.days.or(amount.trim().parse().ok());
                }
                if g.start.is_empty() {
                    g.start = get(&seg, 7, 1);
                }
                if g.end.is_empty() {
                    g.end = get(&seg, 8, 1);
                }
            }
            "RXR" if g.base.route.is_empty() => g.base.route = text_or_code(&seg, 1),
            "RXC" => {
                let mut f = MedicationFact::default();
                drug_codes(&seg, 2, &mut f);
                g.components.push((
                    f.hot_code,
                    f.yj_code,
                    f.drug_name,
                    get(&seg, 3, 1),
                    text_or_code(&seg, 4),
                ));
            }
            _ => {}
        }
    }
    if let Some(g) = group {
        g.finish(&mut out);
    }
    out
}

/// The drug lines of an OMP-11 / OMP-12 notification (処方実施 / 注射実施): one per RXA
/// (RXA-5 drug, RXA-6/7 amount and unit, RXA-3/4 start and end of administration, the RXR of
/// its ORC group for the route). The record's kind marks them as administered rather than
/// ordered. An RXA whose completion status (RXA-20) says refused (`RE`) or not administered
/// (`NA`) gave the patient nothing and is skipped.
pub(crate) fn administrations(msg: &Message) -> Vec<Fact> {
    let mut out: Vec<MedicationFact> = Vec::new();
    let mut base = MedicationFact::default();
    let mut group_start = 0;
    for seg in msg.segments() {
        match seg.name() {
            "ORC" => {
                base = MedicationFact {
                    rp: get(&seg, 4, 1),
                    ordered_at: get(&seg, 9, 1),
                    ..Default::default()
                };
                group_start = out.len();
            }
            "RXA" => {
                if matches!(get(&seg, 20, 1).as_str(), "RE" | "NA") {
                    continue;
                }
                let mut f = base.clone();
                drug_codes(&seg, 5, &mut f);
                f.dose = get(&seg, 6, 1);
                f.dose_unit = text_or_code(&seg, 7);
                let start = get(&seg, 3, 1);
                let end = get(&seg, 4, 1);
                f.start_date = if start.len() >= 8 {
                    date8(&start)
                } else {
                    date8(&base.ordered_at)
                };
                f.end_date = if end.len() >= 8 {
                    date8(&end)
                } else {
                    f.start_date.clone()
                };
                out.push(f);
            }
            "RXR" => {
                let route = text_or_code(&seg, 1);
                for f in out.iter_mut().skip(group_start) {
                    if f.route.is_empty() {
                        f.route = route.clone();
                    }
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(Fact::Medication).collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use ssmix2::DataKind;
    use store::{Fact, MedicationFact};

    fn meds(kind: DataKind) -> Vec<MedicationFact> {
        fixture(kind)
            .into_iter()
            .map(|f| match f.fact {
                Fact::Medication(m) => m,
                other => panic!("not a medication: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn prescription_lines_with_dates_from_tq1_or_days() {
        let m = meds(DataKind::Omp01);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            MedicationFact {
                rp: "1".into(),
                hot_code: "108665201".into(),
                yj_code: "2149039F1031".into(),
                local_code: "".into(),
                drug_name: "ダーゼン錠（５mg)".into(),
                dose: "1".into(),
                dose_unit: "錠".into(),
                daily_dose: "3錠".into(),
                usage: "内服・経口・１日３回朝昼夕食後".into(),
                route: "口".into(),
                days: Some(5),
                start_date: "20110701".into(),
                end_date: "20110705".into(),
                ordered_at: "20110701103045".into(),
                detail: Default::default(),
            }
        );
        // Rp 2 has no TQ1-8: the end is start + 14 days − 1.
        assert_eq!(m[1].rp, "2");
        assert_eq!(m[1].hot_code, "100607002");
        assert_eq!(m[1].yj_code, "");
        assert_eq!(
            (m[1].dose.as_str(), m[1].dose_unit.as_str()),
            ("50", "ミリグラム")
        );
        assert_eq!(m[1].daily_dose, "100ミリグラム");
        assert_eq!(m[1].days, Some(14));
        assert_eq!(
            (m[1].start_date.as_str(), m[1].end_date.as_str()),
            ("20110701", "20110714")
        );
    }

    #[test]
    fn injection_one_line_per_component() {
        let m = meds(DataKind::Omp02);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].hot_code, "620007329");
        assert_eq!(m[0].drug_name, "ソリタ－Ｔ３号輸液５００ｍＬ");
        assert_eq!((m[0].dose.as_str(), m[0].dose_unit.as_str()), ("1", "本"));
        assert_eq!(m[1].hot_code, "620002559");
        assert_eq!(m[1].dose_unit, "アンプル");
        for line in &m {
            assert_eq!(line.rp, "123456789012345_01_001");
            assert_eq!(line.route, "静脈内");
            assert_eq!(line.days, None);
            assert_eq!(
                (line.start_date.as_str(), line.end_date.as_str()),
                ("20110701", "20110701")
            );
        }
    }

    #[test]
    fn administrations_one_line_per_rxa() {
        let m = meds(DataKind::Omp11);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].hot_code, "108665201");
        assert_eq!(m[0].drug_name, "ダーゼン錠（５mg)");
        assert_eq!((m[0].dose.as_str(), m[0].dose_unit.as_str()), ("1", "錠"));
        assert_eq!(m[1].hot_code, "110626901");
        assert_eq!(m[1].dose, "2");
        for line in &m {
            assert_eq!(line.route, "口");
            assert_eq!(
                (line.start_date.as_str(), line.end_date.as_str()),
                ("20110701", "20110701")
            );
        }
        let m = meds(DataKind::Omp12);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].drug_name, "ソリタ－Ｔ３号輸液５００ｍＬ");
        assert_eq!(
            (m[0].dose.as_str(), m[0].dose_unit.as_str()),
            ("500", "ミリリットル")
        );
        assert_eq!(m[1].rp, "123456789012345_01_001");
        assert_eq!(m[1].route, "静脈内");
    }
}
