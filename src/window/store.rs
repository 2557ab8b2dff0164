//! [`SloWindows`]: one SLO's event buckets and the running sums of its windows.
//!
//! Time is counted in whole minutes since the Unix epoch ("minute index"). A window of
//! `w` minutes evaluated at end `E` covers the minute buckets that started in
//! `[E - w, E)`: at 10:00 the 5m window is the minutes 09:55 to 09:59, all complete.
//!
//! - Windows up to six hours ([`FINE_MAX_MINUTES`]) are summed from one-minute buckets and
//!   are exact.
//! - Longer windows (1d, 3d, the period) are summed from five-minute buckets. They are exact
//!   at their recent edge, which matters for detection: the minutes of the five-minute
//!   bucket still being filled are read from the minute ring. At the old edge, 1d, 3d or 30d
//!   ago, only five-minute detail exists, so the one bucket that straddles the edge counts
//!   pro rata (the share of its minutes inside the window). Every window thus covers exactly
//!   `w` minutes; with steady traffic in that one bucket the sum is exact.
//!
//! Sums are kept as running sums anchored at the current end and slid minute by minute,
//! so an evaluation costs O(number of windows), whatever their length. Data may arrive
//! late (overwriting a minute still in the minute ring adjusts every sum that covers it)
//! and may run ahead of the evaluation by up to [`SLACK_MINUTES`]; further ahead, or
//! after a jump in time, the sums are rebuilt from the buckets once.

use super::buckets::{Buckets, Counts};

/// Minutes per coarse bucket.
pub const COARSE_MINUTES: i64 = 5;
/// Windows up to this length (6h, the longest page window of the SRE Workbook catalog)
/// are kept at minute resolution; longer ones use five-minute buckets.
pub const FINE_MAX_MINUTES: i64 = 360;
/// Most windows one SLO can have: Sloth's eight alert windows and the period. Kept inline
/// (no per-SLO heap allocation) so an evaluation touches as little memory as possible.
pub const MAX_WINDOWS: usize = 9;
/// How many minutes late data may be and still overwrite its minute (on top of the
/// longest minute window), and how far data may run ahead of the evaluation before the
/// sums must be rebuilt. CloudWatch publishes within a few minutes and burnwatch re-reads
/// the last few; an hour covers slow publishers and short daemon stalls.
pub const SLACK_MINUTES: i64 = 60;

/// Event totals of one window. Floats because the five-minute bucket at a long window's
/// old edge counts pro rata; the values are whole numbers for minute windows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowSum {
    /// Bad events (for raw SLIs: the sum of per-sample error ratios, fixed point).
    pub errors: f64,
    /// All events (for raw SLIs: the number of samples, fixed point).
    pub total: f64,
}

/// Why a window set was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A window of zero minutes.
    #[error("a window must be at least one minute long")]
    Empty,
    /// More windows than [`MAX_WINDOWS`].
    #[error("at most {MAX_WINDOWS} windows per SLO")]
    TooMany,
}

/// Why a datapoint was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The minute is older than the minute ring keeps; it can no longer be told apart
    /// from the five-minute bucket it was summed into.
    #[error("datapoint for minute {minute} is too late: the oldest minute still kept is {oldest}")]
    TooLate {
        /// The minute index of the datapoint.
        minute: i64,
        /// The oldest minute index that can still be written.
        oldest: i64,
    },
}

#[derive(Clone, Copy, Debug, Default)]
struct Window {
    minutes: i64,
    coarse: bool,
    /// Running sums: all buckets of a minute window, or the whole five-minute buckets of
    /// a long window (not its head minutes, not its pro-rated tail bucket).
    errors: u64,
    total: u64,
    /// A long window's tail bucket (the one straddling its old edge), cached so that an
    /// evaluation does not read a bucket from a day or a month ago every minute; it only
    /// changes when the window crosses a five-minute boundary or late data lands in it.
    tail: Counts,
}

