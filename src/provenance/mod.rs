//! Provenance: where an artifact came from — the commit, the code, the host, the time, the
//! resources — recorded with every action. Only this module talks to git (git2).

mod git;
pub mod intoto;
pub mod key;
pub mod record;
pub mod verification;

pub use git::GitState;
pub use record::{ActionRecord, BatchJob, Provenance, RecordHead};

/// Peak resident memory of this process and its waited-for children, in bytes.
pub fn peak_memory_bytes() -> u64 {
    let mut peak = 0i64;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage writes into the zeroed struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut ru) } == 0 {
            peak = peak.max(ru.ru_maxrss);
        }
    }
    // Linux reports kilobytes.
    (peak.max(0) as u64) * 1024
}

/// The host name, or `REPRO_HOST` when set (tests pin it).
pub fn host() -> String {
    if let Ok(h) = std::env::var("REPRO_HOST") {
        return h;
    }
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
