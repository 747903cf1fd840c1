//! `value.statuses[]`: delivery progress of messages the business sent.

use serde_json::Value;

use super::CHANNEL;
use crate::channels::model::{DeliveryStatus, Event, Pricing, ProviderError, StatusUpdate};
use crate::channels::parse::{
    TimeUnit, array_at, malformed, str_at, string_at, timestamp_at, unknown,
};

pub(super) fn parse(raw: &Value, business_id: &str) -> Event {
    let business = || Some(business_id.to_owned());
    let Some(id) = string_at(raw, "id") else {
        return malformed(CHANNEL, business(), "status_without_id", raw);
    };
    let Some(name) = str_at(raw, "status") else {
        return malformed(CHANNEL, business(), "status_without_status", raw);
    };
    let Some(status) = DeliveryStatus::parse(name) else {
        return unknown(CHANNEL, business(), format!("status:{name}"), raw);
    };
    let Some(timestamp) = timestamp_at(raw, "timestamp", TimeUnit::Seconds) else {
        return malformed(CHANNEL, business(), "bad_timestamp", raw);
    };
    Event::Status(StatusUpdate {
        channel: CHANNEL,
        business_id: business_id.to_owned(),
        provider_message_id: id,
        status,
        timestamp,
        recipient_id: string_at(raw, "recipient_id")
            .or_else(|| string_at(raw, "recipient_user_id")),
        errors: array_at(raw, "errors").iter().map(provider_error).collect(),
        pricing: raw.get("pricing").filter(|p| p.is_object()).map(pricing),
        raw: raw.clone(),
    })
}

fn provider_error(raw: &Value) -> ProviderError {
    ProviderError {
        code: raw.get("code").and_then(Value::as_i64).unwrap_or_default(),
        subcode: raw.get("error_subcode").and_then(Value::as_i64),
        title: string_at(raw, "title"),
        message: string_at(raw, "message"),
        details: raw.get("error_data").and_then(|d| string_at(d, "details")),
    }
}

fn pricing(raw: &Value) -> Pricing {
    Pricing {
        billable: raw.get("billable").and_then(Value::as_bool),
        pricing_model: string_at(raw, "pricing_model"),
        pricing_type: string_at(raw, "type"),
        category: string_at(raw, "category"),
    }
}
