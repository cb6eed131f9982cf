//! Rank and improvement statistics with bootstrap intervals.
