//! The report's charts as inline SVG, drawn with plotters' SVG backend (the browser renders
//! the text, so no font is needed here). Every chart scales to its box through its viewBox.

use crate::error::{Error, Result};
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor;

const WIDTH: u32 = 640;
const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(49, 110, 180);
const ORANGE: RGBColor = RGBColor(230, 140, 40);
const GREY: RGBColor = RGBColor(90, 90, 90);

fn fail<E: std::fmt::Debug>(e: E) -> Error {
    Error::Internal(format!("drawing a report chart: {e:?}"))
}

/// Draw into an SVG string of `height` pixels and make it scale with its container.
fn svg(height: u32, draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        draw(&root)?;
        root.present().map_err(fail)?;
    }
    // Fixed width/height would overflow a narrow screen; the viewBox keeps the proportions.
    Ok(out.replacen(&format!("width=\"{WIDTH}\" height=\"{height}\""), "width=\"100%\"", 1))
}

/// `n` categories 0..n-1, each a segment (an integer range includes its end: 0..n would add
/// an empty segment n).
fn categories_axis(n: usize) -> SegmentedCoord<RangedCoordusize> {
    (0..n.max(1) - 1).into_segmented()
}

/// A chart with nothing to show says why instead.
pub fn message(text: &str) -> Result<String> {
    svg(80, |root| {
        let style =
            TextStyle::from((FONT, 15)).color(&GREY).pos(text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Center));
        root.draw_text(text, &style, (WIDTH as i32 / 2, 40)).map_err(fail)
    })
}

/// Axes for horizontal bars: shares 0..`max` across (as percentages), `categories` down
/// (the first at the top).
fn share_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    categories: &[String],
    max: f64,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>> {
    let n = categories.len();
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..max, categories_axis(n))
        .map_err(fail)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < n => categories[n - 1 - *i].clone(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .label_style((FONT, 13))
        .draw()
        .map_err(fail)?;
    Ok(chart)
}

/// Horizontal bars, one group per category (first category at the top), one bar per series;
/// values are shares 0..1 shown as percentages.
pub fn share_bars(categories: &[String], series: &[(&str, Vec<f64>)]) -> Result<String> {
    let n = categories.len();
    let height = 60 + 34 * n as u32;
    let max = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0_f64, f64::max).max(0.01) * 1.1;
    svg(height, |root| {
        let mut chart = share_axes(root, categories, max)?;
        // Bars are the category's band narrowed by pixel margins: one slice per series.
        let band = chart.plotting_area().dim_in_pixel().1 as f64 / n.max(1) as f64;
        let bar = (band - 8.0) / series.len() as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = [BLUE, ORANGE][s % 2];
            let (top, bottom) = ((4.0 + s as f64 * bar) as u32, (band - 4.0 - (s + 1) as f64 * bar).max(0.0) as u32);
            let rects = values.iter().enumerate().map(move |(i, v)| {
                let row = n - 1 - i;
                let mut r = Rectangle::new([(0.0, SegmentValue::Exact(row)), (*v, SegmentValue::Exact(row + 1))], color.filled());
                r.set_margin(top, bottom, 0, 0);
                r
            });
            chart
                .draw_series(rects)
                .map_err(fail)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GREY)
            .label_font((FONT, 13))
            .draw()
            .map_err(fail)
    })
}

/// One horizontal bar per category (first at the top) with its interval drawn across it;
/// values and intervals are shares 0..1 shown as percentages.
pub fn bars_with_intervals(categories: &[String], values: &[f64], intervals: &[(f64, f64)]) -> Result<String> {
    let n = categories.len();
    let height = 60 + 40 * n as u32;
    let max = values.iter().chain(intervals.iter().map(|i| &i.1)).fold(0.0_f64, |a, b| a.max(*b)).max(0.01) * 1.1;
    svg(height, |root| {
        let mut chart = share_axes(root, categories, max)?;
        let bars = values.iter().enumerate().map(|(i, v)| {
            let row = n - 1 - i;
            let mut r =
                Rectangle::new([(0.0, SegmentValue::Exact(row)), (*v, SegmentValue::Exact(row + 1))], [BLUE, ORANGE][i % 2].filled());
            r.set_margin(8, 8, 0, 0);
            r
        });
        chart.draw_series(bars).map_err(fail)?;
        let whiskers = intervals.iter().enumerate().map(|(i, (lo, hi))| {
            let row = SegmentValue::CenterOf(n - 1 - i);
            PathElement::new(vec![(lo.max(0.0), row.clone()), (*hi, row)], GREY.stroke_width(2))
        });
        chart.draw_series(whiskers).map_err(fail)?;
        Ok(())
    })
}

