//! The region: facilities, persons and which person is known at which facility under which
//! local ID. Built sequentially from the seed (cheap), before any file is written.

use std::collections::HashSet;

use crate::rng::Rng;
use crate::tables::*;
use crate::time::{self, Day};
use crate::{FacilityInfo, Link, Options, Person};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FKind {
    Hospital,
    Clinic,
    Dental,
    Pharmacy,
    HomeNursing,
    Care,
}

impl FKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FKind::Hospital => "hospital",
            FKind::Clinic => "clinic",
            FKind::Dental => "dental_clinic",
            FKind::Pharmacy => "pharmacy",
            FKind::HomeNursing => "home_nursing",
            FKind::Care => "care_facility",
        }
    }
    pub fn is_prescriber(self) -> bool {
        matches!(self, FKind::Hospital | FKind::Clinic | FKind::Dental)
    }
}

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub family: &'static str,
    pub given: &'static str,
    pub family_kana: &'static str,
    pub given_kana: &'static str,
    pub dept: usize,
}

#[derive(Debug, Clone, Copy)]
pub enum IdScheme {
    /// base + ordinal, zero-padded to `width`.
    Sequential { base: u64 },
    /// ordinal padded to width-1, then a mod-10 check digit.
    CheckDigit,
    /// 2-digit year of registration then the ordinal.
    YearPrefix,
}

#[derive(Debug, Clone)]
pub struct Facility {
    pub idx: usize,
    pub info: FacilityInfo,
    pub kind: FKind,
    pub town: usize,
    pub depts: Vec<usize>,
    pub doctors: Vec<Staff>,
    pub nurses: Vec<Staff>,
    pub app: &'static str,
    pub address: String,
    pub phone: String,
    pub id_width: usize,
    pub id_scheme: IdScheme,
    /// Number of patients registered (ordinals 0..n).
    pub patients: usize,
    /// Share of orders updated / cancelled (differs per facility, like real systems).
    pub update_rate: f64,
    pub cancel_rate: f64,
}

impl Facility {
    /// Whether this facility's system stores an order cancel (ORC-1 `CA`) as a current file of
    /// its own and leaves the order's files current, instead of renaming both to `_0` as
    /// SS-MIX2 asks (issue 14: the network must apply the cancel either way). Read off the
    /// cancel rate, not drawn, so that the rest of the region stays as it was: about a
    /// quarter of the facilities.
    pub fn files_cancels_as_current(&self) -> bool {
        self.cancel_rate > 0.025
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    None,
    KanjiForm,
    KanaLongVowel,
    NameOneComponent,
    AddressHalfWidth,
    AddressHyphen,
    NoPhone,
    BirthDateTypo,
}

impl Variant {
    pub fn label(self) -> Option<&'static str> {
        Some(match self {
            Variant::None => return None,
            Variant::KanjiForm => "kanji_variant",
            Variant::KanaLongVowel => "kana_long_vowel",
            Variant::NameOneComponent => "name_in_one_component",
            Variant::AddressHalfWidth => "address_half_width_digits",
            Variant::AddressHyphen => "address_hyphenated",
            Variant::NoPhone => "no_phone",
            Variant::BirthDateTypo => "birth_date_typo",
        })
    }
}

