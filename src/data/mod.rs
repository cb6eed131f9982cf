//! Datasets: the one on-disk format every dataset stage writes and every training stage reads.

pub mod dataset;
