//! Business hours of one queue as pure functions over UTC instants.
//!
//! A queue has a weekly schedule (several periods a day), holidays (whole
//! days, in the queue's zone) and an IANA time zone. Everything else in
//! escalation (SLA due times, deadlines, out-of-hours notices, the "when"
//! text) asks this module one of four questions: is it open now, when does
//! it open next, what instant is N business minutes after this one, and is
//! there any open time between two instants.
//!
//! All four are answered from one primitive, [`BusinessHours::open_intervals`]:
//! the open periods converted to UTC intervals day by day, with adjacent ones
//! merged (so `mon 00:00-24:00` and `tue 00:00-24:00` are one interval and a
//! 24/7 queue never "closes" at midnight). Converting each period boundary
//! from local time to UTC is where daylight-saving rules apply:
//!
//! - a boundary in a skipped hour (spring forward) moves to the end of the
//!   gap, the first instant the local clock shows a later time: a period
//!   `02:00-03:00` on that night in Madrid is empty, `02:30-05:00` opens when
//!   the clock jumps to 03:00;
//! - a boundary in a repeated hour (fall back) is read widely: a start takes
//!   the first occurrence and an end the second, so the period covers every
//!   instant whose wall-clock time lies inside it.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// Minutes in a day; a period may end at `24:00`.
const DAY_MINUTES: u16 = 24 * 60;

/// How far ahead the schedule is searched. A valid schedule has at least one
/// period a week, so only a list of holidays covering years of that weekday
/// could exhaust it; the bound keeps every function total.
const LOOKAHEAD_DAYS: i64 = 10 * 366;

/// Days of the week, Monday first (index with `Weekday::num_days_from_monday`).
pub const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// One open period of a day in local wall-clock time, `start < end`,
/// minutes after midnight; `end` may be 1440 (`24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    start: u16,
    end: u16,
}

impl Period {
    /// A period from minutes after midnight; `None` unless `start < end <= 1440`.
    pub fn new(start: u16, end: u16) -> Option<Period> {
        (start < end && end <= DAY_MINUTES).then_some(Period { start, end })
    }

    /// Parses `HH:MM-HH:MM` (24-hour clock, `24:00` allowed as an end).
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let (start, end) = text.split_once('-').ok_or(PeriodError::Malformed)?;
        let start = parse_clock(start.trim()).ok_or(PeriodError::Malformed)?;
        let end = parse_clock(end.trim()).ok_or(PeriodError::Malformed)?;
        if start == DAY_MINUTES {
            return Err(PeriodError::Malformed);
        }
        Period::new(start, end).ok_or(PeriodError::Inverted)
    }

    /// Start, minutes after local midnight.
    pub fn start_minutes(&self) -> u16 {
        self.start
    }

    /// End, minutes after local midnight (1440 for `24:00`).
    pub fn end_minutes(&self) -> u16 {
        self.end
    }

    /// Whether the period is the whole day (`00:00-24:00`).
    pub fn is_whole_day(&self) -> bool {
        self.start == 0 && self.end == DAY_MINUTES
    }
}

/// Why a period string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodError {
    /// Not `HH:MM-HH:MM`.
    Malformed,
    /// The end is not after the start (periods may not cross midnight).
    Inverted,
}

/// `HH:MM` to minutes after midnight; `24:00` is 1440.
fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(DAY_MINUTES),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// When a queue has agents on: a weekly schedule in a time zone, minus holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    zone: Tz,
    /// Sorted, non-overlapping periods per weekday, Monday first.
    week: [Vec<Period>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Why a schedule was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    /// Two periods of `weekday` overlap.
    Overlap { weekday: Weekday },
    /// No period on any day: the queue would never open.
    NeverOpen,
}

