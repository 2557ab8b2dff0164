//! Error-budget policy state per SLO, tick by tick: the state, since when it holds, and
//! the transitions a tick produces (what history, `timeline` and the ticket notification
//! will record once wired). No I/O, no clock: time comes in as Unix seconds.

use crate::spec::{BudgetPolicy, PolicyState};

/// One SLO's policy state and the time it was entered.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyTracker {
    policy: BudgetPolicy,
    state: PolicyState,
    since: i64,
}

/// A change of policy state at one tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolicyTransition {
    /// State before the tick.
    pub from: PolicyState,
    /// State after the tick.
    pub to: PolicyState,
    /// The tick, Unix seconds.
    pub at: i64,
    /// The budget remaining that caused it.
    pub remaining: f64,
}

impl PolicyTracker {
    /// Starts in `ok` at `start` (the first tick), like a fresh alert state.
    pub fn new(policy: BudgetPolicy, start: i64) -> Self {
        PolicyTracker {
            policy,
            state: PolicyState::Ok,
            since: start,
        }
    }

    /// The current state.
    pub fn state(&self) -> PolicyState {
        self.state
    }

    /// When the current state began, Unix seconds.
    pub fn since(&self) -> i64 {
        self.since
    }

    /// The thresholds.
    pub fn policy(&self) -> &BudgetPolicy {
        &self.policy
    }

    /// Evaluates the policy at `now` on the budget remaining (`None` when there is no
    /// data, which keeps the state); returns the transition if the state changed.
    pub fn update(&mut self, remaining: Option<f64>, now: i64) -> Option<PolicyTransition> {
        let next = self.policy.state(remaining, self.state);
        if next == self.state {
            return None;
        }
        let t = PolicyTransition {
            from: self.state,
            to: next,
            at: now,
            remaining: remaining.unwrap_or(f64::NAN),
        };
        self.state = next;
        self.since = now;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> BudgetPolicy {
        BudgetPolicy::new(Some(0.25), Some(0.0)).unwrap()
    }

    #[test]
    fn freeze_begins_and_ends_with_since() {
        let mut t = PolicyTracker::new(policy(), 0);
        assert_eq!(t.update(Some(0.9), 60), None);
        let w = t.update(Some(0.2), 120).unwrap();
        assert_eq!(
            (w.from, w.to, w.at),
            (PolicyState::Ok, PolicyState::Warn, 120)
        );
        let f = t.update(Some(-0.1), 180).unwrap();
        assert_eq!((f.to, t.since()), (PolicyState::Freeze, 180));
        assert_eq!(
            t.update(None, 240),
            None,
            "a data gap does not release a freeze"
        );
        assert_eq!(t.state(), PolicyState::Freeze);
        let r = t.update(Some(1.0), 300).unwrap();
        assert_eq!(
            (r.from, r.to, t.since()),
            (PolicyState::Freeze, PolicyState::Ok, 300)
        );
    }

    proptest! {
        /// Against a brute-force model: at every tick the state is the threshold rule
        /// applied to the last non-missing budget, and `since` is the first tick of the
        /// current run of equal states.
        #[test]
        fn tracker_matches_brute_force(budgets in prop::collection::vec(
            prop::option::of(-1.0f64..1.0), 1..60)) {
            let mut t = PolicyTracker::new(policy(), 0);
            let mut states = vec![(0i64, PolicyState::Ok)];
            for (i, b) in budgets.iter().enumerate() {
                let now = (i as i64 + 1) * 60;
                let tr = t.update(*b, now);
                let last = budgets[..=i].iter().rev().flatten().next();
                let want = match last {
                    None => PolicyState::Ok,
                    Some(r) if *r <= 0.0 => PolicyState::Freeze,
                    Some(r) if *r < 0.25 => PolicyState::Warn,
                    Some(_) => PolicyState::Ok,
                };
                prop_assert_eq!(t.state(), want);
                prop_assert_eq!(tr.is_some(), states.last().map(|s| s.1) != Some(want));
                if tr.is_some() { states.push((now, want)); }
                prop_assert_eq!(t.since(), states.last().map(|s| s.0).unwrap_or(0));
            }
        }
    }
}
