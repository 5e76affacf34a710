//! Embedded vocabularies: names, towns, codes. Every string here must be writable in
//! ISO-2022-JP (JIS X 0208): no 髙, 﨑, ①, half-width kana (checked by a test).
//!
//! Codes are real where well known (JLAC10 analytes, ICD-10, HL7 tables) and plausible
//! otherwise (HOT9/YJ/MEDIS numbers are synthetic but have the right shape).

/// (kanji, katakana). Weighted towards Tōhoku / Miyagi surnames.
pub const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("高橋", "タカハシ"),
    ("鈴木", "スズキ"),
    ("阿部", "アベ"),
    ("千葉", "チバ"),
    ("伊藤", "イトウ"),
    ("菅原", "スガワラ"),
    ("佐々木", "ササキ"),
    ("遠藤", "エンドウ"),
    ("及川", "オイカワ"),
    ("熊谷", "クマガイ"),
    ("今野", "コンノ"),
    ("渡辺", "ワタナベ"),
    ("斎藤", "サイトウ"),
    ("後藤", "ゴトウ"),
    ("加藤", "カトウ"),
    ("小野寺", "オノデラ"),
    ("大友", "オオトモ"),
    ("庄司", "ショウジ"),
    ("猪股", "イノマタ"),
    ("田中", "タナカ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("斉藤", "サイトウ"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("原田", "ハラダ"),
    ("中川", "ナカガワ"),
    ("松田", "マツダ"),
    ("竹内", "タケウチ"),
    ("小野", "オノ"),
    ("田村", "タムラ"),
    ("中山", "ナカヤマ"),
    ("和田", "ワダ"),
    ("石田", "イシダ"),
    ("森田", "モリタ"),
    ("上田", "ウエダ"),
    ("原", "ハラ"),
    ("内田", "ウチダ"),
    ("柴田", "シバタ"),
    ("酒井", "サカイ"),
    ("宮崎", "ミヤザキ"),
    ("横山", "ヨコヤマ"),
    ("高木", "タカギ"),
    ("安藤", "アンドウ"),
    ("宮本", "ミヤモト"),
    ("大野", "オオノ"),
    ("小島", "コジマ"),
    ("谷口", "タニグチ"),
    ("今井", "イマイ"),
    ("工藤", "クドウ"),
    ("高田", "タカダ"),
    ("増田", "マスダ"),
    ("丸山", "マルヤマ"),
    ("杉山", "スギヤマ"),
    ("村田", "ムラタ"),
    ("大塚", "オオツカ"),
    ("新井", "アライ"),
    ("小山", "コヤマ"),
    ("平野", "ヒラノ"),
    ("藤本", "フジモト"),
    ("河野", "コウノ"),
    ("上野", "ウエノ"),
    ("野口", "ノグチ"),
    ("武田", "タケダ"),
    ("松井", "マツイ"),
    ("岩崎", "イワサキ"),
    ("木下", "キノシタ"),
    ("久保", "クボ"),
    ("佐野", "サノ"),
    ("野村", "ノムラ"),
    ("松尾", "マツオ"),
    ("市川", "イチカワ"),
    ("菊地", "キクチ"),
    ("杉本", "スギモト"),
    ("古川", "フルカワ"),
    ("大西", "オオニシ"),
    ("島田", "シマダ"),
    ("水野", "ミズノ"),
    ("桜井", "サクライ"),
    ("高野", "タカノ"),
    ("渡部", "ワタナベ"),
    ("吉川", "ヨシカワ"),
    ("山内", "ヤマウチ"),
    ("西田", "ニシダ"),
    ("飯田", "イイダ"),
    ("菊池", "キクチ"),
    ("西川", "ニシカワ"),
    ("小松", "コマツ"),
    ("北村", "キタムラ"),
    ("安田", "ヤスダ"),
    ("五十嵐", "イガラシ"),
    ("川口", "カワグチ"),
    ("平田", "ヒラタ"),
    ("関", "セキ"),
    ("中田", "ナカタ"),
    ("久保田", "クボタ"),
    ("服部", "ハットリ"),
    ("東", "アズマ"),
    ("岩田", "イワタ"),
    ("土屋", "ツチヤ"),
    ("川崎", "カワサキ"),
    ("福島", "フクシマ"),
    ("本田", "ホンダ"),
    ("辻", "ツジ"),
    ("樋口", "ヒグチ"),
    ("秋山", "アキヤマ"),
    ("田口", "タグチ"),
    ("永井", "ナガイ"),
    ("山中", "ヤマナカ"),
    ("中西", "ナカニシ"),
    ("吉村", "ヨシムラ"),
    ("川上", "カワカミ"),
    ("石原", "イシハラ"),
    ("大橋", "オオハシ"),
    ("松岡", "マツオカ"),
    ("馬場", "ババ"),
    ("浅野", "アサノ"),
    ("荒木", "アラキ"),
    ("大久保", "オオクボ"),
    ("野田", "ノダ"),
    ("小池", "コイケ"),
    ("松下", "マツシタ"),
    ("大川", "オオカワ"),
    ("引地", "ヒキチ"),
    ("丹野", "タンノ"),
    ("早坂", "ハヤサカ"),
    ("赤間", "アカマ"),
    ("志賀", "シガ"),
    ("相沢", "アイザワ"),
    ("大内", "オオウチ"),
    ("門脇", "カドワキ"),
    ("氏家", "ウジイエ"),
    ("片倉", "カタクラ"),
    ("只野", "タダノ"),
    ("我妻", "ワガツマ"),
    ("半沢", "ハンザワ"),
    ("尾形", "オガタ"),
    ("星", "ホシ"),
    ("亀井", "カメイ"),
    ("八木", "ヤギ"),
    ("須藤", "スドウ"),
    ("若生", "ワコウ"),
    ("草刈", "クサカリ"),
    ("伊東", "イトウ"),
    ("浅沼", "アサヌマ"),
    ("狩野", "カノウ"),
    ("桜田", "サクラダ"),
    ("高平", "タカヒラ"),
    ("小松崎", "コマツザキ"),
    ("鎌田", "カマタ"),
    ("菅野", "カンノ"),
    ("紺野", "コンノ"),
    ("鹿野", "シカノ"),
    ("佐久間", "サクマ"),
    ("武山", "タケヤマ"),
    ("沼田", "ヌマタ"),
    ("浜田", "ハマダ"),
    ("広瀬", "ヒロセ"),
    ("桑原", "クワバラ"),
    ("瀬戸", "セト"),
    ("白石", "シロイシ"),
    ("岩渕", "イワブチ"),
    ("畠山", "ハタケヤマ"),
    ("村井", "ムライ"),
    ("宍戸", "シシド"),
    ("蜂谷", "ハチヤ"),
];

