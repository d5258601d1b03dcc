//! The status writer's work queue: at most one write per object at a time, the latest desired
//! status per object wins, failed writes come back after a delay.
//!
//! Kept apart from the writer's I/O so the coalescing and retry rules are plain code.

use std::cmp::Reverse;
use std::collections::hash_map::Entry as Slot;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

// foldhash, not SipHash: every status write hashes its object's reference here several
// times, and nothing an API server names is chosen to collide.
use foldhash::{HashMap, HashSet};

use crate::translate::{ObjectRef, StatusPatch, StatusUpdate};

/// One write to perform.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub target: ObjectRef,
    pub patch: StatusPatch,
    /// 0 for a first attempt; retries count up (and read the object afresh).
    pub attempt: u32,
}

#[derive(Debug)]
struct Entry {
    patch: StatusPatch,
    attempt: u32,
    /// Set while the entry waits out a retry delay.
    not_before: Option<Instant>,
    /// Whether the target is in `ready`.
    queued: bool,
}

#[derive(Debug, Default)]
pub struct Queue {
    /// Desired statuses not yet handed out, one per object.
    pending: HashMap<ObjectRef, Entry>,
    /// Objects whose entry can be handed out now, in arrival order.
    ready: VecDeque<ObjectRef>,
    /// Entries waiting out a retry delay. May hold stale items; `pending` is the truth.
    delayed: BinaryHeap<Reverse<(Instant, ObjectRef)>>,
    /// Objects with a write in progress; their new entries wait until it finishes, so two
    /// writes of one object never race.
    in_flight: HashSet<ObjectRef>,
}

impl Queue {
    /// Queue a desired status, replacing any not yet written for the same object (and any
    /// retry delay: the new status is a new first attempt).
    pub fn submit(&mut self, update: StatusUpdate) {
        let in_flight = self.in_flight.contains(&update.target);
        let fresh = Entry {
            patch: update.patch,
            attempt: 0,
            not_before: None,
            queued: false,
        };
        let entry = match self.pending.entry(update.target.clone()) {
            Slot::Occupied(slot) => {
                let entry = slot.into_mut();
                *entry = Entry {
                    queued: entry.queued,
                    ..fresh
                };
                entry
            }
            Slot::Vacant(slot) => slot.insert(fresh),
        };
        if !entry.queued && !in_flight {
            entry.queued = true;
            self.ready.push_back(update.target);
        }
    }

    /// The next write to start at `now`, if any; its object counts as in flight until
    /// [`Queue::finish`].
    pub fn next_job(&mut self, now: Instant) -> Option<Job> {
        self.promote(now);
        while let Some(target) = self.ready.pop_front() {
            if self.pending.get(&target).is_some_and(|entry| entry.queued) {
                let entry = self.pending.remove(&target)?;
                self.in_flight.insert(target.clone());
                return Some(Job {
                    target,
                    patch: entry.patch,
                    attempt: entry.attempt,
                });
            }
        }
        None
    }

    /// Move entries whose retry delay has passed to the ready list.
    pub fn promote(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.delayed.peek()
            && *at <= now
        {
            let Some(Reverse((at, target))) = self.delayed.pop() else {
                break;
            };
            if let Some(entry) = self.pending.get_mut(&target)
                && entry.not_before == Some(at)
            {
                entry.not_before = None;
                entry.queued = true;
                self.ready.push_back(target);
            }
        }
    }

    /// A write finished. `retry` asks for the job to run again at the given time, unless a
    /// newer desired status arrived meanwhile: that one goes next instead.
    pub fn finish(&mut self, target: &ObjectRef, retry: Option<(Job, Instant)>) {
        self.in_flight.remove(target);
        if let Some(entry) = self.pending.get_mut(target) {
            if !entry.queued && entry.not_before.is_none() {
                entry.queued = true;
                self.ready.push_back(target.clone());
            }
        } else if let Some((job, at)) = retry {
            let entry = Entry {
                patch: job.patch,
                attempt: job.attempt,
                not_before: Some(at),
                queued: false,
            };
            self.pending.insert(job.target.clone(), entry);
            self.delayed.push(Reverse((at, job.target)));
        }
    }

    /// When the earliest delayed entry becomes ready (possibly a stale one, which only
    /// makes the caller look early).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((at, _))| *at)
    }

    /// Nothing pending and nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.in_flight.is_empty()
    }
}
