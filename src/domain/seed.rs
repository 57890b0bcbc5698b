//! `tally seed`: a brand at realistic volume in one command, for trying Tally at scale and
//! for benchmarks. The brand, its creators, campaigns and memberships go through the same
//! domain functions the API uses. The orders are then written in bulk, but row for row as
//! `orders::record` and `approval::review` would have left them had every event arrived
//! through the signed webhook, in the planned arrival order, just now: each order's
//! history, conversion (commission pinned by `money::commission`), outbox entries,
//! reviews, and the hourly, daily, monthly and all-time rollups summed with `rollup::Contribution`. Everything is one
//! transaction: a failed seed leaves nothing behind.
use std::collections::HashMap;
use std::fmt::Write;

use rand::rngs::StdRng;
use rand::seq::index;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, TransactionTrait,
};

use super::approval::Approval;
use super::error::{DomainError, DomainResult};
use super::memberships::NewMembership;
use super::money::{self, Currency, Rate};
use super::orders::{Attribution, OrderStatus};
use super::outbox::{self, ConversionApprovalChanged, OrderStatusChanged};
use super::rollup::Contribution;
use super::time::{self, DAY, Millis};
use super::{BrandId, brands, campaigns, creators, memberships};
use entity::brand;
use entity::enums::EventKind;

/// What to make.
#[derive(Clone, Debug)]
pub struct Options {
    pub orders: u64,
    pub campaigns: u32,
    /// Members per campaign, each a different creator.
    pub members: u32,
    pub creators: u32,
    /// Orders are spread over this many days up to now.
    pub days: u32,
    pub random_seed: u64,
    pub name: String,
    pub currency: String,
}

/// The largest volumes accepted: far beyond a benchmark, well within memory.
const MAX_ORDERS: u64 = 50_000_000;
const MAX_PEOPLE: u32 = 1_000_000;

impl Options {
    fn check(&self) -> DomainResult<()> {
        let refuse = |message: String| Err(DomainError::Invalid { input: None, message });
        if self.orders > MAX_ORDERS {
            return refuse(format!("--orders may be at most {MAX_ORDERS}"));
        }
        if self.campaigns == 0 || self.creators == 0 || self.days == 0 {
            return refuse("--campaigns, --creators and --days must be at least 1".into());
        }
        if self.creators > MAX_PEOPLE || self.campaigns > MAX_PEOPLE {
            return refuse(format!("--creators and --campaigns may be at most {MAX_PEOPLE}"));
        }
        if self.members == 0 || self.members > self.creators {
            return refuse(format!(
                "--members is per campaign and each member is a different creator: give 1 to --creators ({})",
                self.creators
            ));
        }
        if u64::from(self.campaigns) * u64::from(self.members) > u64::from(MAX_PEOPLE) {
            return refuse(format!("--campaigns × --members may be at most {MAX_PEOPLE}"));
        }
        Ok(())
    }
}

/// What was made: the brand with its key, and how many rows of each kind.
pub struct Seeded {
    pub brand: brand::Model,
    pub api_key: String,
    pub counts: Counts,
}

pub struct Counts {
    pub orders: u64,
    pub history: u64,
    pub events: u64,
    pub reviews: u64,
    pub rollups: u64,
}

/// Shares of orders that end refunded or canceled, and of conversions the brand rejects.
const REFUNDED: f64 = 0.08;
const CANCELED: f64 = 0.03;
const REJECTED: f64 = 0.04;
/// Orders that arrive with the member's affiliate link rather than a coupon.
const BY_LINK: f64 = 0.35;
/// The signed webhook's `source`, which the seeded history imitates.
const SOURCE: &str = "webhook";
/// The store's number for the first order (Shopify's are 13 digits).
const FIRST_ORDER_NUMBER: i64 = 5_100_000_000_000;
/// Who rejects: the key `brand create` makes.
const REVIEWER: &str = "default admin";
const REASONS: [&str; 5] =
    ["Self-referral", "Order flagged as fraud", "Employee purchase", "Duplicate order", "Coupon posted on a deal site"];

