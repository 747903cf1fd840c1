//! Customer-facing escalation text: when a person will answer, and the
//! opening hours for the out-of-hours notice.
//!
//! The rules (minutes within the hour, "today" / "tomorrow" / a weekday
//! within the week / a date beyond it, times in the queue's zone) are here;
//! the words come from a [`Wording`] table, built in or loaded by the caller.
//! Times are written on a 24-hour clock without a leading zero ("9:00"),
//! which reads naturally in all three languages.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

use super::hours::{BusinessHours, Period, WEEKDAYS};
use super::notice::{ExpectedReply, OutOfHoursNotice};
use super::wording::{Wording, fill};
use crate::vocab::Lang;

/// Up to this many minutes away, a reply is promised "in about N minutes".
const MINUTES_HORIZON: i64 = 60;
/// Minutes are rounded up to a multiple of this ("about 15", not "about 13").
const MINUTES_STEP: i64 = 5;

/// The "when" fragment of the acknowledgement ("en unos 15 minutos", "hoy
/// antes de las 18:30", "el lunes a partir de las 9:00"), for the `{follow_up}`
/// slot of the acknowledgement prompts.
pub fn expected_reply_phrase(
    expected: ExpectedReply,
    now: DateTime<Utc>,
    zone: Tz,
    wording: &Wording<'_>,
) -> String {
    match expected {
        ExpectedReply::AsSoonAsPossible => wording.asap.to_owned(),
        ExpectedReply::By(at) if at <= now => wording.asap.to_owned(),
        ExpectedReply::By(at) if (at - now).num_minutes() < MINUTES_HORIZON => {
            let seconds = (at - now).num_seconds();
            let step = MINUTES_STEP * 60;
            let minutes = ((seconds + step - 1) / step).max(1) * MINUTES_STEP;
            fill(wording.in_minutes, &[("minutes", &minutes.to_string())])
        }
        ExpectedReply::By(at) => {
            day_and_time(at, now, zone, wording, wording.by, wording.by_at_one)
        }
        ExpectedReply::From(at) => {
            day_and_time(at, now, zone, wording, wording.from, wording.from_at_one)
        }
    }
}

/// The whole sentence ("Una persona te responderá en unos 15 minutos.") with
/// the built-in wording of `lang`.
pub fn expected_reply_text(
    expected: ExpectedReply,
    now: DateTime<Utc>,
    lang: Lang,
    zone: Tz,
) -> String {
    let wording = Wording::builtin(lang);
    let when = expected_reply_phrase(expected, now, zone, wording);
    fill(wording.reply_sentence, &[("when", &when)])
}

/// `at` as "<day> <time>" relative to `now`, both read in `zone`.
fn day_and_time(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Tz,
    wording: &Wording<'_>,
    template: &str,
    template_at_one: &str,
) -> String {
    let local = at.with_timezone(&zone);
    let days_ahead = (local.date_naive() - now.with_timezone(&zone).date_naive()).num_days();
    let day = match days_ahead {
        ..=0 => wording.today.to_owned(),
        1 => wording.tomorrow.to_owned(),
        2..=6 => wording.on_weekday[local.weekday().num_days_from_monday() as usize].to_owned(),
        _ => fill(
            wording.on_date,
            &[
                ("day", &local.day().to_string()),
                ("month", wording.months[local.month0() as usize]),
            ],
        ),
    };
    let template = if local.hour() == 1 {
        template_at_one
    } else {
        template
    };
    let time = clock(local.hour() * 60 + local.minute());
    fill(template, &[("day", &day), ("time", &time)])
}

