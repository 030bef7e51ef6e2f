//! Human byte sizes: `65536`, `64K`, `64KiB`, `1M`, `1MiB`, `2G` (powers of 1024).
//!
//! The rule, as `--help` states it: K, M and G are powers of 1024, and `KB`/`KiB`
//! (`MB`/`MiB`, `GB`/`GiB`) mean the same as `K` (`M`, `G`), in any case. There are no
//! powers of 1000.

/// Parse a size; suffixes K/M/G (with optional `iB` or `B`) are powers of 1024.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits_end == 0 {
        return Err(format!(
            "invalid size {s:?}: expected a number like 65536, 64K or 1MiB"
        ));
    }
    let n: u64 = t[..digits_end]
        .parse()
        .map_err(|_| format!("invalid size {s:?}: number too large"))?;
    let shift = match t[digits_end..].to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => {
            return Err(format!(
                "invalid size suffix {other:?} in {s:?}: use K, M or G"
            ))
        }
    };
    n.checked_mul(1 << shift)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

/// A size (see [`parse_size`]) in `range`; `what` and `shown` name the value and the
/// range in the message.
fn parse_size_in(
    s: &str,
    range: std::ops::RangeInclusive<usize>,
    what: &str,
    shown: &str,
) -> Result<usize, String> {
    let n = parse_size(s)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!("{s:?} is out of range: {what} must be {shown}"))
    }
}

/// Bytes of generated benchmark data: a size (see [`parse_size`]) from 4K to 64G; less
/// is too short to time, more is not a machine's memory.
pub fn parse_bench_size(s: &str) -> Result<usize, String> {
    parse_size_in(s, 4 << 10..=64 << 30, "benchmark data", "4K..=64G")
}

/// Bytes per read (`--read-size`): a size from 4K to 64M. Smaller reads cost a system
/// call per few bytes; larger ones only grow the buffer.
pub fn parse_read_size(s: &str) -> Result<usize, String> {
    parse_size_in(s, 4 << 10..=64 << 20, "the read size", "4K..=64M")
}

/// `1536` → `1.5 KiB`.
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64kib"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("12X").is_err());
        assert_eq!(parse_bench_size("4K"), Ok(4096));
        assert_eq!(parse_bench_size("64G"), Ok(64 << 30));
        assert!(parse_bench_size("0").is_err());
        assert!(parse_bench_size("4095").is_err());
        assert!(parse_bench_size("65G").is_err());
        assert!(parse_size("-5").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
        assert!(parse_size("99999999999999G").is_err());
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(parse_size("64KB"), Ok(65536));
        assert_eq!(parse_read_size("4K"), Ok(4096));
        assert_eq!(parse_read_size("64M"), Ok(64 << 20));
        assert!(parse_read_size("0").is_err());
        assert!(parse_read_size("4095").is_err());
        assert!(parse_read_size("64MiB").is_ok());
        assert!(parse_read_size("1000G").unwrap_err().contains("4K..=64M"));
    }
}
