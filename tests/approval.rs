//! Conversion approval: reject and undo with an audit trail, exact totals under concurrency.
#![recursion_limit = "256"]

mod common;

use common::*;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const REJECT: &str = "mutation($id: ID!, $r: String) { rejectConversion(id: $id, reason: $r) {
    conversion { id approval reviewedAt rejectionReason earnedCommission reviews { action by at reason } }
    performance { creator { name } orders sales approvedConversions rejectedConversions commission } } }";
const UNDO: &str = "mutation($id: ID!) { undoRejection(id: $id) {
    conversion { id approval reviewedAt rejectionReason earnedCommission reviews { action by reason } }
    performance { approvedConversions rejectedConversions commission } } }";
const TOTALS: &str = "query($k: ID!, $c: ID!) { campaign(id: $k) { performance { totals { approvedConversions rejectedConversions commission } } }
    node(id: $c) { ... on Creator { totalCommission } } dashboard { commission } }";

async fn paid_order(app: &TestApp, s: &Setup, id: &str, amount: &str) -> String {
    let o = app
        .order_event(
            &s.brand,
            json!({"externalId": id, "amount": amount, "currency": "USD", "status": "PAID",
            "occurredAt": "2026-03-01T10:00:00Z", "couponCode": "ANA10"}),
        )
        .await;
    o["conversion"]["id"].as_str().unwrap().to_string()
}

async fn totals(app: &TestApp, s: &Setup) -> Value {
    let d = app.data(&s.brand.key, TOTALS, json!({"k": s.campaign, "c": s.ana})).await;
    json!([d["campaign"]["performance"]["totals"], d["node"]["totalCommission"], d["dashboard"]["commission"]])
}

async fn reject_then_undo_then_reject_moves_every_total_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let c1 = paid_order(&app, &s, "A1", "100.00").await;
    paid_order(&app, &s, "A2", "50.00").await;
    let all_in = json!([{"approvedConversions": 2, "rejectedConversions": 0, "commission": "15.00"}, "15.00", "15.00"]);
    assert_eq!(totals(&app, &s).await, all_in);

    let rejected =
        app.data(&s.brand.key, REJECT, json!({"id": c1, "r": "Self-referral"})).await["rejectConversion"].clone();
    assert_eq!(rejected["conversion"]["approval"], "REJECTED");
    assert_eq!(rejected["conversion"]["rejectionReason"], "Self-referral");
    assert_eq!(rejected["conversion"]["earnedCommission"], "0.00");
    assert!(rejected["conversion"]["reviewedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        rejected["performance"],
        json!({"creator": {"name": "Ana Silva"}, "orders": 2, "sales": "150.00", "approvedConversions": 1, "rejectedConversions": 1, "commission": "5.00"})
    );
    assert_eq!(
        totals(&app, &s).await,
        json!([{"approvedConversions": 1, "rejectedConversions": 1, "commission": "5.00"}, "5.00", "5.00"])
    );

    let undone = app.data(&s.brand.key, UNDO, json!({"id": c1})).await["undoRejection"].clone();
    assert_eq!(undone["conversion"]["approval"], "APPROVED");
    assert_eq!(undone["conversion"]["rejectionReason"], Value::Null);
    assert_eq!(undone["conversion"]["earnedCommission"], "10.00");
    assert_eq!(
        undone["performance"],
        json!({"approvedConversions": 2, "rejectedConversions": 0, "commission": "15.00"})
    );
    assert_eq!(totals(&app, &s).await, all_in);

    let again = app.data(&s.brand.key, REJECT, json!({"id": c1})).await["rejectConversion"].clone();
    assert_eq!(again["conversion"]["rejectionReason"], Value::Null);
    assert_eq!(
        again["conversion"]["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["action"].clone(), r["by"].clone(), r["reason"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!("REJECTED"), json!("default admin"), json!("Self-referral")),
            (json!("APPROVED"), json!("default admin"), Value::Null),
            (json!("REJECTED"), json!("default admin"), Value::Null),
        ]
    );
    assert_eq!(
        totals(&app, &s).await,
        json!([{"approvedConversions": 1, "rejectedConversions": 1, "commission": "5.00"}, "5.00", "5.00"])
    );
}