/// Minutes after midnight as "9:00" (1440 as "24:00").
fn clock(minutes: u32) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// The weekly schedule in words: "lunes a viernes de 9:00 a 19:00; sábado
/// de 9:00 a 14:00 y de 16:00 a 18:00". Days with the same periods are
/// grouped; three or more consecutive ones become a range. Holidays are not
/// listed (the notice gives the next opening, which skips them).
pub fn describe_opening_hours(hours: &BusinessHours, wording: &Wording<'_>) -> String {
    // Groups of weekday indexes with identical periods, in weekday order.
    let mut groups: Vec<(&[Period], Vec<usize>)> = Vec::new();
    for (i, day) in WEEKDAYS.iter().enumerate() {
        let periods = hours.periods(*day);
        if periods.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(p, _)| *p == periods) {
            Some((_, days)) => days.push(i),
            None => groups.push((periods, vec![i])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(periods, days)| {
            let days = describe_days(days, wording);
            let periods: Vec<String> = periods
                .iter()
                .map(|p| describe_period(p, wording))
                .collect();
            fill(
                wording.days_with_periods,
                &[("days", &days), ("periods", &join_list(&periods, wording))],
            )
        })
        .collect();
    parts.join(wording.group_separator)
}

fn describe_period(period: &Period, wording: &Wording<'_>) -> String {
    if period.is_whole_day() {
        return wording.all_day.to_owned();
    }
    fill(
        wording.period,
        &[
            ("start", &clock(u32::from(period.start_minutes()))),
            ("end", &clock(u32::from(period.end_minutes()))),
        ],
    )
}

/// Weekday indexes (sorted) as "lunes a viernes", "sábado y domingo",
/// "lunes, miércoles y viernes" or "todos los días".
fn describe_days(days: &[usize], wording: &Wording<'_>) -> String {
    if days.len() == 7 {
        return wording.every_day.to_owned();
    }
    let mut items = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j + 1] == days[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            items.push(fill(
                wording.day_range,
                &[
                    ("first", wording.weekdays[days[i]]),
                    ("last", wording.weekdays[days[j]]),
                ],
            ));
        } else {
            items.extend(days[i..=j].iter().map(|d| wording.weekdays[*d].to_owned()));
        }
        i = j + 1;
    }
    join_list(&items, wording)
}

/// "a, b y c".
fn join_list(items: &[String], wording: &Wording<'_>) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!(
            "{}{}{last}",
            init.join(wording.list_separator),
            wording.list_and
        ),
    }
}