#[derive(Debug, Clone)]
pub struct LinkData {
    pub facility: usize,
    pub ordinal: usize,
    pub local_id: String,
    pub variant: Variant,
    pub first_day: Day,
    /// For pharmacies: index (in the person's links) of the prescribing facility.
    pub prescriber: Option<usize>,
    /// Department used at this facility.
    pub dept: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct AddressParts {
    pub town: usize,
    pub street: usize,
    pub chome: u32,
    pub ban: u32,
    pub go: u32,
}

#[derive(Debug, Clone)]
pub struct PersonData {
    pub idx: usize,
    pub id: String,
    pub male: bool,
    pub birth: Day,
    pub family: usize,
    pub given: (&'static str, &'static str),
    pub address: AddressParts,
    /// (day, new address): the person moved during the history.
    pub moved: Option<(Day, AddressParts)>,
    pub phone: String,
    pub mobile: bool,
    /// (disease, onset day); chronic ones stay, acute ones resolve.
    pub conditions: Vec<(usize, Day)>,
    pub allergies: Vec<usize>,
    pub blood: (&'static str, &'static str),
    pub height: f64,
    pub weight: f64,
    pub insurance: usize,
    pub insurer_no: String,
    pub insured_symbol: String,
    pub insured_no: String,
    pub links: Vec<LinkData>,
}

pub struct Region {
    pub start: Day,
    pub end: Day,
    pub facilities: Vec<Facility>,
    pub persons: Vec<PersonData>,
}

const FULLWIDTH_DIGITS: [&str; 10] = ["０", "１", "２", "３", "４", "５", "６", "７", "８", "９"];

pub fn fullwidth(n: u32) -> String {
    n.to_string()
        .bytes()
        .map(|b| FULLWIDTH_DIGITS[(b - b'0') as usize])
        .collect()
}

impl AddressParts {
    fn random(rng: &mut Rng, town: usize) -> AddressParts {
        AddressParts {
            town,
            street: rng.index(TOWNS[town].streets.len()),
            chome: rng.range(1, 6) as u32,
            ban: rng.range(1, 30) as u32,
            go: rng.range(1, 25) as u32,
        }
    }

    /// `宮城県仙台市青葉区一番町２丁目３番５号`, or a variant spelling.
    pub fn text(&self, variant: Variant) -> String {
        let t = &TOWNS[self.town];
        let street = t.streets[self.street];
        match variant {
            Variant::AddressHalfWidth => {
                format!(
                    "宮城県{}{}{}丁目{}番{}号",
                    t.name, street, self.chome, self.ban, self.go
                )
            }
            Variant::AddressHyphen => format!(
                "宮城県{}{}{}-{}-{}",
                t.name, street, self.chome, self.ban, self.go
            ),
            _ => format!(
                "宮城県{}{}{}丁目{}番{}号",
                t.name,
                street,
                fullwidth(self.chome),
                fullwidth(self.ban),
                fullwidth(self.go)
            ),
        }
    }

    pub fn zip(&self) -> &'static str {
        TOWNS[self.town].zip
    }
}

fn luhn(digits: &str) -> u32 {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let d = (b - b'0') as u32;
        let v = if i % 2 == 0 { d * 2 } else { d };
        sum += v / 10 + v % 10;
    }
    (10 - sum % 10) % 10
}

/// Number of facilities for a region of `patients` persons.
pub fn default_facilities(patients: usize) -> usize {
    let n = 3.0 + 4.0 * ((patients as f64) / 100.0).sqrt();
    (n.round() as usize).clamp(3, 2000)
}

fn staff(rng: &mut Rng, prefix: &str, n: usize, depts: &[usize]) -> Vec<Staff> {
    (0..n)
        .map(|i| {
            let male = rng.chance(0.6);
            let f = rng.index(SURNAMES.len());
            let g = if male {
                rng.pick(MALE_OLD)
            } else {
                rng.pick(FEMALE_OLD)
            };
            Staff {
                id: format!("{prefix}{:05}", 100 + i * 7 + rng.index(7)),
                family: SURNAMES[f].0,
                given: g.0,
                family_kana: SURNAMES[f].1,
                given_kana: g.1,
                dept: depts[i % depts.len()],
            }
        })
        .collect()
}

