//! Normalisation of Japanese demographics into comparison keys.
//!
//! Every key function is idempotent (`f(f(x)) == f(x)`) and total (any input, no panic).
//!
//! | function | for | what it folds |
//! |---|---|---|
//! | [`name_key`] | exact name comparison, kana/kanji-aware name search | NFKC (half-width kana, full-width Latin/digits), whitespace incl. U+3000 and separators (・ ･ . , = 、), variation selectors, hiragana→katakana, long-vowel look-alikes (－ ‐ ― ｰ ～ …) → ー, ヶ/ヵ → ケ/カ, Latin to upper case, [variant kanji](VARIANT_KANJI) |
//! | [`kana_key`] | fuzzy kana (blocking, "same name spelled differently") | [`name_key`], then small kana → large (ョ→ヨ), ヂヅヲヰヱヴ → ジズオイエブ, long vowels dropped (ー, and a vowel kana that only lengthens the previous one: オオノ = オーノ = オノ, ユウコ = ユーコ, ケイコ = ケーコ) |
//! | [`kana_skeleton`] | fuzzier kana | [`kana_key`] without voicing marks (ガ→カ, パ→ハ) |
//! | [`address_key`] | address equality | NFKC, spaces, prefecture prefix dropped, kanji numerals before 丁目, 丁目/番地/番/号/の and hyphen look-alikes → `-` |
//! | [`town_key`] | "same town" | [`address_key`] without the trailing block number |
//! | [`phone_key`] | phone equality | digits only (+81 → 0) |
//! | [`date_key`] | birth dates | digits only (`1950-01-31` → `19500131`) |
//!
//! Small kana are kept by [`name_key`] (キョウコ and キヨウコ stay different for an exact
//! match: old systems without small kana are handled by [`kana_key`], which scores lower).

use unicode_normalization::UnicodeNormalization;

/// Variant kanji (異体字) folded to one form by [`name_key`]: `(variant, standard)`.
///
/// Only pairs that are written interchangeably *for the same person's name* (旧字体/新字体,
/// 俗字, registry forms vs. everyday forms) are listed. Deliberately **not** folded, because
/// they are different names in practice: 斎/斉 (斎藤 and 斉藤 are distinct families; their old
/// forms 齋→斎 and 齊→斉 are folded separately), 竜/龍 (parents choose one on purpose), 埼/崎,
/// 藤/籐, 惣/総. A wrong fold only costs the kanji evidence: the kana, birth date and sex still
/// have to agree for a high score. CJK compatibility ideographs with a canonical decomposition (隆
/// U+F9DC, 塚 U+FA10, …) are already folded by NFKC; the twelve "unified" compatibility
/// ideographs such as 﨑 U+FA11 are not, so they are listed here.
pub const VARIANT_KANJI: &[(char, char)] = &[
    ('髙', '高'),
    ('﨑', '崎'),
    ('嵜', '崎'),
    ('碕', '崎'),
    ('邊', '辺'),
    ('邉', '辺'),
    ('澤', '沢'),
    ('濱', '浜'),
    ('濵', '浜'),
    ('櫻', '桜'),
    ('廣', '広'),
    ('國', '国'),
    ('嶋', '島'),
    ('嶌', '島'),
    ('篭', '籠'),
    ('冨', '富'),
    ('惠', '恵'),
    ('眞', '真'),
    ('槇', '槙'),
    ('德', '徳'),
    ('齋', '斎'),
    ('齊', '斉'),
    ('淵', '渕'),
    ('埜', '野'),
    ('關', '関'),
    ('𠮷', '吉'),
    ('曾', '曽'),
    ('峯', '峰'),
    ('嶽', '岳'),
    ('舘', '館'),
    ('榮', '栄'),
    ('實', '実'),
    ('壽', '寿'),
    ('藏', '蔵'),
    ('龜', '亀'),
    ('靜', '静'),
    ('條', '条'),
    ('瀨', '瀬'),
    ('萬', '万'),
    ('檜', '桧'),
    ('鷗', '鴎'),
    ('澁', '渋'),
    ('會', '会'),
    ('傳', '伝'),
    ('彌', '弥'),
    ('禮', '礼'),
    ('瀧', '滝'),
    ('桒', '桑'),
    ('槗', '橋'),
    ('栁', '柳'),
    ('靏', '鶴'),
    ('戶', '戸'),
    ('增', '増'),
    ('莊', '荘'),
    ('藪', '薮'),
    ('穗', '穂'),
    ('讓', '譲'),
    ('顯', '顕'),
    ('衞', '衛'),
    ('兒', '児'),
    ('纖', '繊'),
    ('廳', '庁'),
    ('驒', '騨'),
];