/// Variant spellings seen across facilities for the same person (JIS X 0208 only).
pub const KANJI_VARIANTS: &[(&str, &str)] = &[
    ("斎", "齋"),
    ("斉", "齊"),
    ("辺", "邊"),
    ("沢", "澤"),
    ("浜", "濱"),
    ("島", "嶋"),
    ("桜", "櫻"),
    ("広", "廣"),
    ("崎", "嵜"),
    ("渕", "淵"),
    ("野", "埜"),
    ("関", "關"),
];

/// Given names: (kanji, kana). Older generations first, then newer.
pub const MALE_OLD: &[(&str, &str)] = &[
    ("浩", "ヒロシ"),
    ("隆", "タカシ"),
    ("茂", "シゲル"),
    ("勇", "イサム"),
    ("博", "ヒロシ"),
    ("清", "キヨシ"),
    ("実", "ミノル"),
    ("進", "ススム"),
    ("修", "オサム"),
    ("豊", "ユタカ"),
    ("正", "タダシ"),
    ("明", "アキラ"),
    ("一郎", "イチロウ"),
    ("健一", "ケンイチ"),
    ("太郎", "タロウ"),
    ("次郎", "ジロウ"),
    ("三郎", "サブロウ"),
    ("義男", "ヨシオ"),
    ("正雄", "マサオ"),
    ("秀樹", "ヒデキ"),
    ("浩二", "コウジ"),
    ("光男", "ミツオ"),
    ("和夫", "カズオ"),
    ("幸雄", "ユキオ"),
    ("昭", "アキラ"),
    ("武", "タケシ"),
    ("悟", "サトル"),
    ("剛", "ツヨシ"),
    ("学", "マナブ"),
    ("聡", "サトシ"),
    ("雄一", "ユウイチ"),
    ("賢治", "ケンジ"),
    ("信夫", "ノブオ"),
    ("康弘", "ヤスヒロ"),
    ("英樹", "ヒデキ"),
    ("哲也", "テツヤ"),
    ("勝", "マサル"),
    ("稔", "ミノル"),
    ("宏", "ヒロシ"),
    ("政男", "マサオ"),
    ("寛", "ヒロシ"),
    ("克己", "カツミ"),
    ("恵一", "ケイイチ"),
    ("孝", "タカシ"),
    ("誠一", "セイイチ"),
    ("守", "マモル"),
    ("保", "タモツ"),
    ("徹", "トオル"),
    ("昇", "ノボル"),
    ("敏夫", "トシオ"),
    ("久雄", "ヒサオ"),
    ("正義", "マサヨシ"),
    ("利夫", "トシオ"),
    ("常雄", "ツネオ"),
    ("直樹", "ナオキ"),
    ("和也", "カズヤ"),
    ("達也", "タツヤ"),
    ("誠", "マコト"),
    ("大輔", "ダイスケ"),
];
pub const MALE_NEW: &[(&str, &str)] = &[
    ("翔太", "ショウタ"),
    ("健太", "ケンタ"),
    ("拓也", "タクヤ"),
    ("亮", "リョウ"),
    ("翔", "ショウ"),
    ("大樹", "ダイキ"),
    ("陸", "リク"),
    ("蓮", "レン"),
    ("悠真", "ユウマ"),
    ("湊", "ミナト"),
    ("陽翔", "ハルト"),
    ("大翔", "ヒロト"),
    ("颯太", "ソウタ"),
    ("蒼", "アオイ"),
    ("樹", "イツキ"),
    ("悠人", "ユウト"),
    ("優斗", "ユウト"),
    ("拓海", "タクミ"),
    ("海斗", "カイト"),
    ("俊介", "シュンスケ"),
    ("裕太", "ユウタ"),
    ("智也", "トモヤ"),
    ("雅人", "マサト"),
    ("大和", "ヤマト"),
    ("陽太", "ヨウタ"),
    ("蒼空", "ソラ"),
    ("奏太", "カナタ"),
    ("遥斗", "ハルト"),
    ("晴", "ハル"),
    ("律", "リツ"),
    ("駿", "シュン"),
    ("航", "ワタル"),
];
pub const FEMALE_OLD: &[(&str, &str)] = &[
    ("花子", "ハナコ"),
    ("陽子", "ヨウコ"),
    ("洋子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("京子", "キョウコ"),
    ("幸子", "サチコ"),
    ("和子", "カズコ"),
    ("久美子", "クミコ"),
    ("由美子", "ユミコ"),
    ("裕子", "ユウコ"),
    ("直美", "ナオミ"),
    ("智子", "トモコ"),
    ("美智子", "ミチコ"),
    ("節子", "セツコ"),
    ("文子", "フミコ"),
    ("春子", "ハルコ"),
    ("明美", "アケミ"),
    ("真由美", "マユミ"),
    ("恵美", "エミ"),
    ("純子", "ジュンコ"),
    ("典子", "ノリコ"),
    ("孝子", "タカコ"),
    ("悦子", "エツコ"),
    ("弘子", "ヒロコ"),
    ("良子", "ヨシコ"),
    ("昭子", "アキコ"),
    ("信子", "ノブコ"),
    ("光子", "ミツコ"),
    ("トメ", "トメ"),
    ("キヨ", "キヨ"),
    ("ハル", "ハル"),
    ("千代", "チヨ"),
    ("富子", "トミコ"),
    ("照子", "テルコ"),
    ("美代子", "ミヨコ"),
    ("貞子", "サダコ"),
    ("敏子", "トシコ"),
    ("静子", "シズコ"),
    ("由紀", "ユキ"),
    ("真理", "マリ"),
    ("理恵", "リエ"),
    ("亜希子", "アキコ"),
    ("恵理", "エリ"),
    ("優子", "ユウコ"),
    ("美穂", "ミホ"),
    ("沙織", "サオリ"),
    ("香織", "カオリ"),
    ("静香", "シズカ"),
    ("ヨシエ", "ヨシエ"),
    ("ミツ", "ミツ"),
    ("栄子", "エイコ"),
    ("君子", "キミコ"),
    ("正子", "マサコ"),
    ("トシ子", "トシコ"),
    ("和枝", "カズエ"),
];
pub const FEMALE_NEW: &[(&str, &str)] = &[
    ("愛", "アイ"),
    ("彩", "アヤ"),
    ("舞", "マイ"),
    ("麻衣", "マイ"),
    ("千尋", "チヒロ"),
    ("明日香", "アスカ"),
    ("さくら", "サクラ"),
    ("美咲", "ミサキ"),
    ("陽菜", "ヒナ"),
    ("結衣", "ユイ"),
    ("葵", "アオイ"),
    ("凛", "リン"),
    ("結菜", "ユイナ"),
    ("芽依", "メイ"),
    ("莉子", "リコ"),
    ("紬", "ツムギ"),
    ("杏", "アン"),
    ("美月", "ミツキ"),
    ("七海", "ナナミ"),
    ("遥", "ハルカ"),
    ("奈々", "ナナ"),
    ("綾香", "アヤカ"),
    ("彩花", "アヤカ"),
    ("真央", "マオ"),
    ("優花", "ユウカ"),
    ("ひなた", "ヒナタ"),
    ("心春", "コハル"),
    ("澪", "ミオ"),
    ("楓", "カエデ"),
    ("詩", "ウタ"),
    ("美羽", "ミウ"),
    ("花音", "カノン"),
];

/// Kana spellings that differ between facilities (long vowels written out or not).
pub const KANA_VARIANTS: &[(&str, &str)] = &[
    ("ヨウコ", "ヨーコ"),
    ("ユウコ", "ユーコ"),
    ("ユウ", "ユー"),
    ("コウ", "コー"),
    ("ショウ", "ショー"),
    ("トウ", "トー"),
    ("オオ", "オー"),
    ("ジロウ", "ジロー"),
    ("タロウ", "タロー"),
    ("イチロウ", "イチロー"),
];

/// 二次医療圏 (Miyagi, since 2013).
pub const AREAS: &[&str] = &["仙台", "仙南", "大崎・栗原", "石巻・登米・気仙沼"];
pub const AREA_WEIGHTS: &[u32] = &[56, 8, 15, 21];

pub struct Town {
    pub name: &'static str,
    /// Short stem used in facility names.
    pub stem: &'static str,
    pub area: usize,
    pub zip: &'static str,
    pub phone_area: &'static str,
    /// Neighbourhoods (町名).
    pub streets: &'static [&'static str],
    /// 郡市区番号 used in medical institution codes.
    pub district: u32,
}

