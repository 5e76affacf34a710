//! Explained match scores between two demographic records.
//!
//! [`compare`] gives each field one [`Evidence`] (points and a Japanese + English explanation);
//! the score is their sum clamped to 0–100. Weights ([`weights`]):
//!
//! | field | evidence | points |
//! |---|---|---|
//! | `name_kana` | normalised kana equal ([`name_key`]) | +30 |
//! | | equal up to long vowels / small kana ([`kana_key`]: オオノ = オーノ) | +25 |
//! | | equal up to voicing marks ([`kana_skeleton`]: ヤマザキ = ヤマサキ) | +15 |
//! | | given name equal, family name differs (marriage?) | +10 |
//! | | family name equal, given name differs (sibling?) | 0 |
//! | | different | −20 |
//! | `name_kanji` | normalised kanji equal | +25 |
//! | | equal after folding variant kanji (髙 = 高, 﨑 = 崎) | +25 |
//! | | given name equal, family name differs | +5 |
//! | | family name equal, given name differs | 0 |
//! | | different | −10 |
//! | `birth_date` | equal | +25 |
//! | | likely typo: day/month swapped, one digit, two adjacent digits swapped, one day apart | +10 |
//! | | different | −25 |
//! | `sex` | equal (M/F) | +5 |
//! | | different (M vs F) | −30 |
//! | `phone` | equal digits | +10 |
//! | | different (numbers change; no penalty) | 0 |
//! | `address` | equal ([`address_key`]) | +10 |
//! | | same town (町名まで, [`town_key`]) or, address missing, same postal code | +5 |
//!
//! A field missing on either side gives 0 points (explained as such). Everything equal is
//! 105 → 100 (a sex mismatch with all else equal is 70); without phone (or address) it is 95; a birth-date typo with everything else equal
//! is 90. So at the default [`MatchSettings`] (auto link ≥ 95, candidate ≥ 60) a typo or a
//! fuzzy kana plus one missing field goes to review, never to an automatic link, and any
//! contradiction in sex (−30) or birth date (−25) keeps a pair far below 95.
//!
//! [`compare`] is symmetric: `compare(a, b)` and `compare(b, a)` give the same points.

use model::Demographics;
use serde::{Deserialize, Serialize};

use crate::normalize::{
    address_key, date_key, kana_key, kana_skeleton, name_key, name_key_literal, phone_key,
    split_name, town_key, variant_kanji_in,
};

/// Points of each kind of evidence (see the module table).
pub mod weights {
    pub const KANA_EQUAL: i32 = 30;
    pub const KANA_FUZZY: i32 = 25;
    pub const KANA_VOICING: i32 = 15;
    pub const KANA_GIVEN_ONLY: i32 = 10;
    pub const KANA_FAMILY_ONLY: i32 = 0;
    pub const KANA_DIFFERENT: i32 = -20;
    pub const KANJI_EQUAL: i32 = 25;
    pub const KANJI_VARIANT: i32 = 25;
    pub const KANJI_GIVEN_ONLY: i32 = 5;
    pub const KANJI_FAMILY_ONLY: i32 = 0;
    pub const KANJI_DIFFERENT: i32 = -10;
    pub const BIRTH_EQUAL: i32 = 25;
    pub const BIRTH_TYPO: i32 = 10;
    pub const BIRTH_DIFFERENT: i32 = -25;
    pub const SEX_EQUAL: i32 = 5;
    pub const SEX_DIFFERENT: i32 = -30;
    pub const PHONE_EQUAL: i32 = 10;
    pub const ADDRESS_EQUAL: i32 = 10;
    pub const ADDRESS_SAME_TOWN: i32 = 5;
    pub const ZIP_EQUAL: i32 = 5;
}

/// One field's contribution to a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `name_kanji`, `name_kana`, `birth_date`, `sex`, `phone` or `address`.
    pub field: &'static str,
    pub points: i32,
    /// Japanese, then English in parentheses: `カナ氏名一致 (kana name equal)`.
    pub explanation: String,
}

