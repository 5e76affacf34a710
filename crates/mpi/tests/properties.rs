//! Property tests: every key is idempotent, compare is symmetric and bounded.

use model::Demographics;
use mpi::normalize::{
    address_key, date_key, kana_key, kana_skeleton, name_key, phone_key, town_key,
};
use proptest::prelude::*;

/// Strings drawn from the characters that matter: kana (both widths), kanji incl. variants,
/// digits (both widths), spaces, long-vowel look-alikes, voiced marks, separators.
fn jp_text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "あいうえおかがきぎゃゅょっーアイウエオカガキギャュョッヴヂヅヲｱｲｳｶﾞｷﾞｬｮｯｰﾟﾞ゛゜高髙崎﨑嵜辺邊邉斎齋斉齊島嶋一二十丁目番地号の町市区県宮城県0123456789０１２３４５６７８９ 　・･-－‐―〜~ABCａｂｃ\u{3099}\u{309A}\u{FE00}\u{E0100}𠮷\u{F9DC}"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..16)
        .prop_map(|v| v.into_iter().collect())
}

fn demographics() -> impl Strategy<Value = Demographics> {
    (
        jp_text(),
        jp_text(),
        prop_oneof![
            Just("19500131".to_owned()),
            Just("19500113".to_owned()),
            Just("19500201".to_owned()),
            Just("".to_owned()),
            "[0-9]{8}"
        ],
        prop_oneof![Just("M"), Just("F"), Just("U"), Just("")],
        prop_oneof![
            Just("022-211-1234"),
            Just("0222111234"),
            Just("090-1111-2222"),
            Just("")
        ],
        jp_text(),
    )
        .prop_map(|(kanji, kana, birth, sex, phone, address)| Demographics {
            name_kanji: kanji,
            name_kana: kana,
            birth_date: birth,
            sex: sex.to_owned(),
            phone: phone.to_owned(),
            zip: String::new(),
            address,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn keys_are_idempotent(s in jp_text()) {
        for f in [name_key, kana_key, kana_skeleton, address_key, town_key, phone_key, date_key] {
            let once = f(&s);
            prop_assert_eq!(f(&once), once.clone(), "input {:?}", s);
        }
    }

    #[test]
    fn kana_keys_refine(s in jp_text(), t in jp_text()) {
        // Equal exact keys imply equal fuzzy keys imply equal skeletons.
        if name_key(&s) == name_key(&t) {
            prop_assert_eq!(kana_key(&s), kana_key(&t));
        }
        if kana_key(&s) == kana_key(&t) {
            prop_assert_eq!(kana_skeleton(&s), kana_skeleton(&t));
        }
    }

    #[test]
    fn compare_is_symmetric_and_bounded(a in demographics(), b in demographics()) {
        let ab = mpi::compare(&a, &b);
        let ba = mpi::compare(&b, &a);
        prop_assert!(ab.score <= 100);
        prop_assert_eq!(ab.score, ba.score);
        let pa: Vec<(&str, i32)> = ab.parts.iter().map(|e| (e.field, e.points)).collect();
        let pb: Vec<(&str, i32)> = ba.parts.iter().map(|e| (e.field, e.points)).collect();
        prop_assert_eq!(pa, pb);
        prop_assert!(ab.parts.iter().all(|e| !e.explanation.is_empty()));
    }

    #[test]
    fn a_record_matches_itself(a in demographics()) {
        let s = mpi::compare(&a, &a);
        prop_assert!(s.parts.iter().all(|e| e.points >= 0), "{}", s.explain());
    }
}
