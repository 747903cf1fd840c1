//! Reply texts from templates: greetings, acknowledgements and extractive
//! answers, in the customer's language, within the channel's limit.

use super::extractive::{channel_limit, clean_markdown, trim_to};
use super::prompts::{Prompts, TemplateId};
use super::{AnswerSource, EscalationReason, ExpectedAnswer, Inbound, Reply, ReplyKind};
use crate::knowledge::Hit;
use crate::triage::{Lang, SmallTalk};

/// Builds replies for one turn.
pub(super) struct Composer<'a> {
    prompts: &'a Prompts,
    lang: Lang,
    fixed_follow_up: Option<String>,
    outlook: Option<&'a dyn ExpectedAnswer>,
    max_chars: usize,
    channel_max: usize,
}

impl<'a> Composer<'a> {
    pub(super) fn new(
        prompts: &'a Prompts,
        lang: Lang,
        inbound: &Inbound<'a>,
        reply_chars: usize,
    ) -> Self {
        let fixed_follow_up = inbound
            .expected_answer_time
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let channel_max = channel_limit(inbound.channel);
        Self {
            prompts,
            lang,
            fixed_follow_up,
            outlook: inbound.expected_answer,
            max_chars: reply_chars.min(channel_max),
            channel_max,
        }
    }

    /// When a person will answer a case of this urgency in `queue`.
    fn follow_up(&self, urgent: bool, queue: Option<&str>) -> String {
        self.fixed_follow_up
            .clone()
            .or_else(|| {
                self.outlook
                    .and_then(|o| o.phrase(urgent, queue, self.lang))
            })
            .unwrap_or_else(|| {
                self.prompts
                    .get(TemplateId::FollowUpDefault, self.lang)
                    .render(&[])
            })
    }

    /// The chat-sized limit for a reply body.
    pub(super) fn max_chars(&self) -> usize {
        self.max_chars
    }

    fn template(&self, id: TemplateId, values: &[(&str, &str)]) -> String {
        trim_to(
            &self.prompts.get(id, self.lang).render(values),
            self.channel_max,
        )
    }

    pub(super) fn small_talk(&self, kind: SmallTalk) -> Reply {
        let id = match kind {
            SmallTalk::Greeting => TemplateId::Greeting,
            SmallTalk::Thanks => TemplateId::Thanks,
            SmallTalk::Acknowledgement => TemplateId::Acknowledgement,
        };
        Reply {
            kind: ReplyKind::Greeting,
            text: self.template(id, &[]),
            article_ids: Vec::new(),
            source: AnswerSource::Template,
        }
    }

    pub(super) fn acknowledgement(&self, reason: EscalationReason, queue: Option<&str>) -> Reply {
        let id = match reason {
            EscalationReason::Urgent => TemplateId::AckUrgent,
            EscalationReason::LowConfidence => TemplateId::AckNotCovered,
            EscalationReason::NeedsPerson | EscalationReason::ArticleRequiresPerson => {
                TemplateId::AckHuman
            }
        };
        Reply {
            kind: ReplyKind::Acknowledgement,
            text: self.template(
                id,
                &[(
                    "follow_up",
                    &self.follow_up(reason == EscalationReason::Urgent, queue),
                )],
            ),
            article_ids: Vec::new(),
            source: AnswerSource::Template,
        }
    }

    fn title(hit: &Hit) -> String {
        match &hit.heading {
            Some(h) if !h.trim().is_empty() => format!("{} — {}", hit.title, h.trim()),
            _ => hit.title.clone(),
        }
    }

    pub(super) fn extractive_answer(&self, hit: &Hit, source: AnswerSource) -> Reply {
        let passage = trim_to(&clean_markdown(&hit.text), self.max_chars);
        let text = self.template(
            TemplateId::AnswerExtractive,
            &[("title", &Self::title(hit)), ("passage", &passage)],
        );
        Reply {
            kind: ReplyKind::Answer,
            text,
            article_ids: vec![hit.article_id.clone()],
            source,
        }
    }

    /// The article's passage plus "a person will follow up".
    pub(super) fn escalated_answer(&self, hit: &Hit) -> Reply {
        let passage = trim_to(&clean_markdown(&hit.text), self.max_chars);
        let text = self.template(
            TemplateId::AnswerEscalated,
            &[
                ("title", &Self::title(hit)),
                ("passage", &passage),
                ("follow_up", &self.follow_up(false, hit.queue.as_deref())),
            ],
        );
        Reply {
            kind: ReplyKind::Answer,
            text,
            article_ids: vec![hit.article_id.clone()],
            source: AnswerSource::Extractive,
        }
    }
}