const FIRST: [&str; 40] = [
    "Ana", "Ben", "Chloe", "Dev", "Emma", "Farah", "Gabriel", "Hana", "Isaac", "Julia", "Kai", "Lena", "Mateo", "Nora",
    "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Amara",
    "Bruno", "Carmen", "Diego", "Elif", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Keira", "Luca", "Maya", "Nikolai",
];
const LAST: [&str; 40] = [
    "Silva",
    "Carter",
    "Martin",
    "Patel",
    "Johansson",
    "Haddad",
    "Costa",
    "Kim",
    "Mensah",
    "Rossi",
    "Nakamura",
    "Fischer",
    "Garcia",
    "Okafor",
    "Novak",
    "Shah",
    "Dubois",
    "Moreau",
    "Larsen",
    "Ali",
    "Tanaka",
    "Nguyen",
    "Ivanova",
    "Kowalski",
    "Murphy",
    "Santos",
    "Yilmaz",
    "Bauer",
    "Lopez",
    "Chen",
    "Hansen",
    "Reyes",
    "Ward",
    "Ortiz",
    "Sato",
    "Brooks",
    "Petrov",
    "Lindqvist",
    "Adeyemi",
    "Moretti",
];
const THEMES: [&str; 20] = [
    "Spring Glow",
    "Summer Essentials",
    "Holiday Gift Guide",
    "Back to School",
    "Black Friday",
    "New Year Reset",
    "Valentine's Picks",
    "Festival Season",
    "Autumn Edit",
    "Winter Care",
    "Wellness Week",
    "Travel Kit",
    "Clean Beauty",
    "Bestsellers",
    "Launch Week",
    "Mother's Day",
    "Father's Day",
    "Cyber Monday",
    "Spa at Home",
    "Everyday Basics",
];
const RATES: [&str; 5] = ["8", "10", "12.5", "15", "20"];

/// Makes the brand and everything in it; see the module comment.
pub async fn seed(db: &DatabaseConnection, options: &Options) -> DomainResult<Seeded> {
    options.check()?;
    let mut rng = StdRng::seed_from_u64(options.random_seed);
    let now = time::now();
    let txn = db.begin().await?;
    let created = brands::create(&txn, &options.name, &options.currency, Some("https://shop.example.com")).await?;
    let brand = BrandId(created.brand.id);
    let currency = brands::currency(&created.brand)?;
    let members = community(&txn, brand, currency, options, &mut rng).await?;
    let plan = plan(&members, options, currency, now, &mut rng);
    let counts = write(&txn, brand, currency, &members, &plan, now).await?;
    txn.commit().await?;
    outbox::wake_replicas(db).await?;
    crate::db::checkpoint(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Fresh statistics, so the first queries plan as they will once autovacuum has run,
        // and the rollups' pages marked all-visible, so that ranges read their covering
        // indexes alone from the start (as they do once autovacuum has been by).
        db.execute_unprepared(
            "ANALYZE creators, campaigns, memberships, orders, conversions, order_events, events, conversion_reviews",
        )
        .await?;
        db.execute_unprepared("VACUUM (ANALYZE) order_hours, order_rollups, order_months, order_totals").await?;
    }
    Ok(Seeded { brand: created.brand, api_key: created.api_key, counts })
}

/// A member as the orders need it.
struct Member {
    id: i64,
    campaign_id: i64,
    creator_id: i64,
    coupon: String,
    rate: Rate,
    flat: i64,
}

