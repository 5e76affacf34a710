//! The trend chart of one lab test, drawn on the server as inline SVG: no chart library and
//! no script, so it shows on any tablet browser, prints, and is read by screen readers
//! through its `<title>`/`<desc>` and the data table the page puts below it.
//!
//! Pure functions only (no I/O): reference-range parsing, value parsing, linear scales, tick
//! choice and the SVG text itself, each unit-tested here.

use std::fmt::Write;

/// A reference range (基準値) as far as it is numeric: `3.5-5.0` has both bounds, `<=40`
/// only a high one, `>=60` only a low one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefRange {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl RefRange {
    /// Is `v` outside the range? Bounds are inclusive (`<40` and `<=40` are read alike:
    /// laboratories write both for the same meaning).
    pub fn outside(&self, v: f64) -> bool {
        self.low.is_some_and(|l| v < l) || self.high.is_some_and(|h| v > h)
    }
}

/// Full-width digits, signs and range marks as ASCII (`３．５～５．０` → `3.5~5.0`):
/// facilities send both widths, and the same range must parse the same way.
pub fn ascii_numeric(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '０'..='９' => out.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '．' => out.push('.'),
            '，' => out.push(','),
            '－' | '−' | '‐' | '–' | '—' => out.push('-'),
            '＋' => out.push('+'),
            '～' | '〜' | '∼' => out.push('~'),
            '＜' => out.push('<'),
            '＞' => out.push('>'),
            '＝' => out.push('='),
            '≦' | '≤' => out.push_str("<="),
            '≧' | '≥' => out.push_str(">="),
            '\u{3000}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A number at the start of `s` (optional sign, digits, optional decimals) and the rest.
fn leading_number(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let digits_from = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i == digits_from || !b[digits_from..i].iter().any(u8::is_ascii_digit) {
        return None;
    }
    let v: f64 = s[..i].parse().ok()?;
    Some((v, &s[i..]))
}

/// Only a unit or nothing may follow a number (`40 U/L`), not another number.
fn ends_cleanly(rest: &str) -> bool {
    !rest
        .trim_start()
        .starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// Parse a reference range as sent in OBX-7: `3.5-5.0`, `3.5～5.0`, `-2.0-2.0`, `<=40`,
/// `≦40`, `<0.5`, `>=60`, `40以下`, `60以上`, full-width digits included. `None` when the
/// text is not numeric (`陰性`, empty).
pub fn parse_reference_range(text: &str) -> Option<RefRange> {
    let s: String = ascii_numeric(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if s.is_empty() {
        return None;
    }
    let high = |v: f64| RefRange {
        low: None,
        high: Some(v),
    };
    let low = |v: f64| RefRange {
        low: Some(v),
        high: None,
    };
    for (prefix, upper) in [
        ("<=", true),
        ("=<", true),
        ("<", true),
        (">=", false),
        ("=>", false),
        (">", false),
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            let (v, rest) = leading_number(rest)?;
            if !ends_cleanly(rest) {
                return None;
            }
            return Some(if upper { high(v) } else { low(v) });
        }
    }
    for (suffix, upper) in [
        ("以下", true),
        ("未満", true),
        ("以上", false),
        ("超", false),
    ] {
        if let Some(num) = s.strip_suffix(suffix) {
            let (v, rest) = leading_number(num)?;
            if !rest.is_empty() {
                return None;
            }
            return Some(if upper { high(v) } else { low(v) });
        }
    }
    let (a, rest) = leading_number(&s)?;
    let rest = rest.strip_prefix(['-', '~'])?;
    let (b, rest) = leading_number(rest)?;
    if !ends_cleanly(rest) || a > b {
        return None;
    }
    Some(RefRange {
        low: Some(a),
        high: Some(b),
    })
}

/// The numeric value of a result, if it has one: `8.9`, `８．９`; a censored value such as
/// `<0.5` is drawn at its bound. `陰性`, `(+)` and empty are not numeric.
pub fn parse_value(text: &str) -> Option<f64> {
    let s: String = ascii_numeric(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let s = s.trim_start_matches(['<', '>', '=']);
    let (v, rest) = leading_number(s)?;
    (rest.is_empty() || ends_cleanly(rest) && !rest.starts_with(['-', '~'])).then_some(v)
}

/// A linear map from a domain onto a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Linear {
    /// Maps `v`; a zero-width domain maps everything to the middle of the range.
    pub fn map(&self, v: f64) -> f64 {
        if (self.d1 - self.d0).abs() < f64::EPSILON {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)
    }
}

/// "Nice" ticks (steps of 1, 2 or 5 × 10ⁿ) covering `[lo, hi]` with at most about
/// `max_ticks` ticks; returns the ticks and the step.
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    // One value (or all equal): open an axis around it rather than a single tick.
    let (lo, hi) = if hi - lo > f64::EPSILON {
        (lo, hi)
    } else {
        let half = (lo.abs() * 0.1).max(1.0);
        (lo - half, hi + half)
    };
    let span = hi - lo;
    let rough = span / max_ticks.max(2) as f64;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut t = first;
    // The loop bound guards against float drift; 50 ticks is far beyond any chart.
    while ticks.len() < 50 {
        ticks.push(round_to(t, step));
        if t >= hi - step * 1e-9 {
            break;
        }
        t += step;
    }
    (ticks, step)
}

fn round_to(v: f64, step: f64) -> f64 {
    let d = decimals(step);
    let p = 10f64.powi(d as i32);
    (v * p).round() / p
}

/// Decimal places that show a tick step exactly (0 for 5, 1 for 0.2, 2 for 0.05).
pub fn decimals(step: f64) -> usize {
    if step <= 0.0 || !step.is_finite() {
        return 0;
    }
    (-step.log10().floor()).clamp(0.0, 4.0) as usize
}

/// A tick label: `5`, `0.2`, `-1.5`.
pub fn label(v: f64, step: f64) -> String {
    let s = format!("{:.*}", decimals(step), v);
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// One result of the test.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `YYYYMMDD`.
    pub date: String,
    /// The observation time as sent (`YYYYMMDD[HHMM[SS]]…`): results of one day are placed
    /// by their time, so repeated measurements of a day are all visible.
    pub at: String,
    /// As sent.
    pub value: String,
    pub unit: String,
    /// OBX-8 (`H`, `L`…), empty when normal.
    pub flag: String,
    pub reference_range: String,
    /// Facility name (or code) for the point's tooltip.
    pub source: String,
}

impl Point {
    /// Abnormal: flagged by the laboratory (anything but `N`), or outside its own reference
    /// range when the laboratory sent no flag.
    pub fn abnormal(&self) -> bool {
        let flag = self.flag.trim();
        if !flag.is_empty() && flag != "N" {
            return true;
        }
        match (
            parse_value(&self.value),
            parse_reference_range(&self.reference_range),
        ) {
            (Some(v), Some(r)) => r.outside(v),
            _ => false,
        }
    }

    /// Days since 1970 with the time of day as a fraction (the x of the point).
    fn x_days(&self) -> Option<f64> {
        let day = store::day_number(&self.date)? as f64;
        let hm = self
            .at
            .get(8..12)
            .filter(|t| t.bytes().all(|b| b.is_ascii_digit()));
        let minutes = hm.map_or(0.0, |t| {
            let h: f64 = t[..2].parse().unwrap_or(0.0);
            let m: f64 = t[2..].parse().unwrap_or(0.0);
            h * 60.0 + m
        });
        Some(day + minutes / 1440.0)
    }
}

/// What to draw: one test in **one unit**. A test whose results came in several units is
/// drawn as one chart per unit ([`by_unit`]): values of different units never share an
/// axis (no conversion is guessed).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Makes the SVG's element ids unique on a page with several charts.
    pub id: String,
    /// Test name, for the accessible title.
    pub name: String,
    pub unit: String,
    /// Oldest first. Each point's own reference range is its band: the band follows the
    /// ranges over time.
    pub points: Vec<Point>,
}