/// The standard form of a variant kanji, if `c` is one ([`VARIANT_KANJI`]).
pub fn fold_variant_kanji(c: char) -> Option<char> {
    VARIANT_KANJI.iter().find(|(v, _)| *v == c).map(|&(_, s)| s)
}

/// The variant kanji of `s` that [`name_key`] folds, as `(variant, standard)`, in order.
pub fn variant_kanji_in(s: &str) -> Vec<(char, char)> {
    let mut out: Vec<(char, char)> = Vec::new();
    for c in s.nfkc() {
        if let Some(std) = fold_variant_kanji(c) {
            if !out.contains(&(c, std)) {
                out.push((c, std));
            }
        }
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '・' | '･' | '.' | ',' | '=' | '、' | '。' | '_' | '·' | '\u{200B}' | '\u{FEFF}'
        )
        || ('\u{FE00}'..='\u{FE0F}').contains(&c)
        || ('\u{E0100}'..='\u{E01EF}').contains(&c)
}

fn is_long_vowel_like(c: char) -> bool {
    matches!(
        c,
        'ー' | '-'
            | '‐'
            | '‑'
            | '‒'
            | '–'
            | '—'
            | '―'
            | '−'
            | '～'
            | '〜'
            | '~'
            | '─'
            | '━'
    )
}