fn facility_name(rng: &mut Rng, kind: FKind, town: &Town, dept: usize) -> String {
    let sur = rng.pick(SURNAMES).0;
    let stem = town.stem;
    let city = town.name.ends_with('市');
    match kind {
        FKind::Hospital => match rng.index(8) {
            0 if city => format!("{stem}市立病院"),
            1 => format!("{stem}総合病院"),
            2 => format!("{sur}記念病院"),
            3 => format!("{stem}赤十字病院"),
            4 => format!("国立病院機構{stem}医療センター"),
            5 => format!("医療法人{sur}会{stem}病院"),
            6 => format!("{stem}協立病院"),
            _ => format!("{stem}中央病院"),
        },
        FKind::Clinic => match dept {
            D_ORTHO => format!("{sur}整形外科"),
            D_EYE => format!("{stem}眼科クリニック"),
            D_DERM => format!("{sur}皮膚科医院"),
            D_PED => format!("{stem}こどもクリニック"),
            D_ENT => format!("{sur}耳鼻咽喉科"),
            D_CARDIO => format!("{sur}循環器内科クリニック"),
            _ => match rng.index(4) {
                0 => format!("{sur}内科クリニック"),
                1 => format!("{stem}ファミリークリニック"),
                2 => format!("{sur}医院"),
                _ => format!("{sur}内科医院"),
            },
        },
        FKind::Dental => match rng.index(3) {
            0 => format!("{sur}歯科医院"),
            1 => format!("{stem}デンタルクリニック"),
            _ => format!("{stem}駅前歯科"),
        },
        FKind::Pharmacy => match rng.index(5) {
            0 => format!("{stem}薬局"),
            1 => format!("{sur}調剤薬局"),
            2 => format!("あおば薬局{stem}店"),
            3 => format!("さくら薬局{stem}店"),
            _ => format!("くすりの{sur}薬局"),
        },
        FKind::HomeNursing => match rng.index(2) {
            0 => format!("訪問看護ステーション{stem}"),
            _ => format!("{stem}訪問看護ステーション"),
        },
        FKind::Care => match rng.index(3) {
            0 => format!("特別養護老人ホーム{stem}苑"),
            1 => format!("介護老人保健施設{stem}"),
            _ => format!("グループホーム{stem}の家"),
        },
    }
}

fn town_in_area(rng: &mut Rng, area: usize) -> usize {
    let towns: Vec<usize> = (0..TOWNS.len())
        .filter(|&t| TOWNS[t].area == area)
        .collect();
    towns[rng.index(towns.len())]
}

fn build_facilities(opts: &Options, n: usize) -> Vec<Facility> {
    let mut rng = Rng::derive(opts.seed, &[1]);
    let fixed = [
        FKind::Hospital,
        FKind::Clinic,
        FKind::Pharmacy,
        FKind::Care,
        FKind::Clinic,
        FKind::Dental,
        FKind::Hospital,
        FKind::Pharmacy,
        FKind::HomeNursing,
        FKind::Clinic,
    ];
    let kinds = [
        FKind::Hospital,
        FKind::Clinic,
        FKind::Dental,
        FKind::Pharmacy,
        FKind::HomeNursing,
        FKind::Care,
    ];
    let weights = [9, 40, 13, 24, 5, 9];
    let mut names = HashSet::new();
    let serial_base = 1000 + rng.below(2000) as usize;
    (0..n)
        .map(|idx| {
            let kind = if idx < fixed.len() {
                fixed[idx]
            } else {
                kinds[rng.weighted(&weights)]
            };
            let area = if idx < 4 {
                0
            } else {
                rng.weighted(AREA_WEIGHTS)
            };
            let town = town_in_area(&mut rng, area);
            let t = &TOWNS[town];
            let depts: Vec<usize> = match kind {
                FKind::Hospital => {
                    let mut d = vec![D_INTERNAL, D_GI, D_CARDIO, D_SURG, D_ORTHO, D_RESP];
                    for extra in [D_NEURO, D_URO, D_PED, D_EYE, D_DERM, D_ENT] {
                        if rng.chance(0.5) {
                            d.push(extra);
                        }
                    }
                    d
                }
                FKind::Clinic => {
                    let spec = [
                        D_INTERNAL, D_INTERNAL, D_INTERNAL, D_INTERNAL, D_ORTHO, D_EYE, D_DERM,
                        D_PED, D_ENT, D_CARDIO,
                    ];
                    vec![*rng.pick(&spec)]
                }
                FKind::Dental => vec![D_DENTAL],
                _ => vec![],
            };
            let mut name = facility_name(&mut rng, kind, t, depts.first().copied().unwrap_or(0));
            for _ in 0..8 {
                if !names.contains(&name) {
                    break;
                }
                name = facility_name(&mut rng, kind, t, depts.first().copied().unwrap_or(0));
            }
            if names.contains(&name) {
                name = format!(
                    "{name}{}",
                    ["分院", "第二", "東", "西", "南", "北"][idx % 6]
                );
            }
            names.insert(name.clone());
            let table = match kind {
                FKind::Hospital | FKind::Clinic => '1',
                FKind::Dental => '3',
                FKind::Pharmacy => '4',
                FKind::HomeNursing => '6',
                FKind::Care => '7',
            };
            let body = format!("{:02}{:04}", t.district, (serial_base + idx * 3) % 10_000);
            let code = format!("04{table}{body}{}", luhn(&body));
            let extra = rng.index(3);
            let doctors = match kind {
                FKind::Hospital => staff(&mut rng, "D", depts.len() * 3, &depts),
                FKind::Clinic | FKind::Dental => staff(&mut rng, "D", 1 + extra % 2, &depts),
                FKind::Pharmacy => staff(&mut rng, "P", 2 + extra, &[0]),
                FKind::HomeNursing | FKind::Care => staff(&mut rng, "N", 2 + extra, &[0]),
            };
            let nurses = staff(
                &mut rng,
                "N",
                if kind == FKind::Hospital { 12 } else { 2 },
                &[0],
            );
            let addr = AddressParts::random(&mut rng, town);
            let id_width = 6 + rng.index(5);
            let id_scheme = match rng.index(3) {
                0 => IdScheme::Sequential {
                    base: rng.below(10u64.pow(id_width as u32 - 1)),
                },
                1 => IdScheme::CheckDigit,
                _ => IdScheme::YearPrefix,
            };
            let phone = format!(
                "{}-{}-{:04}",
                t.phone_area,
                rng.range(200, 399),
                rng.range(0, 9999)
            );
            Facility {
                idx,
                info: FacilityInfo {
                    code,
                    name,
                    kind: kind.as_str().to_owned(),
                    area: AREAS[area].to_owned(),
                },
                kind,
                town,
                depts,
                doctors,
                nurses,
                app: HIS_APPS[rng.index(HIS_APPS.len())],
                address: addr.text(Variant::None),
                phone,
                id_width,
                id_scheme,
                patients: 0,
                update_rate: 0.02 + rng.unit() * 0.05,
                cancel_rate: 0.01 + rng.unit() * 0.02,
            }
        })
        .collect()
}