macro_rules! town {
    ($n:literal, $s:literal, $a:literal, $z:literal, $p:literal, $d:literal, [$($st:literal),*]) => {
        Town { name: $n, stem: $s, area: $a, zip: $z, phone_area: $p, streets: &[$($st),*], district: $d }
    };
}

pub const TOWNS: &[Town] = &[
    town!(
        "仙台市青葉区",
        "青葉",
        0,
        "980-0811",
        "022",
        1,
        ["一番町", "国分町", "木町通", "上杉", "八幡", "中山"]
    ),
    town!(
        "仙台市宮城野区",
        "宮城野",
        0,
        "983-0852",
        "022",
        1,
        ["榴岡", "原町", "福室", "岩切", "鶴ケ谷"]
    ),
    town!(
        "仙台市若林区",
        "若林",
        0,
        "984-0051",
        "022",
        1,
        ["新寺", "荒井", "六丁の目", "卸町", "沖野"]
    ),
    town!(
        "仙台市太白区",
        "太白",
        0,
        "982-0011",
        "022",
        1,
        ["長町", "富沢", "八木山", "西多賀", "郡山"]
    ),
    town!(
        "仙台市泉区",
        "泉",
        0,
        "981-3133",
        "022",
        1,
        ["泉中央", "将監", "加茂", "南光台", "館"]
    ),
    town!(
        "塩竈市",
        "塩竈",
        0,
        "985-0016",
        "022",
        2,
        ["港町", "海岸通", "本町", "花立町"]
    ),
    town!(
        "名取市",
        "名取",
        0,
        "981-1224",
        "022",
        3,
        ["増田", "植松", "杜せきのした", "閖上"]
    ),
    town!(
        "多賀城市",
        "多賀城",
        0,
        "985-0873",
        "022",
        2,
        ["中央", "高橋", "八幡", "桜木"]
    ),
    town!(
        "岩沼市",
        "岩沼",
        0,
        "989-2432",
        "0223",
        3,
        ["中央", "桜", "館下", "里の杜"]
    ),
    town!(
        "富谷市",
        "富谷",
        0,
        "981-3341",
        "022",
        4,
        ["成田", "富谷", "明石台", "東向陽台"]
    ),
    town!(
        "宮城郡利府町",
        "利府",
        0,
        "981-0112",
        "022",
        4,
        ["利府", "青山", "しらかし台"]
    ),
    town!(
        "宮城郡松島町",
        "松島",
        0,
        "981-0213",
        "022",
        4,
        ["松島", "高城", "磯崎"]
    ),
    town!(
        "亘理郡亘理町",
        "亘理",
        0,
        "989-2351",
        "0223",
        3,
        ["字悠里", "逢隈", "荒浜"]
    ),
    town!(
        "白石市",
        "白石",
        1,
        "989-0247",
        "0224",
        5,
        ["八幡町", "大手町", "福岡長袋"]
    ),
    town!(
        "角田市",
        "角田",
        1,
        "981-1505",
        "0224",
        5,
        ["角田", "横倉", "枝野"]
    ),
    town!(
        "柴田郡大河原町",
        "大河原",
        1,
        "989-1245",
        "0224",
        5,
        ["新南", "字町", "小島"]
    ),
    town!(
        "柴田郡柴田町",
        "柴田",
        1,
        "989-1621",
        "0224",
        5,
        ["船岡", "槻木", "西船迫"]
    ),
    town!(
        "大崎市",
        "古川",
        2,
        "989-6162",
        "0229",
        6,
        ["古川駅前大通", "古川中里", "岩出山", "鳴子温泉"]
    ),
    town!(
        "栗原市",
        "栗原",
        2,
        "987-2252",
        "0228",
        7,
        ["築館", "若柳", "一迫", "金成"]
    ),
    town!(
        "遠田郡涌谷町",
        "涌谷",
        2,
        "987-0121",
        "0229",
        6,
        ["涌谷", "字新町", "小里"]
    ),
    town!(
        "遠田郡美里町",
        "美里",
        2,
        "987-0004",
        "0229",
        6,
        ["牛飼", "北浦", "中埣"]
    ),
    town!(
        "石巻市",
        "石巻",
        3,
        "986-0822",
        "0225",
        8,
        ["中央", "蛇田", "門脇", "渡波", "湊"]
    ),
    town!(
        "東松島市",
        "東松島",
        3,
        "981-0503",
        "0225",
        8,
        ["矢本", "赤井", "小野"]
    ),
    town!(
        "登米市",
        "登米",
        3,
        "987-0702",
        "0220",
        9,
        ["登米町", "佐沼", "迫町", "豊里町"]
    ),
    town!(
        "気仙沼市",
        "気仙沼",
        3,
        "988-0017",
        "0226",
        9,
        ["南町", "田中前", "本吉町", "唐桑町"]
    ),
    town!(
        "本吉郡南三陸町",
        "南三陸",
        3,
        "986-0725",
        "0226",
        9,
        ["志津川", "歌津", "入谷"]
    ),
];

