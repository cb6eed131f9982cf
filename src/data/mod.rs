//! Datasets: the one on-disk format every dataset stage writes and every training stage reads.

pub mod augment;
pub mod contrast;
pub mod dataset;
pub mod error;
pub mod idx;
pub mod imagefolder;
pub mod imagenet;
pub mod imagenot;
pub mod imagenot_output;
pub mod imagenot_select;
pub mod imagenot_selection;
pub mod imageops;
pub mod loader;
pub mod matfile;
pub mod mnist_csv;
pub mod parallel;
pub mod pool;
pub mod pool_img2dataset;
pub mod pool_laion;
pub mod pool_mini;
pub mod pool_table;
pub mod render;
pub mod stats;
pub mod transform;
pub mod wordnet;
