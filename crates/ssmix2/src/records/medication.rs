//! Prescriptions and injections: orders (RDE^O11, OMP-01/02) and administrations (RAS^O17,
//! OMP-11/12). Each ORC starts a group (one Rp of a prescription, one bottle of an
//! injection); the segments after it (RXE, TQ1, RXR, RXC, RXA, NTE) belong to that group.

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{comment, comp_of, field_opt, Coded, Order, Person, Quantity, Timing};
use crate::dosing::{self, Rhythm};

/// Route of administration (RXR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// RXR-1 route (`PO^口^HL70162`, `IV^静脈内^HL70162`).
    pub route: Option<Coded>,
    /// RXR-2 site (JAMI usage code for external use, or HL70163).
    pub site: Option<Coded>,
    /// RXR-3 administration device (`IVP^点滴ポンプ^HL70164`).
    pub device: Option<Coded>,
    /// RXR-4 administration method.
    pub method: Option<Coded>,
}

impl Route {
    fn read(seg: &hl7::Segment<'_>) -> Route {
        Route {
            route: Coded::from_field(seg.field(1)),
            site: Coded::from_field(seg.field(2)),
            device: Coded::from_field(seg.field(3)),
            method: Coded::from_field(seg.field(4)),
        }
    }
}

/// One drug of an injection mix (RXC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectionComponent {
    /// RXC-1: `B` base (solution), `A` additive.
    pub component_type: String,
    /// RXC-2 drug (HOT code).
    pub drug: Option<Coded>,
    /// RXC-3 amount.
    pub amount: Option<String>,
    /// RXC-4 unit (`AMP^アンプル^MR9P`).
    pub unit: Option<Coded>,
}

/// One order group of a prescription or injection order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationItem {
    pub order: Order,
    /// RXE-2: the drug (HOT code) for prescriptions; for injections the order category
    /// (the drugs are in `components`).
    pub drug: Option<Coded>,
    /// RXE-3 dose (minimum).
    pub dose: Option<String>,
    /// RXE-4 dose maximum.
    pub dose_max: Option<String>,
    /// RXE-5 dose unit (`TAB^錠^MR9P`).
    pub dose_unit: Option<Coded>,
    /// RXE-6 dosage form (`PWD^散剤^MR9P`).
    pub form: Option<Coded>,
    /// RXE-7 instructions, every repetition.
    pub instructions: Vec<Coded>,
    /// RXE-10 total amount dispensed.
    pub total_amount: Option<String>,
    /// RXE-11 unit of the total.
    pub total_unit: Option<Coded>,
    /// RXE-15 prescription number.
    pub prescription_no: Option<String>,
    /// RXE-19 daily dose (`3^TAB&錠&MR9P`).
    pub daily_dose: Option<Quantity>,
    /// RXE-21 prescription category (`OHP^外来処方^MR9P~OHI^院内処方^MR9P`).
    pub categories: Vec<Coded>,
    /// RXE-22 give per time unit (injection rate period).
    pub per_time_unit: Option<String>,
    /// RXE-23 rate amount.
    pub rate: Option<String>,
    /// RXE-24 rate unit.
    pub rate_unit: Option<Coded>,
    /// RXE-27 drug kind (21 oral, 22 as needed, 23 topical…), every repetition.
    pub kinds: Vec<Coded>,
    /// RXE-31 supplementary codes (YJ code).
    pub supplementary_codes: Vec<Coded>,
    /// TQ1 segments: usage (JAMISDP01), days, start/end.
    pub timing: Vec<Timing>,
    /// RXR segments.
    pub routes: Vec<Route>,
    /// RXC segments (injections).
    pub components: Vec<InjectionComponent>,
    pub comments: Vec<String>,
}

impl MedicationItem {
    /// HOT code of the drug (RXE-2).
    pub fn hot(&self) -> Option<&str> {
        self.drug.as_ref().and_then(Coded::hot)
    }

    /// YJ code from RXE-31 (or RXE-2 when sent there).
    pub fn yj(&self) -> Option<&str> {
        self.supplementary_codes
            .iter()
            .find_map(Coded::yj)
            .or_else(|| self.drug.as_ref().and_then(Coded::yj))
    }

    /// Days from the first TQ1-6.
    pub fn days(&self) -> Option<u32> {
        self.timing.iter().find_map(Timing::days)
    }

    /// Usage (用法) from the first TQ1-3.
    pub fn usage(&self) -> Option<&Coded> {
        self.timing.iter().find_map(|t| t.usage.first())
    }

    /// Supplementary usages (補足用法: 隔日, 月・木, 1日3回まで…): every TQ1-3 repetition
    /// after the first of a TQ1, and the usage of a further TQ1 that is not a per-time dose
    /// (see [`MedicationItem::per_time_doses`]).
    pub fn supplementary_usages(&self) -> Vec<&Coded> {
        let mut out = Vec::new();
        let mut basic_seen = false;
        for t in &self.timing {
            for (i, u) in t.usage.iter().enumerate() {
                let per_time_label = i == 0 && t.quantity.is_some();
                if i == 0 && !basic_seen && !per_time_label {
                    basic_seen = true;
                    continue;
                }
                if !per_time_label {
                    out.push(u);
                }
            }
        }
        out
    }