/// A score (0–100) and the evidence it is the sum of (clamped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scored {
    pub score: u32,
    pub parts: Vec<Evidence>,
}

impl Scored {
    /// One line per field: `name_kana +30 カナ氏名一致 (kana name equal)`, then the total.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            s.push_str(&format!(
                "{:<10} {:+4} {}\n",
                p.field, p.points, p.explanation
            ));
        }
        let sum: i32 = self.parts.iter().map(|p| p.points).sum();
        s.push_str(&format!(
            "合計 (total) {} → スコア (score) {}",
            sum, self.score
        ));
        s
    }
}

/// Thresholds of the operations office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchSettings {
    /// Score from which a pair is linked without review; `None`: never link automatically.
    /// Default 95.
    pub auto_link_min: Option<u32>,
    /// Score from which a pair is shown to the operations office for review. Default 60.
    pub candidate_min: u32,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            auto_link_min: Some(95),
            candidate_min: 60,
        }
    }
}

impl MatchSettings {
    /// Settings that never link automatically (every candidate goes to review).
    pub fn review_only(candidate_min: u32) -> MatchSettings {
        MatchSettings {
            auto_link_min: None,
            candidate_min,
        }
    }
}

/// What to do with a scored pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchDecision {
    /// Link without review (score ≥ `auto_link_min`).
    AutoLink,
    /// Show to the operations office (score ≥ `candidate_min`).
    Review,
    /// Not a candidate.
    NoMatch,
}

/// The decision for `score`: [`MatchDecision::AutoLink`] only when an automatic link is
/// configured and `score` reaches it — never below it.
pub fn decision(score: u32, settings: &MatchSettings) -> MatchDecision {
    match settings.auto_link_min {
        Some(min) if score >= min => MatchDecision::AutoLink,
        _ if score >= settings.candidate_min => MatchDecision::Review,
        _ => MatchDecision::NoMatch,
    }
}

/// The keys of one record, computed once (blocking and repeated comparisons reuse them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    pub kana: String,
    pub kana_fuzzy: String,
    pub kana_skeleton: String,
    /// Fuzzy kana of (family, given) when the kana name has two components.
    pub kana_parts: Option<(String, String)>,
    pub kanji_literal: String,
    pub kanji: String,
    /// Kanji name keys of (family, given) when the kanji name has two components.
    pub kanji_parts: Option<(String, String)>,
    pub kanji_variants: Vec<(char, char)>,
    /// `YYYYMMDD` or empty when missing / not 8 digits.
    pub birth: String,
    /// `M`, `F` or none.
    pub sex: Option<char>,
    pub phone: String,
    pub address: String,
    pub town: String,
    pub zip: String,
}

/// Computes the keys of `d`.
pub fn prepare(d: &Demographics) -> Prepared {
    let birth = date_key(&d.birth_date);
    let sex = match d.sex.trim().to_ascii_uppercase().as_str() {
        "M" => Some('M'),
        "F" => Some('F'),
        _ => None,
    };
    let phone = phone_key(&d.phone);
    Prepared {
        kana: name_key(&d.name_kana),
        kana_fuzzy: kana_key(&d.name_kana),
        kana_skeleton: kana_skeleton(&d.name_kana),
        kana_parts: split_name(&d.name_kana).map(|(f, g)| (kana_key(f), kana_key(g))),
        kanji_literal: name_key_literal(&d.name_kanji),
        kanji: name_key(&d.name_kanji),
        kanji_parts: split_name(&d.name_kanji).map(|(f, g)| (name_key(f), name_key(g))),
        kanji_variants: variant_kanji_in(&d.name_kanji),
        birth: if birth.len() == 8 {
            birth
        } else {
            String::new()
        },
        sex,
        phone: if phone.len() >= 6 {
            phone
        } else {
            String::new()
        },
        address: address_key(&d.address),
        town: town_key(&d.address),
        zip: d.zip.chars().filter(|c| c.is_ascii_digit()).collect(),
    }
}

