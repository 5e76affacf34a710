//! ADT patterns the demo must show (issue 14): stays whose events are cancelled by cancel
//! messages stored as current files of their own (A11 / A12 / A13 / A25 / A26 / A27), timestamps with
//! seconds and zones (JST and UTC), transfers with their prior location, discharges with a
//! disposition (PV1-36), and a planned admission ahead of today.
//!
//! Written for a few hospital links (see `history`), after the ordinary history, in the
//! last weeks of the region's span.

use ssmix2::{Condition, DataKind};

use super::Gen;
use crate::tables::WARDS;
use crate::time::{self, at, Ms, MS_DAY, MS_MIN};

/// A PV1 written field by field in order (the writer only appends).
pub(super) struct Pv1<'s> {
    pub ward: Option<(usize, u32)>,
    pub prior: Option<(usize, u32)>,
    pub disposition: Option<&'s str>,
    pub admit: Option<&'s str>,
    pub discharge: Option<&'s str>,
}

/// `YYYYMMDDHHMMSS+0900`: JST with its zone.
fn jst(t: Ms) -> String {
    format!("{}+0900", time::ts(t, 14))
}

/// The same instant written in UTC (`…+0000`): a sender whose clock runs in UTC.
fn utc(t: Ms) -> String {
    format!("{}+0000", time::ts(t - 9 * 3_600_000, 14))
}

fn location(w: usize, room: u32) -> String {
    format!("{}^{}^{}^^^N", WARDS[w].0, room, 1 + room % 4)
}

