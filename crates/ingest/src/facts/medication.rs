//! Prescriptions and injections (OMP-01/02: one fact per drug line) and their
//! administrations (OMP-11/12: one per RXA).

use hl7::{Message, Segment};
use ssmix2::records::{Coded, MedicationItem, Person, Timing};
use store::{Fact, MedicationDetail, MedicationFact, PerTime};

use super::{date8, get, text_or_code};

/// One ORC group of a prescription or injection order being read.
#[derive(Default)]
struct DrugGroup {
    base: MedicationFact,
    has_drug: bool,
    /// What the calendar and dose rules of `ssmix2` need (dose, kinds, TQ1s); the rest of
    /// the typed item stays unread.
    item: MedicationItem,
    /// Injection components (RXC): each is its own drug line.
    components: Vec<Component>,
}

struct Component {
    kind: String,
    codes: MedicationFact,
    amount: String,
    unit: String,
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

/// Text of a coded value: its text, else its code.
fn shown(c: &Coded) -> String {
    c.display().to_owned()
}

fn person(p: Option<Person>) -> String {
    p.map(|p| p.display()).unwrap_or_default()
}

/// `amount` followed by the unit's text (`49錠`), empty without an amount.
fn amount_with(amount: &str, unit: &str) -> String {
    if amount.is_empty() {
        String::new()
    } else {
        format!("{amount}{unit}")
    }
}

/// Usage text with its supplementary usages: `内服・経口・１日１回朝食後（隔日）`. A line shown
/// anywhere by its usage alone must never read as daily when it is not.
fn usage_with_modifiers(basic: &str, modifiers: &[String]) -> String {
    if modifiers.is_empty() {
        basic.to_owned()
    } else {
        format!("{basic}（{}）", modifiers.join("・"))
    }
}

impl DrugGroup {
    fn finish(self, out: &mut Vec<Fact>) {
        let DrugGroup {
            mut base,
            has_drug,
            item,
            components,
        } = self;
        let d = &mut base.detail;
        base.start_date = date8(item.start().unwrap_or_default());
        base.end_date = item.calendar_end().unwrap_or_default();
        base.days = item.days();
        let rhythm = item.rhythm();
        d.rhythm = rhythm.encode();
        d.as_needed = item.as_needed();
        // No certain end: no end date, the days as sent, flagged.
        d.span_uncertain = base.end_date.is_empty();
        d.modifiers = item.supplementary_usages().into_iter().map(shown).collect();
        d.condition = item
            .timing
            .iter()
            .find_map(|t| t.condition.clone())
            .unwrap_or_default();
        d.instructions
            .extend(item.timing.iter().filter_map(|t| t.instruction.clone()));
        if let Some(t) = item.timing.first() {
            if let Some(q) = &t.occurrence_duration {
                d.duration = amount_with(&q.amount, q.unit.as_ref().map_or("", |u| u.display()));
            }
            d.occurrences = match (&t.duration, &t.total_occurrences) {
                (Some(q), _) if q.days().is_none() => {
                    amount_with(&q.amount, q.unit.as_ref().map_or("", |u| u.display()))
                }
                (_, Some(n)) => format!("{n}回"),
                _ => String::new(),
            };
        }
        if let Some(u) = item.usage() {
            d.usage_code = u.usage_code().unwrap_or(&u.code).to_owned();
            base.usage = usage_with_modifiers(u.display(), &d.modifiers);
        }
        d.per_time = item
            .per_time_doses()
            .into_iter()
            .map(|p| PerTime {
                when: p.when,
                amount: p.amount,
                unit: p.unit,
            })
            .collect();
        d.uneven = item.uneven();
        if d.uneven {
            d.dose_max = item.dose_max.clone().unwrap_or_default();
            // Never the minimum alone: each time's dose (4-2-1), else the range as sent.
            base.dose = if d.per_time.len() >= 2 {
                d.per_time
                    .iter()
                    .map(|p| p.amount.as_str())
                    .collect::<Vec<_>>()
                    .join("-")
            } else {
                format!("{}〜{}", base.dose, d.dose_max)
            };
        }
        if components.is_empty() {
            if has_drug {
                out.push(Fact::Medication(base));
            }
            return;
        }
        for c in components {
            let mut line = base.clone();
            let has_standard = !c.codes.hot_code.is_empty() || !c.codes.yj_code.is_empty();
            line.hot_code = c.codes.hot_code;
            line.yj_code = c.codes.yj_code;
            if has_standard || !c.codes.local_code.is_empty() {
                line.local_code = c.codes.local_code;
            }
            line.drug_name = c.codes.drug_name;
            line.dose = c.amount;
            line.dose_unit = c.unit;
            line.detail.uneven = false;
            line.detail.per_time.clear();
            line.detail.dose_max.clear();
            line.detail.component_type = c.kind;
            out.push(Fact::Medication(line));
        }
    }
}

fn order_base(seg: &Segment<'_>) -> MedicationFact {
    MedicationFact {
        rp: get(seg, 4, 1),
        ordered_at: get(seg, 9, 1),
        detail: Box::new(MedicationDetail {
            prescriber: person(Person::from_field(seg.field(12))),
            department: text_or_code(seg, 17),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn route(seg: &Segment<'_>, d: &mut MedicationDetail) -> String {
    if d.site.is_empty() {
        d.site = text_or_code(seg, 2);
    }
    if d.device.is_empty() {
        d.device = text_or_code(seg, 3);
    }
    text_or_code(seg, 1)
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
                base: order_base(&seg),
                item: MedicationItem {
                    order: ssmix2::records::Order {
                        ordered_at: Some(get(&seg, 9, 1)).filter(|s| !s.is_empty()),
                        ..Default::default()
                    },
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
                let d = &mut f.detail;
                d.form = text_or_code(&seg, 6);
                d.instructions = Coded::all_from_field(seg.field(7))
                    .iter()
                    .map(shown)
                    .collect();
                d.total = amount_with(&get(&seg, 10, 1), &text_or_code(&seg, 11));
                let categories = Coded::all_from_field(seg.field(21));
                d.categories = categories.iter().map(shown).collect();
                d.dispensing = ssmix2::dosing::dispensing(
                    categories
                        .iter()
                        .map(|c| (c.code.as_str(), c.text.as_str())),
                )
                .unwrap_or_default()
                .to_owned();
                let rate = get(&seg, 23, 1);
                if !rate.is_empty() {
                    d.rate = format!("{rate} {}", text_or_code(&seg, 24));
                }
                let kinds = Coded::all_from_field(seg.field(27));
                g.item.dose = Some(f.dose.clone()).filter(|s| !s.is_empty());
                g.item.dose_max = Some(get(&seg, 4, 1)).filter(|s| !s.is_empty());
                g.item.kinds = kinds;
            }
            "TQ1" => g.item.timing.push(Timing::read(&seg)),
            "RXR" if g.base.route.is_empty() => g.base.route = route(&seg, &mut g.base.detail),
            "RXC" => {
                let mut codes = MedicationFact::default();
                drug_codes(&seg, 2, &mut codes);
                g.components.push(Component {
                    kind: get(&seg, 1, 1),
                    codes,
                    amount: get(&seg, 3, 1),
                    unit: text_or_code(&seg, 4),
                });
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
/// (`NA`) gave the patient nothing: it is kept with its status and reason (RXA-9) so the
/// viewer says so, and the service leaves it out of what the patient takes.
pub(crate) fn administrations(msg: &Message) -> Vec<Fact> {
    let mut out: Vec<MedicationFact> = Vec::new();
    let mut base = MedicationFact::default();
    let mut group_start = 0;
    for seg in msg.segments() {
        match seg.name() {
            "ORC" => {
                base = order_base(&seg);
                group_start = out.len();
            }
            "RXA" => {
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
                let d = &mut f.detail;
                d.form = text_or_code(&seg, 8);
                d.status = get(&seg, 20, 1);
                d.status_notes = Coded::all_from_field(seg.field(9))
                    .iter()
                    .map(shown)
                    .collect();
                out.push(f);
            }
            "RXR" => {
                for f in out.iter_mut().skip(group_start) {
                    if f.route.is_empty() {
                        f.route = route(&seg, &mut f.detail);
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
    use store::{Fact, MedicationDetail, MedicationFact, PerTime};

    /// The facts of one of the named fixtures (`OMP-01-timing` …) of crates/ssmix2.
    fn named(kind: DataKind, name: &str) -> Vec<MedicationFact> {
        let path = format!(
            "{}/../ssmix2/tests/fixtures/{name}.hl7",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        super::super::tests::facts_of(kind, &text)
            .into_iter()
            .map(|f| match f {
                Fact::Medication(m) => m,
                other => panic!("not a medication: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn uneven_doses_show_each_time_not_the_minimum() {
        let m = named(DataKind::Omp01, "OMP-01-timing");
        assert_eq!(m.len(), 6);
        let rp1 = &m[0];
        assert_eq!(rp1.drug_name, "プレドニゾロン錠５ｍｇ「タケダ」");
        assert_eq!(rp1.dose, "4-2-1");
        assert_eq!(rp1.dose_unit, "錠");
        assert_eq!(rp1.daily_dose, "7錠");
        assert!(rp1.detail.uneven);
        assert_eq!(rp1.detail.dose_max, "4");
        assert_eq!(
            rp1.detail.per_time,
            [
                PerTime {
                    when: "朝食後".into(),
                    amount: "4".into(),
                    unit: "錠".into()
                },
                PerTime {
                    when: "昼食後".into(),
                    amount: "2".into(),
                    unit: "錠".into()
                },
                PerTime {
                    when: "夕食後".into(),
                    amount: "1".into(),
                    unit: "錠".into()
                },
            ]
        );
        assert_eq!(rp1.detail.instructions, ["朝4錠-昼2錠-夕1錠"]);
        assert_eq!(rp1.detail.total, "49錠");
        assert_eq!(rp1.detail.dispensing, "院外");
        assert_eq!(rp1.usage, "内服・経口・１日３回朝昼夕食後");
        assert_eq!(
            (rp1.start_date.as_str(), rp1.end_date.as_str()),
            ("20260301", "20260307")
        );
    }

    #[test]
    fn supplementary_usages_are_kept_and_set_the_end_date() {
        let m = named(DataKind::Omp01, "OMP-01-timing");
        // 隔日 × 7 taking days: 13 calendar days, not 7.
        let rp2 = &m[1];
        assert_eq!(rp2.usage, "内服・経口・１日１回朝食後（隔日）");
        assert_eq!(rp2.detail.modifiers, ["隔日"]);
        assert_eq!(rp2.detail.rhythm, "every:2");
        assert_eq!(rp2.days, Some(7));
        assert_eq!(
            (rp2.start_date.as_str(), rp2.end_date.as_str()),
            ("20260301", "20260313")
        );
        assert!(!rp2.detail.span_uncertain);
        // Mondays and Thursdays × 8 from Monday 2 March: ends Thursday 26 March.
        let rp3 = &m[2];
        assert_eq!(rp3.detail.rhythm, "weekdays:0,3");
        assert_eq!(rp3.usage, "内服・経口・１日１回起床時（週2回（月・木））");
        assert_eq!(
            (rp3.start_date.as_str(), rp3.end_date.as_str()),
            ("20260302", "20260326")
        );
        // As needed, 10 times, at most 3 a day: no day count, no end, flagged.
        let rp4 = &m[3];
        assert!(rp4.detail.as_needed);
        assert_eq!(rp4.detail.rhythm, "as_needed");
        assert_eq!(rp4.detail.occurrences, "10回");
        assert_eq!(rp4.detail.modifiers, ["１日３回まで"]);
        assert_eq!((rp4.days, rp4.end_date.as_str()), (None, ""));
        assert!(rp4.detail.span_uncertain);
        // ３日おき: the days as sent, no end date, flagged.
        let rp5 = &m[4];
        assert_eq!(rp5.detail.rhythm, "unknown");
        assert_eq!((rp5.days, rp5.end_date.as_str()), (Some(5), ""));
        assert!(rp5.detail.span_uncertain);
        // Topical without day count: site kept, no end.
        let rp6 = &m[5];
        assert_eq!(
            (rp6.route.as_str(), rp6.detail.site.as_str()),
            ("外用", "腰部")
        );
        assert_eq!(rp6.detail.total, "28枚");
        assert_eq!(rp6.end_date, "");
    }

    #[test]
    fn infusion_keeps_rate_duration_slots_and_mix() {
        let m = named(DataKind::Omp02, "OMP-02-infusion");
        assert_eq!(m.len(), 2);
        let d = &m[0].detail;
        assert_eq!(m[0].drug_name, "生理食塩液５００ｍＬ");
        assert_eq!(d.rate, "250 ミリリッター／時間");
        assert_eq!(d.duration, "2時間");
        assert_eq!(d.condition, "手術翌日から");
        assert_eq!(d.instructions, ["２時間かけて"]);
        assert_eq!(d.total, "1000ミリリットル");
        assert_eq!(d.dispensing, "院内");
        assert_eq!(
            (d.site.as_str(), d.device.as_str()),
            ("左前腕", "点滴ポンプ")
        );
        assert_eq!(d.prescriber, "外科\u{3000}次郎");
        assert_eq!(d.component_type, "B");
        assert_eq!(m[1].detail.component_type, "A");
        assert_eq!(
            (m[0].start_date.as_str(), m[0].end_date.as_str()),
            ("20260301", "20260302")
        );
        assert_eq!(m[0].days, Some(2));
    }

    #[test]
    fn refused_and_not_given_administrations_are_kept_with_their_status() {
        let m = named(DataKind::Omp12, "OMP-12-refused");
        assert_eq!(m.len(), 3);
        assert_eq!(
            m.iter()
                .map(|l| l.detail.status.as_str())
                .collect::<Vec<_>>(),
            ["CP", "RE", "NA"]
        );
        assert!(!m[0].detail.not_given());
        assert!(m[1].detail.not_given() && m[2].detail.not_given());
        assert_eq!(m[1].detail.status_notes, ["本人拒否"]);
        assert_eq!(
            (m[0].start_date.as_str(), m[0].end_date.as_str()),
            ("20260301", "20260301")
        );
        assert_eq!(m[2].start_date, "20260302");
    }

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
                detail: Box::new(MedicationDetail {
                    usage_code: "1013044400000000".into(),
                    rhythm: "daily".into(),
                    total: "15錠".into(),
                    dispensing: "院内".into(),
                    categories: vec!["外来処方".into(), "院内処方".into()],
                    prescriber: "医師\u{3000}一郎".into(),
                    department: "内科".into(),
                    ..Default::default()
                }),
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