fn ev(field: &'static str, points: i32, explanation: impl Into<String>) -> Evidence {
    Evidence {
        field,
        points,
        explanation: explanation.into(),
    }
}

fn missing(field: &'static str, ja: &str, en: &str) -> Evidence {
    ev(
        field,
        0,
        format!("{ja}が片方または両方で未記載 ({en} missing on one side)"),
    )
}

fn kana_evidence(a: &Prepared, b: &Prepared) -> Evidence {
    use weights::*;
    const F: &str = "name_kana";
    if a.kana.is_empty() || b.kana.is_empty() {
        return missing(F, "カナ氏名", "kana name");
    }
    if a.kana == b.kana {
        return ev(F, KANA_EQUAL, "カナ氏名一致 (kana name equal)");
    }
    if a.kana_fuzzy == b.kana_fuzzy {
        return ev(
            F,
            KANA_FUZZY,
            format!(
                "長音・小書き仮名の揺れを同一視: {} / {} (kana equal ignoring long vowels and small kana)",
                a.kana, b.kana
            ),
        );
    }
    if a.kana_skeleton == b.kana_skeleton {
        return ev(
            F,
            KANA_VOICING,
            format!(
                "濁点・半濁点の違いのみ: {} / {} (kana differ only in voicing marks)",
                a.kana, b.kana
            ),
        );
    }
    if let (Some((af, ag)), Some((bf, bg))) = (&a.kana_parts, &b.kana_parts) {
        if ag == bg && af != bf {
            return ev(
                F,
                KANA_GIVEN_ONLY,
                "名カナのみ一致・姓が異なる（婚姻等による改姓の可能性）(given name equal, family name differs: married?)",
            );
        }
        if af == bf && ag != bg {
            return ev(
                F,
                KANA_FAMILY_ONLY,
                "姓カナのみ一致・名が異なる（家族の可能性）(family name equal, given name differs: relative?)",
            );
        }
    }
    ev(
        F,
        KANA_DIFFERENT,
        format!(
            "カナ氏名不一致: {} / {} (kana name differs)",
            a.kana, b.kana
        ),
    )
}

fn kanji_evidence(a: &Prepared, b: &Prepared) -> Evidence {
    use weights::*;
    const F: &str = "name_kanji";
    if a.kanji.is_empty() || b.kanji.is_empty() {
        return missing(F, "漢字氏名", "kanji name");
    }
    if a.kanji_literal == b.kanji_literal {
        return ev(F, KANJI_EQUAL, "漢字氏名一致 (kanji name equal)");
    }
    if a.kanji == b.kanji {
        let mut folds: Vec<(char, char)> = a
            .kanji_variants
            .iter()
            .chain(&b.kanji_variants)
            .copied()
            .collect();
        folds.sort();
        folds.dedup();
        let list: Vec<String> = folds.iter().map(|(v, s)| format!("{v}→{s}")).collect();
        return ev(
            F,
            KANJI_VARIANT,
            format!(
                "異体字を同一視: {} (kanji name equal after folding variant kanji)",
                list.join(" ")
            ),
        );
    }
    if let (Some((af, ag)), Some((bf, bg))) = (&a.kanji_parts, &b.kanji_parts) {
        if ag == bg && af != bf {
            return ev(
                F,
                KANJI_GIVEN_ONLY,
                "漢字の名のみ一致・姓が異なる (kanji given name equal, family name differs)",
            );
        }
        if af == bf && ag != bg {
            return ev(
                F,
                KANJI_FAMILY_ONLY,
                "漢字の姓のみ一致・名が異なる (kanji family name equal, given name differs)",
            );
        }
    }
    ev(
        F,
        KANJI_DIFFERENT,
        format!(
            "漢字氏名不一致: {} / {} (kanji name differs)",
            a.kanji, b.kanji
        ),
    )
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn day_number(s: &str) -> Option<i64> {
    let y: i64 = s[..4].parse().ok()?;
    let m: i64 = s[4..6].parse().ok()?;
    let d: i64 = s[6..8].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Which plausible typo turns one 8-digit date into the other, if any (symmetric).
fn birth_typo(a: &str, b: &str) -> Option<&'static str> {
    if a[..4] == b[..4] && a[4..6] == b[6..8] && a[6..8] == b[4..6] {
        return Some("月日の入れ違い (day and month swapped)");
    }
    let diff: Vec<usize> = a
        .bytes()
        .zip(b.bytes())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, _)| i)
        .collect();
    if diff.len() == 1 {
        return Some("1桁違い (one digit differs)");
    }
    if diff.len() == 2
        && diff[1] == diff[0] + 1
        && a.as_bytes()[diff[0]] == b.as_bytes()[diff[1]]
        && a.as_bytes()[diff[1]] == b.as_bytes()[diff[0]]
    {
        return Some("隣接2桁の入れ違い (two adjacent digits swapped)");
    }
    if let (Some(x), Some(y)) = (day_number(a), day_number(b)) {
        if (x - y).abs() == 1 {
            return Some("1日違い (one day apart)");
        }
    }
    None
}