/// One chart per unit (spellings of one unit together, see `service::unit_key`), in order
/// of first appearance; points oldest first.
pub fn by_unit(id: &str, name: &str, points: &[Point]) -> Vec<Chart> {
    let mut out: Vec<(String, Chart)> = Vec::new();
    for p in points {
        let key = service::unit_key(&p.unit);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => c.points.push(p.clone()),
            None => {
                let n = out.len();
                out.push((
                    key,
                    Chart {
                        id: format!("{id}-{n}"),
                        name: name.to_owned(),
                        unit: p.unit.trim().to_owned(),
                        points: vec![p.clone()],
                    },
                ))
            }
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// The distinct reference ranges of a chart's points, as sent, oldest first.
pub fn ranges(chart: &Chart) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &chart.points {
        let r = p.reference_range.trim();
        if !r.is_empty() && !out.iter().any(|x| x == r) {
            out.push(r.to_owned());
        }
    }
    out
}

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 280.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
const RED: &str = "#c53030";
const BLUE: &str = "#2b6cb0";

/// `&`, `<`, `>`, `"` and `'` escaped for SVG text and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The viewer's one date display (any HL7 TS precision, JST).
fn show_date(d: &str) -> String {
    model::show_hl7_date(d)
}

/// `YYYY-MM-DD HH:MM` when the time was sent, else the date.
fn show_at(at: &str, date: &str) -> String {
    match at
        .get(8..12)
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(t) => format!("{} {}:{}", show_date(date), &t[..2], &t[2..]),
        None => show_date(date),
    }
}

