//! The Graph API send client for WhatsApp numbers and Messenger / Instagram
//! pages.
//!
//! It turns an [`OutboundMessage`] into Meta's request (see [`request`]),
//! picks the access token of the number or page the message leaves from, and
//! maps every failure to an [`ErrorClass`] the sender can act on. Tokens are
//! [`SecretString`]s: they go into the `Authorization` header and nowhere else.

mod error;
pub mod request;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use error::{ErrorClass, GraphError, classify};

use super::model::Channel;
use super::outbound::OutboundMessage;
use crate::channels::config::{MetaConfig, SenderConfig};

/// Time to establish a TCP + TLS connection to graph.facebook.com. Meta's
/// edge answers in well under a second; 5 s covers a slow network without
/// letting a dead route hold a sender slot.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default whole-request limit (`sender.request_timeout_ms`). Sends usually
/// take 200–800 ms; Meta occasionally needs several seconds under load. 30 s
/// stays well below the sender's 60 s lease, so a live sender always records
/// its result first.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Access tokens by business id, with a default per product.
#[derive(Debug, Clone, Default)]
pub struct TokenBook {
    whatsapp_numbers: HashMap<String, SecretString>,
    pages: HashMap<String, SecretString>,
    whatsapp_default: Option<SecretString>,
    page_default: Option<SecretString>,
}

impl TokenBook {
    /// The tokens of `[meta]`: per number and per page, falling back to
    /// `access_token` (WhatsApp) and `page_token` (Messenger, Instagram).
    pub fn from_config(meta: &MetaConfig) -> Self {
        let mut book = TokenBook {
            whatsapp_default: meta.access_token.clone(),
            page_default: meta.page_token.clone(),
            ..TokenBook::default()
        };
        for number in &meta.whatsapp_numbers {
            if let Some(token) = &number.access_token {
                book.whatsapp_numbers
                    .insert(number.phone_number_id.clone(), token.clone());
            }
        }
        for page in &meta.pages {
            if let Some(token) = &page.page_token {
                book.pages.insert(page.page_id.clone(), token.clone());
            }
        }
        book
    }

    pub fn with_whatsapp_default(mut self, token: impl Into<String>) -> Self {
        self.whatsapp_default = Some(SecretString::from(token.into()));
        self
    }

    pub fn with_page_default(mut self, token: impl Into<String>) -> Self {
        self.page_default = Some(SecretString::from(token.into()));
        self
    }

    pub fn with_whatsapp_number(
        mut self,
        phone_number_id: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        self.whatsapp_numbers
            .insert(phone_number_id.into(), SecretString::from(token.into()));
        self
    }

    pub fn with_page(mut self, page_id: impl Into<String>, token: impl Into<String>) -> Self {
        self.pages
            .insert(page_id.into(), SecretString::from(token.into()));
        self
    }

    /// The token for sending from `business_id` on `channel`.
    pub fn token_for(&self, channel: Channel, business_id: &str) -> Option<&SecretString> {
        match channel {
            Channel::Whatsapp => self
                .whatsapp_numbers
                .get(business_id)
                .or(self.whatsapp_default.as_ref()),
            Channel::Messenger | Channel::Instagram => {
                self.pages.get(business_id).or(self.page_default.as_ref())
            }
            Channel::Sandbox => None,
        }
    }
}

/// What Meta answered to an accepted send. Accepted is not delivered:
/// delivery arrives later as a status webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReceipt {
    /// The wamid or mid; `None` for mark-read and sender actions.
    pub provider_message_id: Option<String>,
}

/// Sends messages through the Graph API.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    version: String,
    tokens: TokenBook,
}

impl GraphClient {
    /// `base_url` like `https://graph.facebook.com`, `version` like `v23.0`.
    pub fn new(
        base_url: impl Into<String>,
        version: impl Into<String>,
        tokens: TokenBook,
    ) -> anyhow::Result<Self> {
        Self::with_timeout(base_url, version, tokens, REQUEST_TIMEOUT)
    }

    /// Like [`GraphClient::new`] with another whole-request limit.
    pub fn with_timeout(
        base_url: impl Into<String>,
        version: impl Into<String>,
        tokens: TokenBook,
        request_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(request_timeout)
            .user_agent(concat!("ventana/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the Graph API HTTP client")?;
        Ok(Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            version: version.into().trim_matches('/').to_owned(),
            tokens,
        })
    }

