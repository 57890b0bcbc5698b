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
use sea_orm::{ActiveEnum, TransactionTrait};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::domain::money::Currency;
use crate::domain::orders::{self, OrderFilter, Scope};
use crate::domain::time::TimeRange;
use crate::domain::{campaigns, time};
use crate::error::{AppResult, bad_input, not_found};
use crate::http::caller::Caller;
use crate::http::state::AppState;
use crate::http::throttle::RateState;
use crate::ids::{self, Kind};

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

/// Streams the export: a task reads its rows (`orders::export`) a chunk at a time, and
/// the download writes them as CSV, `BUFFER` at a time, as it takes them. A download that takes nothing
/// for `request_timeout` is cut short, and so is one whose rows could not all be read: its
/// body ends in an error, so the client sees a broken download, never a short file that
/// looks whole.
/// CSV handed to the server at a time, about: the server queues a few of them for a slow
/// client, so they stay small.
const BUFFER: usize = 64 * 1024;

/// A download in progress: the chunks of rows the export's task reads, the one being
/// written (up to `next`), and how the reading ended.
struct Download {
    rows: mpsc::Receiver<Vec<orders::ExportRow>>,
    read: Option<oneshot::Receiver<crate::domain::error::DomainResult<orders::Read>>>,
    chunk: Vec<orders::ExportRow>,
    next: usize,
    header: bool,
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
    // A connection of the export pool now, while a refusal can still be an answer.
    let txn = state.export_db.begin().await.map_err(crate::domain::error::DomainError::from)?;
    let patience = state.limits.request_timeout;
    let (chunks, rows) = mpsc::channel(1);
    let (done, read) = oneshot::channel();
    let permit = turn.permit;
    tokio::spawn(async move {
        // The key's turn, given back when the export ends or the client goes away.
        let _turn = permit;
        let _ = done.send(orders::export(txn, brand, scope, &filter, chunks, patience).await);
    });
    let start = Download { rows, read: Some(read), chunk: Vec::new(), next: 0, header: true };
    let body = stream::unfold(start, move |mut download| async move {
        let mut out = Vec::with_capacity(BUFFER + 4096);
        if download.header {
            download.header = false;
            csv::write_row(&mut out, COLUMNS.iter().map(|c| csv::Cell::Text(c)));
        }
        loop {
            // The rows of the chunk in hand, until the buffer is full.
            while let Some(row) = download.chunk.get(download.next) {
                write_order(&mut out, row, currency);
                download.next += 1;
                if out.len() >= BUFFER {
                    return Some((Ok(Bytes::from(out)), download));
                }
            }
            match download.rows.recv().await {
                Some(chunk) => (download.chunk, download.next) = (chunk, 0),
                None => break,
            }
        }
        let read = download.read.take()?;
        let ended = match read.await {
            Ok(Ok(orders::Read::All)) => return Some((Ok(Bytes::from(out)), download)),
            Ok(Ok(orders::Read::Stopped)) => {
                tracing::info!(seconds = patience.as_secs_f64(), "export cut short: the download stopped");
                "export stalled"
            }
            Ok(Err(err)) => {
                // The header is sent; all that is left is to cut the download short.
                tracing::error!(error = ?err, "export failed mid-stream");
                "export failed"
            }
            Err(_) => "export failed",
        };
        Some((Err(std::io::Error::other(ended)), download))
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

fn write_order(out: &mut Vec<u8>, row: &orders::ExportRow, currency: Currency) {
    let (amount, earned, date) =
        (currency.format_inline(row.amount), currency.format_inline(row.earned), time::format_inline(row.ordered_at));
    csv::write_row(
        out,
        [
            csv::Cell::Text(&row.external_id),
            csv::Cell::Text(&row.campaign_name),
            csv::Cell::Text(&row.creator_name),
            csv::Cell::Text(row.creator_handle.as_deref().unwrap_or("")),
            csv::Cell::Text(row.coupon_code.as_deref().unwrap_or("")),
            csv::Cell::Plain(date.as_str()),
            csv::Cell::Plain(row.status.to_value().as_str()),
            csv::Cell::Plain(amount.as_str()),
            csv::Cell::Plain(&row.currency),
            csv::Cell::Plain(row.approval.to_value().as_str()),
            csv::Cell::Plain(earned.as_str()),
        ],
    );
}