    /// As needed (頓用): RXE-27 `22`, or a usage that says 頓用 / 頓服.
    pub fn as_needed(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| k.code == "22" || k.text.contains("頓用"))
            || self
                .timing
                .iter()
                .flat_map(|t| &t.usage)
                .any(|u| dosing::says_as_needed(u.display()))
    }

    /// How the taking days follow each other (see [`dosing`]).
    pub fn rhythm(&self) -> Rhythm {
        dosing::rhythm_of_usages(
            self.supplementary_usages().into_iter().map(|u| {
                let text = if u.text.is_empty() {
                    &u.alt_text
                } else {
                    &u.text
                };
                (u.code.as_str(), text.as_str())
            }),
            self.as_needed(),
        )
    }

    /// Per-time doses of an uneven (不均等) prescription: each TQ1 that carries its own
    /// quantity (TQ1-2) with its time (TQ1-3 usage, else TQ1-4 explicit times), in order.
    pub fn per_time_doses(&self) -> Vec<PerTimeDose> {
        self.timing
            .iter()
            .filter_map(|t| {
                let q = t.quantity.as_ref()?;
                Some(PerTimeDose {
                    when: t
                        .usage
                        .first()
                        .map(|u| u.display().to_owned())
                        .unwrap_or_else(|| t.explicit_times.join("・")),
                    amount: q.amount.clone(),
                    unit: q
                        .unit
                        .as_ref()
                        .map(|u| u.display().to_owned())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The dose differs between the times of a day: RXE-4 (maximum) differs from RXE-3, or
    /// the per-time doses differ.
    pub fn uneven(&self) -> bool {
        let max_differs = match (&self.dose, &self.dose_max) {
            (Some(min), Some(max)) => !max.is_empty() && min != max,
            (None, Some(max)) => !max.is_empty(),
            _ => false,
        };
        let per_time = self.per_time_doses();
        max_differs || per_time.windows(2).any(|w| w[0].amount != w[1].amount)
    }

    /// The first day (`YYYYMMDD…` as sent): TQ1-7, else the order time (ORC-9).
    pub fn start(&self) -> Option<&str> {
        self.timing
            .iter()
            .find_map(|t| t.start.as_deref().filter(|s| s.len() >= 8))
            .or(self.order.ordered_at.as_deref())
    }

    /// The last calendar day (`YYYYMMDD`): TQ1-8 when sent, else computed from the start,
    /// the taking days and the rhythm; `None` when it cannot be computed with certainty.
    pub fn calendar_end(&self) -> Option<String> {
        if let Some(end) = self
            .timing
            .iter()
            .find_map(|t| t.end.as_deref().filter(|s| s.len() >= 8))
        {
            return end.get(..8).map(str::to_owned);
        }
        dosing::calendar_end(self.start()?, self.days()?, &self.rhythm())
    }

    /// Dispensing category from RXE-21: 院内 / 院外.
    pub fn dispensing(&self) -> Option<&'static str> {
        dosing::dispensing(
            self.categories
                .iter()
                .map(|c| (c.code.as_str(), c.text.as_str())),
        )
    }
}

/// One time's dose of an uneven prescription (朝 4錠, 昼 2錠, 夕 1錠).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerTimeDose {
    /// The time (`内服・経口・朝食後`, or TQ1-4 times).
    pub when: String,
    pub amount: String,
    pub unit: String,
}

/// OMP-01 prescription order / OMP-02 injection order (RDE^O11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationOrder {
    /// One per ORC.
    pub items: Vec<MedicationItem>,
    /// NTE before the first ORC.
    pub comments: Vec<String>,
}

impl MedicationOrder {
    pub(crate) fn read(msg: &Message) -> MedicationOrder {
        let d = msg.delimiters();
        let mut out = MedicationOrder::default();
        for seg in msg.segments() {
            if seg.name() == "ORC" {
                out.items.push(MedicationItem {
                    order: Order::read(&seg),
                    ..MedicationItem::default()
                });
                continue;
            }
            let Some(item) = out.items.last_mut() else {
                if seg.name() == "NTE" {
                    out.comments.push(comment(&seg, d));
                }
                continue;
            };
            match seg.name() {
                // A second RXE in one group is not expected; the first one wins and the
                // later one is still readable from the raw message.
                "RXE" if item.drug.is_none() && item.dose.is_none() => {
                    item.drug = Coded::from_field(seg.field(2));
                    item.dose = field_opt(&seg, 3);
                    item.dose_max = field_opt(&seg, 4);
                    item.dose_unit = Coded::from_field(seg.field(5));
                    item.form = Coded::from_field(seg.field(6));
                    item.instructions = Coded::all_from_field(seg.field(7));
                    item.total_amount = field_opt(&seg, 10);
                    item.total_unit = Coded::from_field(seg.field(11));
                    item.prescription_no = field_opt(&seg, 15);
                    item.daily_dose = Quantity::from_field(seg.field(19));
                    item.categories = Coded::all_from_field(seg.field(21));
                    item.per_time_unit = field_opt(&seg, 22);
                    item.rate = field_opt(&seg, 23);
                    item.rate_unit = Coded::from_field(seg.field(24));
                    item.kinds = Coded::all_from_field(seg.field(27));
                    item.supplementary_codes = Coded::all_from_field(seg.field(31));
                }
                "TQ1" => item.timing.push(Timing::read(&seg)),
                "RXR" => item.routes.push(Route::read(&seg)),
                "RXC" => item.components.push(read_component(&seg)),
                "NTE" => item.comments.push(comment(&seg, d)),
                _ => {}
            }
        }
        out
    }
}

fn read_component(seg: &hl7::Segment<'_>) -> InjectionComponent {
    InjectionComponent {
        component_type: field_opt(seg, 1).unwrap_or_default(),
        drug: Coded::from_field(seg.field(2)),
        amount: field_opt(seg, 3),
        unit: Coded::from_field(seg.field(4)),
    }
}

/// One administration (RXA).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Administration {
    /// RXA-1 give sub-ID counter.
    pub sub_id: Option<String>,
    /// RXA-2 administration sub-ID counter.
    pub sequence: Option<String>,
    /// RXA-3 start.
    pub start: Option<String>,
    /// RXA-4 end.
    pub end: Option<String>,
    /// RXA-5 drug (HOT code).
    pub drug: Option<Coded>,
    /// RXA-6 amount.
    pub amount: Option<String>,
    /// RXA-7 unit.
    pub unit: Option<Coded>,
    /// RXA-8 dosage form.
    pub form: Option<Coded>,
    /// RXA-9 notes.
    pub notes: Vec<Coded>,
    /// RXA-10 who administered.
    pub administered_by: Vec<Person>,
    /// RXA-11 where (first component: ward or clinic).
    pub location: Option<String>,
    /// RXA-20 completion status (`CP` complete, `PA` partial, `NA` not given, `RE` refused).
    pub completion_status: Option<String>,
    /// RXA-21 action code (`A` add, `U` update, `D` delete).
    pub action_code: Option<String>,
    /// RXA-22 system entry date-time.
    pub recorded_at: Option<String>,
}

