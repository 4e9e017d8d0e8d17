//! The body of GET `jobs/{id}/logs/`: a job's whole log as one JSON string, written
//! piece by piece while the backend streams it.
//!
//! The wire format is what it was when the log was answered whole (`"..."`, the
//! bytes of `serde_json::to_vec(&log)`), so clients parse it as before; only the
//! server's memory changes: each piece of the backend's [`LogStream`] is decoded
//! ([`Utf8Lossy`]) and escaped [`WINDOW`] bytes at a time, whatever the log's size.

use std::io;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use crate::backend::{BackendError, LogStream};
use crate::body::{BoxError, ResBody};

/// How many bytes of the log are decoded and escaped into one chunk of the body:
/// bounds the answer's buffers (an escaped chunk is at most six times this).
pub(crate) const WINDOW: usize = 16 * 1024;

/// Decodes UTF-8 that arrives in pieces cut anywhere, as `String::from_utf8_lossy`
/// decodes the whole: each invalid sequence becomes one U+FFFD, and a character cut
/// between two pieces is kept (at most 3 bytes) until the next one completes it.
#[derive(Debug, Default)]
pub(crate) struct Utf8Lossy {
    /// The start of a character the last piece ended in.
    pending: Vec<u8>,
}

impl Utf8Lossy {
    /// Decodes `bytes`, appending the text to `out`.
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut String) {
        let joined;
        let input = if self.pending.is_empty() {
            bytes
        } else {
            let mut j = std::mem::take(&mut self.pending);
            j.extend_from_slice(bytes);
            joined = j;
            &joined[..]
        };
        let mut chunks = input.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            out.push_str(chunk.valid());
            let invalid = chunk.invalid();
            if invalid.is_empty() {
                continue;
            }
            // The last invalid run may be a character the next piece completes: an
            // error without a length is one that ran out of input.
            let cut_short = chunks.peek().is_none()
                && std::str::from_utf8(invalid).is_err_and(|e| e.error_len().is_none());
            if cut_short {
                self.pending.extend_from_slice(invalid);
            } else {
                out.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }

    /// The end of the input: a character left unfinished becomes U+FFFD.
    pub(crate) fn finish(&mut self, out: &mut String) {
        if !self.pending.is_empty() {
            self.pending.clear();
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// Appends `text` JSON-escaped, without quotes, as `serde_json` escapes a string.
/// Escaping is per character, so pieces escaped one by one give the whole's escape.
fn push_escaped(out: &mut Vec<u8>, text: &str) -> Result<(), BoxError> {
    let quoted = serde_json::to_vec(text)?;
    if let [b'"', inner @ .., b'"'] = quoted.as_slice() {
        out.extend_from_slice(inner);
    }
    Ok(())
}

fn aborted(why: String) -> BoxError {
    Box::new(io::Error::new(io::ErrorKind::ConnectionAborted, why))
}

struct State {
    /// The first piece, read before the answer's head was decided.
    first: Option<Result<Bytes, BackendError>>,
    pieces: LogStream,
    /// What is left of the piece being written.
    piece: Bytes,
    decoder: Utf8Lossy,
    text: String,
    started: bool,
    done: bool,
}

impl State {
    /// The next chunk of the body: `None` at its end, `Err` to break it off.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        if self.done {
            return None;
        }
        loop {
            let mut out = Vec::new();
            if !self.started {
                out.push(b'"');
            }
            self.text.clear();
            if !self.piece.is_empty() {
                let window = self.piece.split_to(self.piece.len().min(WINDOW));
                self.decoder.push(&window, &mut self.text);
            } else {
                let next = match self.first.take() {
                    Some(first) => Some(first),
                    None => self.pieces.next().await,
                };
                match next {
                    Some(Ok(piece)) => {
                        self.piece = piece;
                        continue;
                    }
                    Some(Err(e)) => {
                        self.done = true;
                        // hyper flushes what it holds while the body is pending:
                        // the client gets all sent so far, then the cut
                        tokio::task::yield_now().await;
                        return Some(Err(aborted(format!("the log broke off: {e}"))));
                    }
                    None => {
                        self.done = true;
                        self.decoder.finish(&mut self.text);
                        if let Err(e) = push_escaped(&mut out, &self.text) {
                            return Some(Err(e));
                        }
                        out.push(b'"');
                        return Some(Ok(Bytes::from(out)));
                    }
                }
            }
            if self.text.is_empty() {
                // only the start of a character: read on
                continue;
            }
            if let Err(e) = push_escaped(&mut out, &self.text) {
                self.done = true;
                return Some(Err(e));
            }
            self.started = true;
            // a large escaped window must not linger in `text`
            if self.text.capacity() > 2 * WINDOW {
                self.text = String::new();
            }
            return Some(Ok(Bytes::from(out)));
        }
    }
}

/// The body of GET `jobs/{id}/logs/`: `first` (the piece already read, if the log
/// had one) and the rest of `pieces`, as one JSON string.
pub(crate) fn log_body(first: Option<Result<Bytes, BackendError>>, pieces: LogStream) -> ResBody {
    let state = State {
        first,
        pieces,
        piece: Bytes::new(),
        decoder: Utf8Lossy::default(),
        text: String::new(),
        started: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let chunk = st.next_chunk().await?;
        Some((chunk.map(Frame::data), st))
    });
    StreamBody::new(stream).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_in_pieces(bytes: &[u8], cuts: &[usize]) -> String {
        let mut d = Utf8Lossy::default();
        let mut out = String::new();
        let mut rest = bytes;
        for c in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at((*c).min(rest.len()));
            d.push(a, &mut out);
            assert!(d.pending.len() <= 3);
            rest = b;
        }
        d.finish(&mut out);
        out
    }

    fn body_of(pieces: Vec<Result<Bytes, BackendError>>) -> Result<Vec<u8>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut body = log_body(None, Box::pin(futures_util::stream::iter(pieces)));
            let mut out = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| e.to_string())?;
                let data = frame.into_data().unwrap();
                assert!(!data.is_empty(), "no empty chunk is sent");
                assert!(data.len() <= 6 * WINDOW + 2);
                out.extend_from_slice(&data);
            }
            Ok(out)
        })
    }

    /// Bytes that try the decoder and the escaping: ASCII, quotes, backslashes,
    /// control characters, multi-byte characters and the pieces of broken ones.
    fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
        let atom = prop_oneof![
            Just(b"a".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\n".to_vec()),
            Just(vec![0x00]),
            Just(vec![0x1f]),
            Just(vec![0x7f]),
            Just("é".as_bytes().to_vec()),
            Just("€".as_bytes().to_vec()),
            Just("𝄞".as_bytes().to_vec()),
            Just(vec![0xe2, 0x82]),
            Just(vec![0xf0, 0x9d]),
            Just(vec![0xff]),
            Just(vec![0xc0, 0x80]),
            Just(vec![0xed, 0xa0, 0x80]),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(atom, 0..200).prop_map(|v| v.concat())
    }

    #[test]
    fn a_character_cut_anywhere_is_decoded_once() {
        let bytes = "a€𝄞\u{7ff}z".as_bytes();
        for cut in 0..=bytes.len() {
            assert_eq!(decode_in_pieces(bytes, &[cut.max(1), 100]), "a€𝄞\u{7ff}z");
        }
        assert_eq!(decode_in_pieces(b"\xe2\x82", &[1]), "\u{FFFD}");
        assert_eq!(decode_in_pieces(b"\xe2\x82A", &[2, 1]), "\u{FFFD}A");
        assert_eq!(decode_in_pieces(b"\xff\xfe", &[1]), "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn an_empty_log_is_an_empty_string() {
        assert_eq!(body_of(vec![]).unwrap(), b"\"\"");
        assert_eq!(body_of(vec![Ok(Bytes::new())]).unwrap(), b"\"\"");
    }

    /// The serving layer reads the first piece on its own, then hands the stream
    /// on: an empty log from a stream that panics when polled after its end (as
    /// `unfold` does) is still `""` (issue 27).
    #[test]
    fn an_empty_log_read_first_then_handed_on_is_an_empty_string() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = rt.block_on(async {
            let empty = futures_util::stream::unfold((), |()| async {
                None::<(Result<Bytes, BackendError>, ())>
            });
            let mut pieces = crate::backend::LogBody::wrap_stream(empty).into_stream();
            let first = pieces.next().await;
            assert!(first.is_none());
            let mut body = log_body(first, pieces);
            let mut out = Vec::new();
            while let Some(frame) = body.frame().await {
                out.extend_from_slice(&frame.unwrap().into_data().unwrap());
            }
            out
        });
        assert_eq!(body, b"\"\"");
    }

    #[test]
    fn a_failure_after_the_first_byte_breaks_the_body_off() {
        let e = body_of(vec![
            Ok(Bytes::from_static(b"line 1\n")),
            Err(BackendError::detail(502, "Ray went away")),
        ])
        .unwrap_err();
        assert!(e.contains("Ray went away"), "{e}");
    }

    #[test]
    fn a_large_piece_is_written_a_window_at_a_time() {
        let log = vec![b'"'; 5 * WINDOW + 7];
        let body = body_of(vec![Ok(Bytes::from(log.clone()))]).unwrap();
        let text = String::from_utf8(log).unwrap();
        assert_eq!(body, serde_json::to_vec(&text).unwrap());
    }

    proptest! {
        /// However the log is cut, the decoder gives `from_utf8_lossy` of the whole.
        #[test]
        fn pieces_decode_as_the_whole(
            bytes in log_bytes(),
            cuts in prop::collection::vec(1usize..12, 1..10),
        ) {
            prop_assert_eq!(
                decode_in_pieces(&bytes, &cuts),
                String::from_utf8_lossy(&bytes).into_owned()
            );
        }

        /// The streamed body is byte for byte the JSON string of the whole log,
        /// decoded lossily: the answer's old wire format.
        #[test]
        fn the_body_is_the_json_string_of_the_lossy_log(
            bytes in log_bytes(),
            cuts in prop::collection::vec(1usize..40, 1..10),
        ) {
            let mut pieces = Vec::new();
            let mut rest = &bytes[..];
            for c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (a, b) = rest.split_at((*c).min(rest.len()));
                pieces.push(Ok(Bytes::copy_from_slice(a)));
                rest = b;
            }
            let body = body_of(pieces).unwrap();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert_eq!(&body, &serde_json::to_vec(&text).unwrap());
            let parsed: String = serde_json::from_slice(&body).unwrap();
            prop_assert_eq!(parsed, text);
        }
    }
}