/// Where each numeric point goes, and the scales: shared by the drawing and the tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub x: Linear,
    pub y: Linear,
    pub y_ticks: Vec<f64>,
    pub y_step: f64,
    /// Day numbers of the date ticks.
    pub x_ticks: Vec<i64>,
    /// (index into `points`, x, y) of each numeric point.
    pub placed: Vec<(usize, f64, f64)>,
    /// Reference bands: (x from, x to, range, its text), one per run of consecutive points
    /// with the same range.
    pub bands: Vec<(f64, f64, RefRange, String)>,
}

/// Lay the chart out: x proportional to time (days), y over the values and the reference
/// range (so the band is always visible), both widened to nice ticks.
pub fn layout(chart: &Chart) -> Option<Layout> {
    let numeric: Vec<(usize, f64, f64)> = chart
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.x_days()?, parse_value(&p.value)?)))
        .collect();
    if numeric.is_empty() {
        return None;
    }
    let mut lo = numeric.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let mut hi = numeric
        .iter()
        .map(|p| p.2)
        .fold(f64::NEG_INFINITY, f64::max);
    for &(i, _, _) in &numeric {
        if let Some(r) = parse_reference_range(&chart.points[i].reference_range) {
            for b in [r.low, r.high].into_iter().flatten() {
                lo = lo.min(b);
                hi = hi.max(b);
            }
        }
    }
    let (y_ticks, y_step) = nice_ticks(lo, hi, 5);
    let (y0, y1) = match (y_ticks.first(), y_ticks.last()) {
        (Some(a), Some(b)) if b > a => (*a, *b),
        _ => (lo - 1.0, hi + 1.0),
    };
    let y = Linear {
        d0: y0,
        d1: y1,
        r0: HEIGHT - BOTTOM,
        r1: TOP,
    };
    let first_x = numeric.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let last_x = numeric
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let (first, last) = (first_x.floor() as i64, last_x.floor() as i64);
    // A little room at both ends so the first and last points are not on the axis.
    let pad = ((last_x - first_x) * 0.04).max(1.0);
    let x = Linear {
        d0: first_x - pad,
        d1: last_x + pad,
        r0: LEFT,
        r1: WIDTH - RIGHT,
    };
    let n = ((last - first) as usize + 1).min(5);
    let x_ticks = if n <= 1 {
        vec![first]
    } else {
        (0..n)
            .map(|k| first + ((last - first) as f64 * k as f64 / (n - 1) as f64).round() as i64)
            .collect()
    };
    let placed: Vec<(usize, f64, f64)> = numeric
        .iter()
        .map(|&(i, day, v)| (i, x.map(day), y.map(v)))
        .collect();
    // Bands: each run of points sharing one range gets its band, from halfway to the
    // previous point to halfway to the next (the chart's edges at the ends).
    let mut bands: Vec<(f64, f64, RefRange, String)> = Vec::new();
    let mut k = 0;
    while k < placed.len() {
        let text = chart.points[placed[k].0].reference_range.trim().to_owned();
        let mut end = k;
        while end + 1 < placed.len()
            && chart.points[placed[end + 1].0].reference_range.trim() == text
        {
            end += 1;
        }
        if let Some(r) = parse_reference_range(&text) {
            let from = if k == 0 {
                LEFT
            } else {
                (placed[k - 1].1 + placed[k].1) / 2.0
            };
            let to = if end + 1 == placed.len() {
                WIDTH - RIGHT
            } else {
                (placed[end].1 + placed[end + 1].1) / 2.0
            };
            bands.push((from, to, r, text));
        }
        k = end + 1;
    }
    Some(Layout {
        x,
        y,
        y_ticks,
        y_step,
        x_ticks,
        placed,
        bands,
    })
}

