//! `repro models`: the listing's JSON carries each architecture's name and parameter counts.
//! The command module is compiled here on its own (by path), so it is tested whether or not the
//! CLI has wired it yet.
#![cfg(feature = "torch")]

/// `src/cli/models.rs` refers to `crate::ml`; point that at the library's.
mod ml {
    pub use repro::ml::*;
}

#[path = "../src/cli/models.rs"]
mod models_cmd;

use models_cmd::{run, ModelsArgs};

#[test]
fn scale_argument_parses_and_rejects_nonsense() {
    let args = |scale: &str| ModelsArgs {
        json: true,
        scale: scale.into(),
        num_classes: 10,
        image_size: Some(32),
    };
    assert!(run(&args("0.25,0.5")).is_ok());
    assert!(run(&args("huge")).is_err());
    assert!(run(&args("0.25,x")).is_err());
}