    pub fn from_config(meta: &MetaConfig, sender: &SenderConfig) -> anyhow::Result<Self> {
        Self::with_timeout(
            &meta.graph_api_base,
            &meta.graph_api_version,
            TokenBook::from_config(meta),
            Duration::from_millis(sender.request_timeout_ms),
        )
    }

    /// `{base}/{version}/{business_id}/messages`: the phone number id on
    /// WhatsApp, the page id on Messenger (explicit rather than `me`, so a
    /// wrong token shows up as an error instead of a send from another page).
    pub fn messages_url(&self, business_id: &str) -> String {
        format!(
            "{}/{}/{}/messages",
            self.base_url, self.version, business_id
        )
    }

    /// Sends one message. Never retries by itself: the sender decides from
    /// the error's class. Once the request may have been written, a failure
    /// to read Meta's answer is [`ErrorClass::MaybeSent`], never retryable;
    /// a success status whose body was lost still counts as sent.
    pub async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, GraphError> {
        let body = request::body(msg)?;
        let token = self
            .tokens
            .token_for(msg.channel, &msg.business_id)
            .ok_or_else(|| {
                GraphError::local(
                    ErrorClass::Permanent,
                    format!(
                        "no access token configured for {} {}",
                        msg.channel, msg.business_id
                    ),
                )
            })?;
        let response = self
            .http
            .post(self.messages_url(&msg.business_id))
            .bearer_auth(token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| GraphError::transport(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            // Meta said yes and the connection broke while it said so.
            Err(_) if status.is_success() => return Ok(SendReceipt::default()),
            // Meta's error answer was cut short: its status is what counts.
            Err(_) => Default::default(),
        };
        if !status.is_success() {
            return Err(GraphError::from_response(
                status.as_u16(),
                &bytes,
                retry_after,
            ));
        }
        Ok(receipt(&bytes))
    }
}

/// The message id in a success body: WhatsApp `messages[0].id`, Messenger
/// `message_id`; `{"success": true}` (mark-read) has none.
fn receipt(body: &[u8]) -> SendReceipt {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    let provider_message_id = value
        .pointer("/messages/0/id")
        .or_else(|| value.get("message_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    SendReceipt {
        provider_message_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::config::{MessengerPage, WhatsappNumber};

    #[test]
    fn receipts() {
        let wa = br#"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.X"}]}"#;
        assert_eq!(receipt(wa).provider_message_id.as_deref(), Some("wamid.X"));
        let ms = br#"{"recipient_id":"69","message_id":"m_Y"}"#;
        assert_eq!(receipt(ms).provider_message_id.as_deref(), Some("m_Y"));
        assert_eq!(receipt(br#"{"success":true}"#).provider_message_id, None);
    }

    #[test]
    fn token_book_from_config() {
        let meta = MetaConfig {
            access_token: Some("wa-default".into()),
            page_token: Some("page-default".into()),
            whatsapp_numbers: vec![
                WhatsappNumber {
                    phone_number_id: "111".into(),
                    access_token: Some("wa-111".into()),
                },
                WhatsappNumber {
                    phone_number_id: "222".into(),
                    access_token: None,
                },
            ],
            pages: vec![MessengerPage {
                page_id: "p1".into(),
                page_token: Some("page-p1".into()),
            }],
            ..MetaConfig::default()
        };
        let book = TokenBook::from_config(&meta);
        let token = |channel, id| {
            book.token_for(channel, id)
                .map(|t| t.expose_secret().to_owned())
        };
        assert_eq!(token(Channel::Whatsapp, "111").as_deref(), Some("wa-111"));
        assert_eq!(
            token(Channel::Whatsapp, "222").as_deref(),
            Some("wa-default")
        );
        assert_eq!(token(Channel::Messenger, "p1").as_deref(), Some("page-p1"));
        assert_eq!(
            token(Channel::Instagram, "ig").as_deref(),
            Some("page-default")
        );
        assert_eq!(token(Channel::Sandbox, "x"), None);
        assert!(!format!("{book:?}").contains("wa-111"));
    }

    #[test]
    fn urls_name_the_sender() {
        let client =
            GraphClient::new("http://127.0.0.1:9/", "v23.0", TokenBook::default()).unwrap();
        assert_eq!(
            client.messages_url("106540352242922"),
            "http://127.0.0.1:9/v23.0/106540352242922/messages"
        );
    }
}