/// The chart as an `<svg class="trend-chart">` element.
pub fn render(chart: &Chart) -> String {
    let name = xml_escape(&chart.name);
    let unit = xml_escape(&chart.unit);
    let unit_suffix = if unit.is_empty() {
        String::new()
    } else {
        format!(" ({unit})")
    };
    let mut svg = String::new();
    let id = xml_escape(&chart.id);
    let _ = write!(
        svg,
        r#"<svg class="trend-chart" data-unit="{unit}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="trend-title-{id} trend-desc-{id}" font-size="11" font-family="sans-serif">"#
    );
    let _ = write!(
        svg,
        r#"<title id="trend-title-{id}">{name}{unit_suffix} の推移 / trend</title>"#
    );
    let Some(l) = layout(chart) else {
        let _ = write!(
            svg,
            r#"<desc id="trend-desc-{id}">数値の結果がありません / no numeric results</desc><text x="{}" y="{}" text-anchor="middle">数値の結果がありません (no numeric results)</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    };
    let abnormal = l
        .placed
        .iter()
        .filter(|(i, _, _)| chart.points[*i].abnormal())
        .count();
    let first = &chart.points[l.placed[0].0];
    let last = &chart.points[l.placed[l.placed.len() - 1].0];
    let ranges = ranges(chart);
    let ranges = xml_escape(&if ranges.is_empty() {
        "-".to_owned()
    } else {
        ranges.join(" / ")
    });
    let _ = write!(
        svg,
        r#"<desc id="trend-desc-{id}">{} 件 ({} – {})、単位 {unit}、基準値 {ranges}、異常値 {} 件 / {} values in {unit}, reference range {ranges}, {} abnormal</desc>"#,
        l.placed.len(),
        show_date(&first.date),
        show_date(&last.date),
        abnormal,
        l.placed.len(),
        abnormal
    );
    let (top, bottom) = (TOP, HEIGHT - BOTTOM);
    // Reference band first, so points and line are drawn over it.
    for (x0, x1, r, text) in &l.bands {
        let y_hi = r.high.map(|h| l.y.map(h)).unwrap_or(top).clamp(top, bottom);
        let y_lo = r
            .low
            .map(|v| l.y.map(v))
            .unwrap_or(bottom)
            .clamp(top, bottom);
        let _ = write!(
            svg,
            r##"<rect class="ref-band" x="{x0:.1}" y="{y_hi:.1}" width="{:.1}" height="{:.1}" fill="#c6f6d5" fill-opacity="0.7"><title>基準値 / reference range {} {unit}</title></rect>"##,
            (x1 - x0).max(0.0),
            (y_lo - y_hi).max(0.0),
            xml_escape(text)
        );
    }
    // Axes with grid lines.
    svg.push_str(r#"<g class="axis y">"#);
    for t in &l.y_ticks {
        let y = l.y.map(*t);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e2e8f0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            label(*t, l.y_step)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{top}" y2="{bottom}" stroke="#4a5568"/></g>"##
    );
    svg.push_str(r#"<g class="axis x">"#);
    for d in &l.x_ticks {
        let x = l.x.map(*d as f64);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{bottom}" y2="{:.1}" stroke="#4a5568"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 4.0,
            bottom + 18.0,
            show_date(&store::date_of_day(*d))
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{:.1}" y1="{bottom}" y2="{bottom}" stroke="#4a5568"/></g>"##,
        WIDTH - RIGHT
    );
    if l.placed.len() > 1 {
        let pts: Vec<String> = l
            .placed
            .iter()
            .map(|(_, x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="trend-line" points="{}" fill="none" stroke="{BLUE}" stroke-width="2"/>"#,
            pts.join(" ")
        );
    }
    for (i, x, y) in &l.placed {
        let p = &chart.points[*i];
        let bad = p.abnormal();
        let flag = if matches!(p.flag.trim(), "" | "N") {
            String::new()
        } else {
            format!(" ({})", xml_escape(p.flag.trim()))
        };
        let _ = write!(
            svg,
            r##"<circle class="{}" cx="{x:.1}" cy="{y:.1}" r="{}" fill="{}" stroke="#fff"><title>{} {} {}{flag} — {}</title></circle>"##,
            if bad { "pt abnormal" } else { "pt" },
            if bad { 5 } else { 4 },
            if bad { RED } else { BLUE },
            show_at(&p.at, &p.date),
            xml_escape(&p.value),
            xml_escape(&p.unit),
            xml_escape(&p.source)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(low: Option<f64>, high: Option<f64>) -> Option<RefRange> {
        Some(RefRange { low, high })
    }

    #[test]
    fn reference_ranges_in_the_forms_laboratories_send() {
        assert_eq!(
            parse_reference_range("3.5-5.0"),
            range(Some(3.5), Some(5.0))
        );
        assert_eq!(
            parse_reference_range(" 6.7 - 8.3 "),
            range(Some(6.7), Some(8.3))
        );
        assert_eq!(parse_reference_range("<=40"), range(None, Some(40.0)));
        assert_eq!(parse_reference_range("<0.5"), range(None, Some(0.5)));
        assert_eq!(parse_reference_range("≦40"), range(None, Some(40.0)));
        assert_eq!(parse_reference_range(">=60"), range(Some(60.0), None));
        assert_eq!(parse_reference_range("40以下"), range(None, Some(40.0)));
        assert_eq!(parse_reference_range("60以上"), range(Some(60.0), None));
        assert_eq!(
            parse_reference_range("<=40 U/L"),
            range(None, Some(40.0)),
            "a unit may follow"
        );
        // Negative bounds (base excess).
        assert_eq!(
            parse_reference_range("-2.0-2.0"),
            range(Some(-2.0), Some(2.0))
        );
        assert_eq!(
            parse_reference_range("-3~-1"),
            range(Some(-3.0), Some(-1.0))
        );
        // Not numeric.
        for s in ["", "陰性", "(-)", "5.0-3.5", "1.2.3", "3.5-", "abc-def"] {
            assert_eq!(parse_reference_range(s), None, "{s:?}");
        }
    }

    #[test]
    fn full_width_digits_and_wave_dashes_parse_like_ascii() {
        assert_eq!(
            parse_reference_range("３．５～５．０"),
            range(Some(3.5), Some(5.0))
        );
        assert_eq!(
            parse_reference_range("3.5〜5.0"),
            range(Some(3.5), Some(5.0))
        );
        assert_eq!(
            parse_reference_range("１３０－１７０"),
            range(Some(130.0), Some(170.0))
        );
        assert_eq!(parse_reference_range("＜＝４０"), range(None, Some(40.0)));
        assert_eq!(parse_value("８．９"), Some(8.9));
        assert_eq!(parse_value("<0.5"), Some(0.5));
        assert_eq!(parse_value("陰性"), None);
        assert_eq!(parse_value("1-2"), None);
        assert_eq!(parse_value(""), None);
    }

    #[test]
    fn linear_scale_maps_ends_and_inverts_for_svg_y() {
        let y = Linear {
            d0: 0.0,
            d1: 10.0,
            r0: 200.0,
            r1: 0.0,
        };
        assert_eq!(y.map(0.0), 200.0);
        assert_eq!(y.map(10.0), 0.0);
        assert_eq!(y.map(2.5), 150.0);
        let flat = Linear {
            d0: 3.0,
            d1: 3.0,
            r0: 0.0,
            r1: 100.0,
        };
        assert_eq!(flat.map(3.0), 50.0);
    }

    #[test]
    fn ticks_are_nice_and_cover_the_data() {
        let (t, step) = nice_ticks(3.1, 8.9, 5);
        assert_eq!(step, 2.0);
        assert_eq!(t, vec![2.0, 4.0, 6.0, 8.0, 10.0]);
        let (t, step) = nice_ticks(0.12, 0.48, 5);
        assert_eq!(step, 0.1);
        assert_eq!(t.first(), Some(&0.1));
        assert_eq!(t.last(), Some(&0.5));
        assert_eq!(label(0.30000000000000004, step), "0.3");
        // One value only: still a usable axis around it.
        let (t, _) = nice_ticks(5.0, 5.0, 5);
        assert!(t.len() >= 2 && t[0] <= 5.0 && *t.last().expect("tick") >= 5.0);
        assert_eq!(decimals(5.0), 0);
        assert_eq!(decimals(0.05), 2);
    }

    fn point(date: &str, value: &str, flag: &str) -> Point {
        Point {
            date: date.get(..8).unwrap_or(date).into(),
            at: date.into(),
            value: value.into(),
            unit: "g/dL".into(),
            flag: flag.into(),
            reference_range: "6.7-8.3".into(),
            source: "登呂病院".into(),
        }
    }

    fn chart(points: Vec<Point>) -> Chart {
        Chart {
            id: "t".into(),
            name: "総蛋白".into(),
            unit: "g/dL".into(),
            points,
        }
    }

    #[test]
    fn abnormal_points_come_from_the_flag_or_the_range() {
        assert!(point("20260401", "8.9", "H").abnormal());
        assert!(
            point("20260401", "8.9", "").abnormal(),
            "above 8.3, no flag"
        );
        assert!(!point("20260401", "7.0", "").abnormal());
        assert!(!point("20260401", "7.0", "N").abnormal());
        assert!(!point("20260401", "陰性", "").abnormal());
    }

    #[test]
    fn svg_has_title_band_line_and_red_abnormal_points() {
        let c = chart(vec![
            point("20260301", "7.0", ""),
            point("20260315", "6.9", ""),
            point("20260401", "8.9", "H"),
        ]);
        let svg = render(&c);
        assert!(svg.starts_with(r#"<svg class="trend-chart""#));
        assert!(svg.contains("<title id=\"trend-title-t\">総蛋白 (g/dL) の推移"));
        assert!(svg.contains(r#"class="ref-band""#));
        assert!(svg.contains(r#"class="trend-line""#));
        assert_eq!(svg.matches(r#"class="pt abnormal""#).count(), 1);
        assert_eq!(svg.matches(r#"class="pt""#).count(), 2);
        assert!(svg.contains("2026-03-01") && svg.contains("2026-04-01"));
        assert!(svg.contains(RED));
        assert!(svg.ends_with("</svg>"));

        // The band lies between the y of 8.3 and of 6.7; the abnormal point is above it.
        let l = layout(&c).expect("layout");
        let (hi, lo) = (l.y.map(8.3), l.y.map(6.7));
        assert!(hi < lo, "SVG y grows downwards");
        let (_, _, y_abn) = l.placed[2];
        assert!(y_abn < hi);
        // Time-proportional x: 14 days then 17 days.
        let (x0, x1, x2) = (l.placed[0].1, l.placed[1].1, l.placed[2].1);
        assert!((x2 - x1) > (x1 - x0));
        assert!(x0 >= LEFT && x2 <= WIDTH - RIGHT);
    }

    #[test]
    fn text_is_escaped_and_non_numeric_results_are_not_drawn() {
        let mut c = chart(vec![point("20260301", "陰性", "")]);
        c.name = "<script>".into();
        let svg = render(&c);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("no numeric results"));
        assert!(!svg.contains("<circle"));
        // A single value: one point, no line, still inside the plot.
        let c = chart(vec![point("20260301", "7.0", "")]);
        let l = layout(&c).expect("layout");
        assert_eq!(l.placed.len(), 1);
        assert!(!render(&c).contains("trend-line"));
    }

    #[test]
    fn two_units_are_two_charts_each_with_its_own_band() {
        let mut pts = vec![
            point("20260301", "4.1", ""),
            point("20260305", "39", ""),
            point("20260306", "3.9", ""),
        ];
        pts[0].unit = "g/dL".into();
        pts[0].reference_range = "3.8-5.2".into();
        pts[1].unit = "g/L".into();
        pts[1].reference_range = "38-52".into();
        pts[2].unit = "g/dl".into();
        pts[2].reference_range = "3.8-5.2".into();
        let charts = by_unit("alb", "アルブミン", &pts);
        assert_eq!(charts.len(), 2, "never one axis for two units");
        assert_eq!(charts[0].unit, "g/dL");
        assert_eq!(charts[0].points.len(), 2, "g/dl is g/dL");
        assert_eq!(charts[1].unit, "g/L");
        assert_eq!(ranges(&charts[1]), ["38-52"]);
        let l = layout(&charts[1]).expect("layout");
        assert_eq!(l.bands.len(), 1);
        // The g/L axis reaches the g/L band, not the g/dL one.
        assert!(l.y_ticks.iter().any(|t| *t >= 52.0));
        let svg = render(&charts[0]);
        assert!(svg.contains(r#"data-unit="g/dL""#) && svg.contains("trend-title-alb-0"));
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "no g/L value on the g/dL chart"
        );
        assert!(!svg.contains(" 39 g/L"));
    }

    #[test]
    fn results_of_one_day_are_placed_by_time_and_bands_follow_the_ranges() {
        let mut pts = vec![
            point("202603090800", "98", ""),
            point("202603090830", "186", "H"),
            point("202603090900", "152", "H"),
        ];
        pts[0].reference_range = "70-109".into();
        pts[1].reference_range = "70-139".into();
        pts[2].reference_range = "70-139".into();
        let c = chart(pts);
        let l = layout(&c).expect("layout");
        assert_eq!(l.placed.len(), 3, "every result of the day is drawn");
        assert!(l.placed[0].1 < l.placed[1].1 && l.placed[1].1 < l.placed[2].1);
        assert_eq!(l.bands.len(), 2, "one band per run of ranges");
        assert!(
            (l.bands[0].1 - l.bands[1].0).abs() < 1e-9,
            "bands meet halfway"
        );
        assert!(render(&c).contains("2026-03-09 08:30"));
    }
}