fn birth_day(rng: &mut Rng, end: Day) -> Day {
    // Patients skew old (age distribution of outpatients in Japan).
    let decade = rng.weighted(&[6, 5, 6, 8, 11, 13, 16, 20, 12, 3]) as i64;
    let age_days = (decade * 10 * 365) + rng.range(0, 10 * 365 - 1);
    end - age_days as Day
}

fn conditions(rng: &mut Rng, age: i32, start: Day, end: Day) -> Vec<(usize, Day)> {
    let a = age as f64;
    let mut c = Vec::new();
    let onset = |rng: &mut Rng| start - rng.range(30, 3000) as Day;
    let mut add = |rng: &mut Rng, dz: usize, p: f64| {
        if rng.chance(p) {
            c.push((dz, onset(rng)));
        }
    };
    let old = (a - 40.0).max(0.0);
    add(rng, DZ_HTN, 0.05 + old * 0.013);
    add(rng, DZ_DM, 0.02 + old * 0.004);
    add(rng, DZ_DL, 0.05 + old * 0.006);
    add(rng, DZ_CKD, old * 0.002);
    add(rng, DZ_OP, if a > 60.0 { 0.15 } else { 0.0 });
    add(rng, DZ_GERD, 0.06);
    add(rng, 6, 0.05);
    add(rng, DZ_AF, old * 0.0015);
    add(rng, DZ_HF, (a - 65.0).max(0.0) * 0.003);
    add(rng, DZ_ASTHMA, 0.05);
    add(rng, DZ_INSOMNIA, 0.03 + old * 0.002);
    add(rng, DZ_KNEE, (a - 50.0).max(0.0) * 0.004);
    add(rng, DZ_LBP, 0.06);
    add(rng, DZ_AD, (a - 70.0).max(0.0) * 0.006);
    add(rng, DZ_HUA, 0.04);
    add(rng, 15, 0.02);
    add(rng, DZ_RHINITIS, 0.12);
    add(rng, 17, (a - 60.0).max(0.0) * 0.005);
    add(rng, 18, 0.05 + old * 0.002);
    add(rng, DZ_PERIO, 0.1);
    if c.is_empty() || rng.chance(0.6) {
        // An acute episode during the history.
        let acute = [
            DZ_URI, DZ_URI, DZ_BRONCH, DZ_GE, DZ_UTI, 25, 29, 30, DZ_CARIES,
        ];
        let dz = *rng.pick(&acute);
        c.push((dz, rng.range(start as i64, end as i64) as Day));
    }
    c
}