/// One ORC group of an administration message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdministrationGroup {
    pub order: Order,
    pub timing: Vec<Timing>,
    pub administrations: Vec<Administration>,
    pub routes: Vec<Route>,
    pub components: Vec<InjectionComponent>,
    pub comments: Vec<String>,
}

/// OMP-11 prescription administered / OMP-12 injection administered (RAS^O17).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationAdministration {
    pub groups: Vec<AdministrationGroup>,
    pub comments: Vec<String>,
}

impl MedicationAdministration {
    pub(crate) fn read(msg: &Message) -> MedicationAdministration {
        let d = msg.delimiters();
        let mut out = MedicationAdministration::default();
        for seg in msg.segments() {
            if seg.name() == "ORC" {
                out.groups.push(AdministrationGroup {
                    order: Order::read(&seg),
                    ..AdministrationGroup::default()
                });
                continue;
            }
            let Some(g) = out.groups.last_mut() else {
                if seg.name() == "NTE" {
                    out.comments.push(comment(&seg, d));
                }
                continue;
            };
            match seg.name() {
                "RXA" => g.administrations.push(Administration {
                    sub_id: field_opt(&seg, 1),
                    sequence: field_opt(&seg, 2),
                    start: field_opt(&seg, 3),
                    end: field_opt(&seg, 4),
                    drug: Coded::from_field(seg.field(5)),
                    amount: field_opt(&seg, 6),
                    unit: Coded::from_field(seg.field(7)),
                    form: Coded::from_field(seg.field(8)),
                    notes: Coded::all_from_field(seg.field(9)),
                    administered_by: Person::all_from_field(seg.field(10)),
                    location: comp_of(&seg, 11, 1),
                    completion_status: field_opt(&seg, 20),
                    action_code: field_opt(&seg, 21),
                    recorded_at: field_opt(&seg, 22),
                }),
                "TQ1" => g.timing.push(Timing::read(&seg)),
                "RXR" => g.routes.push(Route::read(&seg)),
                "RXC" => g.components.push(read_component(&seg)),
                "NTE" => g.comments.push(comment(&seg, d)),
                _ => {}
            }
        }
        out
    }

    /// Every administration, in message order.
    pub fn all(&self) -> impl Iterator<Item = &Administration> {
        self.groups.iter().flat_map(|g| &g.administrations)
    }
}