async fn moves_that_are_not_transitions_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let c = paid_order(&app, &s, "A1", "100.00").await;
    let undo_approved = app.gql(&s.brand.key, UNDO, json!({"id": c})).await;
    assert_eq!(code(&undo_approved), "INVALID_TRANSITION");
    app.data(&s.brand.key, REJECT, json!({"id": c, "r": "fraud"})).await;
    let twice = app.gql(&s.brand.key, REJECT, json!({"id": c, "r": "again"})).await;
    assert_eq!(code(&twice), "INVALID_TRANSITION");
    let d = app
        .data(
            &s.brand.key,
            "query($id: ID!) { node(id: $id) { ... on Conversion { approval rejectionReason reviews { action } } } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(
        d["node"],
        json!({"approval": "REJECTED", "rejectionReason": "fraud", "reviews": [{"action": "REJECTED"}]})
    );

    let long = "x".repeat(501);
    let c2 = paid_order(&app, &s, "A2", "10.00").await;
    let too_long = app.gql(&s.brand.key, REJECT, json!({"id": c2, "r": long})).await;
    assert_eq!(
        (code(&too_long), too_long["errors"][0]["extensions"]["field"].clone()),
        ("BAD_USER_INPUT", json!("reason"))
    );
    let ok_500 = app.data(&s.brand.key, REJECT, json!({"id": c2, "r": "y".repeat(500)})).await;
    assert_eq!(ok_500["rejectConversion"]["conversion"]["approval"], "REJECTED");
}