fn birth_evidence(a: &Prepared, b: &Prepared) -> Evidence {
    use weights::*;
    const F: &str = "birth_date";
    if a.birth.is_empty() || b.birth.is_empty() {
        return missing(F, "生年月日", "birth date");
    }
    if a.birth == b.birth {
        return ev(F, BIRTH_EQUAL, "生年月日一致 (birth date equal)");
    }
    match birth_typo(&a.birth, &b.birth) {
        Some(kind) => ev(
            F,
            BIRTH_TYPO,
            format!(
                "生年月日の入力誤りの可能性: {} / {}, {kind} (likely typo)",
                a.birth, b.birth
            ),
        ),
        None => ev(
            F,
            BIRTH_DIFFERENT,
            format!(
                "生年月日不一致: {} / {} (birth date differs)",
                a.birth, b.birth
            ),
        ),
    }
}

fn sex_evidence(a: &Prepared, b: &Prepared) -> Evidence {
    use weights::*;
    match (a.sex, b.sex) {
        (Some(x), Some(y)) if x == y => ev("sex", SEX_EQUAL, "性別一致 (sex equal)"),
        (Some(_), Some(_)) => ev("sex", SEX_DIFFERENT, "性別不一致 (sex differs)"),
        _ => ev(
            "sex",
            0,
            "性別が不明または未記載 (sex unknown or missing on one side)",
        ),
    }
}

fn phone_evidence(a: &Prepared, b: &Prepared) -> Evidence {
    use weights::*;
    if a.phone.is_empty() || b.phone.is_empty() {
        return missing("phone", "電話番号", "phone");
    }
    if a.phone == b.phone {
        ev("phone", PHONE_EQUAL, "電話番号一致 (phone equal)")
    } else {
        ev(
            "phone",
            0,
            "電話番号不一致（変更があり得るため減点なし）(phone differs; numbers change, no penalty)",
        )
    }
}

fn address_evidence(a: &Prepared, b: &Prepared) -> Evidence {
    use weights::*;
    const F: &str = "address";
    if a.address.is_empty() || b.address.is_empty() {
        if !a.zip.is_empty() && a.zip == b.zip {
            return ev(
                F,
                ZIP_EQUAL,
                "住所未記載・郵便番号一致 (address missing, postal code equal)",
            );
        }
        return missing(F, "住所", "address");
    }
    if a.address == b.address {
        return ev(F, ADDRESS_EQUAL, "住所一致 (address equal)");
    }
    if !a.town.is_empty() && a.town == b.town {
        return ev(
            F,
            ADDRESS_SAME_TOWN,
            format!("町名まで一致: {} (same town, block number differs)", a.town),
        );
    }
    ev(
        F,
        0,
        "住所不一致（転居があり得るため減点なし）(address differs; people move, no penalty)",
    )
}

