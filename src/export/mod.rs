//! Streaming CSV exports (SPEC §3). Rows are read in keyset chunks and written as they
//! come, so memory stays flat however many rows there are.
pub mod csv;

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream;
use sea_orm::ActiveEnum;

use tokio::sync::OwnedSemaphorePermit;

use crate::domain::money::Currency;
use crate::domain::orders::{self, OrderCursor, OrderFilter, Scope};
use crate::domain::time::TimeRange;
use crate::domain::{campaigns, time};
use crate::error::{AppResult, bad_input, not_found};
use crate::http::caller::Caller;
use crate::http::state::AppState;
use crate::http::throttle::RateState;
use crate::ids::{self, Kind};

/// Rows read per statement.
pub const CHUNK: u64 = 1000;

pub const COLUMNS: [&str; 11] = [
    "Order ID",
    "Campaign Name",
    "Creator Name",
    "Creator Handle",
    "Coupon Code",
    "Order Date",
    "Status",
    "Amount",
    "Currency",
    "Conversion Approval",
    "Commission",
];

pub fn router() -> Router<AppState> {
    Router::new().route("/exports/orders.csv", get(orders_csv)).route("/exports/sales.csv", get(sales_csv))
}

fn time_param(params: &HashMap<String, String>, name: &str) -> AppResult<Option<i64>> {
    match params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(t) => time::parse(t).map(Some).map_err(|m| bad_input(name, m)),
        None => Ok(None),
    }
}

fn range_filter(params: &HashMap<String, String>) -> AppResult<OrderFilter> {
    let range = TimeRange::new(time_param(params, "from")?, time_param(params, "to")?);
    let mut filter = OrderFilter { range: range.map_err(|m| bad_input("from", m))?, ..OrderFilter::default() };
    if let Some(list) = params.get("status").filter(|s| !s.trim().is_empty()) {
        for s in list.split(',') {
            let status = orders::parse_status(s.trim().to_ascii_uppercase().as_str())
                .ok_or_else(|| bad_input("status", format!("'{s}' is not a status: PAID, CANCELED or REFUNDED")))?;
            filter.statuses.push(status);
        }
    }
    Ok(filter)
}

/// The Performance tab's "select records and export": one campaign, current members only.
async fn orders_csv(
    State(state): State<AppState>,
    who: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let turn = fair_use(&state, &who).await?;
    let mut filter = range_filter(&params)?;
    let campaign_param = params.get("campaignId").map(|s| s.trim()).filter(|s| !s.is_empty());
    let campaign_param = campaign_param.ok_or_else(|| bad_input("campaignId", "campaignId is required"))?;
    let campaign_id = ids::decode(Kind::Campaign, campaign_param).ok_or_else(|| not_found("campaign"))?;
    let campaign =
        campaigns::find(&state.read_db, who.brand_id(), campaign_id).await?.ok_or_else(|| not_found("campaign"))?;
    if let Some(list) = params.get("ids").filter(|s| !s.trim().is_empty()) {
        let mut chosen = Vec::new();
        for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let order =
                ids::decode(Kind::Order, id).ok_or_else(|| bad_input("ids", format!("'{id}' is not an order id")))?;
            chosen.push(order);
        }
        if chosen.len() > 1000 {
            return Err(bad_input("ids", "at most 1000 ids; export without ids for all orders"));
        }
        filter.ids = Some(chosen);
    }
    let name = format!("orders-{}.csv", csv::file_slug(&campaign.name));
    respond(state, &who, Scope::Campaign(campaign.id), filter, &name, turn).await
}

/// "Download" next to Total Sales: every sale in the range, everyone included.
async fn sales_csv(
    State(state): State<AppState>,
    who: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let turn = fair_use(&state, &who).await?;
    let filter = range_filter(&params)?;
    respond(state, &who, Scope::Brand, filter, "sales.csv", turn).await
}

/// An export is one operation of the key's rate limit, and expensive for as long as it
/// streams: it holds one of the key's turns until its last row is sent.
async fn fair_use(state: &AppState, who: &Caller) -> AppResult<Turn> {
    let rate = state.throttle.admit(who.key_id(), 1)?;
    Ok(Turn { rate, permit: state.throttle.turn(who.key_id(), u64::MAX).await? })
}

struct Turn {
    rate: Option<RateState>,
    permit: Option<OwnedSemaphorePermit>,
}

struct Cursor {
    after: Option<OrderCursor>,
    header: bool,
    done: bool,
    /// The key's turn, given back when the stream ends or the client goes away.
    _turn: Option<OwnedSemaphorePermit>,
}

async fn respond(
    state: AppState,
    who: &Caller,
    scope: Scope,
    filter: OrderFilter,
    filename: &str,
    turn: Turn,
) -> AppResult<Response> {
    let (brand, currency) = (who.brand_id(), who.currency);
    let db = state.read_db.clone();
    let start = Cursor { after: None, header: true, done: false, _turn: turn.permit };
    let body = stream::unfold(start, move |mut cur| {
        let db = db.clone();
        let filter = filter.clone();
        async move {
            if cur.done {
                return None;
            }
            let mut out = String::new();
            if cur.header {
                csv::write_row(&mut out, COLUMNS.iter().map(|c| csv::Cell::Text(c)));
                cur.header = false;
            }
            match orders::export_page(&db, brand, scope, &filter, cur.after, CHUNK).await {
                Ok(rows) => {
                    cur.done = (rows.len() as u64) < CHUNK;
                    if let Some(last) = rows.last() {
                        cur.after = Some(OrderCursor { ordered_at: last.ordered_at, id: last.id });
                    }
                    for row in &rows {
                        write_order(&mut out, row, currency);
                    }
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(out)), cur))
                }
                Err(err) => {
                    // The header is sent; all that is left is to cut the download short.
                    tracing::error!(error = ?err, "export failed mid-stream");
                    cur.done = true;
                    Some((Err(std::io::Error::other("export failed")), cur))
                }
            }
        }
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let disposition = format!("attachment; filename=\"{filename}\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(rate) = turn.rate {
        rate.apply_to(headers);
    }
    Ok(response)
}

fn write_order(out: &mut String, row: &orders::ExportRow, currency: Currency) {
    let amount = currency.format(row.amount);
    let earned = currency.format(row.earned);
    let date = time::format(row.ordered_at);
    csv::write_row(
        out,
        [
            csv::Cell::Text(&row.external_id),
            csv::Cell::Text(&row.campaign_name),
            csv::Cell::Text(&row.creator_name),
            csv::Cell::Text(row.creator_handle.as_deref().unwrap_or("")),
            csv::Cell::Text(row.coupon_code.as_deref().unwrap_or("")),
            csv::Cell::Plain(&date),
            csv::Cell::Plain(&row.status.to_value()),
            csv::Cell::Plain(&amount),
            csv::Cell::Plain(&row.currency),
            csv::Cell::Plain(&row.approval.to_value()),
            csv::Cell::Plain(&earned),
        ],
    );
}