/// Campaigns, creators and memberships, through the API's own domain functions.
async fn community(
    db: &impl ConnectionTrait,
    brand: BrandId,
    currency: Currency,
    options: &Options,
    rng: &mut StdRng,
) -> DomainResult<Vec<Member>> {
    let mut campaign_ids = Vec::new();
    for c in 0..options.campaigns as usize {
        let theme = THEMES[c % THEMES.len()];
        let name = match c / THEMES.len() {
            0 => format!("{theme} 2026"),
            round => format!("{theme} 2026 #{}", round + 1),
        };
        let rate = RATES[rng.gen_range(0..RATES.len())];
        campaign_ids.push(campaigns::create(db, brand, &name, Some(rate)).await?.id);
    }
    let mut people = Vec::new();
    for k in 0..options.creators as usize {
        let (first, last) = (FIRST[k % 40], LAST[(k / 40 + k) % 40]);
        let suffix = match k / 1600 {
            0 => String::new(),
            n => n.to_string(),
        };
        let name = if suffix.is_empty() { format!("{first} {last}") } else { format!("{first} {last} {suffix}") };
        let slug = format!("{}{}{suffix}", first.to_lowercase(), last.to_lowercase());
        let handle = format!("@{}.{}{suffix}", first.to_lowercase(), last.to_lowercase());
        let email = format!("{}.{}{suffix}@creators.example.com", first.to_lowercase(), last.to_lowercase());
        let new = creators::NewCreator { name: &name, handle: Some(&handle), email: Some(&email) };
        people.push((creators::create(db, brand, new).await?.id, slug));
    }
    let mut members = Vec::new();
    for (c, &campaign_id) in campaign_ids.iter().enumerate() {
        for k in index::sample(rng, people.len(), options.members as usize) {
            let (creator_id, slug) = &people[k];
            let coupon = format!("{}-{}", slug.to_uppercase(), c + 1);
            let link = format!("{slug}-{}", c + 1);
            // One member in ten has terms of their own.
            let custom = rng.gen_bool(0.1);
            let (rate, flat) =
                if custom { (Some(RATES[rng.gen_range(0..RATES.len())]), Some("1")) } else { (None, None) };
            let new = NewMembership {
                campaign_id,
                creator_id: *creator_id,
                coupon_code: Some(&coupon),
                affiliate_code: Some(&link),
                commission_rate: rate,
                commission_flat: flat,
            };
            let added = memberships::add(db, brand, currency, new).await?;
            members.push(Member {
                id: added.id,
                campaign_id,
                creator_id: *creator_id,
                coupon,
                rate: Rate::from_scaled(added.commission_rate),
                flat: added.commission_flat,
            });
        }
    }
    Ok(members)
}

/// One order's life: its first (PAID) event, maybe a later status, maybe a rejection.
struct Order {
    member: u32,
    amount: i64,
    ordered_at: Millis,
    paid_at: Millis,
    by_link: bool,
    /// The coupon as the shopper typed it (some in lower case: codes match case-insensitively).
    lower_case: bool,
    later: Option<(OrderStatus, Millis)>,
    rejected: Option<&'static str>,
}

impl Order {
    fn status(&self) -> OrderStatus {
        self.later.map_or(OrderStatus::Paid, |(s, _)| s)
    }

    fn last_event_at(&self) -> Millis {
        self.later.map_or(self.paid_at, |(_, at)| at)
    }
}

/// What arrives, in arrival order: an order's first event, its later status, or its
/// rejection, each after the order's first event.
#[derive(Clone, Copy)]
enum Arrival {
    First(u32),
    Later(u32),
    Rejection(u32),
}

struct Plan {
    orders: Vec<Order>,
    arrivals: Vec<Arrival>,
}

