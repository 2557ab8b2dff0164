//! The `sources.replay` feed: a recorded incident played as if live.
//!
//! The recording is shifted so that its last minute ends when the daemon starts: the
//! whole recording is history at start (backfilled), so a recorded burn shows at once.
//! With `loop: true` it then starts over from its first minute, one recorded minute per
//! wall-clock minute, forever; without it, the feed stops after the backfill (the SLOs
//! then go `no_data`, never good).

use std::collections::BTreeMap;
use std::path::Path;

use crate::eval::{Evaluator, SloIndex};
use crate::source::SourceError;
use crate::spec::Slo;
use crate::window::Counts;

/// A recording, bucketed per minute offset from its first minute.
#[derive(Debug, Clone)]
pub struct ReplayFeed {
    /// Offset minute → counts per SLO.
    minutes: BTreeMap<i64, Vec<(SloIndex, Counts)>>,
    /// Length of the recording in minutes (≥ 1).
    len: i64,
    looping: bool,
    /// Live minute (since the epoch) that offset 0 maps to; set by [`ReplayFeed::anchor`].
    base: i64,
    /// Live minutes before this one were fed.
    fed_until: i64,
}

/// What one feed step delivered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Buckets ingested.
    pub buckets: u64,
    /// Buckets the evaluator refused.
    pub refused: u64,
}

impl Fed {
    /// Both deliveries together.
    pub fn plus(self, other: Fed) -> Fed {
        Fed {
            buckets: self.buckets + other.buckets,
            refused: self.refused + other.refused,
        }
    }
}

impl ReplayFeed {
    /// Read `file` and bucket it for the SLOs `evaluator` knows (`slos` in its order),
    /// with the reader and checks of `burnwatch replay` (a bad line is an error naming its
    /// line number, never skipped).
    pub fn load(
        file: &Path,
        looping: bool,
        slos: &[Slo],
        evaluator: &Evaluator,
    ) -> Result<ReplayFeed, SourceError> {
        let err = |message: String| SourceError::Record {
            path: file.to_path_buf(),
            message,
        };
        let input = std::fs::File::open(file).map_err(|e| err(e.to_string()))?;
        let lines = crate::replay::record::read(std::io::BufReader::new(input))
            .map_err(|e| err(e.to_string()))?;
        let per_minute =
            crate::replay::minutes(evaluator, slos, &lines).map_err(|e| err(e.to_string()))?;
        let first = per_minute.keys().next().map(|(m, _)| *m).unwrap_or(0);
        let last = per_minute.keys().next_back().map(|(m, _)| *m).unwrap_or(0);
        let mut minutes: BTreeMap<i64, Vec<(SloIndex, Counts)>> = BTreeMap::new();
        for ((m, slo), c) in per_minute {
            minutes.entry(m - first).or_default().push((slo, c));
        }
        Ok(ReplayFeed {
            minutes,
            len: last - first + 1,
            looping,
            base: 0,
            fed_until: 0,
        })
    }

    /// The SLOs the recording feeds.
    pub fn slos(&self) -> std::collections::BTreeSet<SloIndex> {
        self.minutes
            .values()
            .flat_map(|rows| rows.iter().map(|(slo, _)| *slo))
            .collect()
    }

    /// True when the recording holds no data for any loaded SLO.
    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// Shift the recording so that it ends at `start` (seconds since the epoch).
    pub fn anchor(&mut self, start: i64) {
        let end = start.div_euclid(60);
        self.base = end - self.len;
        self.fed_until = self.base;
    }

    /// Feed every live minute complete at `now` not fed yet.
    pub fn feed(&mut self, now: i64, evaluator: &mut Evaluator) -> Fed {
        let mut fed = Fed::default();
        let end = now.div_euclid(60);
        let stop = if self.looping {
            end
        } else {
            end.min(self.base + self.len)
        };
        // Never replay more than one recording length at a time (a long pause).
        let from = self.fed_until.max(stop - self.len);
        for live in from..stop {
            let offset = (live - self.base).rem_euclid(self.len);
            if let Some(rows) = self.minutes.get(&offset) {
                for (slo, c) in rows {
                    match evaluator.ingest_counts(*slo, live, *c) {
                        Ok(()) => fed.buckets += 1,
                        Err(_) => fed.refused += 1,
                    }
                }
            }
        }
        self.fed_until = self.fed_until.max(stop);
        fed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::EvalOptions;
    use crate::spec::LoadOptions;

    const SLO: &str = "mass-spec-web-availability";

    /// Events in the 5m window (the shortest) after feeding up to `now`.
    fn five_minutes(looping: bool, now_after_start: i64) -> f64 {
        let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-specs");
        let options = LoadOptions::default();
        let loaded = crate::spec::load_paths(&[specs], &options);
        let slos: Vec<Slo> = loaded.slos().cloned().collect();
        let mut evaluator = Evaluator::new(&slos, &options, EvalOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rec.jsonl");
        let lines: String = [10, 20, 30]
            .iter()
            .enumerate()
            .map(|(i, total)| {
                format!(
                    "{{\"ts\":\"2026-11-20T10:0{i}:00Z\",\"slo_id\":\"{SLO}\",\"good\":{total},\"total\":{total}}}\n"
                )
            })
            .collect();
        std::fs::write(&file, lines).unwrap();
        let mut feed = ReplayFeed::load(&file, looping, &slos, &evaluator).unwrap();
        // A whole minute (1_800_000_000 is divisible by 60).
        let start = 1_800_000_000;
        feed.anchor(start);
        assert_eq!(feed.feed(start, &mut evaluator).buckets, 3);
        feed.feed(start + now_after_start, &mut evaluator);
        let now = start + now_after_start;
        evaluator.evaluate(now);
        let idx = evaluator.slo_index(SLO).unwrap();
        let view = evaluator.slo(idx);
        view.status
            .windows(view.def)
            .next()
            .map_or(0.0, |w| w.events)
    }

    #[test]
    fn the_recording_ends_at_start_and_loops_only_when_asked() {
        // At start the whole recording is history: 10 + 20 + 30.
        assert_eq!(five_minutes(false, 0), 60.0);
        // Two minutes later a looping feed replayed its first two minutes again.
        assert_eq!(five_minutes(true, 120), 90.0);
        // A non-looping one stopped.
        assert_eq!(five_minutes(false, 120), 60.0);
    }
}
