//! [`HalfReads`]: an I/O stream whose reads fill at most half of the free room the
//! caller offers.
//!
//! Why: fastwebsockets reads into one `BytesMut` as much as the socket has, then,
//! after each frame header, reserves room for that frame's payload. When a read has
//! filled the buffer to the brim, the reservation finds no free room and, since the
//! unread frames outweigh the consumed ones, `BytesMut` doubles the buffer instead of
//! moving the remainder to the front. A server that writes faster than the client
//! reads (every log burst) thus grew the read buffer to 4, 8 or 16 MiB, depending on
//! how far the reader fell behind. Leaving half of the free room unfilled keeps the
//! reservation of any frame smaller than that room on the fast path, and by the time
//! the room is nearly used up the consumed prefix outweighs what is left, so the
//! buffer is reclaimed rather than grown: it stays at its first 8 KiB for log lines.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one read lends out (a system call rarely returns more on loopback).
const MAX_READ: usize = 64 * 1024;

/// Wraps an I/O stream; reads fill at most half of the caller's free room (at
/// least one byte, at most 64 KiB), writes pass through untouched.
#[derive(Debug)]
pub(crate) struct HalfReads<T> {
    inner: T,
}

impl<T> HalfReads<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self { inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HalfReads<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        if room < 2 {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        // Zeroing the part we lend out keeps this safe; the cap keeps that memset
        // small even when a huge frame has made the caller's buffer huge.
        let part = buf.initialize_unfilled_to((room / 2).min(MAX_READ));
        let mut half = ReadBuf::new(part);
        match Pin::new(&mut self.inner).poll_read(cx, &mut half) {
            Poll::Ready(Ok(())) => {
                let n = half.filled().len();
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HalfReads<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_read_fills_at_most_half_of_the_free_room() {
        let data = vec![7u8; 10_000];
        let mut reader = HalfReads::new(&data[..]);
        let mut buf = vec![0u8; 1_000];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 500);
        assert_eq!(reader.read(&mut buf[..1]).await.unwrap(), 1);
        // and everything arrives, in order
        let mut all = vec![7u8; 501];
        reader.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, data);
    }

    #[tokio::test]
    async fn a_read_lends_out_at_most_64_kib() {
        let data = vec![7u8; 1 << 20];
        let mut reader = HalfReads::new(&data[..]);
        let mut buf = vec![0u8; 1 << 20];
        assert_eq!(reader.read(&mut buf).await.unwrap(), MAX_READ);
    }

    #[tokio::test]
    async fn the_end_of_the_stream_still_reads_as_zero() {
        let mut reader = HalfReads::new(&b""[..]);
        let mut buf = [0u8; 64];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    }
}