fn plan(members: &[Member], options: &Options, currency: Currency, now: Millis, rng: &mut StdRng) -> Plan {
    // A few creators sell most: member k of a shuffled list draws in proportion to 1/(k+1)^0.8.
    let mut popularity: Vec<u32> = (0..members.len() as u32).collect();
    rand::seq::SliceRandom::shuffle(popularity.as_mut_slice(), rng);
    let mut cumulative = Vec::with_capacity(members.len());
    let mut total = 0.0;
    for k in 0..members.len() {
        total += 1.0 / ((k + 1) as f64).powf(0.8);
        cumulative.push(total);
    }
    let span = i64::from(options.days) * DAY;
    // Whole seconds, as stores send them; the newest order is an hour old, so that every
    // later event is in the past.
    let newest = (now - 3_600_000).div_euclid(1000) * 1000;
    let unit = 10_i64.pow(currency.digits());
    let orders: Vec<Order> = (0..options.orders)
        .map(|_| {
            let draw = rng.gen_range(0.0..total);
            let member = popularity[cumulative.partition_point(|&c| c <= draw).min(members.len() - 1)];
            let ordered_at = newest - rng.gen_range(0..span / 1000) * 1000;
            let paid_at = ordered_at + rng.gen_range(5..120) * 1000;
            // Between 10 and 300 in the currency's major unit, most near the low end.
            let major = (rng.gen_range(10f64.ln()..300f64.ln())).exp();
            let amount = ((major * unit as f64).round() as i64).max(1);
            let roll: f64 = rng.r#gen();
            let later = (roll < REFUNDED + CANCELED).then(|| {
                let status = if roll < REFUNDED { OrderStatus::Refunded } else { OrderStatus::Canceled };
                let latest = (now - 60_000).min(ordered_at + 30 * DAY);
                let earliest = paid_at + 3_600_000;
                (
                    status,
                    if latest > earliest { rng.gen_range(earliest / 1000..latest / 1000) * 1000 } else { earliest },
                )
            });
            let rejected = rng.gen_bool(REJECTED).then(|| REASONS[rng.gen_range(0..REASONS.len())]);
            Order {
                member,
                amount,
                ordered_at,
                paid_at,
                by_link: rng.gen_bool(BY_LINK),
                lower_case: rng.gen_bool(0.2),
                later,
                rejected,
            }
        })
        .collect();
    // Orders arrive in random time order; what follows an order arrives after it.
    let mut keyed: Vec<(f64, Arrival)> = Vec::with_capacity(orders.len() * 23 / 20);
    for (i, order) in orders.iter().enumerate() {
        let i = i as u32;
        let first: f64 = rng.r#gen();
        keyed.push((first, Arrival::First(i)));
        if order.later.is_some() {
            keyed.push((first + (1.0 - first) * rng.r#gen::<f64>(), Arrival::Later(i)));
        }
        if order.rejected.is_some() {
            keyed.push((first + (1.0 - first) * rng.r#gen::<f64>(), Arrival::Rejection(i)));
        }
    }
    // Stable, so that of two arrivals with one key the order's first event stays first.
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    Plan { orders, arrivals: keyed.into_iter().map(|(_, a)| a).collect() }
}

/// A value written into an INSERT.
enum Lit<'a> {
    Int(i64),
    Text(&'a str),
    Null,
}

impl From<i64> for Lit<'_> {
    fn from(v: i64) -> Self {
        Lit::Int(v)
    }
}

impl<'a> From<&'a str> for Lit<'a> {
    fn from(v: &'a str) -> Self {
        Lit::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Lit<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Lit::Null, Lit::Text)
    }
}

impl From<Option<i64>> for Lit<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Lit::Null, Lit::Int)
    }
}

/// Multi-row INSERTs of one table with the values written inline, each statement about
/// `STATEMENT_BYTES` long. Written as SQL text because building millions of
/// rows through the query builder's values costs several times the database's own time;
/// every value is an integer or a quoted string, so nothing a user typed can escape.
struct Rows {
    head: String,
    sql: String,
    rows: u64,
}

const STATEMENT_BYTES: usize = 1 << 20;

impl Rows {
    fn new(table: &str, columns: &[&str]) -> Rows {
        let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        Rows { sql: head.clone(), head, rows: 0 }
    }

    fn add(&mut self, values: &[Lit<'_>]) {
        if self.sql.len() > self.head.len() {
            self.sql.push(',');
        }
        self.sql.push('(');
        for (n, value) in values.iter().enumerate() {
            if n > 0 {
                self.sql.push(',');
            }
            match value {
                Lit::Int(v) => {
                    let _ = write!(self.sql, "{v}");
                }
                Lit::Text(v) => {
                    self.sql.push('\'');
                    self.sql.push_str(&v.replace('\'', "''"));
                    self.sql.push('\'');
                }
                Lit::Null => self.sql.push_str("NULL"),
            }
        }
        self.sql.push(')');
        self.rows += 1;
    }

    fn full(&self) -> bool {
        self.sql.len() >= STATEMENT_BYTES
    }

    async fn flush(&mut self, db: &impl ConnectionTrait) -> DomainResult<()> {
        if self.sql.len() > self.head.len() {
            db.execute_unprepared(&self.sql).await?;
            self.sql.truncate(self.head.len());
        }
        Ok(())
    }
}

/// The first free id of a table, which the bulk rows then take in order; `claimed` makes
/// the table's own sequence continue after them. On PostgreSQL the table is locked until
/// the transaction ends, so that nobody else takes ids meanwhile; SQLite has one writer.
async fn first_free_id(db: &impl ConnectionTrait, table: &str) -> DomainResult<i64> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_unprepared(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE")).await?;
            format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id")
        }
        _ => format!(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), \
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0)) + 1 AS id"
        ),
    };
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("no id for {table}")))?;
    Ok(row.try_get::<i64>("", "id")?)
}