impl Region {
    pub fn build(opts: &Options) -> Region {
        let (y, m, d) = opts.end_date;
        let end = time::days_from_civil(y, m, d);
        let start = end - (opts.years.max(1) as i32) * 365;
        let nf = opts
            .facilities
            .unwrap_or_else(|| default_facilities(opts.patients))
            .max(1);
        let mut facilities = build_facilities(opts, nf);
        let mut persons = Vec::with_capacity(opts.patients);
        for idx in 0..opts.patients {
            let mut rng = Rng::derive(opts.seed, &[2, idx as u64]);
            persons.push(build_person(&mut rng, idx, start, end, &facilities));
        }
        // Every facility has at least one patient.
        for f in 0..facilities.len() {
            if persons
                .iter()
                .any(|p| p.links.iter().any(|l| l.facility == f))
                || persons.is_empty()
            {
                continue;
            }
            let fk = facilities[f].kind;
            let mut rng = Rng::derive(opts.seed, &[3, f as u64]);
            let mut candidates: Vec<usize> = (0..persons.len())
                .filter(|&p| {
                    persons[p].links.len() < 4 && persons[p].links.iter().all(|l| l.facility != f)
                })
                .filter(|&p| {
                    fk != FKind::Pharmacy
                        || persons[p]
                            .links
                            .iter()
                            .any(|l| facilities[l.facility].kind.is_prescriber())
                })
                .collect();
            if matches!(fk, FKind::Care | FKind::HomeNursing) {
                candidates.sort_by_key(|&p| persons[p].birth);
                candidates.truncate(3);
            }
            if candidates.is_empty() {
                continue;
            }
            let p = candidates[rng.index(candidates.len())];
            let link = new_link(&mut rng, &persons[p], f, &facilities, start, end);
            persons[p].links.push(link);
        }
        // Local IDs, in person order.
        for p in persons.iter_mut() {
            for l in p.links.iter_mut() {
                let f = &mut facilities[l.facility];
                l.ordinal = f.patients;
                f.patients += 1;
                l.local_id = local_id(f, l.ordinal, l.first_day);
            }
        }
        Region {
            start,
            end,
            facilities,
            persons,
        }
    }

    pub fn manifest_person(&self, p: &PersonData) -> Person {
        let (fk, fkana) = SURNAMES[p.family];
        Person {
            person_id: p.id.clone(),
            name_kanji: format!("{fk} {}", p.given.0),
            name_kana: format!("{fkana} {}", p.given.1),
            birth_date: time::date8(p.birth),
            sex: if p.male { "M" } else { "F" }.to_owned(),
            zip: p.address.zip().to_owned(),
            address: p.address.text(Variant::None),
            phone: p.phone.clone(),
            links: p
                .links
                .iter()
                .map(|l| Link {
                    facility: self.facilities[l.facility].info.code.clone(),
                    local_id: l.local_id.clone(),
                    variant: l.variant.label().map(str::to_owned),
                })
                .collect(),
        }
    }
}

fn local_id(f: &Facility, ordinal: usize, first: Day) -> String {
    let w = f.id_width;
    match f.id_scheme {
        IdScheme::Sequential { base } => format!("{:0w$}", base + ordinal as u64 + 1),
        IdScheme::CheckDigit => {
            let body = format!("{:0w$}", ordinal + 1, w = w - 1);
            format!("{body}{}", luhn(&body))
        }
        IdScheme::YearPrefix => {
            let (y, _, _) = time::civil_from_days(first);
            format!("{:02}{:0w$}", y % 100, ordinal + 1, w = w - 2)
        }
    }
}