impl BusinessHours {
    /// A schedule from periods per weekday (Monday first). Periods may come in
    /// any order; overlapping ones are refused (touching ones are fine).
    pub fn new(
        zone: Tz,
        week: [Vec<Period>; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<BusinessHours, ScheduleError> {
        let mut week = week;
        for (day, periods) in WEEKDAYS.iter().zip(week.iter_mut()) {
            periods.sort();
            if periods.windows(2).any(|w| w[1].start < w[0].end) {
                return Err(ScheduleError::Overlap { weekday: *day });
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(ScheduleError::NeverOpen);
        }
        Ok(BusinessHours {
            zone,
            week,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// Open every minute of every day in `zone`: the default queue's hours.
    pub fn always_open(zone: Tz) -> BusinessHours {
        let day = || {
            vec![Period {
                start: 0,
                end: DAY_MINUTES,
            }]
        };
        BusinessHours {
            zone,
            week: std::array::from_fn(|_| day()),
            holidays: BTreeSet::new(),
        }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The periods of one weekday, sorted.
    pub fn periods(&self, weekday: Weekday) -> &[Period] {
        &self.week[weekday.num_days_from_monday() as usize]
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    /// Whether agents are on at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.open_intervals(at)
            .next()
            .is_some_and(|(start, _)| start <= at)
    }

    /// `at` itself if open, otherwise the start of the next open period;
    /// `None` only if nothing opens within the lookahead (ten years).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.open_intervals(at)
            .next()
            .map(|(start, _)| start.max(at))
    }

    /// The end of the open interval containing `at` (merged across
    /// midnight), or `None` when closed at `at`. Intervals are cut after a
    /// week, so a queue open around the clock "closes" some 7 days ahead.
    pub fn closes_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.open_intervals(at)
            .next()
            .filter(|(start, _)| *start <= at)
            .map(|(_, end)| end)
    }

    /// The instant when `duration` of open time has passed since `start`:
    /// an SLA counted in business hours. A zero duration gives the next
    /// opening. Should the ten-year lookahead run out, the
    /// plain `start + duration` is returned rather than no answer.
    pub fn add_business_time(&self, start: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
        let mut remaining = duration.max(Duration::zero());
        for (open, close) in self.open_intervals(start) {
            let from = open.max(start);
            let available = close - from;
            if remaining <= available {
                return from + remaining;
            }
            remaining -= available;
        }
        start + duration
    }

    /// Open time between `from` and `until` (zero if `until <= from`).
    pub fn business_time_between(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if until <= from {
            return total;
        }
        for (open, close) in self.open_intervals(from) {
            if open >= until {
                break;
            }
            total += close.min(until) - open.max(from);
        }
        total
    }

    /// Whether any instant in `[from, until)` is open.
    pub fn open_between(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        from < until && self.next_open(from).is_some_and(|open| open < until)
    }

    /// The end of the open time within `[from, until)`: `until` itself if it
    /// falls in an open period, else the close of the last period before it;
    /// `None` when nothing in between is open. The latest moment an agent
    /// can act before `until`.
    pub fn last_open_before(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut last = None;
        for (open, close) in self.open_intervals(from) {
            if open.max(from) >= until {
                break;
            }
            last = Some(close.min(until));
        }
        last
    }

    /// Open intervals `[start, end)` in UTC, merged, in order, starting with
    /// the one that contains `after` or comes next (its `start` may be
    /// before `after`).
    pub fn open_intervals(&self, after: DateTime<Utc>) -> OpenIntervals<'_> {
        // Start a day early: a period of the previous local day can still be
        // running (a 24:00 end merged with today's 00:00 start).
        let first_day = after.with_timezone(&self.zone).date_naive() - Duration::days(1);
        OpenIntervals {
            hours: self,
            after,
            next_day: first_day,
            last_day: first_day + Duration::days(LOOKAHEAD_DAYS),
            pending: None,
            day: Vec::new(),
        }
    }

    /// The raw (unmerged) UTC intervals of one local date, holidays excluded.
    fn intervals_of_day(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.is_holiday(date) {
            return Vec::new();
        }
        self.periods(date.weekday())
            .iter()
            .map(|p| {
                let start = resolve_local(self.zone, at_minutes(date, p.start), Boundary::Start);
                let end = resolve_local(self.zone, at_minutes(date, p.end), Boundary::End);
                (start, end)
            })
            .filter(|(start, end)| start < end)
            .collect()
    }
}

/// The local date-time `minutes` after midnight of `date` (1440 is the next
/// midnight).
fn at_minutes(date: NaiveDate, minutes: u16) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes))
}

/// Which side of a period a local time is, for ambiguous local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    Start,
    End,
}

