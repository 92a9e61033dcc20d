//! `Queue`: many producers and consumers in separate processes; nothing lost, nothing
//! twice, nothing interleaved; timeouts; closing.

use std::time::{Duration, Instant};

use fork_test::{SignalStorm, time_limit};
use ipc::{Error, Pipe, Process, Queue};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
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

/// A consumer process blocked in `get` on `queue`.
fn waiting_consumer(queue: &Queue) -> Process {
    let mut q = queue.try_clone().unwrap();
    let mut p = Process::new(move || {
        let _ = q.get::<u32>();
    });
    p.start().unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let it block in get
    p
}

fn a_consumer_killed_while_it_waits_does_not_wedge_the_queue() {
    time_limit(Duration::from_secs(20));
    let mut queue = Queue::new().unwrap();
    let mut killed = waiting_consumer(&queue);
    killed.kill().unwrap();
    assert_eq!(killed.join().unwrap(), -9);
    drop(waiting_consumer(&queue)); // dropping a running Process kills it too
    queue.put(&1u32).unwrap();
    assert_eq!(queue.get_timeout::<u32>(Duration::from_secs(2)).unwrap(), 1);
    queue.put(&2u32).unwrap();
    assert_eq!(queue.get::<u32>().unwrap(), 2);
}

const BIG: usize = 10 * 1024 * 1024;

/// A producer process that puts a 10 MiB message, which nobody reads yet.
fn big_producer(queue: &Queue) -> Process {
    let mut q = queue.try_clone().unwrap();
    let mut p = Process::new(move || {
        q.put(&Message {
            id: 1,
            body: vec![7; BIG],
        })
        .unwrap();
    });
    p.start().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // it is in the middle of `put`, or done
    p
}

/// Takes messages until the small one with id 2 arrives: the big one may come first, whole.
fn get_the_small_one(queue: &mut Queue) {
    loop {
        let started = Instant::now();
        let got = queue.get_timeout::<Message>(Duration::from_secs(2));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "get_timeout overran"
        );
        let message = got.unwrap();
        match message.id {
            2 => return,
            1 => assert!(
                message.body == vec![7; BIG],
                "the big message arrived whole"
            ),
            id => panic!("unexpected message {id}"),
        }
    }
}

fn a_producer_killed_in_the_middle_of_a_put_does_not_wedge_the_queue() {
    time_limit(Duration::from_secs(30));
    let mut queue = Queue::new().unwrap();
    let mut producer = big_producer(&queue);
    producer.kill().unwrap();
    producer.join().unwrap();
    let started = Instant::now();
    match queue.get_timeout::<Message>(Duration::from_secs(2)) {
        Ok(message) => assert!(message.body == vec![7; BIG], "whole, or not at all"),
        Err(Error::Timeout) => {}
        Err(e) => panic!("{e}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "get_timeout overran"
    );
    queue
        .put(&Message {
            id: 2,
            body: vec![],
        })
        .unwrap();
    get_the_small_one(&mut queue);
}

fn a_producer_stopped_in_the_middle_of_a_put_does_not_wedge_the_queue() {
    time_limit(Duration::from_secs(30));
    let mut queue = Queue::new().unwrap();
    let mut producer = big_producer(&queue);
    let pid = Pid::from_raw(producer.pid().unwrap());
    kill(pid, Signal::SIGSTOP).unwrap();
    queue
        .put(&Message {
            id: 2,
            body: vec![],
        })
        .unwrap();
    get_the_small_one(&mut queue);
    kill(pid, Signal::SIGCONT).unwrap();
    producer.kill().unwrap();
    producer.join().unwrap();
}

fn put_after_close_is_an_error_that_says_the_queue_is_closed() {
    let mut queue = Queue::new().unwrap();
    queue.close().unwrap();
    let put = queue.put(&1u8);
    assert!(matches!(put, Err(Error::Closed)), "the item would be lost");
    let get = queue.get::<u8>();
    assert!(matches!(get, Err(Error::Closed)), "{get:?}");
    // Python says "Queue is closed"; a queue user never made a connection.
    for error in [put.unwrap_err(), get.unwrap_err()] {
        assert!(error.to_string().contains("queue"), "{error}");
    }
}

/// A message over 32 KiB travels in a memfd, whose descriptor the receiver must take. A
/// receiver at its limit of open files cannot: the kernel drops the descriptor, and the
/// message is lost. The error must say so, not "No buffer space available", and the
/// queue must go on.
fn a_consumer_at_its_limit_of_open_files_is_told_why_the_message_is_lost() {
    let mut queue = Queue::new().unwrap();
    queue.put(&vec![7u8; 100_000]).unwrap();
    queue.put(&1u8).unwrap();
    let mut consumer = Process::with_exit_code(move || {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, 64, hard).unwrap();
        let mut open = Vec::new();
        while let Ok(file) = std::fs::File::open("/dev/null") {
            open.push(file);
        }
        let error = queue.get::<Vec<u8>>().unwrap_err().to_string();
        assert!(
            error.contains("lost") && error.contains("open files"),
            "{error}"
        );
        drop(open);
        assert_eq!(queue.get::<u8>().unwrap(), 1, "the queue goes on");
        0
    });
    consumer.start().unwrap();
    assert_eq!(consumer.join().unwrap(), 0);
}

