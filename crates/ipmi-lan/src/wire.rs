//! Checked byte reading and writing.
//!
//! Every packet a BMC (or anything else on the network) sends is hostile input
//! until its integrity code is checked, and even then a buggy BMC may send a
//! short or over-long field. All decoding goes through [`Reader`], which can
//! only fail with a [`DecodeError`], never panic.

use crate::error::DecodeError;

/// A cursor over a received datagram.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// What is being decoded, for error messages.
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn short(&self, wanted: usize) -> DecodeError {
        DecodeError::Truncated {
            what: self.what,
            wanted,
            available: self.remaining(),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.short(n))?;
        let slice = self.buf.get(self.pos..end).ok_or_else(|| self.short(n))?;
        self.pos = end;
        Ok(slice)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        rest
    }

    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }
}

/// The byte at `i`, or a decode error naming `what`.
pub fn byte_at(buf: &[u8], i: usize, what: &'static str) -> Result<u8, DecodeError> {
    buf.get(i).copied().ok_or(DecodeError::Truncated {
        what,
        wanted: i.saturating_add(1),
        available: buf.len(),
    })
}

/// The IPMI 8-bit two's complement checksum: the bytes plus it sum to zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

/// Lower-case hex for debug logs of non-secret bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len().saturating_mul(3));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16_le().unwrap(), 0x0201);
        assert!(matches!(
            r.u32_le(),
            Err(DecodeError::Truncated {
                wanted: 4,
                available: 1,
                ..
            })
        ));
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.u8().is_err());
        assert!(r.take(usize::MAX).is_err());
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn checksum_makes_the_sum_zero() {
        let data = [0x20, 0x18];
        let c = checksum(&data);
        assert_eq!(c, 0xc8);
        assert_eq!(
            data.iter().fold(c, |a, b| a.wrapping_add(*b)),
            0,
            "sum with checksum is zero"
        );
        assert_eq!(checksum(&[]), 0);
    }
}