/// A local wall-clock time as a UTC instant, by the rules in the module docs.
fn resolve_local(zone: Tz, local: NaiveDateTime, boundary: Boundary) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => match boundary {
            Boundary::Start => first.with_timezone(&Utc),
            Boundary::End => second.with_timezone(&Utc),
        },
        LocalResult::None => end_of_gap(zone, local),
    }
}

/// The instant a skipped stretch of local time ends. Transitions fall on
/// whole minutes, so walking minute by minute finds the first local time that
/// exists; its earliest instant is the moment the clock jumped.
fn end_of_gap(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Gaps are at most a day (Samoa skipped 30 December 2011).
    for minute in 1..=(2 * i64::from(DAY_MINUTES)) {
        if let Some(t) = zone
            .from_local_datetime(&(local + Duration::minutes(minute)))
            .earliest()
        {
            return t.with_timezone(&Utc);
        }
    }
    // Unreachable with real zone data; reading the time as UTC is a safe,
    // deterministic stand-in.
    Utc.from_utc_datetime(&local)
}

/// Iterator returned by [`BusinessHours::open_intervals`].
#[derive(Debug)]
pub struct OpenIntervals<'a> {
    hours: &'a BusinessHours,
    after: DateTime<Utc>,
    next_day: NaiveDate,
    last_day: NaiveDate,
    /// The merged interval being grown.
    pending: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Raw intervals of the day being read, in reverse order (popped).
    day: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl OpenIntervals<'_> {
    /// The next raw interval ending after `after`, reading days as needed.
    fn next_raw(&mut self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        loop {
            if let Some(interval) = self.day.pop() {
                if interval.1 > self.after {
                    return Some(interval);
                }
                continue;
            }
            if self.next_day > self.last_day {
                return None;
            }
            self.day = self.hours.intervals_of_day(self.next_day);
            self.day.reverse();
            self.next_day += Duration::days(1);
        }
    }
}

