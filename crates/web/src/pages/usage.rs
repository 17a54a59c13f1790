//! A company's usage per day (owners and admins): active users, views and
//! edits as bar charts drawn on the server (SVG, no script), and every
//! figure in a table, from `app::audit_read::analytics`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use turva_app::audit_read::{self, DayUsage};
use turva_app::App;

use super::i18n::Texts;
use super::{error_page, render, Bar, CompanyLink, Viewer, ASSET_VERSION};

/// One chart: bars as (x, y, width, height, day, value) in a 300×100 box.
pub struct Chart {
    title: &'static str,
    max: i64,
    bars: Vec<(String, String, String, String, String, i64)>,
}

fn chart(title: &'static str, days: &[DayUsage], of: fn(&DayUsage) -> i64) -> Chart {
    let max = days.iter().map(of).max().unwrap_or(0);
    let n = days.len().max(1) as f64;
    let slot = 300.0 / n;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = of(d);
            let h = if max > 0 {
                99.0 * v as f64 / max as f64
            } else {
                0.0
            };
            (
                format!("{:.2}", i as f64 * slot + slot * 0.1),
                format!("{:.2}", 99.0 - h),
                format!("{:.2}", slot * 0.8),
                format!("{h:.2}"),
                d.day.clone(),
                v,
            )
        })
        .collect();
    Chart { title, max, bars }
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    company: CompanyLink,
    charts: Vec<Chart>,
    /// (day, active, views, edits, sign-ins, failed)
    days: Vec<(String, i64, i64, i64, i64, i64)>,
}

/// `GET /c/{cid}/usage`.
pub async fn page(State(app): State<App>, viewer: Viewer, Path(cid): Path<String>) -> Response {
    let frame = match viewer.frame(&app, Some(&cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let days = match audit_read::analytics(&app, &viewer.ctx, &viewer.actor, &cid, None, None).await
    {
        Ok(d) => d,
        Err(e) => return error_page(&frame, &e),
    };
    let charts = vec![
        chart(t.active_users, &days, |d| d.active_users),
        chart(t.views_label, &days, |d| d.views),
        chart(t.edits_label, &days, |d| d.edits),
    ];
    render(
        StatusCode::OK,
        &UsagePage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            company: frame.company_link(&cid),
            charts,
            days: days
                .iter()
                .rev()
                .map(|d| {
                    (
                        d.day.clone(),
                        d.active_users,
                        d.views,
                        d.edits,
                        d.sign_ins,
                        d.failed_sign_ins,
                    )
                })
                .collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DayUsage {
        DayUsage {
            day: format!("2026-12-{n:02}"),
            active_users: n,
            views: 0,
            edits: 0,
            sign_ins: 0,
            failed_sign_ins: 0,
        }
    }

    #[test]
    fn the_highest_day_fills_the_chart_and_an_empty_one_draws_nothing() {
        let c = chart("x", &[day(1), day(4), day(2)], |d| d.active_users);
        assert_eq!(c.max, 4);
        assert_eq!(c.bars[1].3, "99.00", "the highest is full height");
        assert_eq!(c.bars[0].3, "24.75");
        assert_eq!(c.bars[2].0, "210.00", "third slot of 100 units, 10 % in");
        let flat = chart("x", &[day(1)], |d| d.views);
        assert_eq!(flat.bars[0].3, "0.00");
    }
}
