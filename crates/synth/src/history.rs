//! The history of one patient at one facility, written as SS-MIX2 files.

mod adt_cases;

use std::collections::HashSet;
use std::path::Path;

use ssmix2::{Condition, DataKind, StandardName};

use crate::faults::{self, FaultKind};
use crate::region::{FKind, Facility, LinkData, PersonData, Region, Staff, Variant};
use crate::rng::Rng;
use crate::tables::*;
use crate::time::{self, at, Day, Ms, MS_DAY, MS_MIN};
use crate::writer::{esc, Er7};
use crate::{io_err, Fault, ItemResult, Options, SynthError};

mod lab_extra;
mod med_patterns;

const PROFILE: &str = "SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO";

/// A planned outpatient visit.
#[derive(Debug, Clone)]
pub struct Visit {
    pub day: Day,
    pub minute: i64,
    pub rx: bool,
    pub lab: bool,
    pub rad: bool,
    pub endo: bool,
    pub phys: bool,
    pub inj: bool,
    /// Acute diagnosis treated at this visit.
    pub acute: Option<usize>,
}

struct Admission {
    day: Day,
    los: i32,
    dx: usize,
    planned: bool,
    full: bool,
}

enum Out {
    Standard {
        name: StandardName,
        bytes: Vec<u8>,
        text_for_faults: Option<String>,
    },
    Extended {
        rel: String,
        bytes: Vec<u8>,
    },
}

/// Diagnoses known at this facility.
struct Dx {
    dz: usize,
    start: Day,
    end: Option<Day>,
    /// When this facility recorded it.
    registered: Day,
    instance: String,
    doctor: usize,
}

struct Gen<'a> {
    opts: &'a Options,
    region: &'a Region,
    f: &'a Facility,
    p: &'a PersonData,
    l: &'a LinkData,
    rng: Rng,
    w: Er7,
    now: Ms,
    seq: u32,
    files: Vec<Out>,
    doctor: usize,
}

/// Whether a chronic disease is followed at this kind of facility / department.
fn relevant(dz: usize, f: &Facility, dept: usize) -> bool {
    let d = &DISEASES[dz];
    match f.kind {
        FKind::Dental => matches!(dz, DZ_CARIES | DZ_PERIO),
        FKind::Pharmacy => false,
        FKind::Care | FKind::HomeNursing => d.chronic && !matches!(dz, DZ_CARIES | DZ_PERIO),
        FKind::Hospital | FKind::Clinic => {
            if matches!(dz, DZ_CARIES | DZ_PERIO) {
                return false;
            }
            match dept {
                D_ORTHO => matches!(dz, DZ_KNEE | DZ_LBP | DZ_OP | DZ_FRACTURE),
                D_EYE => matches!(dz, 17 | 29),
                D_DERM => matches!(dz, 25),
                D_ENT => matches!(dz, DZ_RHINITIS | DZ_URI),
                D_PED => matches!(dz, DZ_URI | DZ_BRONCH | DZ_ASTHMA | DZ_GE | DZ_RHINITIS),
                _ => !matches!(dz, 17 | 29),
            }
        }
    }
}

/// The visits of a person at a prescribing facility: a pure function of seed, person and
/// facility, so that the pharmacy can dispense what the prescriber ordered.
pub fn plan_visits(region: &Region, opts: &Options, p: &PersonData, l: &LinkData) -> Vec<Visit> {
    let f = &region.facilities[l.facility];
    let mut rng = Rng::derive(opts.seed, &[10, p.idx as u64, l.facility as u64]);
    let end = region.end;
    let chronic: Vec<usize> = p
        .conditions
        .iter()
        .filter(|c| DISEASES[c.0].chronic && relevant(c.0, f, l.dept))
        .map(|c| c.0)
        .collect();
    let mut visits = Vec::new();
    let (lab_p, rad_p, endo_p, phys_p) = match f.kind {
        FKind::Hospital => (0.55, 0.10, 0.03, 0.08),
        FKind::Clinic => (0.40, if l.dept == D_ORTHO { 0.25 } else { 0.02 }, 0.0, 0.05),
        FKind::Dental => (0.0, 0.15, 0.0, 0.0),
        _ => (0.0, 0.0, 0.0, 0.0),
    };
    let mk = |rng: &mut Rng, day: Day, acute: Option<usize>, chronic_visit: bool| {
        let is_dental = f.kind == FKind::Dental;
        Visit {
            day,
            minute: rng.range(8 * 60 + 30, 17 * 60),
            rx: if acute.is_some() {
                rng.chance(0.85)
            } else {
                chronic_visit && rng.chance(if is_dental { 0.3 } else { 0.9 })
            },
            lab: rng.chance(lab_p),
            rad: rng.chance(rad_p),
            endo: rng.chance(endo_p),
            phys: rng.chance(phys_p),
            inj: f.kind != FKind::Dental && rng.chance(0.03),
            acute,
        }
    };
    let interval = match f.kind {
        FKind::Hospital => 42 + rng.range(0, 28) as i32,
        FKind::Clinic => 23 + rng.range(0, 10) as i32,
        FKind::Dental => 120,
        FKind::HomeNursing => 14,
        _ => 0,
    };
    if interval > 0 && (!chronic.is_empty() || f.kind == FKind::HomeNursing) {
        let mut d = l.first_day;
        while d <= end {
            // No Sunday clinics.
            let day = if time::weekday(d) == 6 { d + 1 } else { d };
            if day <= end {
                visits.push(mk(&mut rng, day, None, true));
            }
            d += interval + rng.range(-4, 4) as i32;
        }
    } else if interval > 0 {
        // Occasional check-ups.
        let n = rng.count(1.0 * opts.years as f64);
        for _ in 0..n {
            let day = rng.range(l.first_day as i64, end as i64) as Day;
            visits.push(mk(&mut rng, day, None, false));
        }
    }
    // Acute episodes treated here.
    if interval > 0 {
        for &(dz, onset) in &p.conditions {
            if !DISEASES[dz].chronic
                && onset >= l.first_day
                && onset <= end
                && relevant(dz, f, l.dept)
            {
                visits.push(mk(&mut rng, onset, Some(dz), false));
            }
        }
    }
    if visits.is_empty() && interval > 0 {
        visits.push(mk(&mut rng, l.first_day, None, false));
    }
    visits.sort_by_key(|v| (v.day, v.minute));
    visits.dedup_by_key(|v| v.day);
    visits
}

/// Prescription of a visit: (drug, days).
pub fn rx_for(p: &PersonData, f: &Facility, l: &LinkData, v: &Visit) -> Vec<(usize, u32)> {
    let mut out: Vec<(usize, u32)> = Vec::new();
    let days = match f.kind {
        FKind::Hospital => 56,
        _ => 28,
    };
    if v.acute.is_none() {
        for &(dz, onset) in &p.conditions {
            if DISEASES[dz].chronic && onset <= v.day && relevant(dz, f, l.dept) {
                let list = drugs_for(dz);
                let d = list[p.idx % list.len()];
                if !out.iter().any(|o| o.0 == d) {
                    out.push((d, days));
                }
                if list.len() > 1 && (p.idx / 3).is_multiple_of(4) {
                    let d2 = list[(p.idx + 1) % list.len()];
                    if !out.iter().any(|o| o.0 == d2) {
                        out.push((d2, days));
                    }
                }
            }
        }
    }
    if let Some(dz) = v.acute {
        for &d in drugs_for(dz) {
            if !out.iter().any(|o| o.0 == d) {
                out.push((d, 5 + (p.idx % 3) as u32));
            }
        }
    }
    out.truncate(6);
    out
}

pub fn run(
    region: &Region,
    opts: &Options,
    out: &Path,
    pi: usize,
    li: usize,
) -> Result<ItemResult, SynthError> {
    let p = &region.persons[pi];
    let l = &p.links[li];
    let f = &region.facilities[l.facility];
    let mut g = Gen {
        opts,
        region,
        f,
        p,
        l,
        rng: Rng::derive(opts.seed, &[20, pi as u64, l.facility as u64]),
        w: Er7::default(),
        now: at(l.first_day, 9, 0),
        seq: 0,
        files: Vec::with_capacity(64),
        doctor: 0,
    };
    let docs: Vec<usize> = (0..f.doctors.len())
        .filter(|&i| f.doctors[i].dept == l.dept)
        .collect();
    g.doctor = if docs.is_empty() {
        p.idx % f.doctors.len().max(1)
    } else {
        docs[p.idx % docs.len()]
    };
    g.history()?;
    g.finish(out)
}

impl<'a> Gen<'a> {
    // ---------- helpers ----------