async fn only_admins_of_the_same_brand_may_review(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let c = paid_order(&app, &s, "A1", "100.00").await;
    let viewer = app.viewer_key(&s.brand).await;
    assert_eq!(code(&app.gql(&viewer, REJECT, json!({"id": c})).await), "FORBIDDEN");
    let other = app.brand("Other").await;
    assert_eq!(code(&app.gql(&other.key, REJECT, json!({"id": c})).await), "NOT_FOUND");
    assert_eq!(code(&app.gql(&other.key, UNDO, json!({"id": c})).await), "NOT_FOUND");
    assert_eq!(code(&app.gql(&s.brand.key, REJECT, json!({"id": "garbage"})).await), "NOT_FOUND");
    let d = app
        .data(
            &s.brand.key,
            "query($id: ID!) { node(id: $id) { ... on Conversion { approval reviews { action } } } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(d["node"], json!({"approval": "APPROVED", "reviews": []}));
}

async fn rejection_works_for_any_order_status_and_refunds_drop_earned_commission(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let c = paid_order(&app, &s, "A1", "100.00").await;
    let refund = |at: &str, status: &str| json!({"externalId": "A1", "amount": "100.00", "currency": "USD", "status": status, "occurredAt": at, "couponCode": "ANA10"});
    app.order_event(&s.brand, refund("2026-03-02T10:00:00Z", "REFUNDED")).await;
    assert_eq!(
        totals(&app, &s).await,
        json!([{"approvedConversions": 1, "rejectedConversions": 0, "commission": "0.00"}, "0.00", "0.00"])
    );
    let r = app.data(&s.brand.key, REJECT, json!({"id": c})).await;
    assert_eq!(r["rejectConversion"]["performance"]["commission"], "0.00");
    app.data(&s.brand.key, UNDO, json!({"id": c})).await;
    app.order_event(&s.brand, refund("2026-03-03T10:00:00Z", "PAID")).await;
    assert_eq!(
        totals(&app, &s).await,
        json!([{"approvedConversions": 1, "rejectedConversions": 0, "commission": "10.00"}, "10.00", "10.00"])
    );
}

async fn the_payload_row_is_null_once_the_creator_left_the_campaign(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let c = paid_order(&app, &s, "A1", "100.00").await;
    app.data(
        &s.brand.key,
        "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id } }",
        json!({"k": s.campaign, "c": s.ana}),
    )
    .await;
    let r = app.data(&s.brand.key, REJECT, json!({"id": c})).await;
    assert_eq!(r["rejectConversion"]["performance"], Value::Null);
    assert_eq!(r["rejectConversion"]["conversion"]["approval"], "REJECTED");
    let d = app.data(&s.brand.key, "{ dashboard { commission } }", json!({})).await;
    assert_eq!(d["dashboard"]["commission"], "0.00");
}

/// Many clients reject and undo the same conversions at once: every applied change has
/// exactly one review and one outbox event, the final approval matches the last review,
/// and the totals equal the sum recomputed from the conversions.
async fn concurrent_reviews_never_lose_an_update(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let mut conversions = Vec::new();
    for i in 0..4 {
        conversions.push(paid_order(&app, &s, &format!("C{i}"), &format!("{}.00", 10 * (i + 1))).await);
    }
    let mut attempts = Vec::new();
    for round in 0..12 {
        for c in &conversions {
            let (q, vars) = if round % 2 == 0 {
                (REJECT, json!({"id": c, "r": format!("round {round}")}))
            } else {
                (UNDO, json!({"id": c}))
            };
            attempts.push((c.clone(), q, vars));
        }
    }
    let answers =
        futures_util::future::join_all(attempts.iter().map(|(_, q, v)| app.gql(&s.brand.key, q, v.clone()))).await;
    let mut applied = std::collections::HashMap::<String, usize>::new();
    for ((c, _, _), answer) in attempts.iter().zip(&answers) {
        match answer.get("errors") {
            None => *applied.entry(c.clone()).or_default() += 1,
            Some(_) => assert_eq!(code(answer), "INVALID_TRANSITION", "{answer:#}"),
        }
    }
    let mut expected_commission = 0;
    let mut rejected = 0;
    for (i, c) in conversions.iter().enumerate() {
        let d = app
            .data(
                &s.brand.key,
                "query($id: ID!) { node(id: $id) { ... on Conversion { approval reviews { action } } } }",
                json!({"id": c}),
            )
            .await;
        let reviews = d["node"]["reviews"].as_array().unwrap();
        let n = applied.get(c).copied().unwrap_or(0);
        assert_eq!(reviews.len(), n, "one review per applied change");
        for (k, r) in reviews.iter().enumerate() {
            assert_eq!(r["action"], if k % 2 == 0 { "REJECTED" } else { "APPROVED" }, "reviews alternate");
        }
        let approval = d["node"]["approval"].as_str().unwrap();
        assert_eq!(approval, if n % 2 == 1 { "REJECTED" } else { "APPROVED" });
        if approval == "APPROVED" {
            expected_commission += (i as i64 + 1) * 100;
        } else {
            rejected += 1;
        }
    }
    let expected = format!("{}.{:02}", expected_commission / 100, expected_commission % 100);
    assert_eq!(
        totals(&app, &s).await,
        json!([{"approvedConversions": 4 - rejected, "rejectedConversions": rejected, "commission": expected}, expected, expected])
    );
    let events = entity::event::Entity::find()
        .filter(entity::event::Column::Kind.eq("CONVERSION_APPROVAL_CHANGED"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events as usize, applied.values().sum::<usize>(), "one announcement per applied change");
}

on_both_backends!(
    reject_then_undo_then_reject_moves_every_total_at_once,
    moves_that_are_not_transitions_are_refused_and_change_nothing,
    only_admins_of_the_same_brand_may_review,
    rejection_works_for_any_order_status_and_refunds_drop_earned_commission,
    the_payload_row_is_null_once_the_creator_left_the_campaign,
    concurrent_reviews_never_lose_an_update,
);