async fn claimed(db: &impl ConnectionTrait, table: &str, last: i64) -> DomainResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})");
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// On PostgreSQL, when the role may (a superuser, as with `pg_restore --disable-triggers`),
/// the rest of the transaction skips the per-row foreign-key checks: they are a third of
/// the load's time, and the rows refer to each other correctly by construction (a test
/// compares them with what the webhooks make). Otherwise the checks run.
async fn skip_reference_checks(db: &DatabaseTransaction) -> DomainResult<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let attempt = db.begin().await?;
    match attempt.execute_unprepared("SET LOCAL session_replication_role = replica").await {
        Ok(_) => attempt.commit().await?,
        Err(_) => attempt.rollback().await?,
    }
    Ok(())
}

/// Ids handed out in order from a table's first free one.
struct Ids {
    table: &'static str,
    next: i64,
    first: i64,
}

impl Ids {
    async fn of(db: &impl ConnectionTrait, table: &'static str) -> DomainResult<Ids> {
        let first = first_free_id(db, table).await?;
        Ok(Ids { table, next: first, first })
    }

    fn take(&mut self) -> i64 {
        self.next += 1;
        self.next - 1
    }

    async fn finish(&self, db: &impl ConnectionTrait) -> DomainResult<()> {
        if self.next > self.first { claimed(db, self.table, self.next - 1).await } else { Ok(()) }
    }
}

/// The status history and the outbox, as the write path appends to them.
struct Journal {
    brand: i64,
    now: Millis,
    history_ids: Ids,
    history: Rows,
    event_ids: Ids,
    events: Rows,
}

impl Journal {
    /// A status event applied to an order: its history entry and its announcement.
    fn status(
        &mut self,
        campaign_id: i64,
        order_id: i64,
        previous: Option<OrderStatus>,
        status: OrderStatus,
        at: Millis,
    ) -> DomainResult<()> {
        let text = status.to_value();
        let entry: [Lit; 7] = [
            self.history_ids.take().into(),
            self.brand.into(),
            order_id.into(),
            text.as_str().into(),
            at.into(),
            SOURCE.into(),
            self.now.into(),
        ];
        self.history.add(&entry);
        let change = OrderStatusChanged { order_id, previous_status: previous, status, changed_at: at };
        self.announce(campaign_id, EventKind::OrderStatusChanged, &change)
    }

    /// An outbox entry, its payload serialized as `outbox::append` does.
    fn announce(&mut self, campaign_id: i64, kind: EventKind, change: &impl serde::Serialize) -> DomainResult<()> {
        let payload = serde_json::to_string(change).map_err(anyhow::Error::from)?;
        let kind = kind.to_value();
        let event: [Lit; 6] = [
            self.event_ids.take().into(),
            self.brand.into(),
            campaign_id.into(),
            kind.as_str().into(),
            payload.as_str().into(),
            self.now.into(),
        ];
        self.events.add(&event);
        Ok(())
    }
}

