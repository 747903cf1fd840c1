//! Reply texts from templates: greetings, acknowledgements and extractive
//! answers, in the customer's language, within the channel's limit.

use super::extractive::{channel_limit, clean_markdown, trim_to};
use super::prompts::{Prompts, TemplateId};
use super::{AnswerSource, EscalationReason, Inbound, Reply, ReplyKind};
use crate::knowledge::Hit;
use crate::triage::{Lang, SmallTalk};

/// Builds replies for one turn.
pub(super) struct Composer<'a> {
    prompts: &'a Prompts,
    lang: Lang,
    follow_up: String,
    max_chars: usize,
    channel_max: usize,
}

impl<'a> Composer<'a> {
    pub(super) fn new(
        prompts: &'a Prompts,
        lang: Lang,
        inbound: &Inbound<'_>,
        reply_chars: usize,
    ) -> Self {
        let follow_up = match inbound.expected_answer_time {
            Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => prompts.get(TemplateId::FollowUpDefault, lang).render(&[]),
        };
        let channel_max = channel_limit(inbound.channel);
        Self {
            prompts,
            lang,
            follow_up,
            max_chars: reply_chars.min(channel_max),
            channel_max,
        }
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

    pub(super) fn acknowledgement(&self, reason: EscalationReason) -> Reply {
        let id = match reason {
            EscalationReason::Urgent => TemplateId::AckUrgent,
            EscalationReason::LowConfidence => TemplateId::AckNotCovered,
            EscalationReason::NeedsPerson | EscalationReason::ArticleRequiresPerson => {
                TemplateId::AckHuman
            }
        };
        Reply {
            kind: ReplyKind::Acknowledgement,
            text: self.template(id, &[("follow_up", &self.follow_up)]),
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
                ("follow_up", &self.follow_up),
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