    fn dept_code(&self) -> &'static str {
        match self.f.kind {
            FKind::Pharmacy | FKind::Care | FKind::HomeNursing => "-",
            _ => DEPTS[self.l.dept].0,
        }
    }

    fn next_order(&mut self, day: Day) -> String {
        self.seq += 1;
        format!(
            "{}{:04}{:03}",
            time::date8(day),
            self.l.ordinal % 10_000,
            self.seq % 1000
        )
    }

    fn xcn(s: &Staff) -> String {
        format!("{}^{}^{}^^^^^^^L^^^^^I", s.id, esc(s.family), esc(s.given))
    }

    fn doc(&self) -> &'a Staff {
        &self.f.doctors[self.doctor.min(self.f.doctors.len() - 1)]
    }

    fn nurse(&mut self) -> &'a Staff {
        let f = self.f;
        &f.nurses[self.rng.index(f.nurses.len())]
    }

    fn msh(&mut self, msg_type: &str) {
        self.w.clear();
        self.w.seg("MSH");
        self.w.raw(3, self.f.app);
        self.w.raw(4, &self.f.info.code);
        self.w.raw(5, "SSMIX2");
        self.w.raw(6, &self.f.info.code);
        time::push_ts(self.w.f(7), self.now, 14);
        self.w.raw(9, msg_type);
        self.seq += 1;
        let seq = self.seq;
        time::push_ts(self.w.f(10), self.now, 14);
        self.w.fmt(10, format_args!("{:04}", seq % 10_000));
        self.w.raw(11, "P");
        self.w.raw(12, "2.5");
        self.w.raw(18, "~ISO IR87");
        self.w.raw(20, "ISO 2022-1994");
        self.w.raw(21, PROFILE);
    }

    fn evn(&mut self, occurred: Option<Ms>) {
        self.w.seg("EVN");
        time::push_ts(self.w.f(2), self.now, 14);
        let op = self.doc().id.clone();
        self.w.raw(5, &op);
        if let Some(t) = occurred {
            time::push_ts(self.w.f(6), t, 12);
        }
    }

    fn pid(&mut self) {
        let p = self.p;
        let v = self.l.variant;
        let day = time::day_of(self.now);
        let (mut fam, famk) = SURNAMES[p.family];
        let mut fam_owned = String::new();
        if v == Variant::KanjiForm {
            for (a, b) in KANJI_VARIANTS {
                if fam.contains(a) {
                    fam_owned = fam.replacen(a, b, 1);
                    break;
                }
            }
            if !fam_owned.is_empty() {
                fam = &fam_owned;
            }
        }
        let mut givenk = p.given.1.to_owned();
        let mut famk = famk.to_owned();
        if v == Variant::KanaLongVowel {
            for (a, b) in KANA_VARIANTS {
                if givenk.contains(a) {
                    givenk = givenk.replacen(a, b, 1);
                    break;
                }
                if famk.contains(a) {
                    famk = famk.replacen(a, b, 1);
                    break;
                }
            }
        }
        self.w.seg("PID");
        self.w.raw(1, "0001");
        self.w.fmt(3, format_args!("{}^^^^PI", self.l.local_id));
        if v == Variant::NameOneComponent {
            self.w.fmt(
                5,
                format_args!(
                    "{}　{}^^^^^^L^I~{}　{}^^^^^^L^P",
                    esc(fam),
                    esc(p.given.0),
                    famk,
                    givenk
                ),
            );
        } else {
            self.w.fmt(
                5,
                format_args!(
                    "{}^{}^^^^^L^I~{}^{}^^^^^L^P",
                    esc(fam),
                    esc(p.given.0),
                    famk,
                    givenk
                ),
            );
        }
        let birth = if v == Variant::BirthDateTypo {
            // Day and month swapped when possible, else one day off.
            let (y, m, d) = time::civil_from_days(p.birth);
            if d <= 12 && d != m {
                time::days_from_civil(y, d, m)
            } else {
                p.birth + 1
            }
        } else {
            p.birth
        };
        time::push_date(self.w.f(7), birth);
        self.w.raw(8, if p.male { "M" } else { "F" });
        let addr = match p.moved {
            Some((d, a)) if d <= day => a,
            _ => p.address,
        };
        let text = addr.text(v);
        self.w
            .fmt(11, format_args!("^^^^{}^JPN^H^{}", addr.zip(), esc(&text)));
        if v != Variant::NoPhone {
            let kind = if p.mobile { "CP" } else { "PH" };
            self.w
                .fmt(13, format_args!("^PRN^{kind}^^^^^^^^^{}", p.phone));
        }
        time::push_ts(self.w.f(33), self.now - 3_600_000, 14);
    }

    fn pv1(
        &mut self,
        class: &str,
        ward: Option<(usize, u32)>,
        admit: Option<Ms>,
        discharge: Option<Ms>,
    ) {
        self.w.seg("PV1");
        self.w.raw(1, "0001");
        self.w.raw(2, class);
        match ward {
            Some((w, room)) => self.w.fmt(
                3,
                format_args!("{}^{}^{}^^^N", WARDS[w].0, room, 1 + room % 4),
            ),
            None if self.dept_code() != "-" => {
                self.w.fmt(3, format_args!("{}^^^^^C", self.dept_code()))
            }
            None => {}
        }
        let d = Self::xcn(self.doc());
        self.w.raw(7, &d);
        if self.dept_code() != "-" {
            self.w.raw(10, self.dept_code());
        }
        if let Some(t) = admit {
            time::push_ts(self.w.f(44), t, 12);
        }
        if let Some(t) = discharge {
            time::push_ts(self.w.f(45), t, 12);
        }
    }

    fn orc(&mut self, ctrl: &str, order: &str, group: Option<&str>, inpatient: bool) {
        self.w.seg("ORC");
        self.w.raw(1, ctrl);
        self.w.raw(2, order);
        if let Some(g) = group {
            self.w.raw(4, g);
        }
        time::push_ts(self.w.f(9), self.now, 14);
        let doc = self.doc();
        let d = Self::xcn(doc);
        self.w.raw(10, &d);
        self.w.fmt(
            12,
            format_args!("{d}~^{}^{}^^^^^^^L^^^^^P", doc.family_kana, doc.given_kana),
        );
        if self.dept_code() != "-" {
            self.w.fmt(
                17,
                format_args!("{}^{}^99Z01", DEPTS[self.l.dept].0, DEPTS[self.l.dept].1),
            );
        }
        let f = self.f;
        self.w.txt(21, &f.info.name);
        self.w.fmt(
            22,
            format_args!("^^^^{}^JPN^^{}", TOWNS[f.town].zip, esc(&f.address)),
        );
        self.w.fmt(23, format_args!("^^^^^^^^^^^{}", f.phone));
        self.w.raw(
            29,
            if inpatient {
                "I^入院患者オーダ^HL70482"
            } else {
                "O^外来患者オーダ^HL70482"
            },
        );
    }

    /// Encode the current message as a standard file.
    fn emit(
        &mut self,
        kind: DataKind,
        date: Option<Day>,
        order: Option<&str>,
        cond: Condition,
    ) -> Result<Ms, SynthError> {
        let file_ts = self.now + 1000 + self.rng.range(0, 90_000);
        let text = self.w.finish();
        let bytes = hl7::encode_iso2022jp(text)
            .map_err(|e| SynthError::Encode(format!("{e} in {}", text.replace('\r', "\n"))))?;
        let keep_text = if self.opts.fault_rate > 0.0 {
            Some(text.to_owned())
        } else {
            None
        };
        let name = StandardName {
            patient_id: self.l.local_id.clone(),
            date: date.map_or_else(|| "-".to_owned(), time::date8),
            kind,
            order_no: order.unwrap_or(ssmix2::naming::NO_ORDER).to_owned(),
            timestamp: time::ts(file_ts, 17),
            department: self.dept_code().to_owned(),
            condition: cond,
        };
        self.files.push(Out::Standard {
            name,
            bytes,
            text_for_faults: keep_text,
        });
        Ok(file_ts)
    }

    /// Write an order, possibly updated (old version `_2`, new `_1` with XO) or cancelled
    /// (order `_0` and the CA message `_0`, or both `_1` at a facility that files cancels
    /// so: [`Facility::files_cancels_as_current`]). Returns false when cancelled.
    fn order<F>(
        &mut self,
        kind: DataKind,
        t: Ms,
        order: &str,
        mut build: F,
    ) -> Result<bool, SynthError>
    where
        F: FnMut(&mut Self, &str),
    {
        let day = time::day_of(t);
        let r = self.rng.unit();
        // Later versions stay on the same day (the date folder comes from ORC-9).
        let later = |rng: &mut Rng| {
            let left = (at(day, 23, 50) - t).max(2 * MS_MIN);
            t + rng.range(MS_MIN, left.min(6 * 3_600_000))
        };
        self.now = t;
        if r < self.f.cancel_rate {
            // SS-MIX2: both files `_0`; some systems leave both current instead.
            let flag = if self.f.files_cancels_as_current() {
                Condition::Current
            } else {
                Condition::Deleted
            };
            build(self, "NW");
            self.emit(kind, Some(day), Some(order), flag)?;
            self.now = later(&mut self.rng);
            build(self, "CA");
            self.emit(kind, Some(day), Some(order), flag)?;
            return Ok(false);
        }
        if r < self.f.cancel_rate + self.f.update_rate {
            build(self, "NW");
            self.emit(kind, Some(day), Some(order), Condition::Superseded)?;
            self.now = later(&mut self.rng);
            build(self, "XO");
            self.emit(kind, Some(day), Some(order), Condition::Current)?;
            return Ok(true);
        }
        build(self, "NW");
        self.emit(kind, Some(day), Some(order), Condition::Current)?;
        Ok(true)
    }

    // ---------- the history ----------

    fn history(&mut self) -> Result<(), SynthError> {
        let f = self.f;
        let first = self.l.first_day;
        let mut adt00_times = vec![at(first, 8, 40 + self.rng.range(0, 15))];
        let end = self.region.end;
        match f.kind {
            FKind::Pharmacy => self.pharmacy()?,
            FKind::Care => self.care()?,
            _ => {
                let visits = plan_visits(self.region, self.opts, self.p, self.l);
                if let Some(v) = visits.first() {
                    adt00_times[0] = at(v.day, 8, 0) + v.minute * MS_MIN - 20 * MS_MIN;
                }
                for v in &visits {
                    self.visit(v)?;
                }
                if f.kind == FKind::Hospital {
                    self.admissions()?;
                }
                self.diagnoses(&visits)?;
                if self.shows_medication_patterns() {
                    self.medication_patterns()?;
                }
                if f.kind == FKind::Hospital && self.rng.chance(0.2) {
                    self.attending_changes()?;
                }
            }
        }
        // Demographics: first registration, then a yearly update and one after a move.
        let mut d = first + 365;
        while d < end {
            if self.rng.chance(0.35) {
                adt00_times.push(at(d, 10, self.rng.range(0, 400)));
            }
            d += 365;
        }
        if let Some((mv, _)) = self.p.moved {
            if mv > first && mv < end {
                adt00_times.push(at(
                    mv + self.rng.range(1, 40) as Day,
                    9,
                    self.rng.range(0, 300),
                ));
            }
        }
        adt00_times.sort();
        let n = adt00_times.len();
        for (i, t) in adt00_times.into_iter().enumerate() {
            self.now = t;
            self.adt00()?;
            let cond = if i + 1 == n {
                Condition::Current
            } else {
                Condition::Superseded
            };
            self.emit(DataKind::Adt00, None, None, cond)?;
        }
        if !self.p.allergies.is_empty() && f.kind != FKind::HomeNursing {
            let t = at(first, 9, 30);
            let updated = self.rng.chance(0.2) && first + 100 < end;
            self.now = t;
            self.adt61(if updated { 1 } else { self.p.allergies.len() })?;
            self.emit(
                DataKind::Adt61,
                None,
                None,
                if updated {
                    Condition::Superseded
                } else {
                    Condition::Current
                },
            )?;
            if updated {
                self.now = at(first + 90, 11, 0);
                self.adt61(self.p.allergies.len())?;
                self.emit(DataKind::Adt61, None, None, Condition::Current)?;
            }
        }
        // The ADT patterns of issue 14 (cancel messages, zones, dispositions, plans) for the
        // hospital's first patient and a share of patients seen elsewhere too (so that
        // linked, consenting patients of the demo have them). Last, with the random stream
        // restored after, so that the rest of the region is what it was.
        let p = self.p;
        if f.kind == FKind::Hospital
            && (self.l.ordinal == 0 || (p.links.len() > 1 && p.idx.is_multiple_of(3)))
        {
            let saved = self.rng.clone();
            self.adt_cases()?;
            self.rng = saved;
        }
        Ok(())
    }

    fn adt00(&mut self) -> Result<(), SynthError> {
        self.msh("ADT^A08^ADT_A01");
        self.evn(None);
        self.pid();
        let p = self.p;
        if time::age(p.birth, time::day_of(self.now)) >= 75 && p.links.len() > 1 {
            self.w.seg("NK1");
            self.w.raw(1, "1");
            let (fk, fkana) = SURNAMES[p.family];
            self.w.fmt(
                2,
                format_args!("{}^{}^^^^^L^I~{}^{}^^^^^L^P", fk, "一郎", fkana, "イチロウ"),
            );
            self.w.raw(3, "CHD^子^HL70063");
        }
        self.pv1("O", None, None, None);
        if matches!(self.f.kind, FKind::Hospital | FKind::Clinic) {
            let years = (time::day_of(self.now) - self.region.start) as f64 / 365.0;
            self.w.seg("OBX");
            self.w.raw(1, "1");
            self.w.raw(2, "NM");
            self.w.raw(3, "9N001000000000001^身長^JC10");
            self.w.fmt(5, format_args!("{:.1}", p.height));
            self.w.raw(6, "cm^cm^ISO+");
            self.w.raw(11, "F");
            self.w.seg("OBX");
            self.w.raw(1, "2");
            self.w.raw(2, "NM");
            self.w.raw(3, "9N006000000000001^体重^JC10");
            self.w.fmt(
                5,
                format_args!(
                    "{:.1}",
                    p.weight + years * 0.4 * if p.idx.is_multiple_of(2) { 1.0 } else { -1.0 }
                ),
            );
            self.w.raw(6, "kg^kg^ISO+");
            self.w.raw(11, "F");
            self.w.seg("OBX");
            self.w.raw(1, "3");
            self.w.raw(2, "CWE");
            self.w.raw(3, "5H010000001999911^血液型-ABO式^JC10");
            self.w
                .fmt(5, format_args!("{}^{}^JSHR002", p.blood.0, p.blood.1));
            self.w.raw(11, "F");
        }
        for (i, &a) in p.allergies.iter().enumerate() {
            let al = ALLERGENS[a];
            self.w.seg("AL1");
            self.w.fmt(1, format_args!("{}", i + 1));
            self.w.fmt(2, format_args!("{}^{}^HL70127", al.3, al.4));
            self.w
                .fmt(3, format_args!("{}^{}^{}", al.0, esc(al.1), al.2));
        }
        if self.f.kind != FKind::Care {
            let ins = INSURANCE[p.insurance];
            self.w.seg("IN1");
            self.w.raw(1, "1");
            self.w.fmt(2, format_args!("{}^{}^JHSD0001", ins.0, ins.1));
            self.w.raw(3, &p.insurer_no);
            if ins.0 != "39" {
                self.w.raw(10, &p.insured_symbol);
            }
            self.w.raw(11, &p.insured_no);
            time::push_date(self.w.f(12), self.region.start - 400 + (p.idx % 300) as Day);
            self.w.raw(17, "SEL^本人^HL70063");
        }
        Ok(())
    }

    fn adt61(&mut self, n: usize) -> Result<(), SynthError> {
        self.msh("ADT^A60^ADT_A60");
        self.evn(None);
        self.pid();
        for (i, &a) in self.p.allergies.iter().take(n).enumerate() {
            let al = ALLERGENS[a];
            let reaction = REACTIONS[(self.p.idx + i) % REACTIONS.len()];
            self.w.seg("IAM");
            self.w.fmt(1, format_args!("{}", i + 1));
            self.w.fmt(2, format_args!("{}^{}^HL70127", al.3, al.4));
            self.w
                .fmt(3, format_args!("{}^{}^{}", al.0, esc(al.1), al.2));
            self.w.raw(
                4,
                if i % 2 == 0 {
                    "MO^中等度^HL70128"
                } else {
                    "MI^軽度^HL70128"
                },
            );
            self.w.txt(5, reaction);
            self.w.raw(6, "A^追加^HL70323");
            let (y, _, _) = time::civil_from_days(self.p.birth);
            self.w
                .fmt(11, format_args!("{}", y + 10 + (self.p.idx % 30) as i32));
        }
        Ok(())
    }

    fn visit(&mut self, v: &Visit) -> Result<(), SynthError> {
        let t = at(v.day, 0, v.minute);
        // ADT-12: outpatient reception (home nursing: the visit).
        self.now = t;
        self.msh("ADT^A04^ADT_A01");
        self.evn(Some(t));
        self.pid();
        self.pv1("O", None, Some(t), None);
        self.emit(DataKind::Adt12, Some(v.day), None, Condition::Current)?;
        if self.f.kind == FKind::HomeNursing {
            return Ok(());
        }
        if self.opts.extended && matches!(self.f.kind, FKind::Hospital | FKind::Clinic) {
            self.extended_visit_vitals(t + 5 * MS_MIN, v.day)?;
            self.now = t;
        }
        let t_order = t + 15 * MS_MIN + self.rng.range(0, 40) * MS_MIN;
        if v.lab {
            self.lab(t_order, false)?;
            self.lab_extra(t_order, v)?;
        }
        if v.rad {
            let r = if self.f.kind == FKind::Dental {
                None
            } else if self.l.dept == D_ORTHO {
                Some(2 + self.rng.index(2))
            } else {
                Some(self.rng.index(RADIOLOGY.len()))
            };
            self.imaging(DataKind::Omg01, t_order + 5 * MS_MIN, r, false)?;
        }
        if v.endo {
            let e = self.rng.index(ENDOSCOPY.len());
            self.imaging(DataKind::Omg02, t_order + 10 * MS_MIN, Some(e), false)?;
        }
        if v.phys {
            let e = self.rng.index(PHYSIOLOGY.len());
            self.imaging(DataKind::Omg03, t_order + 8 * MS_MIN, Some(e), false)?;
        }
        if v.inj {
            let drug = self.rng.index(INJ_OUTPATIENT.len());
            self.injection(t_order + 12 * MS_MIN, None, Some(drug), false)?;
        }
        if v.rx {
            let rx = rx_for(self.p, self.f, self.l, v);
            if !rx.is_empty() {
                let order = self.next_order(v.day);
                let outside = self.f.kind == FKind::Clinic
                    || self
                        .p
                        .links
                        .iter()
                        .any(|l| self.region.facilities[l.facility].kind == FKind::Pharmacy);
                self.order(DataKind::Omp01, t_order + 20 * MS_MIN, &order, |g, ctrl| {
                    g.rde(ctrl, &order, &rx, false, outside)
                })?;
            }
        }
        Ok(())
    }

    // ---------- prescriptions ----------

    fn rde(
        &mut self,
        ctrl: &str,
        order: &str,
        rx: &[(usize, u32)],
        inpatient: bool,
        outside: bool,
    ) {
        self.msh("RDE^O11^RDE_O11");
        self.pid();
        self.pv1(if inpatient { "I" } else { "O" }, None, None, None);
        let start = time::day_of(self.now) + i32::from(!inpatient && outside);
        for (i, &(d, days)) in rx.iter().enumerate() {
            let drug = &DRUGS[d];
            let usage = &USAGES[drug.usage];
            let group = format!("{}", i + 1);
            self.orc(ctrl, order, Some(&group), inpatient);
            let (total, daily, days) = match drug.kind {
                22 => (drug.dose * 10, drug.dose, 0),
                23 if drug.unit.0 == "BTL" => (1 + days / 28, 0, days),
                _ => (
                    drug.dose * usage.per_day * days,
                    drug.dose * usage.per_day,
                    days,
                ),
            };
            self.w.seg("RXE");
            self.w
                .fmt(2, format_args!("{}^{}^HOT9", drug.hot9, esc(drug.name)));
            self.w.fmt(3, format_args!("{}", drug.dose));
            self.w
                .fmt(5, format_args!("{}^{}^MR9P", drug.unit.0, drug.unit.1));
            self.w
                .fmt(6, format_args!("{}^{}^MR9P", drug.form.0, drug.form.1));
            self.w.fmt(10, format_args!("{total}"));
            self.w
                .fmt(11, format_args!("{}^{}^MR9P", drug.unit.0, drug.unit.1));
            self.w.raw(15, order);
            if daily > 0 {
                self.w.fmt(
                    19,
                    format_args!("{daily}^{}&{}&MR9P", drug.unit.0, drug.unit.1),
                );
            }
            self.w.raw(
                21,
                match (inpatient, outside) {
                    (true, _) => "IHP^入院処方^MR9P~FTP^定時処方^MR9P",
                    (false, true) => "OHP^外来処方^MR9P~OHO^院外処方^MR9P",
                    (false, false) => "OHP^外来処方^MR9P~OHI^院内処方^MR9P",
                },
            );
            self.w.raw(
                27,
                match drug.kind {
                    22 => "22^頓用^JHSP0003",
                    23 => "23^外用^JHSP0003",
                    _ => "21^内服^JHSP0003",
                },
            );
            self.w
                .fmt(31, format_args!("{}^{}^YJ", drug.yj, esc(drug.name)));
            self.w.seg("TQ1");
            self.w.raw(1, "1");
            self.w.fmt(
                3,
                format_args!("{}&{}&JAMISDP01", usage.code, esc(usage.text)),
            );
            if days > 0 {
                self.w.fmt(6, format_args!("{days}^D&日&ISO+"));
                time::push_date(self.w.f(7), start);
                time::push_date(self.w.f(8), start + days as Day - 1);
            } else {
                time::push_date(self.w.f(7), start);
            }
            self.w.seg("RXR");
            self.w
                .fmt(1, format_args!("{}^{}^HL70162", drug.route.0, drug.route.1));
        }
    }

    /// RAS^O17 (OMP-11): dispensing at a pharmacy or administration on a ward.
    fn ras_oral(
        &mut self,
        order: &str,
        rx: &[(usize, u32)],
        given: Ms,
        inpatient: bool,
        pharmacy: bool,
    ) {
        self.msh("RAS^O17^RAS_O17");
        self.pid();
        self.pv1(if inpatient { "I" } else { "O" }, None, None, None);
        self.orc("NW", order, None, inpatient);
        let performer = if pharmacy {
            Self::xcn(self.doc())
        } else {
            Self::xcn(self.nurse())
        };
        for (d, days) in rx {
            let drug = &DRUGS[*d];
            let usage = &USAGES[drug.usage];
            let amount = if pharmacy {
                match drug.kind {
                    22 => drug.dose * 10,
                    23 if drug.unit.0 == "BTL" => 1 + days / 28,
                    _ => drug.dose * usage.per_day * days,
                }
            } else {
                drug.dose
            };
            self.w.seg("RXA");
            self.w.raw(1, "0");
            self.w.raw(2, "1");
            time::push_ts(self.w.f(3), given, 14);
            time::push_ts(self.w.f(4), given, 14);
            self.w
                .fmt(5, format_args!("{}^{}^HOT9", drug.hot9, esc(drug.name)));
            self.w.fmt(6, format_args!("{amount}"));
            self.w
                .fmt(7, format_args!("{}^{}^MR9P", drug.unit.0, drug.unit.1));
            self.w.raw(10, &performer);
            self.w.raw(20, "CP");
            time::push_ts(self.w.f(22), self.now, 14);
        }
        self.w.seg("RXR");
        let route = rx.first().map_or(("PO", "口"), |r| DRUGS[r.0].route);
        self.w
            .fmt(1, format_args!("{}^{}^HL70162", route.0, route.1));
    }

    fn pharmacy(&mut self) -> Result<(), SynthError> {
        let visits: Vec<(Visit, Vec<(usize, u32)>)> = match self.l.prescriber {
            Some(pi) => {
                let pl = &self.p.links[pi];
                let pf = &self.region.facilities[pl.facility];
                plan_visits(self.region, self.opts, self.p, pl)
                    .into_iter()
                    .filter(|v| v.rx && v.day >= self.l.first_day)
                    .map(|v| {
                        let rx = rx_for(self.p, pf, pl, &v);
                        (v, rx)
                    })
                    .filter(|(_, rx)| !rx.is_empty())
                    .collect()
            }
            None => Vec::new(),
        };
        let visits = if visits.is_empty() {
            // Prescriptions from a facility outside the region.
            let mut v = Vec::new();
            let mut d = self.l.first_day;
            while d <= self.region.end {
                let vis = Visit {
                    day: d,
                    minute: 600,
                    rx: true,
                    lab: false,
                    rad: false,
                    endo: false,
                    phys: false,
                    inj: false,
                    acute: Some(DZ_URI),
                };
                v.push((vis, vec![(DR_APAP, 5), (DR_CARBO, 5)]));
                d += 90 + self.rng.range(0, 60) as Day;
            }
            v
        } else {
            visits
        };
        for (v, rx) in visits {
            let day = v.day;
            let t = at(day, 0, (v.minute + 40 + self.rng.range(0, 60)).min(23 * 60));
            let order = self.next_order(day);
            let kept = self.order(DataKind::Omp01, t, &order, |g, ctrl| {
                g.rde(ctrl, &order, &rx, false, true)
            })?;
            if kept {
                self.now = t + 10 * MS_MIN + self.rng.range(0, 20) * MS_MIN;
                let given = self.now;
                self.ras_oral(&order, &rx, given, false, true);
                self.emit(
                    DataKind::Omp11,
                    Some(time::day_of(given)),
                    Some(&order),
                    Condition::Current,
                )?;
            }
        }
        Ok(())
    }

    // ---------- injections ----------

    /// OMP-02 (and OMP-12 when administered). `drip` = (base, additive) for ward drips,
    /// `single` = outpatient injection.
    fn injection(
        &mut self,
        t: Ms,
        drip: Option<(usize, usize)>,
        single: Option<usize>,
        inpatient: bool,
    ) -> Result<(), SynthError> {
        let day = time::day_of(t);
        let order = self.next_order(day);
        let comps: Vec<(&str, &str, &str, &str, &str)> = match (drip, single) {
            (Some((b, a)), _) => {
                let base = INJ_DRIP[b];
                let add = INJ_ADDITIVE[a];
                vec![
                    ("B", base.0, base.1, base.2, base.3),
                    ("A", add.0, add.1, add.2, add.3),
                ]
            }
            (None, Some(s)) => {
                let x = INJ_OUTPATIENT[s];
                vec![("A", x.0, x.1, x.2, x.3)]
            }
            _ => return Ok(()),
        };
        let start = t + 60 * MS_MIN;
        let hours = if drip.is_some() {
            4 + self.rng.range(0, 4)
        } else {
            0
        };
        let kept = self.order(DataKind::Omp02, t, &order, |g, ctrl| {
            g.msh("RDE^O11^RDE_O11");
            g.pid();
            g.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            let group = format!("{order}_01_001");
            g.orc(ctrl, &order, Some(&group), inpatient);
            g.w.seg("RXE");
            if drip.is_some() {
                g.w.raw(2, "01^点滴注射^99ZIJ");
                g.w.raw(3, "500");
                g.w.raw(5, "ML^ミリリットル^MR9P");
            } else {
                g.w.raw(2, "03^皮下・筋肉内注射^99ZIJ");
                g.w.raw(3, "1");
                g.w.fmt(5, format_args!("{}^{}^MR9P", comps[0].3, comps[0].4));
            }
            g.w.raw(6, "INJ^注射剤^MR9P");
            g.w.raw(15, &order);
            g.w.raw(
                21,
                if inpatient {
                    "IHI^入院注射^MR9P"
                } else {
                    "OHI^外来注射^MR9P"
                },
            );
            if hours > 0 {
                g.w.fmt(23, format_args!("{}", 500 / hours));
                g.w.raw(24, "ml/hr^ミリリットル／時間^ISO+");
            }
            g.w.seg("TQ1");
            g.w.raw(1, "1");
            time::push_ts(g.w.f(7), start, 12);
            time::push_ts(g.w.f(8), start + hours * 3_600_000, 12);
            g.w.seg("RXR");
            if drip.is_some() {
                g.w.raw(1, "IV^静脈内^HL70162");
                g.w.raw(3, "IVP^点滴ポンプ^HL70164");
            } else {
                g.w.raw(1, "SC^皮下^HL70162");
            }
            for c in &comps {
                g.w.seg("RXC");
                g.w.raw(1, c.0);
                g.w.fmt(2, format_args!("{}^{}^HOT9", c.1, esc(c.2)));
                g.w.raw(3, "1");
                g.w.fmt(4, format_args!("{}^{}^MR9P", c.3, c.4));
            }
        })?;
        if kept && self.rng.chance(0.9) {
            self.now = start + hours * 3_600_000 + 10 * MS_MIN;
            let nurse = Self::xcn(self.nurse());
            self.msh("RAS^O17^RAS_O17");
            self.pid();
            self.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            let group = format!("{order}_01_001");
            self.orc("NW", &order, Some(&group), inpatient);
            for c in &comps {
                self.w.seg("RXA");
                self.w.raw(1, "0");
                self.w.raw(2, "1");
                time::push_ts(self.w.f(3), start, 14);
                time::push_ts(self.w.f(4), start + hours * 3_600_000, 14);
                self.w.fmt(5, format_args!("{}^{}^HOT9", c.1, esc(c.2)));
                self.w.raw(6, "1");
                self.w.fmt(7, format_args!("{}^{}^MR9P", c.3, c.4));
                self.w.raw(10, &nurse);
                self.w.raw(20, "CP");
                time::push_ts(self.w.f(22), self.now, 14);
            }
            self.w.seg("RXR");
            self.w.raw(
                1,
                if drip.is_some() {
                    "IV^静脈内^HL70162"
                } else {
                    "SC^皮下^HL70162"
                },
            );
            self.emit(
                DataKind::Omp12,
                Some(time::day_of(start)),
                Some(&order),
                Condition::Current,
            )?;
        }
        Ok(())
    }

    // ---------- labs ----------

    fn lab_value(&mut self, li: usize) -> (f64, &'static str) {
        let lab = &LABS[li];
        let p = self.p;
        let has = |d: usize| p.conditions.iter().any(|c| c.0 == d);
        let mut base = Rng::derive(self.opts.seed, &[30, p.idx as u64, li as u64]);
        let mut mean = lab.mean + base.normal() * lab.sd * 0.6;
        match li {
            L_GLU if has(DZ_DM) => mean += 50.0,
            L_A1C if has(DZ_DM) => mean += 1.5,
            L_CRE if has(DZ_CKD) => mean += 0.8,
            L_BUN if has(DZ_CKD) => mean += 10.0,
            L_LDL if has(DZ_DL) => mean += 35.0,
            L_TC if has(DZ_DL) => mean += 35.0,
            L_TG if has(DZ_DL) => mean += 60.0,
            L_UA if has(DZ_HUA) => mean += 2.0,
            L_AST | L_ALT if has(DZ_HF) => mean += 10.0,
            L_HB if has(DZ_CKD) => mean -= 1.5,
            _ => {}
        }
        if !p.male && (li == L_CRE || li == L_HB) {
            mean *= 0.85;
        }
        let mut v = mean + self.rng.normal() * lab.sd * 0.5;
        if (li == L_CRP || li == L_WBC) && self.rng.chance(0.1) {
            v += lab.sd * 8.0 * self.rng.unit();
        }
        let min = 10f64.powi(-(lab.decimals as i32));
        if v < min {
            v = min;
        }
        let (lo, hi) = if p.male { lab.range_m } else { lab.range_f };
        let scale = 10f64.powi(lab.decimals as i32);
        let v = (v * scale).round() / scale;
        let flag = if v > hi {
            "H"
        } else if v < lo {
            "L"
        } else {
            "N"
        };
        (v, flag)
    }

    /// OML-01 order and (unless cancelled) OML-11 results.
    fn lab(&mut self, t: Ms, inpatient: bool) -> Result<(), SynthError> {
        let day = time::day_of(t);
        let order = self.next_order(day);
        let has_dm = self.p.conditions.iter().any(|c| c.0 == DZ_DM);
        // Panels: biochemistry always, blood count often, glucose + HbA1c for diabetics.
        let mut panels = vec![0u8];
        if self.rng.chance(0.7) || inpatient {
            panels.push(1);
        }
        if has_dm || self.rng.chance(0.15) {
            panels.push(2);
            panels.push(3);
        }
        let biochem: Vec<usize> = if inpatient || self.rng.chance(0.5) {
            (0..LABS.len()).filter(|&i| LABS[i].panel == 0).collect()
        } else {
            vec![2, 3, 4, 7, 8, 9, 13, 14, 15, 16]
        };
        let tests = |panel: u8| -> Vec<usize> {
            if panel == 0 {
                biochem.clone()
            } else {
                (0..LABS.len())
                    .filter(|&i| LABS[i].panel == panel)
                    .collect()
            }
        };
        let collect = t + 10 * MS_MIN;
        let spec_ids: Vec<String> = panels
            .iter()
            .enumerate()
            .map(|(i, _)| format!("{}{}", &order[4..], i + 1))
            .collect();
        let kept = self.order(DataKind::Oml01, t, &order, |g, ctrl| {
            g.msh("OML^O33^OML_O33");
            g.pid();
            g.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            for (pi, &panel) in panels.iter().enumerate() {
                let (sc, sn, pc, pn) = PANELS[panel as usize];
                g.w.seg("SPM");
                g.w.fmt(1, format_args!("{}", pi + 1));
                g.w.raw(2, &spec_ids[pi]);
                g.w.fmt(4, format_args!("{sc}^{sn}^JC10"));
                time::push_ts(g.w.f(17), collect, 14);
                g.orc(ctrl, &order, None, inpatient);
                g.w.seg("OBR");
                g.w.fmt(1, format_args!("{}", pi + 1));
                g.w.raw(2, &order);
                g.w.fmt(4, format_args!("{pc}^{pn}^99O03"));
                let d = Self::xcn(g.doc());
                g.w.raw(16, &d);
                for (k, li) in tests(panel).into_iter().enumerate() {
                    g.w.seg("OBX");
                    g.w.fmt(1, format_args!("{}", k + 1));
                    g.w.fmt(
                        3,
                        format_args!("{}^{}^JC10", LABS[li].jlac10, esc(LABS[li].name)),
                    );
                    g.w.raw(11, "O");
                }
            }
        })?;
        if !kept {
            return Ok(());
        }
        // Results, a few hours later; some are first sent preliminary, then final.
        let report = collect + (60 + self.rng.range(0, 180)) * MS_MIN;
        let prelim = self.rng.chance(0.05);
        let mut values: Vec<Vec<(usize, f64, &'static str)>> = Vec::new();
        for &panel in &panels {
            let v: Vec<(usize, f64, &'static str)> = tests(panel)
                .into_iter()
                .map(|li| {
                    let (v, fl) = self.lab_value(li);
                    (li, v, fl)
                })
                .collect();
            values.push(v);
        }
        let versions: &[(&str, Condition)] = if prelim {
            &[("P", Condition::Superseded), ("F", Condition::Current)]
        } else {
            &[("F", Condition::Current)]
        };
        for (vi, &(status, cond)) in versions.iter().enumerate() {
            self.now = report + vi as i64 * 90 * MS_MIN;
            self.msh("OUL^R22^OUL_R22");
            self.pid();
            self.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            for (pi, &panel) in panels.iter().enumerate() {
                let (sc, sn, pc, pn) = PANELS[panel as usize];
                self.w.seg("SPM");
                self.w.fmt(1, format_args!("{}", pi + 1));
                self.w.raw(2, &spec_ids[pi]);
                self.w.fmt(4, format_args!("{sc}^{sn}^JC10"));
                time::push_ts(self.w.f(17), collect, 14);
                self.w.seg("OBR");
                self.w.fmt(1, format_args!("{}", pi + 1));
                self.w.raw(2, &order);
                self.w.raw(3, &spec_ids[pi]);
                self.w.fmt(4, format_args!("{pc}^{pn}^99O03"));
                time::push_ts(self.w.f(7), collect, 14);
                let d = Self::xcn(self.doc());
                self.w.raw(16, &d);
                time::push_ts(self.w.f(22), self.now, 14);
                self.w.raw(25, status);
                self.orc("SC", &order, None, inpatient);
                self.w.raw(5, "CM");
                for (k, &(li, v, fl)) in values[pi].iter().enumerate() {
                    let lab = &LABS[li];
                    let (lo, hi) = if self.p.male {
                        lab.range_m
                    } else {
                        lab.range_f
                    };
                    self.w.seg("OBX");
                    self.w.fmt(1, format_args!("{}", k + 1));
                    self.w.raw(2, "NM");
                    self.w
                        .fmt(3, format_args!("{}^{}^JC10", lab.jlac10, esc(lab.name)));
                    // The facility's laboratory may report in another unit (exact factor).
                    let (unit, factor, dec) = lab_extra::unit_of(self.f.kind, li);
                    self.w.fmt(5, format_args!("{:.*}", dec, v * factor));
                    let u = esc(unit);
                    self.w.fmt(6, format_args!("{u}^{u}^99ZUN"));
                    self.w.fmt(
                        7,
                        format_args!("{:.p$}-{:.p$}", lo * factor, hi * factor, p = dec),
                    );
                    self.w.raw(8, fl);
                    self.w.raw(11, status);
                    time::push_ts(self.w.f(14), collect, 14);
                }
            }
            self.emit(
                DataKind::Oml11,
                Some(time::day_of(collect)),
                Some(&order),
                cond,
            )?;
        }
        Ok(())
    }

    // ---------- radiology / endoscopy / physiology ----------

    fn imaging(
        &mut self,
        kind: DataKind,
        t: Ms,
        which: Option<usize>,
        inpatient: bool,
    ) -> Result<(), SynthError> {
        let day = time::day_of(t);
        let order = self.next_order(day);
        let (code, name, system, modality) = match (kind, which) {
            (DataKind::Omg01, Some(i)) => {
                (RADIOLOGY[i].0, RADIOLOGY[i].1, "JJ1017", RADIOLOGY[i].2)
            }
            (DataKind::Omg01, None) => (
                "10000009000000000000010000000000",
                "歯科パノラマ断層撮影",
                "JJ1017",
                "PX",
            ),
            (DataKind::Omg02, Some(i)) => (ENDOSCOPY[i].0, ENDOSCOPY[i].1, "JJ1017", "ES"),
            (_, i) => {
                let x = PHYSIOLOGY[i.unwrap_or(0)];
                (x.0, x.1, x.2, "ECG")
            }
        };
        let scheduled = t + (30 + self.rng.range(0, 120)) * MS_MIN;
        let kept = self.order(kind, t, &order, |g, ctrl| {
            g.msh("OMG^O19^OMG_O19");
            g.pid();
            g.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            g.orc(ctrl, &order, None, inpatient);
            g.w.seg("TQ1");
            g.w.raw(1, "1");
            time::push_ts(g.w.f(7), scheduled, 12);
            g.w.raw(9, "R^ルーチン^HL70485");
            g.w.seg("OBR");
            g.w.raw(1, "1");
            g.w.raw(2, &order);
            g.w.fmt(4, format_args!("{code}^{}^{system}", esc(name)));
            let d = Self::xcn(g.doc());
            g.w.raw(16, &d);
            if kind == DataKind::Omg01 && modality == "CT" && name.contains("造影") {
                g.w.seg("OBX");
                g.w.raw(1, "1");
                g.w.raw(2, "NM");
                g.w.raw(3, "9N006000000000001^体重^JC10");
                g.w.fmt(5, format_args!("{:.1}", g.p.weight));
                g.w.raw(6, "kg^kg^ISO+");
                g.w.raw(11, "F");
            }
        })?;
        if !kept {
            return Ok(());
        }
        let performed = scheduled + self.rng.range(0, 60) * MS_MIN;
        self.now = performed + (20 + self.rng.range(0, 120)) * MS_MIN;
        let done_kind = match kind {
            DataKind::Omg01 => DataKind::Omg11,
            DataKind::Omg02 => DataKind::Omg12,
            _ => DataKind::Omg13,
        };
        if done_kind == DataKind::Omg13 {
            self.msh("ORU^R01^ORU_R01");
            self.pid();
            self.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            self.orc("SC", &order, None, inpatient);
            self.w.seg("OBR");
            self.w.raw(1, "1");
            self.w.raw(2, &order);
            self.w.fmt(4, format_args!("{code}^{}^{system}", esc(name)));
            time::push_ts(self.w.f(7), performed, 14);
            let d = Self::xcn(self.doc());
            self.w.raw(16, &d);
            time::push_ts(self.w.f(22), self.now, 14);
            self.w.raw(25, "F");
            self.physiology_obx(code);
        } else {
            self.msh("OMI^Z23^OMI_Z23");
            self.pid();
            self.pv1(if inpatient { "I" } else { "O" }, None, None, None);
            self.orc("SC", &order, None, inpatient);
            self.w.seg("TQ1");
            self.w.raw(1, "1");
            time::push_ts(self.w.f(7), scheduled, 12);
            self.w.raw(9, "R^ルーチン^HL70485");
            self.w.seg("OBR");
            self.w.raw(1, "1");
            self.w.raw(2, &order);
            self.w.fmt(4, format_args!("{code}^{}^{system}", esc(name)));
            time::push_ts(self.w.f(7), performed, 14);
            let d = Self::xcn(self.doc());
            self.w.raw(16, &d);
            time::push_ts(self.w.f(22), self.now, 14);
            self.w.raw(25, "F");
            self.w.seg("IPC");
            self.w.fmt(1, format_args!("A{order}"));
            self.w.fmt(2, format_args!("P{}", &order[8..]));
            self.w.fmt(
                3,
                format_args!(
                    "1.2.392.200036.9116.2.{}.{}.{}",
                    &self.f.info.code, self.l.ordinal, &order
                ),
            );
            self.w.fmt(4, format_args!("S{}", &order[8..]));
            self.w.fmt(5, format_args!("{modality}^^DCM"));
        }
        self.emit(
            done_kind,
            Some(time::day_of(performed)),
            Some(&order),
            Condition::Current,
        )?;
        Ok(())
    }

    fn physiology_obx(&mut self, code: &str) {
        let mut n = 0;
        let mut obx = |g: &mut Self, ty: &str, c: &str, v: &str, unit: &str| {
            n += 1;
            g.w.seg("OBX");
            g.w.fmt(1, format_args!("{n}"));
            g.w.raw(2, ty);
            g.w.raw(3, c);
            g.w.txt(5, v);
            if !unit.is_empty() {
                g.w.raw(6, unit);
            }
            g.w.raw(11, "F");
        };
        match code {
            "9A110" => {
                let hr = 55 + self.rng.range(0, 40);
                let af = self.p.conditions.iter().any(|c| c.0 == DZ_AF);
                let finding = if af {
                    "心房細動"
                } else if hr > 90 {
                    "洞性頻脈"
                } else {
                    "洞調律　正常範囲"
                };
                obx(self, "TX", "9A110&IMP^心電図所見^JC10", finding, "");
                obx(
                    self,
                    "NM",
                    "32769^心拍数^99MFR",
                    &hr.to_string(),
                    "bpm^bpm^ISO+",
                );
                let x = (140 + self.rng.range(0, 60)).to_string();
                obx(self, "NM", "32770^PQ時間^99MFR", &x, "ms^ms^ISO+");
                let x = (80 + self.rng.range(0, 30)).to_string();
                obx(self, "NM", "58240^QRS幅^99MFR", &x, "ms^ms^ISO+");
                let x = (390 + self.rng.range(0, 60)).to_string();
                obx(self, "NM", "59136^QTc時間^99MFR", &x, "ms^ms^ISO+");
            }
            "9C010" => {
                let vc = 70 + self.rng.range(0, 45);
                let fev = 55 + self.rng.range(0, 35);
                obx(
                    self,
                    "NM",
                    "9C010&VCP^％肺活量^JC10",
                    &vc.to_string(),
                    "%^%^ISO+",
                );
                obx(
                    self,
                    "NM",
                    "9C010&FEV1P^１秒率^JC10",
                    &fev.to_string(),
                    "%^%^ISO+",
                );
                let imp = if fev < 70 {
                    "閉塞性換気障害"
                } else if vc < 80 {
                    "拘束性換気障害"
                } else {
                    "正常"
                };
                obx(self, "TX", "9C010&IMP^判定^JC10", imp, "");
            }
            _ => {
                let abi_r = 0.85 + self.rng.unit() * 0.4;
                let abi_l = 0.85 + self.rng.unit() * 0.4;
                obx(
                    self,
                    "NM",
                    "9A330&ABIR^ＡＢＩ右^JC10",
                    &format!("{abi_r:.2}"),
                    "",
                );
                obx(
                    self,
                    "NM",
                    "9A330&ABIL^ＡＢＩ左^JC10",
                    &format!("{abi_l:.2}"),
                    "",
                );
                let x = (1200 + self.rng.range(0, 900)).to_string();
                obx(
                    self,
                    "NM",
                    "9A330&PWVR^ｂａＰＷＶ右^JC10",
                    &x,
                    "cm/s^cm/s^ISO+",
                );
            }
        }
    }

    // ---------- admissions ----------

    fn admissions(&mut self) -> Result<(), SynthError> {
        let p = self.p;
        let age = time::age(p.birth, self.region.end);
        let span_years = (self.region.end - self.l.first_day) as f64 / 365.0;
        let rate = 0.05 + (age as f64 - 60.0).max(0.0) * 0.004;
        let mut n = self.rng.count(rate * span_years * 1.4);
        if self.rng.unit() > rate * span_years * 1.4 {
            n = n.min(1);
        }
        let showcase = self.l.ordinal == 0;
        if showcase {
            n = n.max(1);
        }
        let mut adm = Vec::new();
        let mut last = self.l.first_day + 3;
        for i in 0..n {
            let latest = self.region.end - 30;
            if last >= latest {
                break;
            }
            let day = self.rng.range(last as i64, latest as i64) as Day;
            let dx = *self.rng.pick(&[
                DZ_PNEUMONIA,
                DZ_PNEUMONIA,
                DZ_HF,
                DZ_STROKE,
                DZ_POLYP,
                DZ_FRACTURE,
                DZ_GE,
                DZ_UTI,
            ]);
            let los = if showcase && i == 0 {
                12
            } else {
                4 + self.rng.range(0, 18) as i32
            };
            adm.push(Admission {
                day,
                los,
                dx,
                planned: matches!(dx, DZ_POLYP) || self.rng.chance(0.35),
                full: showcase && i == 0,
            });
            last = day + los + 20;
        }
        for a in adm {
            self.admission(&a)?;
        }
        Ok(())
    }

    fn adt(
        &mut self,
        msg: &str,
        inpatient: Option<(usize, u32)>,
        occurred: Option<Ms>,
        admit: Option<Ms>,
        discharge: Option<Ms>,
        pv2: Option<(usize, Ms)>,
    ) {
        self.msh(msg);
        self.evn(occurred);
        self.pid();
        self.pv1(
            if inpatient.is_some() { "I" } else { "O" },
            inpatient,
            admit,
            discharge,
        );
        if let Some((field, t)) = pv2 {
            self.w.seg("PV2");
            time::push_ts(self.w.f(field), t, 12);
        }
    }

    fn admission(&mut self, a: &Admission) -> Result<(), SynthError> {
        let ward = self.rng.index(WARDS.len() - 1);
        let room = 300 + self.rng.range(1, 30) as u32 + 100 * (ward as u32 / 2);
        let loc = Some((ward, room));
        let admit = at(a.day, 10 + self.rng.range(0, 5), self.rng.range(0, 59));
        let discharge_day = (a.day + a.los).min(self.region.end);
        let discharge = at(discharge_day, 10, self.rng.range(0, 59));
        // ADT-21: planned admission, a few days ahead (sometimes cancelled and re-planned).
        if a.planned || a.full {
            self.now = admit - (3 + self.rng.range(0, 10)) * MS_DAY;
            let cancelled = !a.full && self.rng.chance(0.08);
            if cancelled {
                let first_plan = admit - 7 * MS_DAY;
                self.adt(
                    "ADT^A14^ADT_A05",
                    loc,
                    None,
                    None,
                    None,
                    Some((8, first_plan)),
                );
                self.emit(
                    DataKind::Adt21,
                    Some(time::day_of(first_plan)),
                    None,
                    Condition::Deleted,
                )?;
                self.now += 60 * MS_MIN;
                self.adt(
                    "ADT^A27^ADT_A09",
                    loc,
                    None,
                    None,
                    None,
                    Some((8, first_plan)),
                );
                self.emit(
                    DataKind::Adt21,
                    Some(time::day_of(first_plan)),
                    None,
                    Condition::Deleted,
                )?;
                self.now += MS_DAY;
            }
            self.adt("ADT^A14^ADT_A05", loc, None, None, None, Some((8, admit)));
            self.emit(DataKind::Adt21, Some(a.day), None, Condition::Current)?;
        }
        // ADT-22: admission.
        self.now = admit;
        self.adt("ADT^A01^ADT_A01", loc, Some(admit), Some(admit), None, None);
        self.emit(DataKind::Adt22, Some(a.day), None, Condition::Current)?;
        // Meals: a diet order at admission, changed once for longer stays.
        let diet = match a.dx {
            DZ_STROKE => 6,
            DZ_HF => 4,
            DZ_GE | DZ_POLYP => 1,
            _ => {
                if self.p.conditions.iter().any(|c| c.0 == DZ_DM) {
                    3
                } else {
                    0
                }
            }
        };
        self.meal(admit + 30 * MS_MIN, diet)?;
        if a.los > 5 || a.full {
            self.meal(admit + 3 * MS_DAY, if diet == 1 { 0 } else { diet })?;
        }
        // Daily drips for the first days, labs every few days, an X-ray on day 1.
        let drip_days = (a.los / 2).clamp(1, 7);
        for d in 0..drip_days {
            let t = at(a.day + d, 9, self.rng.range(0, 50));
            let base = self.rng.index(INJ_DRIP.len());
            let add = if a.dx == DZ_PNEUMONIA || a.dx == DZ_UTI {
                1 + self.rng.index(2)
            } else {
                self.rng.index(INJ_ADDITIVE.len())
            };
            self.injection(t, Some((base, add)), None, true)?;
        }
        let mut d = 0;
        while d < a.los {
            self.lab(at(a.day + d, 6, 30), true)?;
            d += 3 + self.rng.range(0, 2) as i32;
        }
        self.imaging(
            DataKind::Omg01,
            admit + 60 * MS_MIN,
            Some(if a.dx == DZ_STROKE { 4 } else { 0 }),
            true,
        )?;
        if a.dx == DZ_POLYP || a.full {
            self.imaging(DataKind::Omg02, at(a.day + 1, 13, 0), Some(1), true)?;
        }
        if a.dx == DZ_HF || a.full {
            self.imaging(DataKind::Omg03, at(a.day + 1, 10, 0), Some(0), true)?;
        }
        // Ward prescriptions with administration records (one RAS per day for the first days).
        let rx: Vec<(usize, u32)> = {
            let v = Visit {
                day: a.day,
                minute: 600,
                rx: true,
                lab: false,
                rad: false,
                endo: false,
                phys: false,
                inj: false,
                acute: None,
            };
            let mut r = rx_for(self.p, self.f, self.l, &v);
            r.truncate(3);
            for x in r.iter_mut() {
                x.1 = 7;
            }
            if r.is_empty() {
                r.push((DR_REBAMIPIDE, 7));
            }
            r
        };
        let t = admit + 2 * 3_600_000;
        let order = self.next_order(a.day);
        let kept = self.order(DataKind::Omp01, t, &order, |g, ctrl| {
            g.rde(ctrl, &order, &rx, true, false)
        })?;
        if kept {
            for k in 1..=a.los.min(7) {
                let given = at(a.day + k, 8, 10 + self.rng.range(0, 30));
                self.now = given + 20 * MS_MIN;
                self.ras_oral(&order, &rx, given, true, false);
                self.emit(
                    DataKind::Omp11,
                    Some(a.day + k),
                    Some(&order),
                    Condition::Current,
                )?;
            }
        }
        // Transfer (planned, then done).
        if a.full || (a.los > 7 && self.rng.chance(0.2)) {
            let tday = a.day + a.los / 3;
            let tt = at(tday, 14, 0);
            let new_ward = (ward + 1) % (WARDS.len() - 1);
            self.now = tt - MS_DAY;
            self.adt(
                "ADT^A15^ADT_A15",
                loc,
                None,
                Some(admit),
                None,
                Some((8, tt)),
            );
            self.emit(DataKind::Adt41, Some(tday), None, Condition::Current)?;
            self.now = tt;
            // PV1-6 (prior location) comes before PV1-44: written in field order.
            self.msh("ADT^A02^ADT_A02");
            self.evn(Some(tt));
            self.pid();
            let admitted = time::ts(admit, 12);
            self.pv1_in_order(&adt_cases::Pv1 {
                ward: Some((new_ward, room + 100)),
                prior: loc,
                disposition: None,
                admit: Some(&admitted),
                discharge: None,
            });
            self.emit(DataKind::Adt42, Some(tday), None, Condition::Current)?;
        }
        // Leave of absence over a weekend.
        if a.full || (a.los > 9 && self.rng.chance(0.3)) {
            let out_day = a.day + a.los / 2;
            let out_t = at(out_day, 13, 0);
            let back_t = at(out_day + 1, 16, 0);
            self.now = out_t;
            self.adt("ADT^A21^ADT_A21", loc, Some(out_t), Some(admit), None, None);
            self.emit(DataKind::Adt31, Some(out_day), None, Condition::Current)?;
            self.now = back_t;
            self.adt(
                "ADT^A22^ADT_A21",
                loc,
                Some(back_t),
                Some(admit),
                None,
                None,
            );
            self.emit(DataKind::Adt32, Some(out_day + 1), None, Condition::Current)?;
        }
        // Attending doctor change during the stay.
        if a.full {
            self.attending_changes()?;
        }
        // Discharge planned, then done.
        self.now = discharge - 2 * MS_DAY;
        if a.full || self.rng.chance(0.7) {
            if !a.full && self.rng.chance(0.1) {
                // The first plan was cancelled (discharge postponed).
                let early = discharge - 3 * MS_DAY;
                self.adt(
                    "ADT^A16^ADT_A16",
                    loc,
                    None,
                    Some(admit),
                    None,
                    Some((9, early)),
                );
                self.emit(
                    DataKind::Adt51,
                    Some(time::day_of(early)),
                    None,
                    Condition::Deleted,
                )?;
                self.now += 30 * MS_MIN;
                self.adt(
                    "ADT^A25^ADT_A09",
                    loc,
                    None,
                    Some(admit),
                    None,
                    Some((9, early)),
                );
                self.emit(
                    DataKind::Adt51,
                    Some(time::day_of(early)),
                    None,
                    Condition::Deleted,
                )?;
                self.now += 30 * MS_MIN;
            }
            self.adt(
                "ADT^A16^ADT_A16",
                loc,
                None,
                Some(admit),
                None,
                Some((9, discharge)),
            );
            self.emit(
                DataKind::Adt51,
                Some(discharge_day),
                None,
                Condition::Current,
            )?;
        }
        self.now = discharge;
        self.msh("ADT^A03^ADT_A03");
        self.evn(Some(discharge));
        self.pid();
        let (admitted, discharged) = (time::ts(admit, 12), time::ts(discharge, 12));
        self.pv1_in_order(&adt_cases::Pv1 {
            ward: loc,
            prior: None,
            disposition: Some(if a.dx == DZ_STROKE {
                "04^リハビリ病院へ転院^HL70112"
            } else {
                "01^自宅^HL70112"
            }),
            admit: Some(&admitted),
            discharge: Some(&discharged),
        });
        self.emit(
            DataKind::Adt52,
            Some(discharge_day),
            None,
            Condition::Current,
        )?;
        if self.opts.extended {
            self.extended_admission(a, admit, discharge)?;
        }
        Ok(())
    }

    fn meal(&mut self, t: Ms, diet: usize) -> Result<(), SynthError> {
        let day = time::day_of(t);
        let order = self.next_order(day);
        let start = t + 4 * 3_600_000;
        self.order(DataKind::Omd, t, &order, |g, ctrl| {
            g.msh("OMD^O03^OMD_O03");
            g.pid();
            g.pv1("I", None, None, None);
            g.orc(ctrl, &order, None, true);
            g.w.seg("TQ1");
            g.w.raw(1, "1");
            g.w.raw(3, "TID&１日３回&HL70335");
            time::push_ts(g.w.f(7), start, 12);
            g.w.raw(9, "R^ルーチン^HL70485");
            g.w.seg("ODS");
            g.w.raw(1, "D");
            g.w.fmt(
                3,
                format_args!("{}^{}^99ZDT", DIETS[diet].0, esc(DIETS[diet].1)),
            );
            if diet == 3 || diet == 4 {
                g.w.txt(4, "間食なし");
            }
        })?;
        Ok(())
    }

    fn attending_changes(&mut self) -> Result<(), SynthError> {
        let n = 1 + self.rng.index(2);
        let first = self.l.first_day;
        let span = (self.region.end - first).max(2) as i64;
        let mut times: Vec<Ms> = (0..n)
            .map(|_| {
                at(
                    first + self.rng.range(1, span - 1) as Day,
                    11,
                    self.rng.range(0, 300),
                )
            })
            .collect();
        times.sort();
        let keep = self.doctor;
        for (i, t) in times.iter().enumerate() {
            self.now = *t;
            self.doctor = (keep + i + 1) % self.f.doctors.len().max(1);
            self.adt("ADT^A54^ADT_A54", None, Some(*t), None, None, None);
            self.emit(
                DataKind::Adt01,
                None,
                None,
                if i + 1 == n {
                    Condition::Current
                } else {
                    Condition::Superseded
                },
            )?;
        }
        self.doctor = keep;
        Ok(())
    }

    // ---------- diagnoses ----------

    fn diagnoses(&mut self, visits: &[Visit]) -> Result<(), SynthError> {
        let first_visit = match visits.first() {
            Some(v) => v.day,
            None => return Ok(()),
        };
        let mut dx: Vec<Dx> = Vec::new();
        let mut change_days: Vec<Day> = Vec::new();
        let mut k = 0;
        for &(dz, onset) in &self.p.conditions {
            if !relevant(dz, self.f, self.l.dept) {
                continue;
            }
            if DISEASES[dz].chronic {
                let start = onset.max(self.region.start - 2000);
                let registered = if onset <= first_visit {
                    first_visit
                } else {
                    onset
                };
                if registered <= self.region.end {
                    k += 1;
                    dx.push(Dx {
                        dz,
                        start,
                        end: None,
                        registered,
                        instance: format!("{}{:03}", self.l.local_id, k),
                        doctor: self.doctor,
                    });
                    change_days.push(registered);
                }
            } else if let Some(v) = visits.iter().find(|v| v.acute == Some(dz)) {
                k += 1;
                let end = v.day + 14;
                dx.push(Dx {
                    dz,
                    start: v.day,
                    end: (end <= self.region.end).then_some(end),
                    registered: v.day,
                    instance: format!("{}{:03}", self.l.local_id, k),
                    doctor: self.doctor,
                });
                change_days.push(v.day);
                if end <= self.region.end {
                    change_days.push(end);
                }
            }
        }
        if dx.is_empty() {
            return Ok(());
        }
        change_days.sort();
        change_days.dedup();
        let n = change_days.len();
        for (i, &day) in change_days.iter().enumerate() {
            self.now = at(day, 17, 30 + self.rng.range(0, 20));
            self.msh("PPR^ZD1^PPR_PC1");
            self.pid();
            self.pv1("O", None, None, None);
            for d in dx.iter().filter(|d| d.registered <= day) {
                let dz = &DISEASES[d.dz];
                self.w.seg("PRB");
                self.w.raw(1, if d.registered == day { "AD" } else { "UP" });
                time::push_ts(self.w.f(2), self.now, 14);
                self.w
                    .fmt(3, format_args!("{}^{}^MDCDX2", dz.medis, esc(dz.name)));
                self.w.raw(4, &d.instance);
                time::push_date(self.w.f(7), d.start);
                if let Some(e) = d.end.filter(|&e| e <= day) {
                    time::push_date(self.w.f(9), e);
                    self.w.raw(14, "F^治癒^HL70241");
                }
                self.w
                    .fmt(10, format_args!("{}^^I10^O^外来時^JHSD0004", dz.icd10));
                time::push_date(self.w.f(16), d.start);
                self.w.raw(
                    18,
                    if d.dz == dx[0].dz {
                        "1^主病名^JHSD0007"
                    } else {
                        "2^副病名^JHSD0007"
                    },
                );
                self.w.seg("ZPR");
                self.w
                    .fmt(2, format_args!("{}^{}^MDCDX2", dz.medis, esc(dz.name)));
                self.w
                    .fmt(5, format_args!("{}^{}^MDCDX2", dz.exchange, esc(dz.name)));
                let doc = Self::xcn(&self.f.doctors[d.doctor.min(self.f.doctors.len() - 1)]);
                self.w.seg("ORC");
                self.w.raw(1, "NW");
                self.w.raw(2, &d.instance);
                self.w.raw(12, &doc);
                if self.dept_code() != "-" {
                    self.w.fmt(
                        17,
                        format_args!("{}^{}^99Z01", DEPTS[self.l.dept].0, DEPTS[self.l.dept].1),
                    );
                }
                self.w.raw(29, "O^外来患者オーダ^HL70482");
            }
            self.emit(
                DataKind::Ppr01,
                None,
                None,
                if i + 1 == n {
                    Condition::Current
                } else {
                    Condition::Superseded
                },
            )?;
        }
        Ok(())
    }

    // ---------- care facilities ----------

    fn care(&mut self) -> Result<(), SynthError> {
        let day = self.l.first_day;
        let room = 100 + self.rng.range(1, 40) as u32;
        let loc = Some((0usize, room));
        let admit = at(day, 10, 30);
        self.now = admit;
        self.adt("ADT^A01^ADT_A01", loc, Some(admit), Some(admit), None, None);
        self.w.text = self.w.text.replace("3E^", "CARE^");
        self.emit(DataKind::Adt22, Some(day), None, Condition::Current)?;
        // Home stays (外泊) now and then.
        let mut d = day + 60 + self.rng.range(0, 60) as Day;
        while d + 2 < self.region.end {
            if self.rng.chance(0.3) {
                let out_t = at(d, 10, 0);
                let back_t = at(d + 2, 15, 0);
                self.now = out_t;
                self.adt("ADT^A21^ADT_A21", loc, Some(out_t), Some(admit), None, None);
                self.emit(DataKind::Adt31, Some(d), None, Condition::Current)?;
                self.now = back_t;
                self.adt(
                    "ADT^A22^ADT_A21",
                    loc,
                    Some(back_t),
                    Some(admit),
                    None,
                    None,
                );
                self.emit(DataKind::Adt32, Some(d + 2), None, Condition::Current)?;
            }
            d += 90 + self.rng.range(0, 90) as Day;
        }
        // Some residents leave (to hospital or home).
        if self.rng.chance(0.3) {
            let out_day = self.rng.range(day as i64 + 30, self.region.end as i64) as Day;
            if out_day > day + 30 && out_day <= self.region.end {
                let t = at(out_day, 11, 0);
                self.now = t;
                self.adt("ADT^A03^ADT_A03", loc, Some(t), Some(admit), Some(t), None);
                self.emit(DataKind::Adt52, Some(out_day), None, Condition::Current)?;
            }
        }
        let pseudo = [Visit {
            day,
            minute: 600,
            rx: false,
            lab: false,
            rad: false,
            endo: false,
            phys: false,
            inj: false,
            acute: None,
        }];
        self.diagnoses(&pseudo)?;
        Ok(())
    }

    // ---------- extended storage ----------

    /// Vitals taken at an outpatient visit, as ORU^R30 (point-of-care observations) in the
    /// extended storage: most visits of a hospital or clinic. Values scatter around the
    /// patient's own baseline so that the vitals tab shows a trend. Clinics send the blood
    /// pressure as one `120/80` value (as many clinic systems do), hospitals as two OBX;
    /// now and then SpO2 could not be obtained (OBX-11 `X`, no value). Drawn from a stream
    /// of its own, so the rest of the history is unchanged.
    fn extended_visit_vitals(&mut self, t: Ms, day: Day) -> Result<(), SynthError> {
        let mut rng = Rng::derive(
            self.opts.seed,
            &[50, self.p.idx as u64, self.l.facility as u64, day as u64],
        );
        if rng.unit() < 0.3 {
            return Ok(());
        }
        // The patient's baseline, the same at every facility.
        let mut base = Rng::derive(self.opts.seed, &[51, self.p.idx as u64]);
        let sys0 = 112.0 + base.unit() * 36.0;
        let weight0 = 45.0 + base.unit() * 40.0;
        let height = 145.0 + base.unit() * 35.0;
        let dept = self.dept_code();
        let kind_folder = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
        self.now = t;
        self.msh("ORU^R30^ORU_R30");
        self.pid();
        self.pv1("O", None, Some(t), None);
        self.w.seg("OBR");
        self.w.raw(1, "1");
        self.w.raw(4, "VITAL^バイタルサイン^99ZL01");
        time::push_ts(self.w.f(7), t, 14);
        let sys = (sys0 + rng.unit() * 16.0 - 8.0).round();
        let dia = (sys * 0.62 + rng.unit() * 8.0 - 4.0).round();
        let temp = format!("{:.1}", 36.2 + rng.unit() * 1.0);
        let pulse = format!("{}", 62 + rng.range(0, 30));
        let weight = weight0 + rng.unit() * 1.6 - 0.8;
        let spo2_missing = rng.unit() < 0.07;
        let spo2 = format!("{}", 95 + rng.range(0, 5));
        let mut obx: Vec<(&str, String, String, &str, &str)> =
            vec![("NM", "8310-5^体温^LN".into(), temp, "Cel^℃^UCUM", "F")];
        if self.f.kind == FKind::Clinic {
            obx.push((
                "ST",
                "BP^血圧^99ZL01".into(),
                format!("{sys}/{dia}"),
                "mm[Hg]^mmHg^UCUM",
                "F",
            ));
        } else {
            obx.push((
                "NM",
                "8480-6^収縮期血圧^LN".into(),
                format!("{sys}"),
                "mm[Hg]^mmHg^UCUM",
                "F",
            ));
            obx.push((
                "NM",
                "8462-4^拡張期血圧^LN".into(),
                format!("{dia}"),
                "mm[Hg]^mmHg^UCUM",
                "F",
            ));
        }
        obx.push((
            "NM",
            "8867-4^脈拍数^LN".into(),
            pulse,
            "/min^回/分^UCUM",
            "F",
        ));
        obx.push((
            "NM",
            "59408-5^SpO2^LN".into(),
            if spo2_missing { "\"\"".into() } else { spo2 },
            "%^%^UCUM",
            if spo2_missing { "X" } else { "F" },
        ));
        obx.push((
            "NM",
            "29463-7^体重^LN".into(),
            format!("{weight:.1}"),
            "kg^kg^UCUM",
            "F",
        ));
        obx.push((
            "NM",
            "8302-2^身長^LN".into(),
            format!("{height:.1}"),
            "cm^cm^UCUM",
            "F",
        ));
        for (i, (vt, code, v, unit, status)) in obx.iter().enumerate() {
            self.w.seg("OBX");
            self.w.fmt(1, format_args!("{}", i + 1));
            self.w.raw(2, vt);
            self.w.raw(3, code);
            self.w.raw(5, v);
            self.w.raw(6, unit);
            self.w.raw(11, status);
            time::push_ts(self.w.f(14), t, 14);
        }
        let text = self.w.finish();
        let bytes = hl7::encode_iso2022jp(text).map_err(|e| SynthError::Encode(e.to_string()))?;
        let date = time::date8(day);
        let ts = time::ts(t + 5000, 17);
        let pid = &self.l.local_id;
        let key = format!("R{}", &ts[..14]);
        let (p1, p2) = ssmix2::naming::prefix_folders(pid);
        let rel = format!("{p1}/{p2}/{pid}/{date}/{kind_folder}/{pid}_{date}_{kind_folder}_{key}_{ts}_{dept}_1/main_document.hl7");
        self.files.push(Out::Extended { rel, bytes });
        Ok(())
    }

    fn extended_admission(
        &mut self,
        a: &Admission,
        admit: Ms,
        discharge: Ms,
    ) -> Result<(), SynthError> {
        let dept = self.dept_code();
        // Vitals on the admission day, as an HL7 message.
        let kind_folder = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
        self.now = admit + 2 * 3_600_000;
        self.msh("ORU^R01^ORU_R01");
        self.pid();
        self.pv1("I", None, Some(admit), None);
        self.w.seg("OBR");
        self.w.raw(1, "1");
        self.w.raw(4, "VITAL^バイタルサイン^99ZL01");
        time::push_ts(self.w.f(7), self.now, 14);
        let vitals = [
            (
                "8310-5",
                "体温",
                format!("{:.1}", 36.4 + self.rng.unit() * 1.6),
                "Cel^℃^UCUM",
            ),
            (
                "8480-6",
                "収縮期血圧",
                format!("{}", 105 + self.rng.range(0, 50)),
                "mm[Hg]^mmHg^UCUM",
            ),
            (
                "8462-4",
                "拡張期血圧",
                format!("{}", 60 + self.rng.range(0, 30)),
                "mm[Hg]^mmHg^UCUM",
            ),
            (
                "8867-4",
                "脈拍数",
                format!("{}", 60 + self.rng.range(0, 40)),
                "/min^回／分^UCUM",
            ),
            (
                "59408-5",
                "ＳｐＯ２",
                format!("{}", 92 + self.rng.range(0, 7)),
                "%^%^UCUM",
            ),
        ];
        for (i, (code, name, v, unit)) in vitals.iter().enumerate() {
            self.w.seg("OBX");
            self.w.fmt(1, format_args!("{}", i + 1));
            self.w.raw(2, "NM");
            self.w.fmt(3, format_args!("{code}^{name}^LN"));
            self.w.raw(5, v);
            self.w.raw(6, unit);
            self.w.raw(11, "F");
            time::push_ts(self.w.f(14), self.now, 14);
        }
        let text = self.w.finish();
        let bytes = hl7::encode_iso2022jp(text).map_err(|e| SynthError::Encode(e.to_string()))?;
        let date = time::date8(time::day_of(self.now));
        let ts = time::ts(self.now + 5000, 17);
        let pid = &self.l.local_id;
        let key = format!("V{}", &ts[..14]);
        let (p1, p2) = ssmix2::naming::prefix_folders(pid);
        let rel = format!("{p1}/{p2}/{pid}/{date}/{kind_folder}/{pid}_{date}_{kind_folder}_{key}_{ts}_{dept}_1/main_document.hl7");
        self.files.push(Out::Extended { rel, bytes });
        // Discharge summary as a CDA-like document.
        let kind_folder = "18842-5^退院時サマリー^LN";
        let date = time::date8(time::day_of(discharge));
        let ts = time::ts(discharge + 3 * 3_600_000, 17);
        let key = format!("S{}", &ts[..14]);
        let dz = &DISEASES[a.dx];
        let doc = self.doc();
        let p = self.p;
        let (fk, _) = SURNAMES[p.family];
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\n  <typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>\n  <code code=\"18842-5\" codeSystem=\"2.16.840.1.113883.6.1\" displayName=\"退院時サマリー\"/>\n  <title>退院時サマリー</title>\n  <effectiveTime value=\"{ts14}\"/>\n  <recordTarget><patientRole><id extension=\"{pid}\" root=\"1.2.392.100495.20.3.51.1{fac}\"/><patient><name>{fk} {given}</name><administrativeGenderCode code=\"{sex}\"/><birthTime value=\"{birth}\"/></patient></patientRole></recordTarget>\n  <author><assignedAuthor><id extension=\"{did}\"/><assignedPerson><name>{dfam} {dgiven}</name></assignedPerson><representedOrganization><name>{fname}</name></representedOrganization></assignedAuthor></author>\n  <component><structuredBody>\n    <component><section><title>入院期間</title><text>{adm} から {dis} まで（{los}日間）</text></section></component>\n    <component><section><title>主病名</title><text>{dzname}（ICD-10: {icd}）</text></section></component>\n    <component><section><title>経過</title><text>{dzname}の診断で入院。治療により軽快し退院となった。</text></section></component>\n  </structuredBody></component>\n</ClinicalDocument>\n",
            ts14 = &ts[..14],
            pid = pid,
            fac = self.f.info.code,
            fk = fk,
            given = p.given.0,
            sex = if p.male { "M" } else { "F" },
            birth = time::date8(p.birth),
            did = doc.id,
            dfam = doc.family,
            dgiven = doc.given,
            fname = self.f.info.name,
            adm = time::date8(a.day),
            dis = date,
            los = a.los,
            dzname = dz.name,
            icd = dz.icd10,
        );
        let rel = format!("{p1}/{p2}/{pid}/{date}/{kind_folder}/{pid}_{date}_{kind_folder}_{key}_{ts}_{dept}_1/main_document.xml");
        self.files.push(Out::Extended {
            rel,
            bytes: xml.into_bytes(),
        });
        Ok(())
    }

    // ---------- output ----------

    fn finish(mut self, out: &Path) -> Result<ItemResult, SynthError> {
        let mut res = ItemResult::default();
        let root = out.join(&self.f.info.code);
        let code = self.f.info.code.clone();
        let mut made: HashSet<String> = HashSet::new();
        let mut fault_rng = Rng::derive(
            self.opts.seed,
            &[40, self.p.idx as u64, self.l.facility as u64],
        );
        let files = std::mem::take(&mut self.files);
        for o in files {
            let (rel, bytes, fault) = match o {
                Out::Extended { rel, bytes } => (rel, bytes, None),
                Out::Standard {
                    name,
                    bytes,
                    text_for_faults,
                } => {
                    let ki = DataKind::ALL
                        .iter()
                        .position(|k| *k == name.kind)
                        .unwrap_or(0);
                    res.per_kind[ki] += 1;
                    res.messages += 1;
                    let rel = name.relative_path();
                    if fault_rng.chance(self.opts.fault_rate) {
                        let kind = FaultKind::pick(&mut fault_rng);
                        let text = text_for_faults.unwrap_or_default();
                        let (rel, bytes) = match kind {
                            FaultKind::Truncated => (rel, faults::truncate(&mut fault_rng, &bytes)),
                            FaultKind::ShiftJis => (rel, faults::shift_jis(&text)),
                            FaultKind::Utf8 => (rel, text.into_bytes()),
                            FaultKind::NotHl7 => (rel, faults::not_hl7(&mut fault_rng)),
                            FaultKind::Empty => (rel, Vec::new()),
                            FaultKind::Misplaced => {
                                let (p1, p2) = ssmix2::naming::prefix_folders(&name.patient_id);
                                let wrong = if name.date == "-" {
                                    name.timestamp[..8].to_owned()
                                } else if fault_rng.chance(0.5) {
                                    "-".to_owned()
                                } else {
                                    let d = time::days_from_civil(
                                        name.date[..4].parse().unwrap_or(2000),
                                        name.date[4..6].parse().unwrap_or(1),
                                        name.date[6..].parse().unwrap_or(1),
                                    );
                                    time::date8(d + 1)
                                };
                                (
                                    format!(
                                        "{p1}/{p2}/{}/{wrong}/{}/{}",
                                        name.patient_id,
                                        name.kind.code(),
                                        name.file_name()
                                    ),
                                    bytes,
                                )
                            }
                            FaultKind::BadName => {
                                let (dir, file) = rel.rsplit_once('/').unwrap_or(("", &rel));
                                (
                                    format!("{dir}/{}", faults::bad_name(&mut fault_rng, file)),
                                    bytes,
                                )
                            }
                        };
                        (rel, bytes, Some(kind))
                    } else {
                        (rel, bytes, None)
                    }
                }
            };
            let path = root.join(&rel);
            if let Some((dir, _)) = rel.rsplit_once('/') {
                ensure_dir(&root, dir, &mut made)?;
            }
            std::fs::write(&path, &bytes).map_err(io_err(&path))?;
            res.files += 1;
            res.bytes += bytes.len() as u64;
            if let Some(k) = fault {
                res.faults.push(Fault {
                    path: format!("{code}/{rel}"),
                    kind: k.as_str().to_owned(),
                });
            }
        }
        Ok(res)
    }
}

/// Create `root/dir` level by level, remembering what exists (fewer syscalls than
/// `create_dir_all` for deep, mostly new trees; safe when other threads create the same parents).
fn ensure_dir(root: &Path, dir: &str, made: &mut HashSet<String>) -> Result<(), SynthError> {
    if made.contains(dir) {
        return Ok(());
    }
    if let Some((parent, _)) = dir.rsplit_once('/') {
        ensure_dir(root, parent, made)?;
    }
    let d = root.join(dir);
    match std::fs::create_dir(&d) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(SynthError::Io { path: d, source: e }),
    }
    made.insert(dir.to_owned());
    Ok(())
}