impl Window {
    fn add(&mut self, c: Counts) {
        self.errors = self.errors.wrapping_add(c.errors);
        self.total = self.total.wrapping_add(c.total);
    }
    fn sub(&mut self, c: Counts) {
        self.errors = self.errors.wrapping_sub(c.errors);
        self.total = self.total.wrapping_sub(c.total);
    }
    /// Whole five-minute buckets `[lo, hi)` of a long window ending at minute `end`.
    fn coarse_range(&self, end: i64) -> (i64, i64) {
        (
            (end - self.minutes).div_euclid(COARSE_MINUTES)
                + i64::from((end - self.minutes).rem_euclid(COARSE_MINUTES) != 0),
            end.div_euclid(COARSE_MINUTES),
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// Sums cover windows ending here (exclusive minute index).
    end: i64,
    /// The newest minute whose ring slot is current (written or cleared).
    newest: i64,
    /// Ring slot of minute `newest`. Slots are tracked relative to the newest bucket
    /// rather than computed as `minute % len`: no division per bucket access.
    fine_slot: usize,
    /// Ring slot of five-minute bucket `newest / 5`.
    coarse_slot: usize,
}

impl Cursor {
    fn newest_coarse(&self) -> i64 {
        self.newest.div_euclid(COARSE_MINUTES)
    }
}

/// Slot `back` buckets before `newest_slot` in a ring of `len`, if the ring still holds it.
#[inline]
fn slot_back(newest_slot: usize, back: i64, len: usize) -> Option<usize> {
    if back < 0 || back >= len as i64 {
        return None;
    }
    let s = newest_slot as i64 - back;
    Some(if s < 0 { s + len as i64 } else { s } as usize)
}

/// Slot `ahead` buckets after `slot` in a ring of `len` (`ahead >= 0`).
#[inline]
fn slot_ahead(slot: usize, ahead: i64, len: usize) -> usize {
    let len = len as i64;
    let s = slot as i64 + if ahead < len { ahead } else { ahead % len };
    (if s >= len { s - len } else { s }) as usize
}

/// One SLO's buckets and window sums. Pure data: no clock, no I/O.
#[derive(Clone, Debug)]
pub struct SloWindows {
    windows: [Window; MAX_WINDOWS],
    window_count: usize,
    fine: Buckets,
    coarse: Buckets,
    cursor: Option<Cursor>,
    /// The running sums are stale and must be rebuilt at the next [`SloWindows::advance`].
    dirty: bool,
    last_data: Option<i64>,
}

impl SloWindows {
    /// A store for windows of the given lengths in minutes (any order, duplicates allowed;
    /// [`SloWindows::sum`] takes an index into this list).
    pub fn new(window_minutes: &[u32]) -> Result<Self, WindowError> {
        if window_minutes.contains(&0) {
            return Err(WindowError::Empty);
        }
        if window_minutes.len() > MAX_WINDOWS {
            return Err(WindowError::TooMany);
        }
        let mut windows = [Window::default(); MAX_WINDOWS];
        for (w, &m) in windows.iter_mut().zip(window_minutes) {
            *w = Window {
                minutes: i64::from(m),
                coarse: i64::from(m) > FINE_MAX_MINUTES,
                ..Window::default()
            };
        }
        let windows_used = &windows[..window_minutes.len()];
        let fine_max = windows_used
            .iter()
            .filter(|w| !w.coarse)
            .map(|w| w.minutes)
            .max()
            .unwrap_or(0)
            .max(COARSE_MINUTES);
        let fine_len = fine_max + SLACK_MINUTES;
        let coarse_max = windows_used
            .iter()
            .filter(|w| w.coarse)
            .map(|w| w.minutes)
            .max()
            .unwrap_or(0)
            // The coarse ring must at least span the minute ring (late writes touch both).
            .max(fine_len);
        let coarse_len =
            (coarse_max + SLACK_MINUTES + COARSE_MINUTES - 1).div_euclid(COARSE_MINUTES) + 2;
        Ok(SloWindows {
            windows,
            window_count: window_minutes.len(),
            fine: Buckets::new(fine_len as usize),
            coarse: Buckets::new(coarse_len as usize),
            cursor: None,
            dirty: false,
            last_data: None,
        })
    }

    /// The end (exclusive minute index) the sums are anchored at, once anything happened.
    pub fn end(&self) -> Option<i64> {
        self.cursor.map(|c| c.end)
    }

    /// The newest minute that had a datapoint.
    pub fn last_data_minute(&self) -> Option<i64> {
        self.last_data
    }

    /// Store the counts of one minute, replacing what that minute held (sources re-read
    /// recent minutes as late data arrives; the newest value wins).
    pub fn record(&mut self, minute: i64, counts: Counts) -> Result<(), RecordError> {
        let start = self.start(minute);
        if minute > start.newest {
            self.materialise(minute);
            if minute - start.end >= SLACK_MINUTES {
                // Too far ahead of the sums to slide them later: rebuild instead.
                self.dirty = true;
            }
        }
        let cur = self.cursor.unwrap_or(start);
        let Some(slot) = slot_back(cur.fine_slot, cur.newest - minute, self.fine.len()) else {
            return Err(RecordError::TooLate {
                minute,
                oldest: cur.newest - self.fine.len() as i64 + 1,
            });
        };
        let old = self.fine.get(slot).unwrap_or_default();
        self.fine.set(slot, Some(counts));

        let c = minute.div_euclid(COARSE_MINUTES);
        // The coarse ring spans more than the minute ring: a held minute's bucket is held.
        if let Some(cslot) = slot_back(cur.coarse_slot, cur.newest_coarse() - c, self.coarse.len())
        {
            // The five-minute bucket holds the sum of its minutes, so swap the old minute
            // for the new one (wrapping: the sum never really goes below zero).
            let mut bucket = self.coarse.get(cslot).unwrap_or_default();
            bucket.errors = bucket
                .errors
                .wrapping_sub(old.errors)
                .wrapping_add(counts.errors);
            bucket.total = bucket
                .total
                .wrapping_sub(old.total)
                .wrapping_add(counts.total);
            self.coarse.set(cslot, Some(bucket));
            if minute < cur.end && !self.dirty {
                for w in &mut self.windows[..self.window_count] {
                    let inside = if w.coarse {
                        let (lo, hi) = w.coarse_range(cur.end);
                        if c == lo - 1 {
                            w.tail = bucket;
                        }
                        (lo..hi).contains(&c)
                    } else {
                        minute >= cur.end - w.minutes
                    };
                    if inside {
                        w.sub(old);
                        w.add(counts);
                    }
                }
            }
        }
        self.last_data = Some(self.last_data.map_or(minute, |l| l.max(minute)));
        Ok(())
    }

    /// Store a whole five-minute bucket (`bucket` = minute index / [`COARSE_MINUTES`]) whose
    /// minutes the minute ring no longer holds, replacing what it held: a backfill chunk
    /// re-read after it failed, once newer data moved the ring on. Only the long windows
    /// reach that far back; their sums are rebuilt from the buckets at the next
    /// [`SloWindows::advance`] (or summed directly until then). Buckets whose minutes are
    /// still in the minute ring go through [`SloWindows::record`].
    pub fn record_coarse(&mut self, bucket: i64, counts: Counts) -> Result<(), RecordError> {
        let first = bucket * COARSE_MINUTES;
        let Some(cur) = self.cursor else {
            return self.record(first, counts);
        };
        // Some of its minutes are still held: they must be written one by one.
        let oldest_minute = cur.newest - self.fine.len() as i64 + 1;
        if first + COARSE_MINUTES > oldest_minute {
            return Err(RecordError::TooLate {
                minute: first,
                oldest: oldest_minute,
            });
        }
        let back = cur.newest_coarse() - bucket;
        let Some(slot) = slot_back(cur.coarse_slot, back, self.coarse.len()) else {
            return Err(RecordError::TooLate {
                minute: first,
                oldest: (cur.newest_coarse() - self.coarse.len() as i64 + 1) * COARSE_MINUTES,
            });
        };
        self.coarse.set(slot, Some(counts));
        self.dirty = true;
        Ok(())
    }

    /// Move the windows' end to minute `end` (exclusive): the evaluation at 10:00 covers
    /// minutes up to 09:59. Minutes that never got a datapoint stay "no datapoint".
    /// Moving backwards is ignored.
    pub fn advance(&mut self, end: i64) {
        let Some(cur) = self.cursor else {
            self.start(end);
            return;
        };
        if end <= cur.end {
            return;
        }
        // Decide before materialising: clearing slots may drop the buckets a slide needs.
        let rebuild = self.dirty || end - cur.end > SLACK_MINUTES;
        if end - 1 > cur.newest {
            self.materialise(end - 1);
        }
        if rebuild {
            for i in 0..self.window_count {
                self.rebuild(i, end);
            }
            self.dirty = false;
        } else if end == cur.end + 1 {
            self.step(cur.end);
        } else {
            for i in 0..self.window_count {
                self.slide(i, cur.end, end);
            }
        }
        if let Some(c) = &mut self.cursor {
            c.end = end;
        }
    }

    /// The sum of window `index` (as given to [`SloWindows::new`]) at the current end.
    ///
    /// # Panics
    /// If `index` is out of range (a caller bug, not an input problem).
    pub fn sum(&self, index: usize) -> WindowSum {
        assert!(index < self.window_count, "window index out of range");
        self.sums()[index]
    }

    /// The sums of all windows, in the order given to [`SloWindows::new`] (entries past
    /// the number of windows are zero). One pass: what an evaluation calls.
    pub fn sums(&self) -> [WindowSum; MAX_WINDOWS] {
        let mut out = [WindowSum::default(); MAX_WINDOWS];
        let Some(cur) = self.cursor else {
            return out;
        };
        let hi = cur.end.div_euclid(COARSE_MINUTES);
        // Head of every long window: the minutes of the unfinished five-minute bucket.
        // Unless data ran ahead of the end, that bucket holds exactly those minutes.
        let head = if cur.newest < cur.end {
            self.coarse_bucket(&cur, hi).unwrap_or_default()
        } else {
            (hi * COARSE_MINUTES..cur.end)
                .map(|m| self.minute(&cur, m).unwrap_or_default())
                .fold(Counts::default(), Counts::plus)
        };
        for (w, out) in self.windows[..self.window_count].iter().zip(&mut out) {
            // Running sums are current unless data ran far ahead since the last advance.
            let recomputed;
            let w = if self.dirty {
                recomputed = self.recomputed(w, cur.end);
                &recomputed
            } else {
                w
            };
            let (mut errors, mut total) = (w.errors as f64, w.total as f64);
            if w.coarse {
                errors += head.errors as f64;
                total += head.total as f64;
                // Minutes of the tail bucket inside the window: 0 when the start is on a
                // five-minute boundary.
                let inside = (w.minutes - cur.end).rem_euclid(COARSE_MINUTES);
                if inside > 0 {
                    let share = inside as f64 / COARSE_MINUTES as f64;
                    errors += w.tail.errors as f64 * share;
                    total += w.tail.total as f64 * share;
                }
            }
            *out = WindowSum { errors, total };
        }
        out
    }

    /// Start loading the buckets that [`SloWindows::advance`] to `end` will read (the
    /// minutes leaving each window, the five-minute buckets at the long windows' edges).
    /// A hint for callers that walk many SLOs: call it a few SLOs ahead.
    #[inline]
    pub fn prefetch_advance(&self, end: i64) {
        let Some(cur) = self.cursor else { return };
        if end <= cur.end || self.dirty {
            return;
        }
        for w in &self.windows[..self.window_count] {
            if w.coarse {
                let (lo, _) = w.coarse_range(cur.end);
                if let Some(s) =
                    slot_back(cur.coarse_slot, cur.newest_coarse() - lo, self.coarse.len())
                {
                    self.coarse.prefetch(s);
                }
            } else if let Some(s) = slot_back(
                cur.fine_slot,
                cur.newest - (cur.end - w.minutes),
                self.fine.len(),
            ) {
                self.fine.prefetch(s);
            }
        }
    }

    /// Start loading the buckets that [`SloWindows::record`] of `minute` will write.
    #[inline]
    pub fn prefetch_record(&self, minute: i64) {
        let Some(cur) = self.cursor else { return };
        let back = cur.newest - minute;
        let f = if back < 0 {
            slot_ahead(cur.fine_slot, -back, self.fine.len())
        } else {
            slot_back(cur.fine_slot, back, self.fine.len()).unwrap_or(0)
        };
        self.fine.prefetch(f);
        let cback = cur.newest_coarse() - minute.div_euclid(COARSE_MINUTES);
        let c = if cback < 0 {
            slot_ahead(cur.coarse_slot, -cback, self.coarse.len())
        } else {
            slot_back(cur.coarse_slot, cback, self.coarse.len()).unwrap_or(0)
        };
        self.coarse.prefetch(c);
    }

    /// The minute bucket `minute`: `None` when the ring no longer (or not yet) holds it,
    /// `Some(None)` when it holds no datapoint, `Some(Some(counts))` otherwise (zero
    /// traffic is `Some(Some(Counts { errors: 0, total: 0 }))`).
    pub fn bucket(&self, minute: i64) -> Option<Option<Counts>> {
        let cur = self.cursor?;
        let slot = slot_back(cur.fine_slot, cur.newest - minute, self.fine.len())?;
        Some(self.fine.get(slot))
    }

    /// The five-minute bucket `index` (minute index / [`COARSE_MINUTES`]): `None` when
    /// the ring no longer (or not yet) holds it, `Some(None)` when none of its minutes had
    /// a datapoint. The bucket still being filled holds the minutes recorded so far. What
    /// [`super::History`] reads to chart an SLO over its period.
    pub fn five_minute_bucket(&self, index: i64) -> Option<Option<Counts>> {
        let cur = self.cursor?;
        let slot = slot_back(
            cur.coarse_slot,
            cur.newest_coarse() - index,
            self.coarse.len(),
        )?;
        Some(self.coarse.get(slot))
    }

    /// Heap bytes held by this store (its two rings), for capacity planning.
    pub fn heap_bytes(&self) -> usize {
        self.fine.heap_bytes() + self.coarse.heap_bytes()
    }

    /// The cursor, created on first use with every slot "no datapoint" (so any slot
    /// mapping is valid): sums end at `at`, nothing newer than `at - 1` is held yet.
    fn start(&mut self, at: i64) -> Cursor {
        *self.cursor.get_or_insert(Cursor {
            end: at,
            newest: at - 1,
            fine_slot: 0,
            coarse_slot: 0,
        })
    }

    /// Minute `m`'s counts, `None` when absent or no longer held.
    #[inline]
    fn minute(&self, cur: &Cursor, m: i64) -> Option<Counts> {
        self.fine
            .get(slot_back(cur.fine_slot, cur.newest - m, self.fine.len())?)
    }

    /// Five-minute bucket `c`'s counts, `None` when absent or no longer held.
    #[inline]
    fn coarse_bucket(&self, cur: &Cursor, c: i64) -> Option<Counts> {
        self.coarse.get(slot_back(
            cur.coarse_slot,
            cur.newest_coarse() - c,
            self.coarse.len(),
        )?)
    }

    /// Make the ring slots of every minute up to `to` current, clearing the slots that
    /// still hold data from one ring length ago.
    fn materialise(&mut self, to: i64) {
        let Some(cur) = &mut self.cursor else { return };
        if to <= cur.newest {
            return;
        }
        let (flen, clen) = (self.fine.len(), self.coarse.len());
        let ahead = to - cur.newest;
        let fine_slot = slot_ahead(cur.fine_slot, ahead, flen);
        for back in 0..ahead.min(flen as i64) {
            if let Some(s) = slot_back(fine_slot, back, flen) {
                self.fine.set(s, None);
            }
        }
        let cahead = to.div_euclid(COARSE_MINUTES) - cur.newest_coarse();
        let coarse_slot = slot_ahead(cur.coarse_slot, cahead, clen);
        for back in 0..cahead.min(clen as i64) {
            if let Some(s) = slot_back(coarse_slot, back, clen) {
                self.coarse.set(s, None);
            }
        }
        *cur = Cursor {
            newest: to,
            fine_slot,
            coarse_slot,
            ..*cur
        };
    }

    /// The common case: the end moves by one minute, from `from` to `from + 1`. Minute
    /// `from` enters every minute window and one minute leaves each; a long window
    /// changes only when its edges cross a five-minute boundary.
    fn step(&mut self, from: i64) {
        let Some(cur) = self.cursor else { return };
        let end = from + 1;
        let entering = self.minute(&cur, from).unwrap_or_default();
        let completed = end.rem_euclid(COARSE_MINUTES) == 0;
        for i in 0..self.window_count {
            let mut w = self.windows[i];
            if w.coarse {
                if completed {
                    // The five-minute bucket holding `from` is complete: into the body.
                    w.add(
                        self.coarse_bucket(&cur, from.div_euclid(COARSE_MINUTES))
                            .unwrap_or_default(),
                    );
                }
                let leaving = from - w.minutes;
                if leaving.rem_euclid(COARSE_MINUTES) == 0 {
                    // The bucket at the old edge stops being whole: out of the body, and
                    // it becomes the pro-rated tail.
                    let b = self
                        .coarse_bucket(&cur, leaving.div_euclid(COARSE_MINUTES))
                        .unwrap_or_default();
                    w.sub(b);
                    w.tail = b;
                }
            } else {
                w.add(entering);
                w.sub(self.minute(&cur, from - w.minutes).unwrap_or_default());
            }
            self.windows[i] = w;
        }
    }

    fn rebuild(&mut self, i: usize, end: i64) {
        self.windows[i] = self.recomputed(&self.windows[i], end);
    }

    /// `w` with its running sums recomputed from the buckets for a window ending at `end`.
    fn recomputed(&self, w: &Window, end: i64) -> Window {
        let mut acc = Window {
            errors: 0,
            total: 0,
            ..*w
        };
        let Some(cur) = self.cursor else { return acc };
        if w.coarse {
            let (lo, hi) = w.coarse_range(end);
            for c in lo..hi {
                acc.add(self.coarse_bucket(&cur, c).unwrap_or_default());
            }
            acc.tail = self.coarse_bucket(&cur, lo - 1).unwrap_or_default();
        } else {
            for m in end - w.minutes..end {
                acc.add(self.minute(&cur, m).unwrap_or_default());
            }
        }
        acc
    }

    fn slide(&mut self, i: usize, from: i64, to: i64) {
        let Some(cur) = self.cursor else { return };
        let mut w = self.windows[i];
        if w.coarse {
            let (lo, hi) = w.coarse_range(from);
            let (lo2, hi2) = w.coarse_range(to);
            if lo2 >= hi {
                return self.rebuild(i, to);
            }
            for c in hi..hi2 {
                w.add(self.coarse_bucket(&cur, c).unwrap_or_default());
            }
            for c in lo..lo2 {
                w.sub(self.coarse_bucket(&cur, c).unwrap_or_default());
            }
            if lo2 != lo {
                w.tail = self.coarse_bucket(&cur, lo2 - 1).unwrap_or_default();
            }
        } else {
            if to - from >= w.minutes {
                return self.rebuild(i, to);
            }
            for m in from..to {
                w.add(self.minute(&cur, m).unwrap_or_default());
                w.sub(self.minute(&cur, m - w.minutes).unwrap_or_default());
            }
        }
        self.windows[i] = w;
    }
}
