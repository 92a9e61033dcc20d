//! What the site's `robots.txt` allows, read as RFC 9309 asks.

use loader::{LoadError, USER_AGENT};
use texting_robots::Robot;

/// What the site's `robots.txt` allows.
pub enum Rules {
    /// It has none, or they are ignored: every page may be loaded.
    None,
    /// These rules.
    Read(Robot),
    /// It could not be read: no page may be loaded (RFC 9309).
    Unreadable,
}

impl Rules {
    /// The rules that the answer for `robots_url` gives, and a line that says so. As RFC
    /// 9309 has it: none (4xx) means every page may be loaded; one that cannot be read
    /// (5xx, no answer) means none may.
    pub fn from_answer(robots_url: &str, answer: Result<String, LoadError>) -> (Rules, String) {
        // The name that robots.txt rules address: the User-Agent's first word.
        let agent = USER_AGENT.split('/').next().unwrap_or(USER_AGENT);
        match answer {
            Ok(text) => match Robot::new(agent, text.as_bytes()) {
                Ok(robot) => (Rules::Read(robot), format!("{robots_url} read")),
                Err(e) => (Rules::None, format!("{robots_url} ignored: {e}")),
            },
            Err(LoadError::Status { status, .. }) if (400..500).contains(&status) => {
                (Rules::None, format!("{robots_url}: none ({status})"))
            }
            Err(e) => (
                Rules::Unreadable,
                format!("{e}: no page is loaded (--ignore-robots loads them)"),
            ),
        }
    }

    /// Why these rules keep `url` from being loaded, if they do.
    pub fn refusal(&self, url: &str) -> Option<&'static str> {
        match self {
            Rules::Unreadable => Some("robots.txt could not be read"),
            Rules::Read(robot) if !robot.allowed(url) => Some("disallowed by robots.txt"),
            _ => None,
        }
    }
}
