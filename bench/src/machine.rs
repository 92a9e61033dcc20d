//! What ran, where: the kind of run and the machine, printed above the table and kept as
//! the first JSON line, so that a saved run says what its numbers are of.

use std::fs;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::python;

/// The run and its machine.
#[derive(Debug, Serialize, Deserialize)]
pub struct Run {
    /// `full` or `quick`.
    pub kind: String,
    pub rounds: usize,
    /// The day it ran, `2026-11-29` (UTC).
    pub date: String,
    /// The cores this process may run on.
    pub cores: usize,
    /// The processor's model name, from `/proc/cpuinfo`...
    pub cpu: String,
    /// ...and whether it is a virtual machine's (the `hypervisor` flag).
    pub virtual_machine: bool,
    /// Memory, in GiB (`MemTotal` in `/proc/meminfo`).
    pub memory_gib: u64,
    /// The kernel's release, from `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// `Python 3.11.7`, or nothing if there is no `python3`.
    pub python: Option<String>,
}

impl Run {
    /// Describes this run on this machine.
    pub fn new(config: &Config) -> Run {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown processor", |(_, name)| name.trim());
        let virtual_machine = cpuinfo
            .lines()
            .any(|line| line.starts_with("flags") && line.contains(" hypervisor"));
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: u64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:")?.trim().strip_suffix(" kB"))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_default();
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Run {
            kind: if config.quick { "quick" } else { "full" }.into(),
            rounds: config.rounds,
            date: today(),
            cores: config.processes,
            cpu: cpu.to_string(),
            virtual_machine,
            memory_gib: (memory_kib + (1 << 19)) >> 20,
            kernel: kernel.trim().to_string(),
            python: python::version(),
        }
    }

    /// Two lines: `full run (9 rounds), 2026-11-29` and `2 cores, AMD EPYC (a virtual
    /// machine), 24 GiB, Linux 6.18.44, Python 3.11.7`.
    pub fn describe(&self) -> String {
        format!(
            "{} run ({} rounds), {}\n{} cores, {}{}, {} GiB, Linux {}, {}",
            self.kind,
            self.rounds,
            self.date,
            self.cores,
            self.cpu,
            if self.virtual_machine {
                " (a virtual machine)"
            } else {
                ""
            },
            self.memory_gib,
            self.kernel,
            self.python.as_deref().unwrap_or("no Python"),
        )
    }
}

/// Today's date in UTC, as `date` prints it (`?` if it cannot).
fn today() -> String {
    Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or("?".into(), |date| date.trim().to_string())
}
