//! Order-preserving parallel map for per-file work (decoding, rendering) on scoped threads.

/// Map `f` over `items` on up to `threads` threads, results in input order. A chunk whose
/// thread panicked (a decoder bug on a hostile file) yields an error for each of its items, so
/// results always stay aligned with their inputs and no image is paired with another's label.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<R, String> + Sync,
) -> Vec<Result<R, String>> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                (
                    part.len(),
                    s.spawn(move || part.iter().map(f).collect::<Vec<_>>()),
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..len)
                        .map(|_| Err("worker thread panicked on this chunk".to_string()))
                        .collect()
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_alignment_even_when_a_worker_panics() {
        let items: Vec<u32> = (0..10).collect();
        let out = map_in_order(&items, 3, |&x| Ok::<u32, String>(x * 2));
        assert_eq!(
            out.iter()
                .map(|r| *r.as_ref().expect("ok"))
                .collect::<Vec<_>>(),
            (0..10).map(|x| x * 2).collect::<Vec<_>>()
        );
        let out = map_in_order(&items, 3, |&x| {
            if x == 5 {
                panic!("decoder bug")
            } else {
                Ok::<u32, String>(x)
            }
        });
        assert_eq!(out.len(), 10, "aligned with the inputs");
        assert_eq!(out[9].as_ref().ok(), Some(&9));
        assert!(
            out[5].is_err() && out[4].is_err(),
            "the panicked chunk (4..8) is all errors"
        );
        assert_eq!(out[3].as_ref().ok(), Some(&3));
    }
}
