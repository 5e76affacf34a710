//! Prescriptions and injections: orders (RDE^O11, OMP-01/02) and administrations (RAS^O17,
//! OMP-11/12). Each ORC starts a group (one Rp of a prescription, one bottle of an
//! injection); the segments after it (RXE, TQ1, RXR, RXC, RXA, NTE) belong to that group.

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{comment, comp_of, field_opt, Coded, Order, Person, Quantity, Timing};

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