fn pick_facility(
    rng: &mut Rng,
    facilities: &[Facility],
    kinds: &[FKind],
    area: &str,
    exclude: &[usize],
    dept: Option<usize>,
) -> Option<usize> {
    let ok = |f: &Facility| {
        kinds.contains(&f.kind)
            && !exclude.contains(&f.idx)
            && dept.is_none_or(|d| f.depts.contains(&d))
    };
    let local: Vec<usize> = facilities
        .iter()
        .filter(|f| ok(f) && f.info.area == area)
        .map(|f| f.idx)
        .collect();
    if !local.is_empty() && rng.chance(0.85) {
        return Some(local[rng.index(local.len())]);
    }
    let all: Vec<usize> = facilities.iter().filter(|f| ok(f)).map(|f| f.idx).collect();
    if all.is_empty() {
        None
    } else {
        Some(all[rng.index(all.len())])
    }
}

fn new_link(
    rng: &mut Rng,
    p: &PersonData,
    f: usize,
    facilities: &[Facility],
    start: Day,
    end: Day,
) -> LinkData {
    let fac = &facilities[f];
    let span = (end - start) as i64;
    let first_day = if rng.chance(0.55) {
        start + rng.range(0, 20) as Day
    } else {
        start + rng.range(0, span * 3 / 4) as Day
    };
    let variant = if p.links.is_empty() || !rng.chance(0.35) {
        Variant::None
    } else {
        *rng.pick(&[
            Variant::KanjiForm,
            Variant::KanaLongVowel,
            Variant::NameOneComponent,
            Variant::AddressHalfWidth,
            Variant::AddressHyphen,
            Variant::AddressHyphen,
            Variant::NoPhone,
            Variant::BirthDateTypo,
        ])
    };
    let prescriber = if fac.kind == FKind::Pharmacy {
        p.links
            .iter()
            .position(|l| facilities[l.facility].kind.is_prescriber())
    } else {
        None
    };
    let dept = match fac.kind {
        FKind::Hospital => {
            let age = time::age(p.birth, end);
            let has = |d: usize| p.conditions.iter().any(|c| c.0 == d);
            let want = if age < 15 {
                D_PED
            } else if has(DZ_AF) || has(DZ_HF) {
                D_CARDIO
            } else if has(DZ_KNEE) || has(DZ_OP) || has(DZ_LBP) && rng.chance(0.5) {
                D_ORTHO
            } else if has(DZ_ASTHMA) && rng.chance(0.5) {
                D_RESP
            } else if has(DZ_GERD) && rng.chance(0.5) {
                D_GI
            } else {
                D_INTERNAL
            };
            if fac.depts.contains(&want) {
                want
            } else {
                D_INTERNAL
            }
        }
        _ => fac.depts.first().copied().unwrap_or(0),
    };
    LinkData {
        facility: f,
        ordinal: 0,
        local_id: String::new(),
        variant,
        first_day,
        prescriber,
        dept,
    }
}

