//! Content codings of answers (the agent API's "Content codings"): a body with
//! `Content-Encoding: gzip` or `deflate` is decoded as it streams, on every
//! answer; any other coding is an error naming it, so compressed bytes never
//! reach a caller as text.
//!
//! A [`Decoder`] takes the compressed chunks one at a time and hands out the
//! decoded bytes in pieces of at most about [`OUT_CHUNK`], however much a chunk
//! expands (a compression bomb inflates a thousandfold): memory stays bounded by
//! one compressed chunk and one piece, and every limit downstream counts decoded
//! bytes. What has arrived is decoded at once (a tail stays live). A body that
//! ends before its compressed stream does is an error: a cut is never a clean end.

use agent_proto::ClientError;
use bytes::{Buf, Bytes};
use flate2::write::MultiGzDecoder;
use flate2::{Decompress, FlushDecompress, Status};
use http::header::{HeaderMap, CONTENT_ENCODING, CONTENT_LENGTH};
use std::io::Write;

/// What the client sends as `Accept-Encoding` when compression is on
/// ([`HttpTransportBuilder::compression`](crate::HttpTransportBuilder::compression)).
/// Without it the client sends no `Accept-Encoding` (servers and proxies then
/// answer uncompressed; a gzip or deflate answer is decoded all the same).
pub const ACCEPT_ENCODING: &str = "gzip, deflate";

/// About the most decoded bytes one step hands out.
pub(crate) const OUT_CHUNK: usize = 64 * 1024;

/// How many compressed bytes one write feeds the gzip decoder: deflate expands
/// at most about 1032 times, so one write decodes to at most about 260 KiB.
const IN_STEP: usize = 256;

/// A body's content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// None (or `identity`).
    Identity,
    /// `gzip` (or `x-gzip`).
    Gzip,
    /// `deflate`: a zlib stream, or a raw deflate stream as some servers send.
    Deflate,
}

/// The coding of an answer from its `Content-Encoding`; a 500
/// [`ClientError::Decode`] naming any coding other than gzip, deflate and identity
/// (or more than one coding).
pub(crate) fn coding(headers: &HeaderMap) -> Result<Coding, ClientError> {
    let mut found = Coding::Identity;
    for value in headers.get_all(CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let this = match token.to_ascii_lowercase().as_str() {
                "identity" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                _ => return Err(unsupported(token)),
            };
            if found != Coding::Identity {
                return Err(unsupported(&text));
            }
            found = this;
        }
    }
    Ok(found)
}

fn unsupported(coding: &str) -> ClientError {
    let coding: String = coding.chars().take(60).collect();
    ClientError::Decode {
        message: format!(
            "the answer's Content-Encoding `{coding}` is not supported (the client \
             decodes gzip and deflate)"
        ),
    }
}

