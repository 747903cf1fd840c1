//! The customer-facing words of escalation, one small table per language.
//!
//! Kept as data, apart from the rules that pick them ([`super::text`]), so
//! the final wording can move to editable prompt files: a loader builds a
//! [`Wording`] borrowing its own strings and passes it to the same
//! functions. Placeholders are `{name}`; each field says which it takes.

use crate::vocab::Lang;

/// Everything [`super::text`] says, in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wording<'a> {
    /// When the deadline already passed: no placeholder.
    pub asap: &'a str,
    /// A reply within the hour: `{minutes}`.
    pub in_minutes: &'a str,
    /// A reply by a time: `{day}`, `{time}`.
    pub by: &'a str,
    /// The same when the hour is 1 (Spanish "la 1:00", not "las").
    pub by_at_one: &'a str,
    /// Agents come in at a time: `{day}`, `{time}`.
    pub from: &'a str,
    pub from_at_one: &'a str,
    pub today: &'a str,
    pub tomorrow: &'a str,
    /// "on <weekday>" within the coming week, Monday first.
    pub on_weekday: [&'a str; 7],
    /// Further away: `{day}` (of the month), `{month}`.
    pub on_date: &'a str,
    pub months: [&'a str; 12],
    /// The whole "when" sentence: `{when}`.
    pub reply_sentence: &'a str,

    /// Weekday names for opening hours, Monday first.
    pub weekdays: [&'a str; 7],
    /// All seven days with the same hours.
    pub every_day: &'a str,
    /// Three or more consecutive days: `{first}`, `{last}`.
    pub day_range: &'a str,
    /// Between items of a list, and before the last one.
    pub list_separator: &'a str,
    pub list_and: &'a str,
    /// One period: `{start}`, `{end}`.
    pub period: &'a str,
    /// A whole day (`00:00-24:00`).
    pub all_day: &'a str,
    /// Days with their periods: `{days}`, `{periods}`.
    pub days_with_periods: &'a str,
    /// Between groups of days.
    pub group_separator: &'a str,

    /// The out-of-hours notice: `{hours}` (opening hours), `{when}` (next opening).
    pub out_of_hours: &'a str,
    /// `{when}` when the next opening is unknown.
    pub during_opening_hours: &'a str,
}

impl Wording<'static> {
    /// The built-in table for `lang`.
    pub fn builtin(lang: Lang) -> &'static Wording<'static> {
        match lang {
            Lang::Es => &ES,
            Lang::Pt => &PT,
            Lang::En => &EN,
        }
    }
}

pub static ES: Wording<'static> = Wording {
    asap: "lo antes posible",
    in_minutes: "en unos {minutes} minutos",
    by: "{day} antes de las {time}",
    by_at_one: "{day} antes de la {time}",
    from: "{day} a partir de las {time}",
    from_at_one: "{day} a partir de la {time}",
    today: "hoy",
    tomorrow: "mañana",
    on_weekday: [
        "el lunes",
        "el martes",
        "el miércoles",
        "el jueves",
        "el viernes",
        "el sábado",
        "el domingo",
    ],
    on_date: "el {day} de {month}",
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    reply_sentence: "Una persona te responderá {when}.",
    weekdays: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    every_day: "todos los días",
    day_range: "{first} a {last}",
    list_separator: ", ",
    list_and: " y ",
    period: "de {start} a {end}",
    all_day: "las 24 horas",
    days_with_periods: "{days} {periods}",
    group_separator: "; ",
    out_of_hours: "En este momento no hay nadie de nuestro equipo disponible. Nuestro horario de atención es \
                   {hours}. Escríbenos de nuevo {when} y una persona te atenderá.",
    during_opening_hours: "en ese horario",
};

pub static PT: Wording<'static> = Wording {
    asap: "o quanto antes",
    in_minutes: "em cerca de {minutes} minutos",
    by: "{day} até as {time}",
    by_at_one: "{day} até a {time}",
    from: "{day} a partir das {time}",
    from_at_one: "{day} a partir da {time}",
    today: "hoje",
    tomorrow: "amanhã",
    on_weekday: [
        "na segunda-feira",
        "na terça-feira",
        "na quarta-feira",
        "na quinta-feira",
        "na sexta-feira",
        "no sábado",
        "no domingo",
    ],
    on_date: "no dia {day} de {month}",
    months: [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    reply_sentence: "Uma pessoa vai responder {when}.",
    weekdays: [
        "segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo",
    ],
    every_day: "todos os dias",
    day_range: "{first} a {last}",
    list_separator: ", ",
    list_and: " e ",
    period: "das {start} às {end}",
    all_day: "24 horas",
    days_with_periods: "{days}, {periods}",
    group_separator: "; ",
    out_of_hours: "No momento não há ninguém da nossa equipe disponível. Nosso horário de atendimento é \
                   {hours}. Escreva para nós de novo {when} e uma pessoa vai atender você.",
    during_opening_hours: "nesse horário",
};

pub static EN: Wording<'static> = Wording {
    asap: "as soon as possible",
    in_minutes: "in about {minutes} minutes",
    by: "{day} by {time}",
    by_at_one: "{day} by {time}",
    from: "{day} from {time}",
    from_at_one: "{day} from {time}",
    today: "today",
    tomorrow: "tomorrow",
    on_weekday: [
        "on Monday",
        "on Tuesday",
        "on Wednesday",
        "on Thursday",
        "on Friday",
        "on Saturday",
        "on Sunday",
    ],
    on_date: "on {month} {day}",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    reply_sentence: "A person will answer you {when}.",
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    every_day: "every day",
    day_range: "{first} to {last}",
    list_separator: ", ",
    list_and: " and ",
    period: "{start}–{end}",
    all_day: "24 hours",
    days_with_periods: "{days}, {periods}",
    group_separator: "; ",
    out_of_hours: "Nobody from our team is available right now. Our opening hours are {hours}. Please write to \
                   us again {when} and a person will help you.",
    during_opening_hours: "during those hours",
};

/// Replaces each `{key}` in `template` with its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}
