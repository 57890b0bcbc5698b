//! Demo data for `tally serve --demo`: a realistic brand to explore in GraphiQL.
//! Every order goes through `orders::record` and every rejection through
//! `approval::review`, the same doors the API uses.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

use super::approval::{self, Approval};
use super::auth::{self, Principal, Role};
use super::memberships::NewMembership;
use super::orders::{self, OrderEvent, OrderStatus};
use super::{BrandId, brands, campaigns, creators, memberships, time};
use entity::{conversion, demo_brand};

pub const DEMO_BRAND: &str = "Glow Cosmetics";

const CREATORS: [(&str, &str); 12] = [
    ("Ana Silva", "@anaglows"),
    ("Ben Carter", "@bencarterbeauty"),
    ("Chloé Martin", "@chloe.skin"),
    ("Dev Patel", "@devdoesmakeup"),
    ("Emma Johansson", "@emmaj"),
    ("Farah Haddad", "@farahglam"),
    ("Gabriel Costa", "@gabecosta"),
    ("Hana Kim", "@hanakimskin"),
    ("Isaac Mensah", "@isaacgrooms"),
    ("Julia Rossi", "@juliarossi"),
    ("Kai Nakamura", "@kai.routine"),
    ("Lena Fischer", "@lenafischer"),
];

/// "Chloé Martin" → "chloe": the first name as an ASCII code.
fn slug(name: &str) -> String {
    let first = name.split(' ').next().unwrap_or(name);
    first
        .chars()
        .map(|c| if c == 'é' { 'e' } else { c })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

/// The demo brand's ADMIN key: the brand `--demo` created before, with the key it showed
/// then (a fresh one only if that key was revoked), or a new demo brand beside whatever
/// brands the database holds. It never keys a brand it did not create.
pub async fn demo_key(db: &DatabaseConnection) -> anyhow::Result<String> {
    match demo_brand::Entity::find().order_by_asc(demo_brand::Column::BrandId).one(db).await? {
        Some(demo) if auth::authenticate(db, &demo.api_key).await.is_ok() => Ok(demo.api_key),
        Some(demo) => {
            let key = auth::create_key(db, BrandId(demo.brand_id), "demo", Role::Admin).await?;
            let mut row: demo_brand::ActiveModel = demo.into();
            row.api_key = Set(key.clone());
            row.update(db).await?;
            Ok(key)
        }
        None => seed(db).await,
    }
}

/// Creates the demo brand with its campaigns, creators, orders and reviews.
async fn seed(db: &DatabaseConnection) -> anyhow::Result<String> {
    let created = brands::create(db, DEMO_BRAND, "USD", Some("https://glow-cosmetics.example.com")).await?;
    let brand = BrandId(created.brand.id);
    let currency = brands::currency(&created.brand)?;
    let key = auth::create_key(db, brand, "demo", Role::Admin).await?;
    demo_brand::ActiveModel { brand_id: Set(brand.0), api_key: Set(key.clone()), created_at: Set(time::now()) }
        .insert(db)
        .await?;
    let mut rng = StdRng::seed_from_u64(2026);

    let spring = campaigns::create(db, brand, "Spring Glow 2026", Some("10")).await?;
    let summer = campaigns::create(db, brand, "Summer Essentials", Some("12.5")).await?;
    let holiday = campaigns::create(db, brand, "Holiday Gift Guide", Some("8")).await?;
    let mut people = Vec::new();
    for (name, handle) in CREATORS {
        let email = format!("{}@creators.example.com", handle.trim_start_matches('@').replace('.', ""));
        let new = creators::NewCreator { name, handle: Some(handle), email: Some(&email) };
        people.push(creators::create(db, brand, new).await?);
    }
    // Everyone joins one campaign with a coupon and a link; every fourth creator joins a
    // second one too; one member has custom terms.
    let mut members = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let slug = slug(&person.name);
        let coupon = format!("{}15", slug.to_uppercase());
        let (rate, flat) = if i == 1 { (Some("15"), Some("2.00")) } else { (None, None) };
        let new = NewMembership {
            campaign_id: [spring.id, summer.id, holiday.id][i % 3],
            creator_id: person.id,
            coupon_code: Some(&coupon),
            affiliate_code: Some(&slug),
            commission_rate: rate,
            commission_flat: flat,
        };
        members.push(memberships::add(db, brand, currency, new).await?);
        if i % 4 == 0 {
            let (coupon, link) = (format!("{}GIFT", slug.to_uppercase()), format!("{slug}-gift"));
            let new = NewMembership {
                campaign_id: [summer.id, holiday.id, spring.id][i % 3],
                creator_id: person.id,
                coupon_code: Some(&coupon),
                affiliate_code: Some(&link),
                commission_rate: None,
                commission_flat: None,
            };
            members.push(memberships::add(db, brand, currency, new).await?);
        }
    }

    let now = time::now();
    let day = 86_400_000;
    for n in 0..320 {
        let m = &members[rng.gen_range(0..members.len())];
        let ordered_at = now - rng.gen_range(0..90 * day);
        let cents = rng.gen_range(1_500..25_000);
        let by_link = rng.gen_bool(0.35);
        let event = OrderEvent {
            external_id: format!("{}", 5_200_000_000_u64 + n),
            amount: cents,
            status: OrderStatus::Paid,
            occurred_at: ordered_at + 60_000,
            ordered_at: Some(ordered_at),
            coupon_code: if by_link { None } else { m.coupon_code.clone() },
            referral_code: if by_link { m.affiliate_code.clone() } else { None },
            source: "demo".to_string(),
        };
        orders::record(db, brand, currency, &event).await?;
        let roll: f64 = rng.r#gen();
        let later = OrderEvent { occurred_at: ordered_at + rng.gen_range(1..10) * day, ..event };
        if roll < 0.08 {
            orders::record(db, brand, currency, &OrderEvent { status: OrderStatus::Refunded, ..later }).await?;
        } else if roll < 0.15 {
            orders::record(db, brand, currency, &OrderEvent { status: OrderStatus::Canceled, ..later }).await?;
        }
    }

    let reviewer = Principal { brand, key_id: 0, key_name: "demo".into(), role: Role::Admin };
    let all = conversion::Entity::find()
        .filter(conversion::Column::BrandId.eq(brand.0))
        .order_by_asc(conversion::Column::Id)
        .all(db)
        .await?;
    for c in &all {
        if !rng.gen_bool(0.06) {
            continue;
        }
        let reason = ["Self-referral", "Order flagged as fraud", "Employee purchase"][rng.gen_range(0..3)];
        approval::review(db, &reviewer, c.id, Approval::Rejected, Some(reason)).await?;
    }
    // One member leaves a campaign and one creator leaves the community: the dashboard
    // keeps their sales, the Performance tab does not show them.
    memberships::remove(db, brand, members[3].campaign_id, members[3].creator_id).await?;
    creators::delete(db, brand, people[11].id).await?;
    Ok(key)
}