/// Department (診療科) codes used in file names and PV1/ORC: (code, name).
pub const DEPTS: &[(&str, &str)] = &[
    ("01", "内科"),
    ("05", "呼吸器内科"),
    ("06", "消化器内科"),
    ("08", "循環器内科"),
    ("09", "小児科"),
    ("10", "外科"),
    ("11", "整形外科"),
    ("14", "脳神経外科"),
    ("19", "皮膚科"),
    ("20", "泌尿器科"),
    ("23", "産婦人科"),
    ("26", "眼科"),
    ("27", "耳鼻咽喉科"),
    ("30", "放射線科"),
    ("36", "リハビリテーション科"),
    ("40", "歯科"),
];
pub const D_INTERNAL: usize = 0;
pub const D_RESP: usize = 1;
pub const D_GI: usize = 2;
pub const D_CARDIO: usize = 3;
pub const D_PED: usize = 4;
pub const D_SURG: usize = 5;
pub const D_ORTHO: usize = 6;
pub const D_NEURO: usize = 7;
pub const D_DERM: usize = 8;
pub const D_URO: usize = 9;
pub const D_EYE: usize = 11;
pub const D_ENT: usize = 12;
pub const D_DENTAL: usize = 15;

/// Hospital wards: (code, name).
pub const WARDS: &[(&str, &str)] = &[
    ("3E", "３階東病棟"),
    ("3W", "３階西病棟"),
    ("4E", "４階東病棟"),
    ("4W", "４階西病棟"),
    ("5E", "５階東病棟"),
    ("5W", "５階西病棟"),
    ("6E", "６階東病棟"),
    ("HCU", "ＨＣＵ"),
];

/// A diagnosis: MEDIS 病名管理番号 (8 digits, synthetic), exchange code, name, ICD-10.
#[derive(Debug)]
pub struct Disease {
    pub medis: &'static str,
    pub exchange: &'static str,
    pub name: &'static str,
    pub icd10: &'static str,
    pub chronic: bool,
}

macro_rules! dz {
    ($m:literal, $x:literal, $n:literal, $i:literal, $c:literal) => {
        Disease {
            medis: $m,
            exchange: $x,
            name: $n,
            icd10: $i,
            chronic: $c,
        }
    };
}

pub const DISEASES: &[Disease] = &[
    dz!("20059709", "8833", "高血圧症", "I10", true),
    dz!("20089059", "LT1N", "２型糖尿病", "E119", true),
    dz!("20086496", "K3QM", "脂質異常症", "E785", true),
    dz!("20090281", "UJ8U", "慢性腎臓病", "N189", true),
    dz!("20059238", "HFU5", "骨粗鬆症", "M8199", true),
    dz!("20078463", "CBT5", "逆流性食道炎", "K210", true),
    dz!("20060914", "V7K6", "慢性胃炎", "K295", true),
    dz!("20062633", "B9CP", "心房細動", "I489", true),
    dz!("20068711", "G7SM", "慢性心不全", "I500", true),
    dz!("20063516", "E6CJ", "気管支喘息", "J459", true),
    dz!("20061474", "MQ38", "不眠症", "G470", true),
    dz!("20081355", "LMRK", "変形性膝関節症", "M179", true),
    dz!("20074325", "BSQ2", "腰痛症", "M545", true),
    dz!("20088390", "TJGQ", "アルツハイマー型認知症", "G309", true),
    dz!("20065284", "GSGT", "高尿酸血症", "E790", true),
    dz!("20064420", "J4GL", "甲状腺機能低下症", "E039", true),
    dz!("20069936", "M8V7", "アレルギー性鼻炎", "J304", true),
    dz!("20060145", "RJ1E", "白内障", "H269", true),
    dz!("20056232", "PNRQ", "便秘症", "K590", true),
    dz!("20055117", "NNT8", "急性上気道炎", "J069", false),
    dz!("20055231", "RQN6", "急性気管支炎", "J209", false),
    dz!("20072436", "UGJ4", "肺炎", "J189", false),
    dz!("20062781", "C83K", "脳梗塞", "I639", false),
    dz!("20063108", "GBFA", "大腸ポリープ", "K635", false),
    dz!("20079554", "HV6R", "尿路感染症", "N390", false),
    dz!("20057803", "JMCF", "帯状疱疹", "B029", false),
    dz!("20058420", "KB4R", "急性胃腸炎", "K529", false),
    dz!("20065519", "T5JQ", "う蝕", "K029", false),
    dz!("20064773", "PCJ9", "慢性歯周炎", "K053", true),
    dz!("20061932", "NSHK", "結膜炎", "H109", false),
    dz!("20054174", "TSQF", "胃炎", "K297", false),
    dz!("20087722", "DQS6", "大腿骨頚部骨折", "S720", false),
];
pub const DZ_HTN: usize = 0;
pub const DZ_DM: usize = 1;
pub const DZ_DL: usize = 2;
pub const DZ_CKD: usize = 3;
pub const DZ_OP: usize = 4;
pub const DZ_GERD: usize = 5;
pub const DZ_AF: usize = 7;
pub const DZ_HF: usize = 8;
pub const DZ_ASTHMA: usize = 9;
pub const DZ_INSOMNIA: usize = 10;
pub const DZ_KNEE: usize = 11;
pub const DZ_LBP: usize = 12;
pub const DZ_AD: usize = 13;
pub const DZ_HUA: usize = 14;
pub const DZ_RHINITIS: usize = 16;
pub const DZ_URI: usize = 19;
pub const DZ_BRONCH: usize = 20;
pub const DZ_PNEUMONIA: usize = 21;
pub const DZ_STROKE: usize = 22;
pub const DZ_POLYP: usize = 23;
pub const DZ_UTI: usize = 24;
pub const DZ_GE: usize = 26;
pub const DZ_CARIES: usize = 27;
pub const DZ_PERIO: usize = 28;
pub const DZ_FRACTURE: usize = 31;

/// Usage codes (JAMISDP01, 16 characters; shape as in the JAMI standard, values plausible).
pub struct Usage {
    pub code: &'static str,
    pub text: &'static str,
    pub per_day: u32,
}
pub const USAGES: &[Usage] = &[
    Usage {
        code: "1011040000000000",
        text: "内服・経口・１日１回朝食後",
        per_day: 1,
    },
    Usage {
        code: "1012040400000000",
        text: "内服・経口・１日２回朝夕食後",
        per_day: 2,
    },
    Usage {
        code: "1013044400000000",
        text: "内服・経口・１日３回朝昼夕食後",
        per_day: 3,
    },
    Usage {
        code: "1011000400000000",
        text: "内服・経口・１日１回夕食後",
        per_day: 1,
    },
    Usage {
        code: "1011000010000000",
        text: "内服・経口・１日１回就寝前",
        per_day: 1,
    },
    Usage {
        code: "1050110000000000",
        text: "内服・経口・頓用・疼痛時",
        per_day: 1,
    },
    Usage {
        code: "2B71000000000000",
        text: "外用・貼付・１日１回",
        per_day: 1,
    },
    Usage {
        code: "2E24000000000000",
        text: "外用・点眼・１日４回",
        per_day: 4,
    },
    Usage {
        code: "2A12000000000000",
        text: "外用・塗布・１日２回",
        per_day: 2,
    },
    Usage {
        code: "2L14000000000000",
        text: "外用・吸入・１日１回",
        per_day: 1,
    },
];