/// Writes every planned arrival's rows, then the rollups.
async fn write(
    db: &DatabaseTransaction,
    brand: BrandId,
    currency: Currency,
    members: &[Member],
    plan: &Plan,
    now: Millis,
) -> DomainResult<Counts> {
    skip_reference_checks(db).await?;
    let mut order_ids = Ids::of(db, "orders").await?;
    let mut conversion_ids = Ids::of(db, "conversions").await?;
    let mut journal = Journal {
        brand: brand.0,
        now,
        history_ids: Ids::of(db, "order_events").await?,
        history: Rows::new(
            "order_events",
            &["id", "brand_id", "order_id", "status", "occurred_at", "source", "received_at"],
        ),
        event_ids: Ids::of(db, "events").await?,
        events: Rows::new("events", &["id", "brand_id", "campaign_id", "kind", "payload", "created_at"]),
    };
    let mut review_ids = Ids::of(db, "conversion_reviews").await?;
    let mut orders = Rows::new(
        "orders",
        &[
            "id",
            "brand_id",
            "campaign_id",
            "creator_id",
            "membership_id",
            "external_id",
            "amount",
            "currency",
            "status",
            "coupon_code",
            "ordered_at",
            "status_changed_at",
            "last_event_at",
            "created_at",
        ],
    );
    let mut conversions = Rows::new(
        "conversions",
        &[
            "id",
            "brand_id",
            "order_id",
            "campaign_id",
            "creator_id",
            "membership_id",
            "attribution",
            "commission",
            "approval",
            "reviewed_at",
            "rejection_reason",
            "created_at",
        ],
    );
    let mut reviews =
        Rows::new("conversion_reviews", &["id", "brand_id", "conversion_id", "action", "by_key", "at", "reason"]);
    // The ids each order got when it arrived.
    let mut ids: Vec<(i64, i64)> = vec![(0, 0); plan.orders.len()];
    // Per campaign, creator and day: the figures, and the arrival that created the row.
    let mut rollups: HashMap<[i64; 3], (u64, Contribution)> = HashMap::new();
    let mut hours: HashMap<[i64; 3], (u64, Contribution)> = HashMap::new();
    let code = currency.code();
    for (seq, arrival) in plan.arrivals.iter().enumerate() {
        match *arrival {
            Arrival::First(i) => {
                let o = &plan.orders[i as usize];
                let m = &members[o.member as usize];
                let (order_id, conversion_id) = (order_ids.take(), conversion_ids.take());
                ids[i as usize] = (order_id, conversion_id);
                let coupon = match (o.by_link, o.lower_case) {
                    (true, _) => None,
                    (false, true) => Some(m.coupon.to_lowercase()),
                    (false, false) => Some(m.coupon.clone()),
                };
                // The store numbers orders as they come.
                let external = (FIRST_ORDER_NUMBER + order_id - order_ids.first).to_string();
                let status = o.status().to_value();
                let orders_row: [Lit; 14] = [
                    order_id.into(),
                    brand.0.into(),
                    m.campaign_id.into(),
                    m.creator_id.into(),
                    m.id.into(),
                    external.as_str().into(),
                    o.amount.into(),
                    code.into(),
                    status.as_str().into(),
                    coupon.as_deref().into(),
                    o.ordered_at.into(),
                    o.last_event_at().into(),
                    o.last_event_at().into(),
                    now.into(),
                ];
                orders.add(&orders_row);
                let commission = money::commission(o.amount, m.rate, m.flat);
                let approval = if o.rejected.is_some() { Approval::Rejected } else { Approval::Approved };
                let attribution = if o.by_link { Attribution::AffiliateLink } else { Attribution::CouponCode };
                let (attribution, approval_text) = (attribution.to_value(), approval.to_value());
                let conversion_row: [Lit; 12] = [
                    conversion_id.into(),
                    brand.0.into(),
                    order_id.into(),
                    m.campaign_id.into(),
                    m.creator_id.into(),
                    m.id.into(),
                    attribution.as_str().into(),
                    commission.into(),
                    approval_text.as_str().into(),
                    o.rejected.map(|_| now).into(),
                    o.rejected.into(),
                    now.into(),
                ];
                conversions.add(&conversion_row);
                journal.status(m.campaign_id, order_id, None, OrderStatus::Paid, o.paid_at)?;
                let figures = Contribution::of(o.status(), o.amount, approval, commission);
                let bucket = [m.campaign_id, m.creator_id, time::day(o.ordered_at)];
                let entry = rollups.entry(bucket).or_insert((seq as u64, Contribution::default()));
                entry.1 = entry.1.plus(figures);
                let hour = [m.campaign_id, m.creator_id, entity::figures::hour(o.ordered_at)];
                let entry = hours.entry(hour).or_insert((seq as u64, Contribution::default()));
                entry.1 = entry.1.plus(figures);
            }
            Arrival::Later(i) => {
                let o = &plan.orders[i as usize];
                let m = &members[o.member as usize];
                let Some((status, at)) = o.later else { continue };
                journal.status(m.campaign_id, ids[i as usize].0, Some(OrderStatus::Paid), status, at)?;
            }
            Arrival::Rejection(i) => {
                let o = &plan.orders[i as usize];
                let m = &members[o.member as usize];
                let conversion_id = ids[i as usize].1;
                let rejected = Approval::Rejected.to_value();
                let review: [Lit; 7] = [
                    review_ids.take().into(),
                    brand.0.into(),
                    conversion_id.into(),
                    rejected.as_str().into(),
                    REVIEWER.into(),
                    now.into(),
                    o.rejected.into(),
                ];
                reviews.add(&review);
                let change = ConversionApprovalChanged { conversion_id, approval: Approval::Rejected, at: now };
                journal.announce(m.campaign_id, EventKind::ConversionApprovalChanged, &change)?;
            }
        }
        // Parents before children, for the foreign keys.
        let last = seq + 1 == plan.arrivals.len();
        let all = [&orders, &conversions, &journal.history, &journal.events, &reviews];
        if last || all.iter().any(|rows| rows.full()) {
            for rows in [&mut orders, &mut conversions, &mut journal.history, &mut journal.events, &mut reviews] {
                rows.flush(db).await?;
            }
        }
    }
    // The monthly and all-time rows: each day's figures summed, created with the first of
    // their days.
    let mut months: HashMap<[i64; 3], (u64, Contribution)> = HashMap::new();
    let mut totals: HashMap<[i64; 2], (u64, Contribution)> = HashMap::new();
    for ([campaign, creator, day], (created, f)) in &rollups {
        let month = entity::figures::month_of_day(*day);
        let entry = months.entry([*campaign, *creator, month]).or_insert((*created, Contribution::default()));
        entry.0 = entry.0.min(*created);
        entry.1 = entry.1.plus(*f);
        let entry = totals.entry([*campaign, *creator]).or_insert((*created, Contribution::default()));
        entry.0 = entry.0.min(*created);
        entry.1 = entry.1.plus(*f);
    }
    figures(db, brand, "order_hours", ["campaign_id", "creator_id", "hour"], hours).await?;
    let rollup_rows = figures(db, brand, "order_rollups", ["campaign_id", "creator_id", "day"], rollups).await?;
    figures(db, brand, "order_months", ["campaign_id", "creator_id", "month"], months).await?;
    figures(db, brand, "order_totals", ["campaign_id", "creator_id"], totals).await?;
    for ids in [&order_ids, &conversion_ids, &journal.history_ids, &journal.event_ids, &review_ids] {
        ids.finish(db).await?;
    }
    Ok(Counts {
        orders: orders.rows,
        history: journal.history.rows,
        events: journal.events.rows,
        reviews: reviews.rows,
        rollups: rollup_rows,
    })
}

