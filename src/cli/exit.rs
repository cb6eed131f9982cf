//! Exit codes, decided once, here, from the error's type (the library never picks them):
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | a stage failed (its reason and log are printed) |
//! | 2 | bad input: the pipeline, the arguments, the configuration, a missing data path |
//! | 3 | the environment: disk full, permission denied, read-only filesystem, a remote or cluster that is down, a missing tool |
//! | 4 | store corruption found (`repro verify` says where) |
//! | 130 | interrupted (Ctrl-C, SIGTERM) |

use crate::engine::executor::ExecError;
use crate::engine::slurm::squeue::QueueError;
use crate::engine::EngineError;
use crate::remote::RemoteError;
use crate::store::{ErrorClass, StoreError};

pub const SUCCESS: i32 = 0;
pub const STAGE_FAILED: i32 = 1;
pub const BAD_INPUT: i32 = 2;
/// Also what a worker exits with, which the local executor reads back.
pub const ENVIRONMENT: i32 = crate::engine::executor::local::EXIT_ENVIRONMENT;
pub const CORRUPT: i32 = 4;
pub const INTERRUPTED: i32 = 130;

/// The exit code of an error that reached the CLI, from the first cause in its chain that says.
pub fn classify(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        let code = if let Some(e) = cause.downcast_ref::<StoreError>() {
            store(e)
        } else if let Some(e) = cause.downcast_ref::<EngineError>() {
            match e {
                EngineError::Store(e) => store(e),
                EngineError::Exec(e) => Some(exec(e)),
                EngineError::Publish { source, .. } if is_environment_io(source) => {
                    Some(ENVIRONMENT)
                }
                _ => None,
            }
        } else if let Some(e) = cause.downcast_ref::<RemoteError>() {
            match e {
                RemoteError::Unreachable { .. } | RemoteError::Io { .. } => Some(ENVIRONMENT),
                RemoteError::Tampered { .. } | RemoteError::BadRecord { .. } => Some(CORRUPT),
                RemoteError::Store(e) => store(e),
                _ => Some(BAD_INPUT),
            }
        } else if let Some(e) = cause.downcast_ref::<ExecError>() {
            Some(exec(e))
        } else if cause.is::<QueueError>() {
            // squeue/scancel missing or the controller down.
            Some(ENVIRONMENT)
        } else {
            cause.downcast_ref::<std::io::Error>().map(|e| {
                if is_environment_io(e) {
                    ENVIRONMENT
                } else {
                    BAD_INPUT
                }
            })
        };
        if let Some(code) = code {
            return code;
        }
    }
    BAD_INPUT
}

fn exec(e: &ExecError) -> i32 {
    match e {
        ExecError::TooManyGpus { .. } => BAD_INPUT,
        ExecError::Spawn { .. } | ExecError::Cluster(_) => ENVIRONMENT,
    }
}

/// A store error's code: an I/O error by its errno (a path through a file is the user's), the
/// rest by the store's own classification.
fn store(e: &StoreError) -> Option<i32> {
    Some(match (e, e.class()) {
        (StoreError::Io { source, .. }, _) if !is_environment_io(source) => BAD_INPUT,
        (_, ErrorClass::Environment) => ENVIRONMENT,
        (_, ErrorClass::Corruption) => CORRUPT,
        (_, ErrorClass::Refused) => BAD_INPUT,
    })
}

/// An I/O error the machine causes rather than the user's input: no space, no permission, a
/// read-only filesystem, a tool that is not installed.
pub fn is_environment_io(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EACCES | libc::EPERM | libc::EROFS | libc::EIO)
    ) || e.kind() == std::io::ErrorKind::NotFound && e.raw_os_error().is_none()
}

/// A hint for the environment errors that have an obvious fix.
pub fn hint(error: &anyhow::Error) -> Option<&'static str> {
    const FULL: &str = "the filesystem is full: free space there, or put the store elsewhere with --store DIR (or REPRO_STORE)";
    error.chain().find_map(|c| {
        let io = match c.downcast_ref::<StoreError>() {
            Some(StoreError::NoSpace { .. }) => return Some(FULL),
            Some(StoreError::Io { source, .. }) => source,
            _ => c.downcast_ref::<std::io::Error>()?,
        };
        match io.raw_os_error()? {
            libc::ENOSPC | libc::EDQUOT => Some(FULL),
            libc::EACCES | libc::EPERM => {
                Some("permission denied: check the owner and mode of that path")
            }
            libc::EROFS => Some("the filesystem is read-only: use a writable --store DIR"),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_io_errors_map_to_their_codes() {
        let io = |errno| {
            anyhow::Error::new(StoreError::Io {
                path: "/s".into(),
                source: std::io::Error::from_raw_os_error(errno),
            })
        };
        assert_eq!(classify(&io(libc::ENOSPC)), ENVIRONMENT);
        assert!(hint(&io(libc::ENOSPC)).is_some_and(|h| h.contains("full")));
        assert_eq!(classify(&io(libc::EACCES)), ENVIRONMENT);
        assert_eq!(classify(&io(libc::EISDIR)), BAD_INPUT);
        let corrupt = anyhow::Error::new(StoreError::BadRecord {
            path: "/s".into(),
            message: "x".into(),
        });
        assert_eq!(classify(&corrupt), CORRUPT);
        assert_eq!(classify(&anyhow::anyhow!("no such stage")), BAD_INPUT);
        let context = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EROFS))
            .context("opening the store");
        assert_eq!(classify(&context), ENVIRONMENT);
    }
}