/// A drug: HOT9, YJ code, name, unit (MR9P), dose per intake, usage, RXE-27 kind, route.
pub struct Drug {
    pub hot9: &'static str,
    pub yj: &'static str,
    pub name: &'static str,
    pub unit: (&'static str, &'static str),
    pub form: (&'static str, &'static str),
    pub dose: u32,
    pub usage: usize,
    /// 21 oral, 22 as needed, 23 topical.
    pub kind: u32,
    pub route: (&'static str, &'static str),
}

const TAB: (&str, &str) = ("TAB", "錠");
const CAP: (&str, &str) = ("CAP", "カプセル");
const SHT: (&str, &str) = ("SHT", "枚");
const BTL: (&str, &str) = ("BTL", "本");
const PO: (&str, &str) = ("PO", "口");
const TP: (&str, &str) = ("TP", "局所");
const OPH: (&str, &str) = ("OP", "眼");
const INH: (&str, &str) = ("IH", "吸入");
const F_TAB: (&str, &str) = ("TAB", "錠剤");
const F_CAP: (&str, &str) = ("CAP", "カプセル剤");
const F_EXT: (&str, &str) = ("EXT", "外用剤");

macro_rules! drug {
    ($h:literal, $y:literal, $n:literal, $u:expr, $f:expr, $d:literal, $us:literal, $k:literal, $r:expr) => {
        Drug {
            hot9: $h,
            yj: $y,
            name: $n,
            unit: $u,
            form: $f,
            dose: $d,
            usage: $us,
            kind: $k,
            route: $r,
        }
    };
}

pub const DRUGS: &[Drug] = &[
    drug!(
        "112237701",
        "2171022F1142",
        "アムロジピン錠５ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "119245801",
        "2149044F2039",
        "オルメサルタンＯＤ錠２０ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "118754601",
        "2149042F2031",
        "テルミサルタン錠４０ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "107926401",
        "3962002F1066",
        "メトホルミン塩酸塩錠２５０ｍｇＭＴ",
        TAB,
        F_TAB,
        2,
        1,
        21,
        PO
    ),
    drug!(
        "117698201",
        "3969010F1031",
        "シタグリプチン錠５０ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "121773601",
        "2189017F1030",
        "ロスバスタチン錠２．５ｍｇ",
        TAB,
        F_TAB,
        1,
        3,
        21,
        PO
    ),
    drug!(
        "114506101",
        "2189015F1050",
        "アトルバスタチン錠１０ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "109352501",
        "2329023F2028",
        "ランソプラゾールＯＤ錠１５ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "110243201",
        "2325003F2038",
        "ファモチジン錠２０ｍｇ",
        TAB,
        F_TAB,
        2,
        1,
        21,
        PO
    ),
    drug!(
        "111536802",
        "1149019F1560",
        "ロキソプロフェンナトリウム錠６０ｍｇ",
        TAB,
        F_TAB,
        1,
        2,
        21,
        PO
    ),
    drug!(
        "110870301",
        "2329021F1161",
        "レバミピド錠１００ｍｇ",
        TAB,
        F_TAB,
        1,
        2,
        21,
        PO
    ),
    drug!(
        "103745201",
        "1141007F1063",
        "アセトアミノフェン錠２００ｍｇ",
        TAB,
        F_TAB,
        2,
        5,
        22,
        PO
    ),
    drug!(
        "106197801",
        "2344009F1038",
        "酸化マグネシウム錠３３０ｍｇ",
        TAB,
        F_TAB,
        2,
        2,
        21,
        PO
    ),
    drug!(
        "120934401",
        "3339004F1022",
        "エリキュース錠２．５ｍｇ",
        TAB,
        F_TAB,
        1,
        1,
        21,
        PO
    ),
    drug!(
        "105874101",
        "3332001F1023",
        "ワーファリン錠１ｍｇ",
        TAB,
        F_TAB,
        2,
        0,
        21,
        PO
    ),
    drug!(
        "106426201",
        "2139005F1038",
        "フロセミド錠２０ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "113397401",
        "3399007H1021",
        "バイアスピリン錠１００ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "116541901",
        "3949003F1028",
        "フェブキソスタット錠２０ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "104651101",
        "2431004F1053",
        "レボチロキシンナトリウム錠５０μｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "113941801",
        "1190012F1040",
        "ドネペジル塩酸塩錠５ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "112009501",
        "1129009F1025",
        "ゾルピデム酒石酸塩錠５ｍｇ",
        TAB,
        F_TAB,
        1,
        4,
        21,
        PO
    ),
    drug!(
        "116389601",
        "4490026F1030",
        "モンテルカスト錠１０ｍｇ",
        TAB,
        F_TAB,
        1,
        4,
        21,
        PO
    ),
    drug!(
        "119876901",
        "4490027F1027",
        "フェキソフェナジン塩酸塩錠６０ｍｇ",
        TAB,
        F_TAB,
        1,
        1,
        21,
        PO
    ),
    drug!(
        "107614501",
        "2233002F1030",
        "カルボシステイン錠５００ｍｇ",
        TAB,
        F_TAB,
        1,
        2,
        21,
        PO
    ),
    drug!(
        "111231401",
        "6132016F1030",
        "セフカペンピボキシル塩酸塩錠１００ｍｇ",
        TAB,
        F_TAB,
        1,
        2,
        21,
        PO
    ),
    drug!(
        "109784301",
        "6149003F1063",
        "クラリスロマイシン錠２００ｍｇ",
        TAB,
        F_TAB,
        1,
        1,
        21,
        PO
    ),
    drug!(
        "118233501",
        "6241013F2023",
        "レボフロキサシン錠５００ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "115628901",
        "1149037F1020",
        "セレコキシブ錠１００ｍｇ",
        TAB,
        F_TAB,
        1,
        1,
        21,
        PO
    ),
    drug!(
        "108915601",
        "2456001F1310",
        "プレドニゾロン錠５ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "120331701",
        "3999019F1028",
        "アレンドロン酸錠３５ｍｇ",
        TAB,
        F_TAB,
        1,
        0,
        21,
        PO
    ),
    drug!(
        "116912301",
        "6250019M1024",
        "バラシクロビル錠５００ｍｇ",
        TAB,
        F_TAB,
        2,
        2,
        21,
        PO
    ),
    drug!(
        "101955201",
        "2399005M1030",
        "ツムラ大建中湯エキス顆粒",
        CAP,
        F_CAP,
        1,
        2,
        21,
        PO
    ),
    drug!(
        "113864001",
        "2649843S1038",
        "モーラステープ２０ｍｇ",
        SHT,
        F_EXT,
        1,
        6,
        23,
        TP
    ),
    drug!(
        "105271002",
        "1319720Q1020",
        "ヒアレイン点眼液０．１％",
        BTL,
        F_EXT,
        1,
        7,
        23,
        OPH
    ),
    drug!(
        "106238901",
        "3339950M1083",
        "ヒルドイドソフト軟膏０．３％",
        BTL,
        F_EXT,
        1,
        8,
        23,
        TP
    ),
    drug!(
        "119003201",
        "2290801G1025",
        "レルベア２００エリプタ",
        BTL,
        F_EXT,
        1,
        9,
        23,
        INH
    ),
    drug!(
        "112543601",
        "1319757Q1038",
        "ラタノプロスト点眼液０．００５％",
        BTL,
        F_EXT,
        1,
        7,
        23,
        OPH
    ),
];