fn build_person(
    rng: &mut Rng,
    idx: usize,
    start: Day,
    end: Day,
    facilities: &[Facility],
) -> PersonData {
    let male = rng.chance(0.47);
    let birth = birth_day(rng, end);
    let (by, _, _) = time::civil_from_days(birth);
    let modern = if by >= 1988 {
        !rng.chance(0.15)
    } else {
        rng.chance(0.1)
    };
    let given = *match (male, modern) {
        (true, false) => rng.pick(MALE_OLD),
        (true, true) => rng.pick(MALE_NEW),
        (false, false) => rng.pick(FEMALE_OLD),
        (false, true) => rng.pick(FEMALE_NEW),
    };
    let area = rng.weighted(AREA_WEIGHTS);
    let town = town_in_area(rng, area);
    let address = AddressParts::random(rng, town);
    let moved = if rng.chance(0.08) {
        let d = rng.range(start as i64 + 60, end as i64 - 30) as Day;
        let t = town_in_area(rng, area);
        Some((d, AddressParts::random(rng, t)))
    } else {
        None
    };
    let mobile = rng.chance(0.55);
    let phone = if mobile {
        format!(
            "0{}0-{:04}-{:04}",
            rng.pick(&[7, 8, 9]),
            rng.range(1000, 9999),
            rng.range(0, 9999)
        )
    } else {
        format!(
            "{}-{}-{:04}",
            TOWNS[town].phone_area,
            rng.range(200, 399),
            rng.range(0, 9999)
        )
    };
    let age = time::age(birth, end);
    let conds = conditions(rng, age, start, end);
    let mut allergies = Vec::new();
    if rng.chance(0.15) {
        allergies.push(rng.index(ALLERGENS.len()));
        if rng.chance(0.25) {
            let a = rng.index(ALLERGENS.len());
            if !allergies.contains(&a) {
                allergies.push(a);
            }
        }
    }
    let blood = *rng.pick(&[
        ("A", "A"),
        ("A", "A"),
        ("O", "O"),
        ("O", "O"),
        ("B", "B"),
        ("AB", "AB"),
    ]);
    let (h, w) = if age < 15 {
        let h = 60.0 + age as f64 * 6.0;
        (h, h * h / 10000.0 * 17.0)
    } else if male {
        (
            168.0 + rng.normal() * 6.5 - (age as f64 - 40.0).max(0.0) * 0.1,
            0.0,
        )
    } else {
        (
            155.0 + rng.normal() * 5.8 - (age as f64 - 40.0).max(0.0) * 0.1,
            0.0,
        )
    };
    let bmi = 22.5 + rng.normal() * 3.0;
    let w = if w > 0.0 { w } else { bmi * h * h / 10000.0 };
    let insurance = if age >= 75 {
        4
    } else if age >= 65 || rng.chance(0.25) {
        3
    } else {
        rng.index(3)
    };
    let ins = INSURANCE[insurance];
    let insurer_no = format!("{}{:0w$}", ins.2, rng.range(1, 9999), w = 8 - ins.2.len());
    let mut p = PersonData {
        idx,
        id: format!("P{:07}", idx + 1),
        male,
        birth,
        family: rng.index(SURNAMES.len()),
        given,
        address,
        moved,
        phone,
        mobile,
        conditions: conds,
        allergies,
        blood,
        height: (h * 10.0).round() / 10.0,
        weight: (w * 10.0).round() / 10.0,
        insurance,
        insurer_no,
        insured_symbol: fullwidth(rng.range(1, 99_999) as u32),
        insured_no: fullwidth(rng.range(1, 999) as u32),
        links: Vec::new(),
    };
    // Facilities this person uses.
    let area_name = AREAS[area];
    let mut chosen: Vec<usize> = Vec::new();
    let age_end = time::age(birth, end);
    let primary_kind = if rng.chance(0.35) {
        FKind::Hospital
    } else {
        FKind::Clinic
    };
    let mut wanted: Vec<FKind> = vec![primary_kind];
    if rng.chance(0.3) {
        wanted.push(if primary_kind == FKind::Clinic {
            FKind::Hospital
        } else {
            FKind::Clinic
        });
    }
    if rng.chance(0.12) {
        wanted.push(FKind::Dental);
    }
    let pharmacy_p = if wanted.contains(&FKind::Clinic) {
        0.75
    } else {
        0.35
    };
    if rng.chance(pharmacy_p) {
        wanted.push(FKind::Pharmacy);
    }
    if age_end >= 75 && rng.chance(0.15) {
        wanted.push(FKind::Care);
    }
    if age_end >= 75 && rng.chance(0.07) {
        wanted.push(FKind::HomeNursing);
    }
    wanted.truncate(4);
    for k in wanted {
        let dept = if k == FKind::Clinic && age_end < 12 {
            Some(D_PED)
        } else {
            None
        };
        let f = pick_facility(rng, facilities, &[k], area_name, &chosen, dept)
            .or_else(|| pick_facility(rng, facilities, &[k], area_name, &chosen, None))
            .or_else(|| {
                if k.is_prescriber() {
                    pick_facility(
                        rng,
                        facilities,
                        &[FKind::Hospital, FKind::Clinic],
                        area_name,
                        &chosen,
                        None,
                    )
                } else {
                    None
                }
            });
        if let Some(f) = f {
            if k == FKind::Pharmacy
                && !p
                    .links
                    .iter()
                    .any(|l| facilities[l.facility].kind.is_prescriber())
            {
                continue;
            }
            chosen.push(f);
            let link = new_link(rng, &p, f, facilities, start, end);
            p.links.push(link);
        }
    }
    if p.links.is_empty() {
        // Tiny regions: fall back to any facility.
        let f = rng.index(facilities.len());
        let link = new_link(rng, &p, f, facilities, start, end);
        p.links.push(link);
    }
    p
}