/// Compares two prepared records.
pub fn compare_prepared(a: &Prepared, b: &Prepared) -> Scored {
    let parts = vec![
        kana_evidence(a, b),
        kanji_evidence(a, b),
        birth_evidence(a, b),
        sex_evidence(a, b),
        phone_evidence(a, b),
        address_evidence(a, b),
    ];
    let sum: i32 = parts.iter().map(|p| p.points).sum();
    Scored {
        score: sum.clamp(0, 100) as u32,
        parts,
    }
}

/// Scores how likely `a` and `b` are the same person, with one explained [`Evidence`] per
/// field (see the module docs for the weights).
pub fn compare(a: &Demographics, b: &Demographics) -> Scored {
    compare_prepared(&prepare(a), &prepare(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(
        kanji: &str,
        kana: &str,
        birth: &str,
        sex: &str,
        phone: &str,
        addr: &str,
    ) -> Demographics {
        Demographics {
            name_kanji: kanji.into(),
            name_kana: kana.into(),
            birth_date: birth.into(),
            sex: sex.into(),
            phone: phone.into(),
            zip: "9800811".into(),
            address: addr.into(),
        }
    }

    fn base() -> Demographics {
        demo(
            "高橋 花子",
            "タカハシ ハナコ",
            "19500131",
            "F",
            "022-211-1234",
            "宮城県仙台市青葉区一番町２丁目３番５号",
        )
    }

    fn part<'a>(s: &'a Scored, f: &str) -> &'a Evidence {
        s.parts.iter().find(|p| p.field == f).unwrap()
    }

    #[test]
    fn identical_records_score_100() {
        let s = compare(&base(), &base());
        assert_eq!(s.score, 100);
        assert_eq!(
            part(&s, "name_kana").explanation,
            "カナ氏名一致 (kana name equal)"
        );
        assert_eq!(part(&s, "name_kana").points, 30);
        assert_eq!(part(&s, "name_kanji").points, 25);
        assert_eq!(part(&s, "birth_date").points, 25);
        assert_eq!(part(&s, "sex").points, 5);
        assert_eq!(part(&s, "phone").points, 10);
        assert_eq!(part(&s, "address").points, 10);
        assert!(s.explain().contains("スコア (score) 100"));
    }

    #[test]
    fn variant_kanji_explained() {
        let mut b = base();
        b.name_kanji = "髙橋　花子".into();
        let s = compare(&base(), &b);
        let e = part(&s, "name_kanji");
        assert_eq!(e.points, 25);
        assert!(
            e.explanation.contains("異体字を同一視"),
            "{}",
            e.explanation
        );
        assert!(e.explanation.contains("髙→高"), "{}", e.explanation);
        assert_eq!(s.score, 100);
    }

    #[test]
    fn fuzzy_kana_explained() {
        let mut a = base();
        a.name_kana = "オオノ ヨウコ".into();
        let mut b = base();
        b.name_kana = "おーの　よーこ".into();
        let s = compare(&a, &b);
        let e = part(&s, "name_kana");
        assert_eq!(e.points, 25);
        assert!(e.explanation.contains("長音"), "{}", e.explanation);
    }

    #[test]
    fn half_width_kana_and_address_variants_are_equal() {
        let mut b = base();
        b.name_kana = "ﾀｶﾊｼ ﾊﾅｺ".into();
        b.address = "仙台市青葉区一番町2-3-5".into();
        b.phone = "０２２（２１１）１２３４".into();
        let s = compare(&base(), &b);
        assert_eq!(s.score, 100, "{}", s.explain());
    }

    #[test]
    fn birth_date_typos() {
        for (t, kind) in [
            ("19500113", None),
            ("19500201", Some("1日違い")),
            ("19500130", Some("1桁違い")),
            ("19051031", None),
        ] {
            let mut b = base();
            b.birth_date = t.into();
            let s = compare(&base(), &b);
            let e = part(&s, "birth_date");
            match kind {
                Some(k) => {
                    assert_eq!(e.points, 10, "{t}");
                    assert!(e.explanation.contains(k), "{t}: {}", e.explanation);
                }
                None => assert!(e.points == 10 || e.points == -25, "{t}"),
            }
        }
        let mut a = base();
        a.birth_date = "19500305".into();
        let mut b = base();
        b.birth_date = "19500503".into();
        let e = compare(&a, &b);
        assert!(part(&e, "birth_date")
            .explanation
            .contains("月日の入れ違い"));
        assert_eq!(e.score, 90);
        b.birth_date = "19620803".into();
        assert_eq!(part(&compare(&a, &b), "birth_date").points, -25);
    }

    #[test]
    fn sex_difference_is_a_strong_penalty() {
        let mut b = base();
        b.sex = "M".into();
        let s = compare(&base(), &b);
        assert_eq!(part(&s, "sex").points, -30);
        assert_eq!(s.score, 70);
        b.sex = "U".into();
        assert_eq!(part(&compare(&base(), &b), "sex").points, 0);
    }

    #[test]
    fn missing_fields_score_zero_and_say_so() {
        let mut b = base();
        b.phone.clear();
        let s = compare(&base(), &b);
        assert_eq!(part(&s, "phone").points, 0);
        assert!(part(&s, "phone").explanation.contains("未記載"));
        assert_eq!(s.score, 95);
    }

    #[test]
    fn twins_are_not_candidates() {
        let mut b = base();
        b.name_kanji = "高橋 桃子".into();
        b.name_kana = "タカハシ モモコ".into();
        let s = compare(&base(), &b);
        assert_eq!(
            decision(s.score, &MatchSettings::default()),
            MatchDecision::NoMatch
        );
        assert!(part(&s, "name_kana").explanation.contains("姓カナのみ一致"));
    }

    #[test]
    fn married_name_goes_to_review() {
        let mut b = base();
        b.name_kanji = "佐藤 花子".into();
        b.name_kana = "サトウ ハナコ".into();
        let s = compare(&base(), &b);
        assert_eq!(
            decision(s.score, &MatchSettings::default()),
            MatchDecision::Review,
            "{}",
            s.explain()
        );
    }

    #[test]
    fn same_town() {
        let mut b = base();
        b.address = "宮城県仙台市青葉区一番町４丁目１番１号".into();
        let s = compare(&base(), &b);
        assert_eq!(part(&s, "address").points, 5);
    }

    #[test]
    fn decisions_respect_settings() {
        let s = MatchSettings::default();
        assert_eq!(decision(100, &s), MatchDecision::AutoLink);
        assert_eq!(decision(95, &s), MatchDecision::AutoLink);
        assert_eq!(decision(94, &s), MatchDecision::Review);
        assert_eq!(decision(60, &s), MatchDecision::Review);
        assert_eq!(decision(59, &s), MatchDecision::NoMatch);
        let never = MatchSettings::review_only(60);
        assert_eq!(decision(100, &never), MatchDecision::Review);
        let strict = MatchSettings {
            auto_link_min: Some(100),
            candidate_min: 70,
        };
        assert_eq!(decision(99, &strict), MatchDecision::Review);
        assert_eq!(decision(65, &strict), MatchDecision::NoMatch);
    }

    #[test]
    fn settings_serialize() {
        let j = serde_json::to_string(&MatchSettings::default()).unwrap();
        assert_eq!(j, r#"{"auto_link_min":95,"candidate_min":60}"#);
        let s: MatchSettings =
            serde_json::from_str(r#"{"auto_link_min":null,"candidate_min":50}"#).unwrap();
        assert_eq!(s, MatchSettings::review_only(50));
    }
}