pub const DR_AMLODIPINE: usize = 0;
pub const DR_OLMESARTAN: usize = 1;
pub const DR_TELMISARTAN: usize = 2;
pub const DR_METFORMIN: usize = 3;
pub const DR_SITAGLIPTIN: usize = 4;
pub const DR_ROSUVA: usize = 5;
pub const DR_ATORVA: usize = 6;
pub const DR_LANSO: usize = 7;
pub const DR_FAMOTIDINE: usize = 8;
pub const DR_LOXO: usize = 9;
pub const DR_REBAMIPIDE: usize = 10;
pub const DR_APAP: usize = 11;
pub const DR_MGO: usize = 12;
pub const DR_APIXABAN: usize = 13;
pub const DR_FUROSEMIDE: usize = 15;
pub const DR_ASPIRIN: usize = 16;
pub const DR_FEBUXO: usize = 17;
pub const DR_LEVOTHYROX: usize = 18;
pub const DR_DONEPEZIL: usize = 19;
pub const DR_ZOLPIDEM: usize = 20;
pub const DR_MONTELUKAST: usize = 21;
pub const DR_FEXO: usize = 22;
pub const DR_CARBO: usize = 23;
pub const DR_CEFCAPENE: usize = 24;
pub const DR_CLARITH: usize = 25;
pub const DR_LVFX: usize = 26;
pub const DR_CELECOXIB: usize = 27;
pub const DR_ALENDRONATE: usize = 29;
pub const DR_VALACICLOVIR: usize = 30;
pub const DR_TAPE: usize = 32;
pub const DR_HYALEIN: usize = 33;
pub const DR_RELVAR: usize = 35;
pub const DR_LATANOPROST: usize = 36;

/// Drugs a chronic diagnosis is treated with (first is the usual first-line choice).
pub fn drugs_for(disease: usize) -> &'static [usize] {
    match disease {
        DZ_HTN => &[DR_AMLODIPINE, DR_OLMESARTAN, DR_TELMISARTAN],
        DZ_DM => &[DR_METFORMIN, DR_SITAGLIPTIN],
        DZ_DL => &[DR_ROSUVA, DR_ATORVA],
        DZ_GERD => &[DR_LANSO, DR_FAMOTIDINE],
        6 => &[DR_REBAMIPIDE, DR_FAMOTIDINE],
        DZ_AF => &[DR_APIXABAN],
        DZ_HF => &[DR_FUROSEMIDE],
        DZ_ASTHMA => &[DR_RELVAR, DR_MONTELUKAST],
        DZ_INSOMNIA => &[DR_ZOLPIDEM],
        DZ_KNEE => &[DR_CELECOXIB, DR_TAPE],
        DZ_LBP => &[DR_LOXO, DR_TAPE],
        DZ_AD => &[DR_DONEPEZIL],
        DZ_HUA => &[DR_FEBUXO],
        15 => &[DR_LEVOTHYROX],
        DZ_RHINITIS => &[DR_FEXO],
        17 => &[DR_HYALEIN],
        18 => &[DR_MGO],
        DZ_OP => &[DR_ALENDRONATE],
        DZ_URI => &[DR_APAP, DR_CARBO],
        DZ_BRONCH => &[DR_CLARITH, DR_CARBO],
        DZ_PNEUMONIA => &[DR_LVFX],
        DZ_STROKE => &[DR_ASPIRIN],
        DZ_UTI => &[DR_CEFCAPENE],
        25 => &[DR_VALACICLOVIR],
        DZ_GE => &[DR_REBAMIPIDE],
        DZ_CARIES | DZ_PERIO => &[DR_CEFCAPENE, DR_LOXO],
        29 => &[DR_HYALEIN, DR_LATANOPROST],
        DZ_FRACTURE => &[DR_LOXO, DR_REBAMIPIDE],
        _ => &[DR_REBAMIPIDE],
    }
}

pub const INJ_DRIP: &[(&str, &str, &str, &str)] = &[
    // (HOT9, name, unit code, unit name)
    ("620007329", "ソリタＴ３号輸液５００ｍＬ", "HON", "本"),
    ("620008801", "ソルデム３Ａ輸液５００ｍＬ", "HON", "本"),
    ("621540801", "ラクテック注５００ｍＬ", "HON", "本"),
    ("620531401", "ビーフリード輸液５００ｍＬ", "HON", "本"),
    ("620446701", "生理食塩液１００ｍＬ", "HON", "本"),
];
pub const INJ_ADDITIVE: &[(&str, &str, &str, &str)] = &[
    ("620002559", "アドナ注（静脈用）５０ｍｇ", "AMP", "アンプル"),
    (
        "620008119",
        "セファゾリンナトリウム注射用１ｇ",
        "VIL",
        "バイアル",
    ),
    (
        "622060901",
        "メロペネム点滴静注用０．５ｇ",
        "VIL",
        "バイアル",
    ),
    ("620004372", "アセリオ静注液１０００ｍｇ", "BAG", "バッグ"),
    ("621999301", "ファモチジン静注２０ｍｇ", "AMP", "アンプル"),
    ("620914201", "ヘパリンＮａ注５０００単位", "VIL", "バイアル"),
];
pub const INJ_OUTPATIENT: &[(&str, &str, &str, &str)] = &[
    ("630104901", "インフルエンザＨＡワクチン", "VIL", "バイアル"),
    (
        "621946501",
        "プラリア皮下注６０ｍｇシリンジ",
        "SYR",
        "シリンジ",
    ),
    (
        "620925301",
        "ネオラミン・スリービー液（静注用）",
        "AMP",
        "アンプル",
    ),
];

