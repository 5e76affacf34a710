//! Meal orders (OMD): from when, which meals, the diet (食種) and its instructions.

use askama::Template;
use ssmix2::records::{Header, Meal};

use super::{coded, person, view, when, ViewContext};
use service::ServiceError;

/// ODS-1 diet type.
fn diet_type(t: &str) -> String {
    match t {
        "D" => "食事 diet".into(),
        "S" => "補助食品 supplement".into(),
        "P" => "嗜好 preference".into(),
        "" => String::new(),
        other => format!("{other} (未定義 unknown type)"),
    }
}

struct DietRow {
    kind: String,
    meals: String,
    diet: String,
    texts: String,
}

struct OrderView {
    start: String,
    end: String,
    meals: String,
    ordered: String,
    doctor: String,
    control: String,
    diets: Vec<DietRow>,
    comments: Vec<String>,
}

#[derive(Template)]
#[template(path = "records/meal.html")]
struct MealView {
    orders: Vec<OrderView>,
    comments: Vec<String>,
}

pub(super) fn meal(
    _header: &Header,
    record: &Meal,
    _cx: &ViewContext<'_>,
) -> Result<Option<String>, ServiceError> {
    let join = |v: Vec<String>| {
        v.into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("、")
    };
    let orders = record
        .orders
        .iter()
        .map(|o| OrderView {
            start: when(o.start()),
            end: when(o.end()),
            meals: join(
                o.timing
                    .iter()
                    .flat_map(|t| &t.usage)
                    .map(|c| coded(Some(c)))
                    .collect(),
            ),
            ordered: when(o.order.ordered_at.as_deref()),
            doctor: person(o.order.ordering_doctor.as_ref()),
            control: o.order.control.clone(),
            diets: o
                .diets
                .iter()
                .map(|d| DietRow {
                    kind: diet_type(&d.diet_type),
                    meals: join(d.service_periods.iter().map(|c| coded(Some(c))).collect()),
                    diet: join(d.codes.iter().map(|c| coded(Some(c))).collect()),
                    texts: join(d.texts.clone()),
                })
                .collect(),
            comments: o.comments.clone(),
        })
        .collect();
    view(&MealView {
        orders,
        comments: record.comments.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture_view;

    #[test]
    fn meal_order_shows_period_meals_diets_and_instructions() {
        let html = fixture_view("OMD");
        // TQ1-7/8 with hour precision (`2011101607`): the day at least, never "undated".
        assert!(html.contains("2011-10-16"), "start: {html}");
        assert!(html.contains("2011-10-20"), "end: {html}");
        assert!(html.contains("１日３回"), "meals: {html}");
        assert!(html.contains("常食"));
        assert!(html.contains("エネルギー制限食１６００kcal"));
        assert!(html.contains("塩分控えめ、刻み食"));
        assert!(html.contains("嚥下状態により変更あり"));
        assert!(html.contains("食事 diet"));
        assert!(html.contains("医師　一郎 (110)"));
    }
}