/// The out-of-hours notice: the opening hours and when to write again.
pub fn out_of_hours_text(
    notice: &OutOfHoursNotice,
    hours: &BusinessHours,
    now: DateTime<Utc>,
    wording: &Wording<'_>,
) -> String {
    let when = match notice.next_open {
        Some(open) => expected_reply_phrase(ExpectedReply::From(open), now, hours.zone(), wording),
        None => wording.during_opening_hours.to_owned(),
    };
    fill(
        wording.out_of_hours,
        &[
            ("hours", &describe_opening_hours(hours, wording)),
            ("when", &when),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use chrono_tz::America::{Mexico_City, Sao_Paulo};

    fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn texts(expected: ExpectedReply, now: DateTime<Utc>, zone: Tz) -> [String; 3] {
        Lang::ALL.map(|lang| expected_reply_text(expected, now, lang, zone))
    }

    #[test]
    fn within_the_hour_in_minutes_rounded_up() {
        let now = local(Mexico_City, 2026, 3, 9, 11, 0);
        let by = ExpectedReply::By(now + Duration::minutes(15));
        assert_eq!(
            texts(by, now, Mexico_City),
            [
                "Una persona te responderá en unos 15 minutos.",
                "Uma pessoa vai responder em cerca de 15 minutos.",
                "A person will answer you in about 15 minutes.",
            ]
        );
        let by = ExpectedReply::By(now + Duration::minutes(12) + Duration::seconds(5));
        assert_eq!(
            expected_reply_phrase(by, now, Mexico_City, &crate::escalation::wording::ES),
            "en unos 15 minutos"
        );
    }

    #[test]
    fn later_today_and_tomorrow_by_a_time() {
        let now = local(Mexico_City, 2026, 3, 9, 11, 0);
        let today = ExpectedReply::By(local(Mexico_City, 2026, 3, 9, 18, 30));
        assert_eq!(
            texts(today, now, Mexico_City),
            [
                "Una persona te responderá hoy antes de las 18:30.",
                "Uma pessoa vai responder hoje até as 18:30.",
                "A person will answer you today by 18:30.",
            ]
        );
        let tomorrow = ExpectedReply::By(local(Mexico_City, 2026, 3, 10, 1, 15));
        assert_eq!(
            texts(tomorrow, now, Mexico_City),
            [
                "Una persona te responderá mañana antes de la 1:15.",
                "Uma pessoa vai responder amanhã até a 1:15.",
                "A person will answer you tomorrow by 1:15.",
            ]
        );
    }

    #[test]
    fn closed_means_from_the_next_opening() {
        let saturday = local(Mexico_City, 2026, 3, 7, 2, 0);
        let monday = ExpectedReply::From(local(Mexico_City, 2026, 3, 9, 9, 0));
        assert_eq!(
            texts(monday, saturday, Mexico_City),
            [
                "Una persona te responderá el lunes a partir de las 9:00.",
                "Uma pessoa vai responder na segunda-feira a partir das 9:00.",
                "A person will answer you on Monday from 9:00.",
            ]
        );
        // Beyond a week: a date.
        let later = ExpectedReply::From(local(Mexico_City, 2026, 3, 16, 9, 0));
        assert_eq!(
            texts(later, saturday, Mexico_City),
            [
                "Una persona te responderá el 16 de marzo a partir de las 9:00.",
                "Uma pessoa vai responder no dia 16 de março a partir das 9:00.",
                "A person will answer you on March 16 from 9:00.",
            ]
        );
        assert_eq!(
            texts(ExpectedReply::AsSoonAsPossible, saturday, Mexico_City)[1],
            "Uma pessoa vai responder o quanto antes."
        );
    }

    #[test]
    fn days_are_counted_in_the_queue_zone() {
        // Monday 23:30 in Mexico City: 9:15 on Tuesday is "tomorrow" there,
        // but the same instant is "today" in São Paulo (already Tuesday 02:30).
        let now = local(Mexico_City, 2026, 3, 9, 23, 30);
        let by = ExpectedReply::By(local(Mexico_City, 2026, 3, 10, 9, 15));
        assert_eq!(
            expected_reply_text(by, now, Lang::Es, Mexico_City),
            "Una persona te responderá mañana antes de las 9:15."
        );
        assert_eq!(
            expected_reply_text(by, now, Lang::En, Sao_Paulo),
            "A person will answer you today by 12:15."
        );
    }

    fn hours(spec: &[&[&str]; 7]) -> BusinessHours {
        let week =
            std::array::from_fn(|i| spec[i].iter().map(|p| Period::parse(p).unwrap()).collect());
        BusinessHours::new(Mexico_City, week, []).unwrap()
    }

    #[test]
    fn opening_hours_in_three_languages() {
        let h = hours(&[
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-14:00", "16:00-18:00"],
            &[],
        ]);
        let describe = |lang| describe_opening_hours(&h, Wording::builtin(lang));
        assert_eq!(
            describe(Lang::Es),
            "lunes a viernes de 9:00 a 19:00; sábado de 9:00 a 14:00 y de 16:00 a 18:00"
        );
        assert_eq!(
            describe(Lang::Pt),
            "segunda a sexta, das 9:00 às 19:00; sábado, das 9:00 às 14:00 e das 16:00 às 18:00"
        );
        assert_eq!(
            describe(Lang::En),
            "Monday to Friday, 9:00–19:00; Saturday, 9:00–14:00 and 16:00–18:00"
        );
    }

    #[test]
    fn opening_hours_group_scattered_days_and_whole_days() {
        let h = hours(&[
            &["10:00-18:00"],
            &[],
            &["10:00-18:00"],
            &[],
            &["10:00-18:00"],
            &["10:00-13:00"],
            &["10:00-13:00"],
        ]);
        assert_eq!(
            describe_opening_hours(&h, Wording::builtin(Lang::Es)),
            "lunes, miércoles y viernes de 10:00 a 18:00; sábado y domingo de 10:00 a 13:00"
        );
        let always = BusinessHours::always_open(Mexico_City);
        assert_eq!(
            describe_opening_hours(&always, Wording::builtin(Lang::Es)),
            "todos los días las 24 horas"
        );
        assert_eq!(
            describe_opening_hours(&always, Wording::builtin(Lang::En)),
            "every day, 24 hours"
        );
    }

    #[test]
    fn the_out_of_hours_notice_names_hours_and_next_opening() {
        let h = hours(&[
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-19:00"],
            &["09:00-19:00"],
            &[],
            &[],
        ]);
        let now = local(Mexico_City, 2026, 3, 7, 11, 0);
        let notice = OutOfHoursNotice {
            next_open: Some(local(Mexico_City, 2026, 3, 9, 9, 0)),
            window_closes_at: now + Duration::hours(24),
        };
        let text = |lang| out_of_hours_text(&notice, &h, now, Wording::builtin(lang));
        assert_eq!(
            text(Lang::Es),
            "En este momento no hay nadie de nuestro equipo disponible. Nuestro horario de atención es lunes a \
             viernes de 9:00 a 19:00. Escríbenos de nuevo el lunes a partir de las 9:00 y una persona te atenderá."
        );
        assert_eq!(
            text(Lang::Pt),
            "No momento não há ninguém da nossa equipe disponível. Nosso horário de atendimento é segunda a \
             sexta, das 9:00 às 19:00. Escreva para nós de novo na segunda-feira a partir das 9:00 e uma pessoa \
             vai atender você."
        );
        assert_eq!(
            text(Lang::En),
            "Nobody from our team is available right now. Our opening hours are Monday to Friday, 9:00–19:00. \
             Please write to us again on Monday from 9:00 and a person will help you."
        );
    }
}