/// A lab test: JLAC10 17-character code, name, unit, reference range by sex, distribution.
pub struct Lab {
    pub jlac10: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub range_m: (f64, f64),
    pub range_f: (f64, f64),
    pub mean: f64,
    pub sd: f64,
    pub decimals: usize,
    /// 0 biochemistry (serum), 1 hematology (whole blood), 2 glucose (plasma), 3 HbA1c (whole blood).
    pub panel: u8,
}

macro_rules! lab {
    ($c:literal, $n:literal, $u:literal, $m:expr, $f:expr, $mean:literal, $sd:literal, $dec:literal, $p:literal) => {
        Lab {
            jlac10: $c,
            name: $n,
            unit: $u,
            range_m: $m,
            range_f: $f,
            mean: $mean,
            sd: $sd,
            decimals: $dec,
            panel: $p,
        }
    };
}

/// JCCLS common reference intervals.
pub const LABS: &[Lab] = &[
    lab!(
        "3A010000002327101",
        "総蛋白",
        "g/dL",
        (6.6, 8.1),
        (6.6, 8.1),
        7.2,
        0.4,
        1,
        0
    ),
    lab!(
        "3A015000002327101",
        "アルブミン",
        "g/dL",
        (4.1, 5.1),
        (4.1, 5.1),
        4.3,
        0.35,
        1,
        0
    ),
    lab!(
        "3B035000002327201",
        "ＡＳＴ",
        "U/L",
        (13.0, 30.0),
        (13.0, 30.0),
        24.0,
        8.0,
        0,
        0
    ),
    lab!(
        "3B045000002327201",
        "ＡＬＴ",
        "U/L",
        (10.0, 42.0),
        (7.0, 23.0),
        22.0,
        10.0,
        0,
        0
    ),
    lab!(
        "3B090000002327201",
        "γ－ＧＴ",
        "U/L",
        (13.0, 64.0),
        (9.0, 32.0),
        32.0,
        18.0,
        0,
        0
    ),
    lab!(
        "3B050000002327201",
        "ＬＤ",
        "U/L",
        (124.0, 222.0),
        (124.0, 222.0),
        185.0,
        30.0,
        0,
        0
    ),
    lab!(
        "3J010000002327101",
        "総ビリルビン",
        "mg/dL",
        (0.4, 1.5),
        (0.4, 1.5),
        0.8,
        0.25,
        1,
        0
    ),
    lab!(
        "3C025000002327101",
        "尿素窒素",
        "mg/dL",
        (8.0, 20.0),
        (8.0, 20.0),
        15.0,
        4.0,
        1,
        0
    ),
    lab!(
        "3C015000002327101",
        "クレアチニン",
        "mg/dL",
        (0.65, 1.07),
        (0.46, 0.79),
        0.8,
        0.15,
        2,
        0
    ),
    lab!(
        "3C020000002327101",
        "尿酸",
        "mg/dL",
        (3.7, 7.8),
        (2.6, 5.5),
        5.4,
        1.2,
        1,
        0
    ),
    lab!(
        "3H010000002324101",
        "Ｎａ",
        "mmol/L",
        (138.0, 145.0),
        (138.0, 145.0),
        141.0,
        2.0,
        0,
        0
    ),
    lab!(
        "3H015000002324101",
        "Ｋ",
        "mmol/L",
        (3.6, 4.8),
        (3.6, 4.8),
        4.2,
        0.35,
        1,
        0
    ),
    lab!(
        "3H020000002324101",
        "Ｃｌ",
        "mmol/L",
        (101.0, 108.0),
        (101.0, 108.0),
        104.0,
        2.2,
        0,
        0
    ),
    lab!(
        "3F050000002327101",
        "総コレステロール",
        "mg/dL",
        (142.0, 248.0),
        (142.0, 248.0),
        200.0,
        32.0,
        0,
        0
    ),
    lab!(
        "3F015000002327101",
        "中性脂肪",
        "mg/dL",
        (40.0, 234.0),
        (30.0, 117.0),
        120.0,
        55.0,
        0,
        0
    ),
    lab!(
        "3F070000002327101",
        "ＨＤＬコレステロール",
        "mg/dL",
        (38.0, 90.0),
        (48.0, 103.0),
        58.0,
        13.0,
        0,
        0
    ),
    lab!(
        "3F077000002327101",
        "ＬＤＬコレステロール",
        "mg/dL",
        (65.0, 163.0),
        (65.0, 163.0),
        118.0,
        28.0,
        0,
        0
    ),
    lab!(
        "5C070000002306001",
        "ＣＲＰ",
        "mg/dL",
        (0.0, 0.14),
        (0.0, 0.14),
        0.08,
        0.06,
        2,
        0
    ),
    lab!(
        "2A990000001930101",
        "白血球数",
        "/μL",
        (3300.0, 8600.0),
        (3300.0, 8600.0),
        6000.0,
        1400.0,
        0,
        1
    ),
    lab!(
        "2A020000001930101",
        "赤血球数",
        "×10^4/μL",
        (435.0, 555.0),
        (386.0, 492.0),
        460.0,
        38.0,
        0,
        1
    ),
    lab!(
        "2A030000001930101",
        "ヘモグロビン",
        "g/dL",
        (13.7, 16.8),
        (11.6, 14.8),
        14.0,
        1.2,
        1,
        1
    ),
    lab!(
        "2A040000001930102",
        "ヘマトクリット",
        "%",
        (40.7, 50.1),
        (35.1, 44.4),
        42.0,
        3.2,
        1,
        1
    ),
    lab!(
        "2A050000001930101",
        "血小板数",
        "×10^4/μL",
        (15.8, 34.8),
        (15.8, 34.8),
        24.0,
        5.5,
        1,
        1
    ),
    lab!(
        "3D010000001926101",
        "グルコース",
        "mg/dL",
        (73.0, 109.0),
        (73.0, 109.0),
        96.0,
        10.0,
        0,
        2
    ),
    lab!(
        "3D046000001906202",
        "ＨｂＡ１ｃ（ＮＧＳＰ）",
        "%",
        (4.9, 6.0),
        (4.9, 6.0),
        5.5,
        0.3,
        1,
        3
    ),
];
pub const L_CRE: usize = 8;
pub const L_BUN: usize = 7;
pub const L_UA: usize = 9;
pub const L_TG: usize = 14;
pub const L_LDL: usize = 16;
pub const L_TC: usize = 13;
pub const L_CRP: usize = 17;
pub const L_WBC: usize = 18;
pub const L_HB: usize = 20;
pub const L_GLU: usize = 23;
pub const L_A1C: usize = 24;
pub const L_AST: usize = 2;
pub const L_ALT: usize = 3;

/// Specimen (JLAC10 material code in SPM-4) per panel: (code, name, panel code, panel name).
pub const PANELS: &[(&str, &str, &str, &str)] = &[
    ("023", "血清", "E002", "生化学的検査"),
    ("019", "全血", "E001", "血液学的検査"),
    ("022", "血漿", "E003", "血糖検査"),
    ("019", "全血", "E004", "ＨｂＡ１ｃ"),
];