/// The headers of a decoded answer: its `Content-Encoding` and `Content-Length`
/// described the compressed body, not the one the caller gets.
pub(crate) fn strip_coding_headers(headers: &mut HeaderMap) {
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> ClientError {
    ClientError::Decode {
        message: format!("the answer's {what} body could not be decoded: {detail}"),
    }
}

/// A streaming decoder of one body.
pub(crate) struct Decoder {
    kind: Kind,
    /// Compressed bytes not decoded yet.
    pending: Bytes,
    /// Whether any compressed byte came (an empty body is an empty body).
    fed: bool,
}

enum Kind {
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
    /// `None` until the first two bytes tell a zlib stream from a raw one.
    Deflate {
        state: Option<Box<Decompress>>,
        ended: bool,
    },
}

impl Decoder {
    /// A decoder of `coding` (`None` for identity).
    pub(crate) fn new(coding: Coding) -> Option<Decoder> {
        let kind = match coding {
            Coding::Identity => return None,
            Coding::Gzip => Kind::Gzip(Box::new(MultiGzDecoder::new(Vec::new()))),
            Coding::Deflate => Kind::Deflate {
                state: None,
                ended: false,
            },
        };
        Some(Decoder {
            kind,
            pending: Bytes::new(),
            fed: false,
        })
    }

    /// True when every compressed byte given was decoded and handed out.
    pub(crate) fn is_drained(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the next compressed chunk (after what is still pending: a deflate
    /// body's first byte waits for its second).
    pub(crate) fn push(&mut self, chunk: Bytes) {
        self.fed |= !chunk.is_empty();
        if self.pending.is_empty() {
            self.pending = chunk;
        } else {
            let mut joined = self.pending.to_vec();
            joined.extend_from_slice(&chunk);
            self.pending = Bytes::from(joined);
        }
    }

    /// Decodes what is pending, up to about [`OUT_CHUNK`] bytes of output (empty
    /// when the pending bytes held no whole piece of output yet).
    pub(crate) fn pull(&mut self) -> Result<Bytes, ClientError> {
        match &mut self.kind {
            Kind::Gzip(decoder) => {
                let mut out = Vec::new();
                while !self.pending.is_empty() && out.len() < OUT_CHUNK {
                    let step = self.pending.len().min(IN_STEP);
                    let n = decoder
                        .write(&self.pending[..step])
                        .and_then(|n| decoder.flush().map(|()| n))
                        .map_err(|e| corrupt("gzip", e))?;
                    if n == 0 {
                        return Err(corrupt("gzip", "the decoder took no input"));
                    }
                    self.pending.advance(n);
                    out.append(decoder.get_mut());
                }
                Ok(Bytes::from(out))
            }
            Kind::Deflate { state, ended } => {
                if state.is_none() {
                    if self.pending.len() < 2 {
                        // Too little to tell zlib from raw: wait for more (or the end).
                        return Ok(Bytes::new());
                    }
                    let (cmf, flg) = (self.pending[0], self.pending[1]);
                    let zlib = cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
                    *state = Some(Box::new(Decompress::new(zlib)));
                }
                let Some(inflate) = state.as_mut() else {
                    return Ok(Bytes::new());
                };
                let mut out = Vec::with_capacity(OUT_CHUNK);
                while !self.pending.is_empty() && out.len() < OUT_CHUNK {
                    if *ended {
                        return Err(corrupt("deflate", "bytes after the end of its stream"));
                    }
                    let before = inflate.total_in();
                    let status = inflate
                        .decompress_vec(&self.pending, &mut out, FlushDecompress::None)
                        .map_err(|e| corrupt("deflate", e))?;
                    let used = usize::try_from(inflate.total_in() - before).unwrap_or(usize::MAX);
                    self.pending.advance(used.min(self.pending.len()));
                    match status {
                        Status::StreamEnd => *ended = true,
                        Status::Ok | Status::BufError if used == 0 => break,
                        Status::Ok | Status::BufError => {}
                    }
                }
                Ok(Bytes::from(out))
            }
        }
    }

    /// The end of the compressed body: an error if its stream was cut short.
    pub(crate) fn finish(&mut self) -> Result<Bytes, ClientError> {
        if !self.fed {
            return Ok(Bytes::new());
        }
        match &mut self.kind {
            Kind::Gzip(decoder) => {
                decoder
                    .try_finish()
                    .map_err(|_| corrupt("gzip", "the compressed stream was cut short"))?;
                Ok(Bytes::from(std::mem::take(decoder.get_mut())))
            }
            Kind::Deflate { ended: true, .. } => Ok(Bytes::new()),
            Kind::Deflate { .. } => Err(corrupt("deflate", "the compressed stream was cut short")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use http::HeaderValue;

    /// What a body stream does: push a chunk, pull until nothing more comes out
    /// of it, then the next chunk; at the end, finish.
    fn decode_in(decoder: &mut Decoder, body: &[u8], step: usize) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        for chunk in body.chunks(step.max(1)) {
            decoder.push(Bytes::copy_from_slice(chunk));
            // Bounded, so that a decoder that never drains fails instead of hanging.
            for _ in 0..100_000 {
                if decoder.is_drained() {
                    break;
                }
                let piece = decoder.pull()?;
                assert!(piece.len() <= OUT_CHUNK + 300 * 1024);
                if piece.is_empty() {
                    break;
                }
                out.extend_from_slice(&piece);
            }
        }
        out.extend_from_slice(&decoder.finish()?);
        Ok(out)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn codings_are_read_and_others_named() {
        let mut h = HeaderMap::new();
        assert_eq!(coding(&h).unwrap(), Coding::Identity);
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("GZIP"));
        assert_eq!(coding(&h).unwrap(), Coding::Gzip);
        h.insert(
            CONTENT_ENCODING,
            HeaderValue::from_static("identity, deflate"),
        );
        assert_eq!(coding(&h).unwrap(), Coding::Deflate);
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        let e = coding(&h).unwrap_err();
        assert_eq!(e.status_code(), 500);
        assert!(e.to_string().contains("`br`"), "{e}");
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip, gzip"));
        assert!(coding(&h).is_err());
    }

    #[test]
    fn a_decoded_answer_loses_its_coding_headers() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("10"));
        h.insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        strip_coding_headers(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode_in_any_steps() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&data).unwrap();
        let zlib = z.finish().unwrap();
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(&data).unwrap();
        let raw = d.finish().unwrap();
        for step in [1, 7, 1000, 1 << 20] {
            let mut g = Decoder::new(Coding::Gzip).unwrap();
            assert_eq!(
                decode_in(&mut g, &gzip(&data), step).unwrap(),
                data,
                "gzip {step}"
            );
            let mut z = Decoder::new(Coding::Deflate).unwrap();
            assert_eq!(decode_in(&mut z, &zlib, step).unwrap(), data, "zlib {step}");
            let mut r = Decoder::new(Coding::Deflate).unwrap();
            assert_eq!(decode_in(&mut r, &raw, step).unwrap(), data, "raw {step}");
        }
        // two gzip members are one body
        let mut two = gzip(b"a\n");
        two.extend_from_slice(&gzip(b"b\n"));
        let mut g = Decoder::new(Coding::Gzip).unwrap();
        assert_eq!(decode_in(&mut g, &two, 3).unwrap(), b"a\nb\n");
    }

    /// Raw deflate streams that look least like zlib: the shortest one (an empty
    /// final block, two bytes) and a stored block whose first byte has zlib's
    /// method nibble (8) but fails zlib's header check.
    #[test]
    fn raw_deflate_edge_cases_are_not_taken_for_zlib() {
        let empty = DeflateEncoder::new(Vec::new(), Compression::default())
            .finish()
            .unwrap();
        assert_eq!(empty.len(), 2);
        for step in [1, 2] {
            let mut r = Decoder::new(Coding::Deflate).unwrap();
            assert_eq!(decode_in(&mut r, &empty, step).unwrap(), b"", "{step}");
        }
        let stored = [0x08, 0x01, 0x00, 0xfe, 0xff, b'x', 0x03, 0x00];
        let mut r = Decoder::new(Coding::Deflate).unwrap();
        assert_eq!(decode_in(&mut r, &stored, 3).unwrap(), b"x");
    }

    #[test]
    fn a_cut_or_corrupt_stream_is_an_error_and_an_empty_body_is_empty() {
        let whole = gzip(b"hello\nworld\n");
        for cut in 1..whole.len() {
            let mut g = Decoder::new(Coding::Gzip).unwrap();
            let e = decode_in(&mut g, &whole[..cut], 5).unwrap_err();
            assert_eq!(e.status_code(), 500, "{cut}");
        }
        let mut g = Decoder::new(Coding::Gzip).unwrap();
        assert!(decode_in(&mut g, b"not gzip at all", 4).is_err());
        let mut g = Decoder::new(Coding::Gzip).unwrap();
        assert_eq!(decode_in(&mut g, b"", 4).unwrap(), b"");
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(b"hello\nworld\n").unwrap();
        let raw = d.finish().unwrap();
        for cut in 1..raw.len() {
            let mut r = Decoder::new(Coding::Deflate).unwrap();
            assert!(decode_in(&mut r, &raw[..cut], 3).is_err(), "{cut}");
        }
    }

    #[test]
    fn a_bomb_comes_out_in_bounded_pieces() {
        let zeros = vec![0u8; 20 << 20];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 64 * 1024);
        let mut g = Decoder::new(Coding::Gzip).unwrap();
        g.push(Bytes::from(bomb));
        let mut total = 0;
        for _ in 0..10_000 {
            if g.is_drained() {
                break;
            }
            let piece = g.pull().unwrap();
            assert!(piece.len() <= OUT_CHUNK + 300 * 1024, "{}", piece.len());
            total += piece.len();
        }
        total += g.finish().unwrap().len();
        assert_eq!(total, zeros.len());
    }
}
