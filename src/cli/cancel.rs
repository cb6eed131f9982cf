//! `repro cancel`: stop the batch jobs this store's runs submitted (`store/jobs/`), e.g. after
//! the planner that submitted them died or was left on a login node.

use crate::engine::slurm::{jobs, squeue};
use crate::store::Store;
use anyhow::Result;

pub fn run(store: &Store, json: bool) -> Result<i32> {
    let submitted = jobs::all(store);
    let ids: Vec<u64> = submitted.iter().map(|(_, j)| j.job_id).collect();
    squeue::cancel(&ids)?;
    for (key, _) in &submitted {
        jobs::settle(store, key);
    }
    if json {
        let list: Vec<_> = submitted
            .iter()
            .map(|(k, j)| serde_json::json!({"stage": j.stage, "job_id": j.job_id, "key": k}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"cancelled": list}))?
        );
    } else if submitted.is_empty() {
        println!("no submitted jobs in {}", store.root().display());
    } else {
        for (_, j) in &submitted {
            println!("cancelled Slurm job {} ({})", j.job_id, j.stage);
        }
    }
    Ok(0)
}