/// Imaging: (JJ1017 32-digit code, name, modality (DCM), kind 1 radiology / 2 endoscopy).
pub const RADIOLOGY: &[(&str, &str, &str)] = &[
    (
        "10000002000102000000010000000000",
        "胸部Ｘ線単純撮影　立位正面",
        "CR",
    ),
    (
        "10000002500102000000010000000000",
        "腹部Ｘ線単純撮影　立位正面",
        "CR",
    ),
    (
        "10000004100102000000010000000000",
        "腰椎Ｘ線単純撮影　正面",
        "CR",
    ),
    (
        "10000006500102000000010000000000",
        "膝関節Ｘ線単純撮影　正面",
        "CR",
    ),
    ("20000001000000000000010000000000", "頭部ＣＴ　単純", "CT"),
    ("20000002000000000000010000000000", "胸部ＣＴ　単純", "CT"),
    ("20000002530000000000020000000000", "胸腹部ＣＴ　造影", "CT"),
    ("30000001000000000000010000000000", "頭部ＭＲＩ　単純", "MR"),
    ("30000004100000000000010000000000", "腰椎ＭＲＩ　単純", "MR"),
    ("99A00002500000000000000000000000", "腹部超音波検査", "US"),
    ("13000003000000000000010000000000", "マンモグラフィ", "MG"),
];
pub const ENDOSCOPY: &[(&str, &str)] = &[
    ("91000002600000000000000000000000", "上部消化管内視鏡検査"),
    ("91000002800000000000000000000000", "下部消化管内視鏡検査"),
];
/// Physiology: (code, name, system).
pub const PHYSIOLOGY: &[(&str, &str, &str)] = &[
    ("9A110", "標準１２誘導心電図", "JC10"),
    ("9C010", "呼吸機能検査（スパイロメトリー）", "JC10"),
    ("9A330", "脈波伝播速度・足関節上腕血圧比", "JC10"),
];

/// Meals (diet orders): (local code, name).
pub const DIETS: &[(&str, &str)] = &[
    ("001", "常食"),
    ("011", "全粥食"),
    ("012", "五分粥食"),
    ("021", "エネルギー制限食１６００ｋｃａｌ"),
    ("031", "塩分制限食６ｇ"),
    ("041", "腎臓病食（蛋白４０ｇ）"),
    ("051", "嚥下調整食"),
    ("099", "絶食"),
];

/// Allergens: (code, name, system, HL7 0127 type, type name).
pub const ALLERGENS: &[(&str, &str, &str, &str, &str)] = &[
    ("1", "ペニシリン系抗生物質", "99ZAL", "DA", "薬剤アレルギー"),
    ("2", "セフェム系抗生物質", "99ZAL", "DA", "薬剤アレルギー"),
    (
        "111536802",
        "ロキソプロフェンナトリウム",
        "HOT9",
        "DA",
        "薬剤アレルギー",
    ),
    ("3", "ヨード造影剤", "99ZAL", "DA", "薬剤アレルギー"),
    ("5A1002411023006", "ソバ", "JC10", "FA", "食物アレルギー"),
    ("5A1002410023006", "卵白", "JC10", "FA", "食物アレルギー"),
    ("5A1002412023006", "小麦", "JC10", "FA", "食物アレルギー"),
    ("5A1002422023006", "エビ", "JC10", "FA", "食物アレルギー"),
    ("5A1002216023023", "スギ", "JC10", "LA", "花粉アレルギー"),
    (
        "5A1102700023023",
        "ハウスダスト",
        "JC10",
        "EA",
        "環境アレルギー",
    ),
];
pub const REACTIONS: &[&str] = &[
    "発疹",
    "蕁麻疹",
    "呼吸困難",
    "嘔吐",
    "そう痒感",
    "くしゃみ・鼻汁",
    "目のかゆみ",
];

/// Insurance (JHSD0001 code, name, insurer-number prefix). *(The 国保 code is unsure.)*
pub const INSURANCE: &[(&str, &str, &str)] = &[
    ("01", "全国健康保険協会管掌健康保険", "0104"),
    ("06", "組合管掌健康保険", "0604"),
    ("31", "国家公務員共済組合", "3104"),
    ("C0", "国民健康保険", "04"),
    ("39", "後期高齢者医療", "3904"),
];

/// Sending applications (MSH-3) by vendor flavour.
pub const HIS_APPS: &[&str] = &[
    "HIS", "EGMAINGX", "HOPE", "MIRAIS", "CIS", "NEWTONS", "PRIMARY", "DYNAMICS",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn jis(s: &str) {
        hl7::encode_iso2022jp(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    }

    #[test]
    fn every_string_is_jis_x_0208() {
        for (a, b) in SURNAMES
            .iter()
            .chain(MALE_OLD)
            .chain(MALE_NEW)
            .chain(FEMALE_OLD)
            .chain(FEMALE_NEW)
        {
            jis(a);
            jis(b);
            assert!(
                b.chars().all(|c| ('\u{30A1}'..='\u{30FC}').contains(&c)),
                "{b}"
            );
        }
        for (a, b) in KANJI_VARIANTS
            .iter()
            .chain(KANA_VARIANTS)
            .chain(DEPTS)
            .chain(WARDS)
            .chain(DIETS)
        {
            jis(a);
            jis(b);
        }
        for t in TOWNS {
            jis(t.name);
            jis(t.stem);
            t.streets.iter().for_each(|s| jis(s));
        }
        AREAS.iter().for_each(|s| jis(s));
        DISEASES.iter().for_each(|d| jis(d.name));
        DRUGS.iter().for_each(|d| {
            jis(d.name);
            assert_eq!(d.hot9.len(), 9);
            assert_eq!(d.yj.len(), 12);
        });
        USAGES.iter().for_each(|u| {
            jis(u.text);
            assert_eq!(u.code.len(), 16);
        });
        for l in LABS {
            jis(l.name);
            jis(l.unit);
            assert_eq!(l.jlac10.len(), 17, "{}", l.name);
        }
        for (_, n, _, _) in INJ_DRIP.iter().chain(INJ_ADDITIVE).chain(INJ_OUTPATIENT) {
            jis(n);
        }
        RADIOLOGY.iter().for_each(|r| jis(r.1));
        ENDOSCOPY.iter().for_each(|r| jis(r.1));
        PHYSIOLOGY.iter().for_each(|r| jis(r.1));
        ALLERGENS.iter().for_each(|r| jis(r.1));
        REACTIONS.iter().for_each(|r| jis(r));
        INSURANCE.iter().for_each(|r| jis(r.1));
        assert_eq!(AREAS.len(), AREA_WEIGHTS.len());
    }
}
