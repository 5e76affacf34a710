//! Lab patterns beyond the routine panels, so the demo region shows what a lab view must
//! handle (issue 14): cultures with several organisms and a susceptibility table per
//! organism (OBX-4 sub-IDs, MIC in SN, S/I/R in OBX-8), the same test measured again on
//! the same day (a second result file of that day), and clinics whose laboratory reports
//! total protein and albumin in g/L where hospitals use g/dL (same JLAC10 code, another
//! unit: the exact factor 10, so the values stay true).
//!
//! Codes: organisms, drugs and culture items use local code systems (`99ZMB`, `99ZDR`,
//! `99ZMC`): the real JANIS / JLAC10 microbiology tables are not reproduced here, and the
//! viewer must recognise a culture by its structure (OBR-24 `MB`, sub-IDs), not by a code.

use ssmix2::{Condition, DataKind};

use super::{Gen, Visit};
use crate::region::FKind;
use crate::rng::Rng;
use crate::tables::*;
use crate::time::{self, Ms, MS_MIN};
use crate::writer::esc;
use crate::SynthError;

/// (code, name, Gram stain text, drugs tested).
const ORGANISMS: &[(&str, &str, &str, &[usize])] = &[
    (
        "B001",
        "Escherichia coli",
        "グラム陰性桿菌",
        &[0, 1, 2, 3, 4],
    ),
    (
        "B002",
        "Klebsiella pneumoniae",
        "グラム陰性桿菌",
        &[0, 1, 2, 3, 4],
    ),
    (
        "B003",
        "Staphylococcus aureus",
        "グラム陽性球菌",
        &[5, 6, 3, 7],
    ),
    (
        "B004",
        "Enterococcus faecalis",
        "グラム陽性球菌",
        &[0, 7, 3],
    ),
];

/// A tested drug: (code, abbreviation, name, MIC choices with their judgement).
type Drug = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const DRUGS: &[Drug] = &[
    (
        "D01",
        "ABPC",
        "アンピシリン",
        &[("<=^2", "S"), ("8", "S"), (">^16", "R")],
    ),
    (
        "D02",
        "CEZ",
        "セファゾリン",
        &[("<=^1", "S"), ("4", "I"), (">^16", "R")],
    ),
    (
        "D03",
        "CTRX",
        "セフトリアキソン",
        &[("<=^0.5", "S"), ("2", "I"), (">^32", "R")],
    ),
    (
        "D04",
        "LVFX",
        "レボフロキサシン",
        &[("<=^0.25", "S"), ("1", "I"), (">^4", "R")],
    ),
    (
        "D05",
        "MEPM",
        "メロペネム",
        &[("<=^0.25", "S"), ("<=^0.25", "S"), ("2", "I")],
    ),
    (
        "D06",
        "MPIPC",
        "オキサシリン",
        &[("<=^0.25", "S"), ("<=^0.25", "S"), (">^2", "R")],
    ),
    (
        "D07",
        "CLDM",
        "クリンダマイシン",
        &[("<=^0.25", "S"), ("1", "I"), (">^4", "R")],
    ),
    (
        "D08",
        "VCM",
        "バンコマイシン",
        &[("1", "S"), ("<=^0.5", "S"), ("2", "S")],
    ),
];

/// Index of total protein and albumin in `LABS`.
const L_TP: usize = 0;
const L_ALB: usize = 1;

/// The unit a facility's laboratory reports a test in, with the factor applied to values
/// and ranges and the decimals: clinics report total protein and albumin in g/L.
pub(super) fn unit_of(kind: FKind, li: usize) -> (&'static str, f64, usize) {
    let lab = &LABS[li];
    if kind == FKind::Clinic && (li == L_TP || li == L_ALB) {
        ("g/L", 10.0, 0)
    } else {
        (lab.unit, 1.0, lab.decimals)
    }
}