/// A grid of cells: `x` categories left to right, `y` categories bottom to top; each cell
/// `(x, y, shade 0..1, text)` is filled from white to blue by its shade and shows its text.
/// Long `x` names are written vertically.
pub fn heatmap(x: &[String], y: &[String], cells: &[(usize, usize, f64, String)], x_desc: &str, y_desc: &str) -> Result<String> {
    let vertical = x.iter().any(|s| s.chars().count() > 3);
    let x_area = if vertical { 150 } else { 48 };
    let y_area = if y.iter().any(|s| s.chars().count() > 3) { 150 } else { 60 };
    let height = x_area + 40 + 32 * y.len() as u32;
    svg(height, |root| {
        let mut x_style = TextStyle::from((FONT, 12));
        if vertical {
            x_style =
                x_style.transform(FontTransform::Rotate90).pos(text_anchor::Pos::new(text_anchor::HPos::Left, text_anchor::VPos::Center));
        }
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(categories_axis(x.len()), categories_axis(y.len()))
            .map_err(fail)?;
        let name = |names: &[String], v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < names.len() => names[*i].clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(x.len())
            .y_labels(y.len())
            .x_label_formatter(&|v| name(x, v))
            .y_label_formatter(&|v| name(y, v))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 12))
            .x_label_style(x_style)
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(cells.iter().map(|(i, j, shade, _)| {
                let s = shade.clamp(0.0, 1.0);
                let mix = |from: u8, to: u8| (from as f64 + (to as f64 - from as f64) * s).round() as u8;
                let color = RGBColor(mix(240, 20), mix(245, 70), mix(250, 140));
                let mut r = Rectangle::new(
                    [(SegmentValue::Exact(*i), SegmentValue::Exact(*j)), (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1))],
                    color.filled(),
                );
                r.set_margin(1, 1, 1, 1);
                r
            }))
            .map_err(fail)?;
        let centre = text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Center);
        chart
            .draw_series(cells.iter().map(|(i, j, shade, text)| {
                let color: &'static RGBColor = if *shade > 0.55 { &WHITE } else { &BLACK };
                Text::new(
                    text.clone(),
                    (SegmentValue::CenterOf(*i), SegmentValue::CenterOf(*j)),
                    TextStyle::from((FONT, 12)).color(color).pos(centre),
                )
            }))
            .map_err(fail)?;
        Ok(())
    })
}

/// A funnel: one centred bar per stage, as wide as its share of the largest, with its count.
pub fn funnel(stages: &[(String, u64)]) -> Result<String> {
    let n = stages.len();
    let height = 24 + 36 * n as u32;
    let max = stages.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1) as f64;
    svg(height, |root| {
        let (label_w, area_w) = (150, WIDTH as i32 - 170);
        let right = text_anchor::Pos::new(text_anchor::HPos::Right, text_anchor::VPos::Center);
        let centre = text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Center);
        for (i, (name, count)) in stages.iter().enumerate() {
            let y = 12 + 36 * i as i32;
            let w = ((*count as f64 / max) * area_w as f64).round().max(2.0) as i32;
            let x0 = label_w + 10 + (area_w - w) / 2;
            root.draw(&Rectangle::new([(x0, y), (x0 + w, y + 28)], BLUE.mix(0.25 + 0.75 * (1.0 - i as f64 / n.max(1) as f64)).filled()))
                .map_err(fail)?;
            root.draw_text(name, &TextStyle::from((FONT, 13)).pos(right), (label_w, y + 14)).map_err(fail)?;
            root.draw_text(&count.to_string(), &TextStyle::from((FONT, 13)).pos(centre), (label_w + 10 + area_w / 2, y + 14))
                .map_err(fail)?;
        }
        Ok(())
    })
}

/// Counts of `values` in `bins` equal bins from `lo` to `hi`; values above `hi` go in the
/// last bin, whose label says so.
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize, x_desc: &str, y_desc: &str) -> Result<String> {
    let width = (hi - lo).max(f64::MIN_POSITIVE) / bins as f64;
    let mut counts = vec![0u32; bins];
    for v in values.iter().filter(|v| v.is_finite()) {
        counts[(((v - lo) / width).floor().max(0.0) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
    let edge = |i: usize| {
        let e = lo + width * i as f64;
        if width >= 1.0 {
            format!("{e:.0}")
        } else {
            format!("{e:.1}")
        }
    };
    svg(300, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(categories_axis(bins), 0.0..top)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bins)
            .x_label_formatter(&|v| match v {
                // Every other bin's lower edge, so labels do not collide.
                SegmentValue::CenterOf(i) if i % 2 == 0 && *i < bins => edge(*i),
                _ => String::new(),
            })
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, c)| {
                let mut r = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *c as f64)], BLUE.filled());
                r.set_margin(0, 0, 1, 1);
                r
            }))
            .map_err(fail)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Days with no buyers, one segment or one cell still draw a chart, never panic.
    #[test]
    fn degenerate_inputs_draw() {
        let one = vec!["only".to_string()];
        for svg in [
            share_bars(&[], &[("a", vec![])]),
            share_bars(&one, &[("a", vec![0.0]), ("b", vec![1.0])]),
            heatmap(&one, &one, &[(0, 0, 1.0, "7".into())], "x", "y"),
            heatmap(&[], &[], &[], "x", "y"),
            funnel(&[]),
            funnel(&[("a".into(), 0)]),
            histogram(&[], 0.0, 1.0, 10, "x", "y"),
            histogram(&[5.0, 5.0], 5.0, 5.0, 10, "x", "y"),
            message("nothing"),
        ] {
            let svg = svg.unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("viewBox"), "{svg}");
        }
    }
}
