//! The nine architectures and the training / evaluation loops, in tch.