impl Gen<'_> {
    /// After a visit's routine lab: sometimes a culture, and for diabetics sometimes a
    /// second glucose the same day.
    pub(super) fn lab_extra(&mut self, t: Ms, v: &Visit) -> Result<(), SynthError> {
        let mut rng = Rng::derive(
            self.opts.seed,
            &[41, self.p.idx as u64, self.l.facility as u64, v.day as u64],
        );
        let culture_p = match (self.f.kind, v.acute.is_some()) {
            (FKind::Hospital, true) => 0.5,
            (FKind::Hospital, false) => 0.06,
            (FKind::Clinic, true) => 0.15,
            _ => 0.0,
        };
        if rng.chance(culture_p) {
            self.culture(t + 5 * MS_MIN, &mut rng)?;
        }
        let diabetic = self.p.conditions.iter().any(|c| c.0 == DZ_DM);
        if diabetic && rng.chance(0.35) {
            self.glucose_again(t + 120 * MS_MIN, &mut rng)?;
        }
        Ok(())
    }

    /// A culture: Gram stain, one or two organisms, each with quantity and susceptibilities.
    fn culture(&mut self, t: Ms, rng: &mut Rng) -> Result<(), SynthError> {
        let day = time::day_of(t);
        let order = self.next_order(day);
        let spec_id = format!("{}9", &order[4..]);
        let (spec_code, spec_name) = if rng.chance(0.6) {
            ("U01", "尿")
        } else {
            ("S01", "喀痰")
        };
        let first = rng.index(ORGANISMS.len());
        let mut organisms = vec![first];
        if rng.chance(0.6) {
            organisms.push((first + 1 + rng.index(ORGANISMS.len() - 1)) % ORGANISMS.len());
        }
        let doc = Self::xcn(self.doc());
        self.now = t;
        self.msh("OML^O33^OML_O33");
        self.pid();
        self.pv1("O", None, None, None);
        self.w.seg("SPM");
        self.w.raw(1, "1");
        self.w.raw(2, &spec_id);
        self.w.fmt(4, format_args!("{spec_code}^{spec_name}^99ZSP"));
        time::push_ts(self.w.f(17), t, 14);
        self.orc("NW", &order, None, false);
        self.w.seg("OBR");
        self.w.raw(1, "1");
        self.w.raw(2, &order);
        self.w.raw(4, "M001^一般細菌培養同定^99ZMC");
        self.w.raw(16, &doc);
        self.w.raw(24, "MB");
        self.emit(DataKind::Oml01, Some(day), Some(&order), Condition::Current)?;

        // The report, two to three days later; the date folder stays the collection day.
        self.now = t + (48 + rng.range(0, 24)) * 60 * MS_MIN;
        self.msh("OUL^R22^OUL_R22");
        self.pid();
        self.pv1("O", None, None, None);
        self.w.seg("SPM");
        self.w.raw(1, "1");
        self.w.raw(2, &spec_id);
        self.w.fmt(4, format_args!("{spec_code}^{spec_name}^99ZSP"));
        time::push_ts(self.w.f(17), t, 14);
        self.w.seg("OBR");
        self.w.raw(1, "1");
        self.w.raw(2, &order);
        self.w.raw(3, &spec_id);
        self.w.raw(4, "M001^一般細菌培養同定^99ZMC");
        time::push_ts(self.w.f(7), t, 14);
        self.w.raw(16, &doc);
        time::push_ts(self.w.f(22), self.now, 14);
        self.w.raw(24, "MB");
        self.w.raw(25, "F");
        self.orc("SC", &order, None, false);
        self.w.raw(5, "CM");
        let mut set = 0;
        let mut obx = |g: &mut Self, vt: &str, code: &str, sub: &str| {
            set += 1;
            g.w.seg("OBX");
            g.w.fmt(1, format_args!("{set}"));
            g.w.raw(2, vt);
            g.w.raw(3, code);
            g.w.raw(4, sub);
        };
        // The smear shows every organism's stain.
        let mut stains: Vec<&str> = organisms.iter().map(|&o| ORGANISMS[o].2).collect();
        stains.dedup();
        obx(self, "ST", "M010^グラム染色^99ZMC", "");
        self.w.fmt(5, format_args!("{} (2+)", stains.join("、")));
        self.w.raw(11, "F");
        for (k, &o) in organisms.iter().enumerate() {
            let (code, name, _, drugs) = ORGANISMS[o];
            let sub = format!("{}", k + 1);
            obx(self, "CWE", "M020^同定菌名^99ZMC", &sub);
            self.w.fmt(5, format_args!("{code}^{name}^99ZMB"));
            self.w.raw(11, "F");
            obx(self, "ST", "M021^菌量^99ZMC", &sub);
            self.w
                .fmt(5, format_args!("10\\S\\{}", if k == 0 { 5 } else { 4 }));
            self.w.raw(6, "CFU/mL^CFU/mL^99ZUN");
            self.w.raw(11, "F");
            for &d in drugs {
                let (dc, abbr, _, mics) = DRUGS[d];
                let (mic, sir) = mics[rng.index(mics.len())];
                let vt = if mic.contains('^') { "SN" } else { "NM" };
                obx(self, vt, &format!("{dc}^{abbr}^99ZDR"), &sub);
                self.w.raw(5, mic);
                self.w.raw(6, "μg/mL^μg/mL^99ZUN");
                self.w.raw(8, sir);
                self.w.raw(11, "F");
                time::push_ts(self.w.f(14), t, 14);
            }
        }
        self.emit(DataKind::Oml11, Some(day), Some(&order), Condition::Current)?;
        Ok(())
    }

    /// Glucose measured again the same day (a separate result file): the lab view must keep
    /// both values of the day.
    fn glucose_again(&mut self, t: Ms, rng: &mut Rng) -> Result<(), SynthError> {
        let day = time::day_of(t);
        let order = self.next_order(day);
        let lab = &LABS[L_GLU];
        let (lo, hi) = if self.p.male {
            lab.range_m
        } else {
            lab.range_f
        };
        let v = (lab.mean + 60.0 + rng.normal() * lab.sd)
            .max(lab.mean)
            .round();
        let flag = if v > hi { "H" } else { "N" };
        self.now = t + 40 * MS_MIN;
        self.msh("OUL^R22^OUL_R22");
        self.pid();
        self.pv1("O", None, None, None);
        let (sc, sn, pc, pn) = PANELS[2];
        self.w.seg("SPM");
        self.w.raw(1, "1");
        self.w.fmt(4, format_args!("{sc}^{sn}^JC10"));
        time::push_ts(self.w.f(17), t, 14);
        self.w.seg("OBR");
        self.w.raw(1, "1");
        self.w.raw(2, &order);
        self.w.fmt(4, format_args!("{pc}^{pn}^99O03"));
        time::push_ts(self.w.f(7), t, 14);
        time::push_ts(self.w.f(22), self.now, 14);
        self.w.raw(25, "F");
        self.orc("SC", &order, None, false);
        self.w.raw(5, "CM");
        self.w.seg("OBX");
        self.w.raw(1, "1");
        self.w.raw(2, "NM");
        self.w
            .fmt(3, format_args!("{}^{}^JC10", lab.jlac10, esc(lab.name)));
        self.w.fmt(5, format_args!("{v:.0}"));
        let u = esc(lab.unit);
        self.w.fmt(6, format_args!("{u}^{u}^99ZUN"));
        self.w.fmt(7, format_args!("{lo:.0}-{hi:.0}"));
        self.w.raw(8, flag);
        self.w.raw(11, "F");
        time::push_ts(self.w.f(14), t, 14);
        self.w.seg("NTE");
        self.w.raw(1, "1");
        self.w.txt(3, "食後2時間値 (再検)");
        self.emit(DataKind::Oml11, Some(day), Some(&order), Condition::Current)?;
        Ok(())
    }
}
