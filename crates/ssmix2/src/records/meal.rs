//! OMD meal order (OMD^O03): ORC, TQ1 (from when, which meals), ODS (diet codes and texts).

use hl7::Message;
use serde::{Deserialize, Serialize};

use super::common::{comment, field_opt, field_values, Coded, Order, Timing};

/// One diet line (ODS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diet {
    /// ODS-1: `D` diet, `S` supplement, `P` preference.
    pub diet_type: String,
    /// ODS-2 service period (which meals), every repetition.
    pub service_periods: Vec<Coded>,
    /// ODS-3 diet, supplement or preference codes, every repetition.
    pub codes: Vec<Coded>,
    /// ODS-4 free-text instructions (`塩分控えめ`), every repetition.
    pub texts: Vec<String>,
}

/// One ORC group of a meal order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MealOrder {
    pub order: Order,
    /// TQ1: start (TQ1-7), end (TQ1-8), meals (TQ1-3).
    pub timing: Vec<Timing>,
    pub diets: Vec<Diet>,
    pub comments: Vec<String>,
}

impl MealOrder {
    /// TQ1-7 of the first TQ1.
    pub fn start(&self) -> Option<&str> {
        self.timing.iter().find_map(|t| t.start.as_deref())
    }
    /// TQ1-8 of the first TQ1.
    pub fn end(&self) -> Option<&str> {
        self.timing.iter().find_map(|t| t.end.as_deref())
    }
}

/// OMD meal order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meal {
    pub orders: Vec<MealOrder>,
    pub comments: Vec<String>,
}

impl Meal {
    pub(crate) fn read(msg: &Message) -> Meal {
        let d = msg.delimiters();
        let mut out = Meal::default();
        for seg in msg.segments() {
            if seg.name() == "ORC" {
                out.orders.push(MealOrder {
                    order: Order::read(&seg),
                    ..MealOrder::default()
                });
                continue;
            }
            let Some(order) = out.orders.last_mut() else {
                if seg.name() == "NTE" {
                    out.comments.push(comment(&seg, d));
                }
                continue;
            };
            match seg.name() {
                "TQ1" => order.timing.push(Timing::read(&seg)),
                "ODS" => order.diets.push(Diet {
                    diet_type: field_opt(&seg, 1).unwrap_or_default(),
                    service_periods: Coded::all_from_field(seg.field(2)),
                    codes: Coded::all_from_field(seg.field(3)),
                    texts: field_values(seg.field(4)),
                }),
                "NTE" => order.comments.push(comment(&seg, d)),
                _ => {}
            }
        }
        out
    }
}