impl Gen<'_> {
    pub(super) fn pv1_in_order(&mut self, p: &Pv1<'_>) {
        self.w.seg("PV1");
        self.w.raw(1, "0001");
        self.w.raw(2, "I");
        if let Some((w, room)) = p.ward {
            self.w.raw(3, &location(w, room));
        }
        if let Some((w, room)) = p.prior {
            self.w.raw(6, &location(w, room));
        }
        let d = Self::xcn(self.doc());
        self.w.raw(7, &d);
        if self.dept_code() != "-" {
            let dept = self.dept_code();
            self.w.raw(10, dept);
        }
        if let Some(disp) = p.disposition {
            self.w.raw(36, disp);
        }
        if let Some(a) = p.admit {
            self.w.raw(44, a);
        }
        if let Some(d) = p.discharge {
            self.w.raw(45, d);
        }
    }

    /// MSH, EVN (EVN-6 as given), PID and an in-order PV1.
    fn adt_event(&mut self, msg: &str, occurred: Option<&str>, pv1: &Pv1<'_>) {
        self.msh(msg);
        self.w.seg("EVN");
        time::push_ts(self.w.f(2), self.now, 14);
        if let Some(o) = occurred {
            self.w.raw(6, o);
        }
        self.pid();
        self.pv1_in_order(pv1);
    }

    pub(super) fn adt_cases(&mut self) -> Result<(), crate::SynthError> {
        let end = self.region.end;
        let ward = self.p.idx % (WARDS.len() - 1);
        let room = 401 + (self.p.idx % 19) as u32;
        let here = Some((ward, room));

        // 1. An admission cancelled by A11 (both current files): never shown as a stay.
        let day = end - 26;
        let admit = at(day, 11, 5) + 30_000;
        let a = jst(admit);
        self.now = admit;
        self.adt_event(
            "ADT^A01^ADT_A01",
            Some(&a),
            &Pv1 {
                ward: here,
                prior: None,
                disposition: None,
                admit: Some(&a),
                discharge: None,
            },
        );
        self.emit(DataKind::Adt22, Some(day), None, Condition::Current)?;
        self.now = admit + 2 * 3_600_000;
        self.adt_event(
            "ADT^A11^ADT_A09",
            None,
            &Pv1 {
                ward: here,
                prior: None,
                disposition: None,
                admit: Some(&a),
                discharge: None,
            },
        );
        self.emit(DataKind::Adt22, Some(day), None, Condition::Current)?;

        // 2. A stay: admitted (time in UTC), transferred, a transfer cancelled by A12, a
        //    discharge cancelled by A13, then the real discharge with its disposition.
        let day = end - 20;
        let admit = at(day, 9, 40) + 15_000;
        let a_utc = utc(admit);
        self.now = admit;
        self.adt_event(
            "ADT^A01^ADT_A01",
            Some(&a_utc),
            &Pv1 {
                ward: here,
                prior: None,
                disposition: None,
                admit: Some(&a_utc),
                discharge: None,
            },
        );
        self.emit(DataKind::Adt22, Some(day), None, Condition::Current)?;
        let a = jst(admit);
        let new_ward = (ward + 1) % (WARDS.len() - 1);
        let tday = day + 2;
        let moved = at(tday, 14, 0);
        let m = jst(moved);
        self.now = moved;
        self.adt_event(
            "ADT^A02^ADT_A02",
            Some(&m),
            &Pv1 {
                ward: Some((new_ward, room + 100)),
                prior: here,
                disposition: None,
                admit: Some(&a),
                discharge: None,
            },
        );
        self.emit(DataKind::Adt42, Some(tday), None, Condition::Current)?;
        // A second transfer entered by mistake, then cancelled by A12.
        let wrong = at(tday + 1, 10, 0);
        let w = jst(wrong);
        self.now = wrong;
        self.adt_event(
            "ADT^A02^ADT_A02",
            Some(&w),
            &Pv1 {
                ward: Some((ward, room)),
                prior: Some((new_ward, room + 100)),
                disposition: None,
                admit: Some(&a),
                discharge: None,
            },
        );
        self.emit(DataKind::Adt42, Some(tday + 1), None, Condition::Current)?;
        self.now = wrong + 40 * MS_MIN;
        self.adt_event(
            "ADT^A12^ADT_A12",
            Some(&w),
            &Pv1 {
                ward: Some((ward, room)),
                prior: Some((new_ward, room + 100)),
                disposition: None,
                admit: Some(&a),
                discharge: None,
            },
        );
        self.emit(DataKind::Adt42, Some(tday + 1), None, Condition::Current)?;
        // A planned transfer and a planned discharge, each cancelled by its cancel message
        // (A26, A25) stored as a current file.
        for (plan, cancel, kind, field, when) in [
            (
                "ADT^A15^ADT_A15",
                "ADT^A26^ADT_A21",
                DataKind::Adt41,
                8,
                at(day + 4, 10, 0),
            ),
            (
                "ADT^A16^ADT_A16",
                "ADT^A25^ADT_A21",
                DataKind::Adt51,
                9,
                at(day + 5, 10, 0),
            ),
        ] {
            self.now = when - MS_DAY;
            for msg in [plan, cancel] {
                self.msh(msg);
                self.w.seg("EVN");
                time::push_ts(self.w.f(2), self.now, 14);
                self.pid();
                self.pv1_in_order(&Pv1 {
                    ward: Some((new_ward, room + 100)),
                    prior: None,
                    disposition: None,
                    admit: Some(&a),
                    discharge: None,
                });
                self.w.seg("PV2");
                self.w.raw(field, &time::ts(when, 12));
                self.emit(kind, Some(time::day_of(when)), None, Condition::Current)?;
                self.now += 20 * MS_MIN;
            }
        }
        // Discharge sent too early, cancelled by A13, then the real one.
        let early_day = day + 6;
        let early = at(early_day, 10, 30);
        let e = jst(early);
        self.now = early;
        self.adt_event(
            "ADT^A03^ADT_A03",
            Some(&e),
            &Pv1 {
                ward: Some((new_ward, room + 100)),
                prior: None,
                disposition: Some("01^自宅^HL70112"),
                admit: Some(&a),
                discharge: Some(&e),
            },
        );
        self.emit(DataKind::Adt52, Some(early_day), None, Condition::Current)?;
        self.now = early + 3 * 3_600_000;
        self.adt_event(
            "ADT^A13^ADT_A01",
            Some(&e),
            &Pv1 {
                ward: Some((new_ward, room + 100)),
                prior: None,
                disposition: None,
                admit: Some(&a),
                discharge: Some(&e),
            },
        );
        self.emit(DataKind::Adt52, Some(early_day), None, Condition::Current)?;
        let out_day = day + 9;
        let out = at(out_day, 10, 15) + 45_000;
        let o = format!("{}.25+0900", time::ts(out, 14));
        self.now = out;
        self.adt_event(
            "ADT^A03^ADT_A03",
            Some(&o),
            &Pv1 {
                ward: Some((new_ward, room + 100)),
                prior: None,
                disposition: Some("02^他院へ転院^HL70112"),
                admit: Some(&a),
                discharge: Some(&o),
            },
        );
        self.emit(DataKind::Adt52, Some(out_day), None, Condition::Current)?;

        // 3. Planned admissions ahead of today: one cancelled by A27, one standing.
        let plan_day = end + 40;
        let planned = at(plan_day, 10, 0);
        self.now = at(end - 2, 15, 0);
        for (msg, cond_day) in [("ADT^A14^ADT_A05", plan_day), ("ADT^A27^ADT_A21", plan_day)] {
            self.msh(msg);
            self.w.seg("EVN");
            time::push_ts(self.w.f(2), self.now, 14);
            self.pid();
            self.pv1_in_order(&Pv1 {
                ward: here,
                prior: None,
                disposition: None,
                admit: None,
                discharge: None,
            });
            self.w.seg("PV2");
            self.w.raw(8, &time::ts(planned, 12));
            self.emit(DataKind::Adt21, Some(cond_day), None, Condition::Current)?;
            self.now += 30 * MS_MIN;
        }
        let plan_day = end + 60;
        let planned = at(plan_day, 9, 30);
        self.now = at(end - 1, 16, 0);
        self.msh("ADT^A14^ADT_A05");
        self.w.seg("EVN");
        time::push_ts(self.w.f(2), self.now, 14);
        self.pid();
        self.pv1_in_order(&Pv1 {
            ward: here,
            prior: None,
            disposition: None,
            admit: None,
            discharge: None,
        });
        self.w.seg("PV2");
        self.w.raw(8, &time::ts(planned, 12));
        self.w.raw(9, &time::date8(plan_day + 10));
        self.emit(DataKind::Adt21, Some(plan_day), None, Condition::Current)?;
        Ok(())
    }
}
