//! MPNet's relative-position buckets (T5's scheme, as HF's `MPNetEncoder` computes it): each
//! query–key offset maps to one of `buckets` learned per-head biases. Half the buckets are for
//! keys after the query; within each half, offsets below `buckets / 4` get a bucket each and
//! larger ones share log-spaced buckets up to `MAX_DISTANCE`.

const MAX_DISTANCE: f32 = 128.0;

/// The bucket of `relative = key position − query position`.
pub fn bucket(relative: i64, buckets: i64) -> i64 {
    let half = buckets / 2;
    let n = -relative;
    let side = if n < 0 { half } else { 0 };
    let n = n.abs();
    let exact = half / 2;
    if n < exact {
        return side + n;
    }
    // f32 as torch computes it, so boundary offsets round the same way.
    let log_ratio = (n as f32 / exact as f32).ln() / (MAX_DISTANCE / exact as f32).ln();
    let large = exact + (log_ratio * (half - exact) as f32) as i64;
    side + large.min(half - 1)
}

/// Row-major [len, len] buckets for query i, key j.
pub fn bucket_matrix(len: usize, buckets: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(len * len);
    for i in 0..len as i64 {
        for j in 0..len as i64 {
            out.push(bucket(j - i, buckets));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_hf_mpnet() {
        // From HF's MPNetEncoder.relative_position_bucket(torch.tensor(r), 32, 128) for these r
        // (scripts/mpnet_reference.py prints them).
        let want = [
            (0, 0),
            (1, 17),
            (-1, 1),
            (7, 23),
            (-8, 8),
            (15, 25),
            (-16, 10),
            (31, 27),
            (-32, 12),
            (63, 29),
            (-64, 14),
            (127, 31),
            (-128, 15),
            (300, 31),
            (-300, 15),
        ];
        for (r, b) in want {
            assert_eq!(bucket(r, 32), b, "relative {r}");
        }
    }
}
