//! Ctrl-C and SIGTERM as values on a channel, so an executor's `wait` is woken by a signal the
//! same way it is woken by a finished job. Installing the handler replaces the default action
//! (die at once): the planner stops its workers and prints its summary instead.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::mpsc::Sender;

/// Send `value` on `tx` each time SIGINT or SIGTERM arrives, from a thread of its own.
pub fn forward<T: Clone + Send + 'static>(tx: Sender<T>, value: T) {
    // Registration fails only when the signal number is invalid; both are valid.
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if tx.send(value.clone()).is_err() {
                break;
            }
        }
    });
}
