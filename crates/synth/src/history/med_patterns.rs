//! The prescription patterns the JAHIS 処方データ交換規約 allows and real systems send, so
//! the demo region shows them (issue 14): an uneven dose (4-2-1 tablets, RXE-3/4 and one TQ1
//! per time), supplementary usages in a second TQ1-3 repetition (隔日) and in a second TQ1
//! (週2回（月・木）), an as-needed line with a limit per day and a count (頓用 10回), a rhythm
//! that cannot be read with certainty (３日おき), a topical line without a day count and
//! with a site; an infusion with rate, per-administration duration (TQ1-13), time slots
//! (TQ1-4), a start condition (TQ1-10) and mixed drugs; and its administrations, one given,
//! one refused (RXA-20 `RE`) and one not given (`NA`) with their reasons (RXA-9); and a
//! prescription whose cancel message is stored as a current file beside it.
//!
//! Written once per person, at their first hospital or clinic, nine days before the end of
//! the history (so some lines are current, some ended, some with an end not known).

use ssmix2::{Condition, DataKind};

use super::Gen;
use crate::region::FKind;
use crate::time::{self, at, Day, MS_MIN};
use crate::SynthError;

/// Days before the end of the history the patterns start.
const DAYS_BEFORE_END: Day = 9;

impl Gen<'_> {
    /// Is this the person's first hospital or clinic link (where the patterns are written)?
    pub(super) fn shows_medication_patterns(&self) -> bool {
        let first = self.p.links.iter().position(|l| {
            matches!(
                self.region.facilities[l.facility].kind,
                FKind::Hospital | FKind::Clinic
            )
        });
        first.is_some_and(|i| std::ptr::eq(&self.p.links[i], self.l))
            && self.region.end - DAYS_BEFORE_END >= self.l.first_day
    }

    /// The prescription, the infusion and its administrations.
    pub(super) fn medication_patterns(&mut self) -> Result<(), SynthError> {
        let day = self.region.end - DAYS_BEFORE_END;
        let d = |k: Day| time::date8(day + k);
        let order = self.next_order(day);
        self.now = at(day, 9, 30);
        self.msh("RDE^O11^RDE_O11");
        self.pid();
        self.pv1("O", None, None, None);
        let outside = "OHP^外来処方^MR9P~OHO^院外処方^MR9P";
        // (Rp, RXE fields 2..=31 as sent, TQ1 segments, RXR)
        let rps: [(&str, String, Vec<String>, &str); 6] = [
            (
                "1",
                format!("110551201^プレドニゾロン錠５ｍｇ「タケダ」^HOT9|1|4|TAB^錠^MR9P|TAB^錠^MR9P|^朝4錠-昼2錠-夕1錠^99I07|||49|TAB^錠^MR9P||||{order}||||7^TAB&錠&MR9P||{outside}||||||21^内服^JHSP0003||||2456001F1310^プレドニゾロン錠５ｍｇ^YJ"),
                vec![
                    format!("1||1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01|||7^D&日&ISO+|{}", d(0)),
                    "2|4^TAB&錠&MR9P|1011000400000000&朝食後&JAMISDP01".into(),
                    "3|2^TAB&錠&MR9P|1011004000000000&昼食後&JAMISDP01".into(),
                    "4|1^TAB&錠&MR9P|1011040000000000&夕食後&JAMISDP01".into(),
                ],
                "PO^口^HL70162",
            ),
            (
                "2",
                format!("105271101^ラシックス錠２０ｍｇ^HOT9|1||TAB^錠^MR9P|TAB^錠^MR9P||||7|TAB^錠^MR9P||||{order}||||1^TAB&錠&MR9P||{outside}||||||21^内服^JHSP0003||||2139005F1160^ラシックス錠２０ｍｇ^YJ"),
                vec![format!("1||1011000400000000&内服・経口・１日１回朝食後&JAMISDP01~Z001&隔日&99XSU|||7^D&日&ISO+|{}", d(0))],
                "PO^口^HL70162",
            ),
            (
                "3",
                format!("114205001^アレンドロン酸錠３５ｍｇ「サワイ」^HOT9|1||TAB^錠^MR9P|TAB^錠^MR9P||||8|TAB^錠^MR9P||||{order}||||1^TAB&錠&MR9P||{outside}||||||21^内服^JHSP0003"),
                vec![
                    format!("1||1011000000000001&内服・経口・１日１回起床時&JAMISDP01|||8^D&日&ISO+|{}", d(0)),
                    "2||Z002&週2回（月・木）&99XSU".into(),
                ],
                "PO^口^HL70162",
            ),
            (
                "4",
                format!("111536802^ロキソニン錠６０ｍｇ^HOT9|1||TAB^錠^MR9P|TAB^錠^MR9P||||10|TAB^錠^MR9P||||{order}||||||{outside}||||||22^頓用^JHSP0003||||1149019F1560^ロキソニン錠６０ｍｇ^YJ"),
                vec![format!("1||1050110020000000&内服・頓用・疼痛時&JAMISDP01~Z010&１日３回まで&99XSU|||10^KAI&回&99XSU|{}", d(0))],
                "PO^口^HL70162",
            ),
            (
                "5",
                format!("112340701^ビタメジン配合カプセルＢ２５^HOT9|1||CAP^カプセル^MR9P|CAP^カプセル^MR9P||||5|CAP^カプセル^MR9P||||{order}||||1^CAP&カプセル&MR9P||{outside}||||||21^内服^JHSP0003"),
                vec![format!("1||1011000400000000&内服・経口・１日１回朝食後&JAMISDP01~Z003&３日おき&99XSU|||5^D&日&ISO+|{}", d(0))],
                "PO^口^HL70162",
            ),
            (
                "6",
                format!("106238001^モーラステープＬ４０ｍｇ^HOT9|1||SHT^枚^MR9P|TPE^テープ剤^MR9P|^１日１回貼付^99I07|||28|SHT^枚^MR9P||||{order}||||||{outside}||||||23^外用^JHSP0003"),
                vec![format!("1||2A71000000000000&外用・貼付・１日１回&JAMISDP01||||{}", d(0))],
                "AP^外用^HL70162|LB^腰部^99XST",
            ),
        ];
        for (rp, rxe, tq1s, rxr) in &rps {
            self.orc("NW", &order, Some(rp), false);
            self.w.seg("RXE");
            self.w.raw(2, rxe);
            for t in tq1s {
                self.w.seg("TQ1");
                self.w.raw(1, t);
            }
            self.w.seg("RXR");
            self.w.raw(1, rxr);
        }
        self.emit(DataKind::Omp01, Some(day), Some(&order), Condition::Current)?;

        // The infusion, twice a day for two days, and what happened to each dose.
        let inj = self.next_order(day);
        let group = format!("{inj}_01_001");
        self.now = at(day, 8, 0);
        let rde = |g: &mut Self| {
            g.msh("RDE^O11^RDE_O11");
            g.pid();
            g.pv1("O", None, None, None);
            g.orc("NW", &inj, Some(&group), false);
            g.w.seg("RXE");
            g.w.raw(2, &format!("01^点滴^99I02|500||ML^ミリリットル^MR9P|INJ^注射剤^MR9P|^２時間かけて^99IC6|||1000|ML^ミリリットル^MR9P||||{inj}||||||OHP^外来注射^MR9P~OHI^院内処方^MR9P|H1|250|ml/hr^ミリリッター／時間^ISO+"));
            g.w.seg("TQ1");
            g.w.raw(1, &format!("1||3012000000000000&注射・点滴・１日２回&JAMISDP01|0900~2100||2^D&日&ISO+|{}|{}||処置後に開始|||2^H&時間&ISO+", d(0), d(1)));
            g.w.seg("RXR");
            g.w.raw(
                1,
                "IV^静脈内^HL70162|LA^左前腕^99XST|IVP^点滴ポンプ^HL70164",
            );
            g.w.seg("RXC");
            g.w.raw(1, "B|620008873^生理食塩液５００ｍＬ^HOT9|1|HON^本^MR9P");
            g.w.seg("RXC");
            g.w.raw(
                1,
                "A|620004432^セファゾリンナトリウム注射用１ｇ^HOT9|1|VIL^バイアル^MR9P",
            );
        };
        rde(self);
        self.emit(DataKind::Omp02, Some(day), Some(&inj), Condition::Current)?;

        self.now = at(day + 1, 9, 30);
        let nurse = self.f.nurses.first().map(Self::xcn).unwrap_or_default();
        self.msh("RAS^O17^RAS_O17");
        self.pid();
        self.pv1("O", None, None, None);
        self.orc("NW", &inj, Some(&group), false);
        let doses: [(String, String, &str, &str, &str); 3] = [
            (
                format!("{}0905", d(0)),
                format!("{}1110", d(0)),
                "500",
                "",
                "CP",
            ),
            (
                format!("{}2100", d(0)),
                String::new(),
                "0",
                "RE01^本人拒否^99XRA",
                "RE",
            ),
            (
                format!("{}0900", d(1)),
                String::new(),
                "0",
                "NA01^検査のため中止^99XRA",
                "NA",
            ),
        ];
        for (i, (start, end, amount, note, status)) in doses.iter().enumerate() {
            self.w.seg("RXA");
            self.w.raw(1, "0");
            self.w.raw(2, &format!("{}", i + 1));
            self.w.raw(3, start);
            self.w.raw(4, end);
            self.w.raw(5, "620008873^生理食塩液５００ｍＬ^HOT9");
            self.w.raw(6, amount);
            self.w.raw(7, "ML^ミリリットル^MR9P");
            self.w.raw(9, note);
            self.w.raw(10, &nurse);
            self.w.raw(20, status);
            time::push_ts(self.w.f(22), self.now - 10 * MS_MIN, 14);
        }
        self.w.seg("RXR");
        self.w.raw(
            1,
            "IV^静脈内^HL70162|LA^左前腕^99XST|IVP^点滴ポンプ^HL70164",
        );
        self.emit(DataKind::Omp12, Some(day), Some(&inj), Condition::Current)?;

        // A prescription cancelled half an hour later by a cancel message (ORC-1 `CA`) that
        // the sending system stores as a current file of its own, leaving the order's file
        // current too (SS-MIX2 would rename both to `_0`): the viewer must show the order
        // cancelled, never current (issue 14 fault 4).
        let cancelled = self.next_order(day);
        for (minute, ctrl) in [(0, "NW"), (30, "CA")] {
            self.now = at(day, 10, minute);
            self.msh("RDE^O11^RDE_O11");
            self.pid();
            self.pv1("O", None, None, None);
            self.orc(ctrl, &cancelled, Some("1"), false);
            self.w.seg("RXE");
            self.w.raw(2, &format!("610422042^アムロジピン錠５ｍｇ「サワイ」^HOT9|1||TAB^錠^MR9P|TAB^錠^MR9P||||14|TAB^錠^MR9P||||{cancelled}||||1^TAB&錠&MR9P||{outside}||||||21^内服^JHSP0003||||2171022F1093^アムロジピン錠５ｍｇ^YJ"));
            self.w.seg("TQ1");
            self.w.raw(
                1,
                &format!(
                    "1||1011000400000000&内服・経口・１日１回朝食後&JAMISDP01|||14^D&日&ISO+|{}",
                    d(0)
                ),
            );
            self.w.seg("RXR");
            self.w.raw(1, "PO^口^HL70162");
            self.emit(
                DataKind::Omp01,
                Some(day),
                Some(&cancelled),
                Condition::Current,
            )?;
        }
        Ok(())
    }
}
