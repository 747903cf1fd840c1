//! Reply texts from templates: greetings, acknowledgements and extractive
//! answers, in the customer's language, within the channel's limit. An
//! extractive answer quotes the units of the whole article that answer the
//! question (see `pick`), not just the top of the best passage.

use super::context::retrieval_query;
use super::extractive::{channel_limit, trim_to};
use super::pick::{self, Question, Quote};
use super::units::Section;
use super::{AnswerSource, EscalationReason, ExpectedAnswer, Inbound, Reply, ReplyKind};
use crate::knowledge::{Article, Hit};
use crate::prompts::{Prompts, TemplateId};
use crate::triage::{Lang, SmallTalk};

/// Builds replies for one turn.
pub(super) struct Composer<'a> {
    prompts: &'a Prompts,
    lang: Lang,
    fixed_follow_up: Option<String>,
    outlook: Option<&'a dyn ExpectedAnswer>,
    max_chars: usize,
    channel_max: usize,
    /// The customer's message, and what was retrieved for it.
    turn: &'a str,
    query: String,
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
            turn: inbound.text,
            query: retrieval_query(inbound.text, inbound.history).0,
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

    /// What to quote from `article` (the article `hit` came from, or its
    /// translation), or from the hit's passage alone when the article is
    /// not at hand, with the title line's text.
    fn quote(&self, hit: &Hit, article: Option<&Article>) -> (String, Quote) {
        let question = Question::new(self.turn, &self.query);
        let (title, quote) = match article {
            Some(article) => {
                let sections: Vec<Section<'_>> = article
                    .passages
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Section {
                        heading: p.heading.as_deref(),
                        markdown: article.passage_text(i),
                    })
                    .collect();
                let best = (article.id == hit.article_id)
                    .then(|| best_section(article, hit))
                    .flatten();
                let quote = pick::quote(&sections, &question, best, self.max_chars);
                (article.title.clone(), quote)
            }
            None => {
                let sections = [Section {
                    heading: hit.heading.as_deref(),
                    markdown: &hit.text,
                }];
                let quote = pick::quote(&sections, &question, Some(0), self.max_chars);
                (hit.title.clone(), quote)
            }
        };
        let title = match &quote.heading {
            Some(heading) => format!("{title} — {heading}"),
            None => title,
        };
        (title, quote)
    }

    pub(super) fn extractive_answer(
        &self,
        hit: &Hit,
        article: Option<&Article>,
        source: AnswerSource,
    ) -> Reply {
        let (title, quote) = self.quote(hit, article);
        let text = self.template(
            TemplateId::AnswerExtractive,
            &[("title", &title), ("passage", &quote.text)],
        );
        Reply {
            kind: ReplyKind::Answer,
            text,
            article_ids: article_ids(hit, article),
            source,
        }
    }

    /// The article's answer to the question plus "a person will follow up".
    pub(super) fn escalated_answer(&self, hit: &Hit, article: Option<&Article>) -> Reply {
        let (title, quote) = self.quote(hit, article);
        let text = self.template(
            TemplateId::AnswerEscalated,
            &[
                ("title", &title),
                ("passage", &quote.text),
                ("follow_up", &self.follow_up(false, hit.queue.as_deref())),
            ],
        );
        Reply {
            kind: ReplyKind::Answer,
            text,
            article_ids: article_ids(hit, article),
            source: AnswerSource::Extractive,
        }
    }
}

/// The passage of `article` retrieval returned in `hit`.
fn best_section(article: &Article, hit: &Hit) -> Option<usize> {
    let same_heading = |i: &usize| article.passages[*i].heading == hit.heading;
    let mut sections = 0..article.passages.len();
    sections
        .clone()
        .find(|i| same_heading(i) && article.passage_text(*i) == hit.text)
        .or_else(|| sections.find(same_heading))
}

/// The quoted article first, then the retrieved one when a translation
/// was quoted instead.
fn article_ids(hit: &Hit, article: Option<&Article>) -> Vec<String> {
    match article {
        Some(article) if article.id != hit.article_id => {
            vec![article.id.clone(), hit.article_id.clone()]
        }
        _ => vec![hit.article_id.clone()],
    }
}