impl Iterator for OpenIntervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(raw) = self.next_raw() else {
                return self.pending.take();
            };
            match self.pending {
                None => self.pending = Some(raw),
                // Touching or overlapping (after DST resolution): one interval.
                Some((start, end)) if raw.0 <= end => self.pending = Some((start, end.max(raw.1))),
                Some(done) => {
                    self.pending = Some(raw);
                    return Some(done);
                }
            }
            // Only a whole empty stretch between intervals proves `pending`
            // complete, so a 24/7 schedule would read every day up to the
            // lookahead; stop growing once it spans more than a week, as no
            // caller needs to know the end of an interval that long.
            if let Some((start, end)) = self.pending
                && end - start > Duration::days(7)
            {
                return self.pending.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::{Mexico_City, Santiago};
    use chrono_tz::Europe::Madrid;

    /// A local wall-clock time in `zone` as UTC (must be unambiguous).
    pub(crate) fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("unambiguous local time")
            .with_timezone(&Utc)
    }

    fn p(text: &str) -> Period {
        Period::parse(text).unwrap()
    }

    fn weekdays(periods: &[&str]) -> [Vec<Period>; 7] {
        let day: Vec<Period> = periods.iter().map(|t| p(t)).collect();
        [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            vec![],
            vec![],
        ]
    }

    fn office(zone: Tz) -> BusinessHours {
        BusinessHours::new(zone, weekdays(&["09:00-19:00"]), []).unwrap()
    }

    #[test]
    fn periods_parse_strictly() {
        assert_eq!(
            p("09:00-19:00"),
            Period {
                start: 540,
                end: 1140
            }
        );
        assert_eq!(p("16:00 - 24:00").end_minutes(), 1440);
        assert!(p("00:00-24:00").is_whole_day());
        assert_eq!(Period::parse("9-19"), Err(PeriodError::Malformed));
        assert_eq!(Period::parse("9:00-19:00"), Err(PeriodError::Malformed));
        assert_eq!(Period::parse("09:00-25:00"), Err(PeriodError::Malformed));
        assert_eq!(Period::parse("24:00-24:00"), Err(PeriodError::Malformed));
        assert_eq!(Period::parse("19:00-09:00"), Err(PeriodError::Inverted));
        assert_eq!(Period::parse("09:00-09:00"), Err(PeriodError::Inverted));
    }

    #[test]
    fn overlapping_or_empty_schedules_are_refused() {
        let mut week = weekdays(&["09:00-14:00", "13:00-18:00"]);
        assert_eq!(
            BusinessHours::new(Madrid, week.clone(), []),
            Err(ScheduleError::Overlap {
                weekday: Weekday::Mon
            })
        );
        week = weekdays(&["09:00-14:00", "14:00-18:00"]);
        assert!(BusinessHours::new(Madrid, week, []).is_ok());
        assert_eq!(
            BusinessHours::new(Madrid, Default::default(), []),
            Err(ScheduleError::NeverOpen)
        );
    }

    #[test]
    fn open_and_next_open_on_a_weekday_schedule() {
        let h = office(Mexico_City);
        // Friday 18:59 open, 19:00 closed; next opening Monday 09:00.
        assert!(h.is_open(local(Mexico_City, 2026, 3, 6, 18, 59)));
        assert!(!h.is_open(local(Mexico_City, 2026, 3, 6, 19, 0)));
        assert_eq!(
            h.next_open(local(Mexico_City, 2026, 3, 6, 19, 0)),
            Some(local(Mexico_City, 2026, 3, 9, 9, 0))
        );
        let open = local(Mexico_City, 2026, 3, 9, 10, 0);
        assert_eq!(h.next_open(open), Some(open));
        assert_eq!(
            h.closes_after(open),
            Some(local(Mexico_City, 2026, 3, 9, 19, 0))
        );
        assert_eq!(h.closes_after(local(Mexico_City, 2026, 3, 7, 10, 0)), None);
    }

    #[test]
    fn business_time_skips_nights_weekends_and_holidays() {
        let holiday = NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
        let h = BusinessHours::new(Mexico_City, weekdays(&["09:00-19:00"]), [holiday]).unwrap();
        // Friday 17:00 + 4 h: 2 h on Friday, Monday 16 is a holiday, 2 h on Tuesday.
        let start = local(Mexico_City, 2026, 3, 13, 17, 0);
        assert_eq!(
            h.add_business_time(start, Duration::hours(4)),
            local(Mexico_City, 2026, 3, 17, 11, 0)
        );
        // Exactly reaching the close stays on the same day.
        assert_eq!(
            h.add_business_time(start, Duration::hours(2)),
            local(Mexico_City, 2026, 3, 13, 19, 0)
        );
        assert_eq!(h.add_business_time(start, Duration::zero()), start);
        assert_eq!(
            h.business_time_between(start, local(Mexico_City, 2026, 3, 17, 11, 0)),
            Duration::hours(4)
        );
    }

    #[test]
    fn several_periods_a_day() {
        let mut week: [Vec<Period>; 7] = Default::default();
        week[5] = vec![p("16:00-18:00"), p("09:00-14:00")];
        let h = BusinessHours::new(Madrid, week, []).unwrap();
        let sat = |hh, mm| local(Madrid, 2026, 6, 13, hh, mm);
        assert!(!h.is_open(sat(15, 0)));
        assert_eq!(h.next_open(sat(15, 0)), Some(sat(16, 0)));
        // 13:00 + 90 min: 60 min before the break, 30 after.
        assert_eq!(
            h.add_business_time(sat(13, 0), Duration::minutes(90)),
            sat(16, 30)
        );
        assert!(h.open_between(sat(14, 30), sat(16, 1)));
        assert!(!h.open_between(sat(14, 0), sat(16, 0)));
        assert_eq!(h.last_open_before(sat(10, 0), sat(15, 0)), Some(sat(14, 0)));
        assert_eq!(h.last_open_before(sat(10, 0), sat(17, 0)), Some(sat(17, 0)));
        assert_eq!(h.last_open_before(sat(14, 0), sat(16, 0)), None);
        // After Saturday's last period the next opening is a week later.
        assert_eq!(
            h.next_open(sat(18, 0)),
            Some(local(Madrid, 2026, 6, 20, 9, 0))
        );
    }

    #[test]
    fn a_night_shift_split_at_midnight_is_one_stretch() {
        let mut week: [Vec<Period>; 7] = Default::default();
        week[0] = vec![p("22:00-24:00")];
        week[1] = vec![p("00:00-06:00")];
        let h = BusinessHours::new(Mexico_City, week, []).unwrap();
        let monday_late = local(Mexico_City, 2026, 3, 9, 23, 0);
        assert_eq!(
            h.closes_after(monday_late),
            Some(local(Mexico_City, 2026, 3, 10, 6, 0))
        );
        // 2 h from Monday 23:00: across midnight without a pause.
        assert_eq!(
            h.add_business_time(monday_late, Duration::hours(2)),
            local(Mexico_City, 2026, 3, 10, 1, 0)
        );
        assert_eq!(
            h.business_time_between(monday_late, monday_late - Duration::hours(1)),
            Duration::zero()
        );
    }

    #[test]
    fn always_open_is_one_interval_across_midnight() {
        let h = BusinessHours::always_open(chrono_tz::UTC);
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 23, 0, 0).unwrap();
        assert!(h.is_open(at));
        assert_eq!(
            h.add_business_time(at, Duration::hours(4)),
            at + Duration::hours(4)
        );
        assert_eq!(
            h.add_business_time(at, Duration::days(30)),
            at + Duration::days(30)
        );
    }

    #[test]
    fn spring_forward_in_madrid_shortens_the_night_not_the_day() {
        // 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let h = BusinessHours::new(Madrid, std::array::from_fn(|_| vec![p("00:00-24:00")]), [])
            .unwrap();
        let before = local(Madrid, 2026, 3, 29, 1, 0);
        // One business hour after 01:00 CET is 03:00 CEST: the clock skipped 02:xx.
        assert_eq!(
            h.add_business_time(before, Duration::hours(1)),
            local(Madrid, 2026, 3, 29, 3, 0)
        );
        // A period starting in the gap opens when the clock jumps.
        let mut week: [Vec<Period>; 7] = Default::default();
        week[6] = vec![p("02:30-05:00")];
        let h = BusinessHours::new(Madrid, week, []).unwrap();
        let jump = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        assert_eq!(h.next_open(before), Some(jump));
        assert_eq!(
            h.business_time_between(before, local(Madrid, 2026, 3, 29, 12, 0)),
            Duration::hours(2)
        );
    }

    #[test]
    fn fall_back_in_madrid_covers_both_repeated_hours() {
        // 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:xx happens twice.
        let mut week: [Vec<Period>; 7] = Default::default();
        week[6] = vec![p("01:00-02:30")];
        let h = BusinessHours::new(Madrid, week, []).unwrap();
        let start = local(Madrid, 2026, 10, 25, 1, 0); // 23:00 UTC on the 24th
        // From 01:00 CEST to the second 02:30 (CET, 01:30 UTC): 2 h 30 min.
        let end = Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap();
        assert_eq!(h.open_intervals(start).next(), Some((start, end)));
        // A 9-to-7 day on the change is 10 wall hours, 10 real hours.
        let h = BusinessHours::new(Madrid, std::array::from_fn(|_| vec![p("09:00-19:00")]), [])
            .unwrap();
        let day = local(Madrid, 2026, 10, 25, 0, 0);
        assert_eq!(
            h.business_time_between(day, local(Madrid, 2026, 10, 25, 23, 0)),
            Duration::hours(10)
        );
    }

    #[test]
    fn santiago_skips_midnight_when_summer_time_starts() {
        // Chile: Saturday 5 September 2026 24:00 becomes Sunday 01:00 (-03).
        let h = BusinessHours::new(
            Santiago,
            std::array::from_fn(|_| vec![p("00:00-12:00")]),
            [],
        )
        .unwrap();
        let saturday_evening = local(Santiago, 2026, 9, 5, 20, 0);
        let sunday_open = local(Santiago, 2026, 9, 6, 1, 0);
        assert_eq!(h.next_open(saturday_evening), Some(sunday_open));
        assert_eq!(
            Santiago.with_ymd_and_hms(2026, 9, 6, 0, 0, 0).single(),
            None,
            "midnight is skipped"
        );
        // Sunday is 11 hours long in business time.
        assert_eq!(
            h.add_business_time(saturday_evening, Duration::hours(11)),
            local(Santiago, 2026, 9, 6, 12, 0)
        );
    }
}
