//! Timing, samples and medians: what every topic shares.
//!
//! A *sample* is one timed batch of operations, kept as seconds per operation (or the
//! median of single timed operations, see [`alternate`]). Contenders take turns (ABAB...,
//! a different one first each time), so that a noisy neighbour or a slow drift of the
//! machine hits all of them alike; the table then shows medians, which one bad batch
//! cannot move.

use std::collections::HashMap;
use std::time::Instant;

/// The bench's result type: any error ends the run with its message.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Every sample of a run, in seconds per operation, by topic and contender.
#[derive(Debug, Default)]
pub struct Samples(HashMap<(String, String), Vec<f64>>);

impl Samples {
    /// Records one sample.
    pub fn add(&mut self, topic: &str, contender: &str, seconds: f64) {
        self.0
            .entry((topic.to_string(), contender.to_string()))
            .or_default()
            .push(seconds);
    }

    /// The samples of one contender, in the order they were taken (none if it never ran).
    pub fn of(&self, topic: &str, contender: &str) -> &[f64] {
        self.0
            .get(&(topic.to_string(), contender.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

/// One contender of a topic: its name and how to take one sample of it.
pub struct Contender<'a> {
    name: &'a str,
    sample: Box<dyn FnMut() -> Result<f64> + 'a>,
}

impl<'a> Contender<'a> {
    /// `sample` times one batch (or one operation) and returns seconds per operation
    /// (see [`per_op`]).
    pub fn new(name: &'a str, sample: impl FnMut() -> Result<f64> + 'a) -> Self {
        Contender {
            name,
            sample: Box::new(sample),
        }
    }
}

/// Takes `reps` samples of every contender. Contenders take turns, each turn starting with
/// the next one along (A B, B A, A B... for two), so that none always runs first, right
/// after another topic or a Python run.
///
/// A sample is the median of `turns` turns. With more than one, contenders alternate at
/// every operation inside a sample: for operations so short that the machine's noise
/// changes faster than one batch of them would take, and so jittery (a few take ten times
/// the usual) that a mean would follow the outliers.
pub fn alternate(
    samples: &mut Samples,
    topic: &str,
    round: usize,
    reps: usize,
    turns: usize,
    contenders: &mut [Contender<'_>],
) -> Result {
    let n = contenders.len();
    for rep in 0..reps {
        let mut times = vec![Vec::with_capacity(turns); n];
        for turn in 0..turns {
            let first = ((round * reps + rep) * turns + turn) % n;
            for c in (first..first + n).map(|i| i % n) {
                times[c].push((contenders[c].sample)()?);
            }
        }
        for (contender, times) in contenders.iter().zip(times) {
            let seconds = median(&times).expect("at least one turn");
            samples.add(topic, contender.name, seconds);
        }
    }
    Ok(())
}

/// Runs `batch`, which does `ops` operations, and returns the seconds per operation.
pub fn per_op(ops: usize, batch: impl FnOnce() -> Result) -> Result<f64> {
    let start = Instant::now();
    batch()?;
    Ok(start.elapsed().as_secs_f64() / ops as f64)
}

/// A child process that serves one contender (echoes, sends...), from the parent's side.
pub trait Peer: Sized {
    /// Does `ops` operations with the child.
    fn run(&mut self, ops: usize) -> Result;
    /// Lets the child go and reaps it; an error if it failed.
    fn finish(self) -> Result;
}

/// One sample with a new child, just started: warms up, times `ops` operations, reaps it.
///
/// A fresh child per sample, because where the scheduler puts a child (the parent's core
/// or the other one) changes a round trip's latency several times over, and stays put for
/// the child's life: with one child per round, a whole round could be unlucky.
pub fn with_new_peer(mut peer: impl Peer, warm_up: usize, ops: usize) -> Result<f64> {
    peer.run(warm_up)?;
    let seconds = per_op(ops, || peer.run(ops))?;
    peer.finish()?;
    Ok(seconds)
}

/// The median (the mean of the middle two for an even count); `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[mid]),
        _ => Some((sorted[mid - 1] + sorted[mid]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn alternate_takes_turns_starting_with_a_different_contender() {
        let order = std::cell::RefCell::new(String::new());
        let mut samples = Samples::default();
        let mut contenders = [
            Contender::new("a", || {
                order.borrow_mut().push('a');
                Ok(1.0)
            }),
            Contender::new("b", || {
                order.borrow_mut().push('b');
                Ok(2.0)
            }),
        ];
        alternate(&mut samples, "t", 0, 2, 1, &mut contenders).unwrap();
        alternate(&mut samples, "t", 1, 1, 3, &mut contenders).unwrap();
        drop(contenders);
        assert_eq!(order.into_inner(), "abbabaabba");
        assert_eq!(samples.of("t", "b"), [2.0; 3]);
        assert_eq!(samples.of("t", "c"), [] as [f64; 0]);
    }
}
