//! `Queue`: many producers and consumers in separate processes; nothing lost, nothing
//! twice, nothing interleaved; timeouts; closing.

use std::time::{Duration, Instant};

use ipc::{Error, Pipe, Process, Queue};
use serde::{Deserialize, Serialize};

const PRODUCERS: u32 = 4;
const CONSUMERS: usize = 4;
const MESSAGES: u32 = 10_000;

#[derive(Serialize, Deserialize)]
struct Message {
    id: u32,
    /// Every 500th message is larger than a pipe's buffer (64 KiB), so that its write takes
    /// several system calls: only the writers' lock keeps others from cutting in.
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

fn body_for(id: u32) -> Vec<u8> {
    let len = if id.is_multiple_of(500) {
        200 * 1024
    } else {
        16
    };
    vec![(id % 251) as u8; len]
}

fn every_message_arrives_exactly_once() {
    let mut queue = Queue::new().unwrap();
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let (mut report, mut report_end) = Pipe::new().unwrap();
        report.set_inheritable(false);
        let mut q = queue.try_clone().unwrap();
        let mut p = Process::new(move || {
            let mut ids = Vec::new();
            while let Ok(message) = q.get::<Message>() {
                assert!(
                    message.body == body_for(message.id),
                    "message {} is intact",
                    message.id
                );
                ids.push(message.id);
            }
            report_end.send(&ids).unwrap();
        });
        p.start().unwrap();
        consumers.push((p, report));
    }
    let mut producers = Vec::new();
    for producer in 0..PRODUCERS {
        let mut q = queue.try_clone().unwrap();
        let mut p = Process::new(move || {
            for id in (producer..MESSAGES).step_by(PRODUCERS as usize) {
                q.put(&Message {
                    id,
                    body: body_for(id),
                })
                .unwrap();
            }
        });
        p.start().unwrap();
        producers.push(p);
    }
    for mut p in producers {
        assert_eq!(p.join().unwrap(), 0);
    }
    queue.close().unwrap();
    let mut seen = vec![0u32; MESSAGES as usize];
    for (mut p, mut report) in consumers {
        for id in report.recv::<Vec<u32>>().unwrap() {
            seen[id as usize] += 1;
        }
        assert_eq!(p.join().unwrap(), 0);
    }
    let wrong: Vec<_> = (0..MESSAGES).filter(|&id| seen[id as usize] != 1).collect();
    assert!(
        wrong.is_empty(),
        "messages not seen exactly once: {wrong:?}"
    );
}

fn get_timeout_waits_at_most_its_timeout() {
    let mut queue = Queue::new().unwrap();
    let started = Instant::now();
    assert!(matches!(
        queue.get_timeout::<u8>(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    assert!(started.elapsed() >= Duration::from_millis(50));
    queue.put(&3u8).unwrap();
    assert_eq!(queue.get_timeout::<u8>(Duration::from_secs(10)).unwrap(), 3);
}

fn close_wakes_consumers_that_are_waiting() {
    let mut queue = Queue::new().unwrap();
    let mut waiting: Vec<Process> = (0..3)
        .map(|_| {
            let mut q = queue.try_clone().unwrap();
            let mut p = Process::with_exit_code(move || match q.get::<u8>() {
                Err(Error::Closed) => 0,
                _ => 1,
            });
            p.start().unwrap();
            p
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50)); // let them block in get
    queue.close().unwrap();
    for p in &mut waiting {
        assert_eq!(p.join_timeout(Duration::from_secs(10)).unwrap(), Some(0));
    }
}

fork_test::main!(
    every_message_arrives_exactly_once,
    get_timeout_waits_at_most_its_timeout,
    close_wakes_consumers_that_are_waiting,
);
