//! Line charts as inline SVG, rendered on the server: no script, no external library,
//! readable on a phone (the SVG scales to the width of the page).
//!
//! A step without a value is a gap in the line, never a zero: no data is not good data.
//! Each chart carries `data-points` (the number of steps with a value) so that tests and
//! curious users can tell an empty chart from a flat one.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::html::esc;

/// SVG canvas and plot margins, in SVG units.
const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// What to draw.
pub struct Chart<'a> {
    /// Element id (unique on the page) and CSS hook, e.g. `chart-sli`.
    pub id: &'a str,
    /// Accessible title.
    pub title: &'a str,
    /// One value per step, oldest first.
    pub values: &'a [Option<f64>],
    /// Start of the first step.
    pub start: DateTime<Utc>,
    /// Length of one step in seconds.
    pub step_secs: i64,
    /// A dashed reference line (the objective, budget zero) and its label.
    pub reference: Option<(f64, &'a str)>,
    /// Values the y axis must include besides the data (e.g. 1.0 for a ratio).
    pub include: &'a [f64],
    /// How to print a y value.
    pub format: fn(Option<f64>) -> String,
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

/// The chart as an `<svg>` element.
pub fn line_chart(c: &Chart<'_>) -> String {
    let values: Vec<Option<f64>> = c
        .values
        .iter()
        .map(|v| v.filter(|x| x.is_finite()))
        .collect();
    let with_data = values.iter().flatten().count();
    let id = esc(c.id);
    let mut out = format!(
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-labelledby=\"{id}-title\" data-points=\"{with_data}\">\
         <title id=\"{id}-title\">{}</title>",
        esc(c.title)
    );
    let (pl, pr, pt, pb) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let _ = write!(
        out,
        "<rect class=\"plot\" x=\"{pl}\" y=\"{pt}\" width=\"{}\" height=\"{}\"/>",
        pr - pl,
        pb - pt
    );
    if with_data == 0 {
        let _ = write!(
            out,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data in the period</text></svg>",
            (pl + pr) / 2.0,
            (pt + pb) / 2.0
        );
        return out;
    }

    // The y range: the data, the reference and the required values, padded a little.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values
        .iter()
        .flatten()
        .copied()
        .chain(c.reference.map(|r| r.0))
        .chain(c.include.iter().copied().filter(|x| x.is_finite()))
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo < 1e-9 {
        let pad = if hi.abs() > 1e-9 {
            hi.abs() * 0.01
        } else {
            0.01
        };
        lo -= pad;
        hi += pad;
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let y = |v: f64| pb - (v - lo) / (hi - lo) * (pb - pt);
    let n = values.len();
    let x = |i: usize| pl + (i as f64 + 0.5) / n as f64 * (pr - pl);

    // Axis labels: top and bottom of the range, the reference.
    for v in [hi - pad, lo + pad] {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
            pl - 4.0,
            y(v),
            esc(&(c.format)(Some(v)))
        );
    }
    if let Some((r, label)) = c.reference {
        let _ = write!(
            out,
            "<line class=\"ref\" x1=\"{pl}\" x2=\"{pr}\" y1=\"{0:.1}\" y2=\"{0:.1}\"/>\
             <text class=\"ref-label\" x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{3}</text>",
            y(r),
            pr - 4.0,
            y(r) - 4.0,
            esc(label)
        );
    }
    let end = chrono::TimeDelta::try_seconds(c.step_secs.saturating_mul(n as i64))
        .and_then(|d| c.start.checked_add_signed(d))
        .unwrap_or(c.start);
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{pl}\" y=\"{0}\" text-anchor=\"start\">{1}</text>\
         <text class=\"axis\" x=\"{pr}\" y=\"{0}\" text-anchor=\"end\">{2}</text>",
        H - 10.0,
        esc(&short_time(c.start)),
        esc(&short_time(end))
    );

    // The line, broken at gaps; lone points as dots.
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1}",
                    if pen_down { "L" } else { "M" },
                    x(i),
                    y(*v)
                );
                let alone = (i == 0 || values[i - 1].is_none())
                    && values.get(i + 1).is_none_or(|n| n.is_none());
                if alone {
                    let _ = write!(
                        out,
                        "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                        x(i),
                        y(*v)
                    );
                }
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(out, "<path class=\"line\" d=\"{path}\"/></svg>");
    out
}