fn hira_to_kata(c: char) -> char {
    match c {
        'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}

fn name_key_impl(s: &str, fold_variants: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkc() {
        if is_separator(c) {
            continue;
        }
        let c = hira_to_kata(c);
        let c = if is_long_vowel_like(c) {
            'ー'
        } else {
            match c {
                'ヶ' => 'ケ',
                'ヵ' => 'カ',
                _ => c.to_ascii_uppercase(),
            }
        };
        let c = if fold_variants {
            fold_variant_kanji(c).unwrap_or(c)
        } else {
            c
        };
        out.push(c);
    }
    // Removing a separator can leave a combining voiced mark (from ゛ U+309B → " ゙") next to
    // its base: compose again.
    out.nfc().collect()
}

/// The key for exact name comparison and name search (see the module table). Family and
/// given name run together (spaces are removed): `"髙橋　はなこ"` → `"高橋ハナコ"`.
pub fn name_key(s: &str) -> String {
    name_key_impl(s, true)
}

/// [`name_key`] without folding variant kanji (to tell "equal" from "equal up to 異体字").
pub fn name_key_literal(s: &str) -> String {
    name_key_impl(s, false)
}

/// Splits a name into (family, given) at the first whitespace (ASCII or U+3000), each part
/// trimmed; `None` when there is only one component.
pub fn split_name(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let i = s.find(char::is_whitespace)?;
    let fam = s[..i].trim();
    let given = s[i..].trim();
    if fam.is_empty() || given.is_empty() {
        None
    } else {
        Some((fam, given))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Vowel {
    A,
    I,
    U,
    E,
    O,
}

fn vowel(c: char) -> Option<Vowel> {
    use Vowel::*;
    Some(match c {
        'ア' | 'カ' | 'ガ' | 'サ' | 'ザ' | 'タ' | 'ダ' | 'ナ' | 'ハ' | 'バ' | 'パ' | 'マ'
        | 'ヤ' | 'ラ' | 'ワ' => A,
        'イ' | 'キ' | 'ギ' | 'シ' | 'ジ' | 'チ' | 'ニ' | 'ヒ' | 'ビ' | 'ピ' | 'ミ' | 'リ' => {
            I
        }
        'ウ' | 'ク' | 'グ' | 'ス' | 'ズ' | 'ツ' | 'ヌ' | 'フ' | 'ブ' | 'プ' | 'ム' | 'ユ'
        | 'ル' => U,
        'エ' | 'ケ' | 'ゲ' | 'セ' | 'ゼ' | 'テ' | 'デ' | 'ネ' | 'ヘ' | 'ベ' | 'ペ' | 'メ'
        | 'レ' => E,
        'オ' | 'コ' | 'ゴ' | 'ソ' | 'ゾ' | 'ト' | 'ド' | 'ノ' | 'ホ' | 'ボ' | 'ポ' | 'モ'
        | 'ヨ' | 'ロ' => O,
        _ => return None,
    })
}

/// Does vowel kana `c` after a kana with vowel `prev` only lengthen it (オオ, オウ, ウウ, エイ, エエ…)?
fn lengthens(prev: Vowel, c: char) -> bool {
    matches!(
        (prev, c),
        (Vowel::A, 'ア')
            | (Vowel::I, 'イ')
            | (Vowel::U, 'ウ')
            | (Vowel::E, 'エ')
            | (Vowel::E, 'イ')
            | (Vowel::O, 'オ')
            | (Vowel::O, 'ウ')
    )
}

fn large_kana(c: char) -> char {
    match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヂ' => 'ジ',
        'ヅ' => 'ズ',
        'ヲ' => 'オ',
        'ヰ' => 'イ',
        'ヱ' => 'エ',
        'ヴ' => 'ブ',
        _ => c,
    }
}

/// Fuzzy kana key: [`name_key`], small kana made large, ヂヅヲヰヱヴ folded, long vowels
/// dropped. `オオノ`, `オーノ`, `おおの`, `ｵｰﾉ` and `オノ` all give `オノ`; `ショウ`/`ショー` give
/// `シヨ`. Lossy on purpose (大野 and 小野 share it): scored below an exact kana match.
pub fn kana_key(s: &str) -> String {
    // Large kana first, then compose (ッ + ゙ → ヅ), then fold what composing made.
    let large: String = name_key(s).chars().map(large_kana).collect();
    let base: String = large.nfc().map(large_kana).collect();
    let mut out = String::with_capacity(base.len());
    let mut prev: Option<Vowel> = None;
    for c in base.chars() {
        // Long vowels, and voiced marks left over that compose with nothing.
        if matches!(c, 'ー' | '\u{3099}' | '\u{309A}') {
            continue;
        }
        if let Some(p) = prev {
            if lengthens(p, c) {
                continue;
            }
        }
        prev = vowel(c);
        out.push(c);
    }
    out
}

/// [`kana_key`] without voiced / semi-voiced marks (ガ→カ, パ→ハ, ブ→フ).
pub fn kana_skeleton(s: &str) -> String {
    let unvoiced: String = kana_key(s)
        .nfd()
        .filter(|c| !matches!(c, '\u{3099}' | '\u{309A}'))
        .nfc()
        .collect();
    // Unvoicing can expose kana that kana_key folds (ヺ → ヲ → オ).
    kana_key(&unvoiced)
}

const PREFECTURES: &[&str] = &[
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

fn kanji_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// Value of a kanji numeral such as `二`, `十二`, `二十三` (1–99), if `s` is one.
fn kanji_number(s: &[char]) -> Option<u32> {
    match s {
        [] => None,
        ['十'] => Some(10),
        [a] => kanji_digit(*a),
        ['十', b] => Some(10 + kanji_digit(*b)?),
        [a, '十'] => Some(kanji_digit(*a)? * 10),
        [a, '十', b] => Some(kanji_digit(*a)? * 10 + kanji_digit(*b)?),
        _ => None,
    }
}

/// Address key: NFKC (full-width digits → ASCII), spaces removed, prefecture prefix removed,
/// a kanji numeral directly before 丁目 made a number (`二丁目` → `2-`), 丁目 / 番地 / 番 / 号 /
/// の after a digit and every hyphen look-alike (－ ‐ ― − ー) made `-`, trailing `-` removed.
/// `宮城県仙台市青葉区一番町２丁目３番５号` and `仙台市青葉区一番町2-3-5` give the same key
/// (番 in 一番町 is kept: it does not follow a digit).
pub fn address_key(s: &str) -> String {
    let mut chars: Vec<char> = s
        .nfkc()
        .filter(|c| !is_separator(*c) || *c == '・')
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if is_long_vowel_like(c) || c == 'ｰ' {
                '-'
            } else {
                c
            }
        })
        .collect();
    // Prefecture prefix.
    let text: String = chars.iter().collect();
    for p in PREFECTURES {
        if let Some(rest) = text.strip_prefix(p) {
            chars = rest.chars().collect();
            break;
        }
    }
    // ー between non-kana (e.g. in a katakana building name) would be '-' now; fine for a key.
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_digit = out.last().is_some_and(|p| p.is_ascii_digit());
        if c == '丁' && next == Some('目') {
            // Kanji numeral right before 丁目.
            let mut j = out.len();
            while j > 0 && (kanji_digit(out[j - 1]).is_some() || out[j - 1] == '十') {
                j -= 1;
            }
            if j < out.len() {
                if let Some(n) = kanji_number(&out[j..]) {
                    out.truncate(j);
                    out.extend(n.to_string().chars());
                }
            }
            push_dash(&mut out);
            i += 2;
            continue;
        }
        if prev_digit && c == '番' && next == Some('地') {
            push_dash(&mut out);
            i += 2;
            continue;
        }
        if prev_digit && matches!(c, '番' | '号' | 'の' | 'ノ') {
            push_dash(&mut out);
            i += 1;
            continue;
        }
        if c == '-' {
            push_dash(&mut out);
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    while out.last() == Some(&'-') {
        out.pop();
    }
    // Compose voiced marks that a removed space had separated (as in `name_key`).
    out.into_iter().collect::<String>().nfc().collect()
}

/// One '-' between parts, however many separators stood there: keeps the key idempotent
/// (`-丁目` and `--` both become one '-').
fn push_dash(out: &mut Vec<char>) {
    if out.last() != Some(&'-') {
        out.push('-');
    }
}

/// [`address_key`] without the trailing block number (`青葉区一番町2-3-5` → `青葉区一番町`):
/// "same town" (町名まで一致).
pub fn town_key(s: &str) -> String {
    let k = address_key(s);
    k.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
        .to_owned()
}

/// Phone key: the digits only (full-width digits too); a leading `+81` becomes `0`.
pub fn phone_key(s: &str) -> String {
    let n: String = s.nfkc().collect();
    let t = n.trim_start();
    let digits: String = n.chars().filter(|c| c.is_ascii_digit()).collect();
    if t.starts_with("+81") {
        let rest = digits.strip_prefix("81").unwrap_or(&digits);
        let rest = rest.strip_prefix('0').unwrap_or(rest);
        if rest.is_empty() {
            return String::new();
        }
        format!("0{rest}")
    } else {
        digits
    }
}

/// Date key: the digits only (`1950-01-31`, `１９５０/０１/３１` → `19500131`).
pub fn date_key(s: &str) -> String {
    s.nfkc().filter(|c| c.is_ascii_digit()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_key_is_idempotent_around_dashes() {
        // Found by the property test: a dash before 丁目 gave "--" on the first pass.
        for s in ["-丁目あ", "1--2", "3丁目-4番地-5", "番地-号"] {
            let once = address_key(s);
            assert_eq!(address_key(&once), once, "{s}");
            assert!(!once.contains("--"), "{s} → {once}");
        }
    }

    #[test]
    fn half_width_katakana() {
        assert_eq!(name_key("ｶﾀｶﾅ"), "カタカナ");
        assert_eq!(name_key("ｶﾞｸ ﾊﾟﾝ"), "ガクパン");
        assert_eq!(name_key("ﾀﾅｶ ﾀﾛｳ"), name_key("タナカ　タロウ"));
    }

    #[test]
    fn standalone_voiced_marks_compose() {
        assert_eq!(name_key("カ゛ク"), "ガク");
        assert_eq!(name_key("ハ゜ン"), "パン");
    }

    #[test]
    fn full_width_digits_and_latin() {
        assert_eq!(name_key("ＡＢＣ　ｊｏｈｎ"), "ABCJOHN");
        assert_eq!(phone_key("０２２－２１１－１２３４"), "0222111234");
        assert_eq!(date_key("１９５０-０１-３１"), "19500131");
    }

    #[test]
    fn variant_kanji() {
        assert_eq!(name_key("髙橋"), name_key("高橋"));
        assert_eq!(name_key("山﨑"), name_key("山崎"));
        assert_eq!(name_key("山嵜"), "山崎");
        assert_eq!(name_key("渡邊"), "渡辺");
        assert_eq!(name_key("渡邉"), "渡辺");
        assert_eq!(name_key("齋藤"), "斎藤");
        assert_eq!(name_key("齊藤"), "斉藤");
        assert_ne!(name_key("斎藤"), name_key("斉藤"));
        assert_ne!(name_key("竜也"), name_key("龍也"));
        assert_eq!(name_key("𠮷田"), "吉田");
        assert_eq!(name_key("小關"), "小関");
        assert_eq!(name_key("大埜"), "大野");
        // Literal key keeps them apart.
        assert_ne!(name_key_literal("髙橋"), name_key_literal("高橋"));
        assert_eq!(
            variant_kanji_in("髙橋　﨑子"),
            vec![('髙', '高'), ('﨑', '崎')]
        );
    }

    #[test]
    fn compatibility_ideographs_fold_by_nfkc() {
        // U+F9DC 隆 (compatibility) → U+9686 隆.
        assert_eq!(name_key("\u{F9DC}"), "\u{9686}");
        // U+FA10 塚 → U+585A.
        assert_eq!(name_key("\u{FA10}本"), "\u{585A}本");
    }

    #[test]
    fn variation_selectors_removed() {
        assert_eq!(name_key("辻\u{E0100}"), "辻");
        assert_eq!(name_key("葛\u{FE00}西"), "葛西");
    }

    #[test]
    fn spaces_and_separators() {
        assert_eq!(name_key("佐藤 花子"), "佐藤花子");
        assert_eq!(name_key("佐藤　花子"), "佐藤花子");
        assert_eq!(name_key(" 佐藤\t花子 "), "佐藤花子");
        assert_eq!(name_key("スミス・ジョン"), "スミスジョン");
        assert_eq!(name_key("ｽﾐｽ･ｼﾞｮﾝ"), "スミスジョン");
        assert_eq!(name_key("スミス＝ジョン"), "スミスジョン");
    }

    #[test]
    fn hiragana_and_katakana() {
        assert_eq!(name_key("さとう はなこ"), name_key("サトウ　ハナコ"));
        assert_eq!(name_key("ゔぁ"), "ヴァ");
        assert_eq!(name_key("いすゞ"), "イスヾ");
        assert_eq!(name_key("ヶ"), "ケ");
    }

    #[test]
    fn long_vowel_marks_unified() {
        for s in [
            "オ－ノ",
            "オ‐ノ",
            "オ―ノ",
            "ｵｰﾉ",
            "オ-ノ",
            "オ〜ノ",
            "おーの",
        ] {
            assert_eq!(name_key(s), "オーノ", "{s}");
        }
    }

    #[test]
    fn small_kana_kept_exact_folded_fuzzy() {
        assert_ne!(name_key("キョウコ"), name_key("キヨウコ"));
        assert_eq!(kana_key("キョウコ"), kana_key("キヨウコ"));
    }

    #[test]
    fn fuzzy_long_vowels() {
        assert_eq!(kana_key("オオノ"), "オノ");
        assert_eq!(kana_key("オーノ"), "オノ");
        assert_eq!(kana_key("オノ"), "オノ");
        assert_eq!(kana_key("ユウコ"), kana_key("ユーコ"));
        assert_eq!(kana_key("ヨウコ"), kana_key("ヨーコ"));
        assert_eq!(kana_key("ケイコ"), kana_key("ケーコ"));
        assert_eq!(kana_key("ショウ"), kana_key("ショー"));
        assert_eq!(kana_key("イチロウ"), kana_key("イチロー"));
        assert_eq!(kana_key("サトウ ジロウ"), kana_key("さとー じろー"));
        assert_eq!(kana_key("ミヅキ"), kana_key("ミズキ"));
        // Vowels that do not lengthen stay.
        assert_eq!(kana_key("アイ"), "アイ");
        assert_eq!(kana_key("マオ"), "マオ");
    }

    #[test]
    fn skeleton_ignores_voicing() {
        assert_eq!(kana_skeleton("ハセガワ"), kana_skeleton("ハセカワ"));
        assert_eq!(kana_skeleton("ヤマザキ"), kana_skeleton("ヤマサキ"));
        assert_ne!(kana_key("ヤマザキ"), kana_key("ヤマサキ"));
    }

    #[test]
    fn addresses() {
        let a = "宮城県仙台市青葉区一番町２丁目３番５号";
        assert_eq!(address_key(a), "仙台市青葉区一番町2-3-5");
        assert_eq!(
            address_key("宮城県仙台市青葉区一番町2丁目3番5号"),
            address_key(a)
        );
        assert_eq!(address_key("宮城県仙台市青葉区一番町2-3-5"), address_key(a));
        assert_eq!(address_key("仙台市青葉区一番町２－３－５"), address_key(a));
        assert_eq!(address_key("仙台市 青葉区 一番町 2‐3‐5"), address_key(a));
        assert_eq!(
            address_key("仙台市青葉区一番町二丁目3番地5"),
            address_key(a)
        );
        assert_eq!(address_key("仙台市青葉区一番町2の3の5"), address_key(a));
        assert_eq!(address_key("石巻市十二丁目1"), "石巻市12-1");
        assert_eq!(town_key(a), "仙台市青葉区一番町");
        assert_eq!(town_key("仙台市青葉区一番町4-1-1"), town_key(a));
    }

    #[test]
    fn phones() {
        assert_eq!(phone_key("022-211-1234"), "0222111234");
        assert_eq!(phone_key("(022)211-1234"), "0222111234");
        assert_eq!(phone_key("+81 22-211-1234"), "0222111234");
        assert_eq!(phone_key("+81-90-1234-5678"), "09012345678");
        assert_eq!(phone_key(""), "");
    }

    #[test]
    fn split_names() {
        assert_eq!(split_name("佐藤 花子"), Some(("佐藤", "花子")));
        assert_eq!(split_name("佐藤　花子"), Some(("佐藤", "花子")));
        assert_eq!(split_name("佐藤花子"), None);
        assert_eq!(split_name(" 佐藤 "), None);
    }
}