fn get_timeout_accepts_any_duration() {
    let mut queue = Queue::new().unwrap();
    queue.put(&5u8).unwrap();
    assert_eq!(queue.get_timeout::<u8>(Duration::MAX).unwrap(), 5);
}

fn get_timeout_holds_while_signals_arrive() {
    time_limit(Duration::from_secs(30));
    let storm = SignalStorm::start(Duration::from_millis(20));
    let mut queue = Queue::new().unwrap();
    let started = Instant::now();
    assert!(matches!(
        queue.get_timeout::<u8>(Duration::from_millis(500)),
        Err(Error::Timeout)
    ));
    let took = started.elapsed();
    drop(storm);
    assert!(
        took < Duration::from_millis(1500),
        "took {took:?} for 500 ms"
    );
}

/// A message whose body says whether it arrived whole: every byte is a function of the id.
fn checked_message(id: u32, len: usize) -> Message {
    Message {
        id,
        body: (0..len).map(|i| (i as u32 ^ id) as u8).collect(),
    }
}

fn is_whole(message: &Message) -> bool {
    let expected = checked_message(message.id, message.body.len());
    message.body == expected.body
}

/// A small pseudo-random generator (xorshift): the same rounds on every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Exit codes of the processes in the chaos test, when they are not killed first.
const TORN: i32 = 2;
const LATE: i32 = 3;

fn killing_producers_and_consumers_at_any_moment_never_wedges_the_queue() {
    time_limit(Duration::from_secs(120));
    let mut queue = Queue::new().unwrap();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    for round in 0..40 {
        let mut family = Vec::new();
        for producer in 0..2u32 {
            let mut q = queue.try_clone().unwrap();
            // Small messages, and some bigger than a record (they travel in a memfd).
            let sizes: Vec<usize> = (0..20)
                .map(|_| [16, 1000, 40_000, 300_000][dice.roll(4) as usize])
                .collect();
            let base = (round * 2 + producer) * 1000;
            let mut p = Process::new(move || {
                for (i, len) in sizes.into_iter().enumerate() {
                    let _ = q.put(&checked_message(base + i as u32, len));
                }
            });
            p.start().unwrap();
            family.push(p);
        }
        for _ in 0..2 {
            let mut q = queue.try_clone().unwrap();
            let mut p = Process::with_exit_code(move || {
                loop {
                    let asked = Instant::now();
                    match q.get_timeout::<Message>(Duration::from_millis(100)) {
                        Ok(message) if !is_whole(&message) => return TORN,
                        Ok(_) => {}
                        Err(Error::Timeout) if asked.elapsed() > Duration::from_secs(1) => {
                            return LATE;
                        }
                        Err(Error::Timeout) => return 0,
                        Err(_) => return TORN,
                    }
                }
            });
            p.start().unwrap();
            family.push(p);
        }
        std::thread::sleep(Duration::from_millis(dice.roll(30)));
        for p in &mut family {
            if dice.roll(2) == 0 {
                p.kill().unwrap();
            }
        }
        for mut p in family {
            let code = p.join().unwrap();
            assert!(
                code == 0 || code == -9,
                "round {round}: a process ended with {code}"
            );
        }
    }
    // Whatever is left is whole, and the queue still works.
    while let Ok(message) = queue.get_timeout::<Message>(Duration::ZERO) {
        assert!(is_whole(&message), "message {} was torn", message.id);
    }
    queue.put(&checked_message(7, 50_000)).unwrap();
    let message = queue
        .get_timeout::<Message>(Duration::from_secs(2))
        .unwrap();
    assert!(message.id == 7 && is_whole(&message));
}

fork_test::main!(
    every_message_arrives_exactly_once,
    get_timeout_waits_at_most_its_timeout,
    close_wakes_consumers_that_are_waiting,
    a_consumer_killed_while_it_waits_does_not_wedge_the_queue,
    a_producer_killed_in_the_middle_of_a_put_does_not_wedge_the_queue,
    a_producer_stopped_in_the_middle_of_a_put_does_not_wedge_the_queue,
    put_after_close_is_an_error_that_says_the_queue_is_closed,
    a_consumer_at_its_limit_of_open_files_is_told_why_the_message_is_lost,
    get_timeout_accepts_any_duration,
    get_timeout_holds_while_signals_arrive,
    killing_producers_and_consumers_at_any_moment_never_wedges_the_queue,
);