/// Writes rollup rows to `table` (`order_hours`, `order_rollups`, `order_months` or `order_totals`), each keyed by the
/// brand and `keys`, in the order the write path would have created them (by the arrival
/// that created each); returns how many.
async fn figures<const K: usize>(
    db: &impl ConnectionTrait,
    brand: BrandId,
    table: &'static str,
    keys: [&str; K],
    figures: HashMap<[i64; K], (u64, Contribution)>,
) -> DomainResult<u64> {
    // `order_hours` has no ids on PostgreSQL (migration 9); SQLite numbers its rows itself.
    let mut ids = if table == "order_hours" { None } else { Some(Ids::of(db, table).await?) };
    let mut columns = if ids.is_some() { vec!["id", "brand_id"] } else { vec!["brand_id"] };
    columns.extend(keys);
    columns.extend(["orders", "sales", "approved", "rejected", "earned"]);
    let mut rows = Rows::new(table, &columns);
    let mut figures: Vec<_> = figures.into_iter().collect();
    figures.sort_by_key(|(_, (created, _))| *created);
    for (key, (_, f)) in &figures {
        let mut row: Vec<Lit> = ids.iter_mut().map(|ids| ids.take().into()).collect();
        row.push(brand.0.into());
        row.extend(key.iter().map(|k| Lit::from(*k)));
        row.extend([f.orders, f.sales, f.approved, f.rejected, f.earned].map(Lit::from));
        rows.add(&row);
        if rows.full() {
            rows.flush(db).await?;
        }
    }
    rows.flush(db).await?;
    if let Some(ids) = ids {
        ids.finish(db).await?;
    }
    Ok(rows.rows)
}
