//! gzip for the log answers (`jobs/{id}/logs/` and the HTTP tail) when the client
//! asks for it (`Accept-Encoding: gzip`).
//!
//! Each chunk of the body is compressed and flushed on its own (a sync flush), so
//! a tail stays live: what a batch of lines, or a heartbeat, would have sent goes
//! out compressed at once, never held back for a fuller block. Logs repeat
//! themselves, so even per-batch flushing cuts the bytes several times over.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

use crate::body::{BoxError, ResBody};

/// True when `Accept-Encoding` takes gzip (`gzip` or `*`, with a q-value above
/// zero).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero
        })
}

/// `response` with its body gzipped (`Content-Encoding: gzip`, `Vary:
/// Accept-Encoding`), if it is a 200 not encoded yet; else as it is.
pub(crate) fn gzip_response(response: Response<ResBody>) -> Response<ResBody> {
    if response.status() != StatusCode::OK
        || response.headers().contains_key(header::CONTENT_ENCODING)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let body = GzipBody {
        inner: body,
        encoder: Some(GzEncoder::new(Vec::new(), Compression::fast())),
    };
    Response::from_parts(parts, body.boxed_unsync())
}

/// A body compressed chunk by chunk.
struct GzipBody {
    inner: ResBody,
    /// `None` once the gzip trailer was sent.
    encoder: Option<GzEncoder<Vec<u8>>>,
}

impl Body for GzipBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                // A failed body stays failed: the client sees a cut stream.
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(None) => {
                    let Some(encoder) = this.encoder.take() else {
                        return Poll::Ready(None);
                    };
                    return Poll::Ready(Some(
                        encoder
                            .finish()
                            .map(|tail| Frame::data(Bytes::from(tail)))
                            .map_err(BoxError::from),
                    ));
                }
            };
            let data = match frame.into_data() {
                Ok(data) => data,
                Err(other) => return Poll::Ready(Some(Ok(other))),
            };
            if data.is_empty() {
                continue;
            }
            if let Err(e) = encoder.write_all(&data).and_then(|()| encoder.flush()) {
                return Poll::Ready(Some(Err(e.into())));
            }
            let out = std::mem::take(encoder.get_mut());
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzDecoder;

    #[test]
    fn accept_encoding_is_read_with_its_q_values() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip"));
        assert!(with("gzip, deflate"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!with("deflate, br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_chunk_is_decodable_as_soon_as_it_is_sent() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let pieces: Vec<Result<Frame<Bytes>, BoxError>> = (0..50)
                .map(|i| Ok(Frame::data(Bytes::from(format!("data: line {i}\n\n")))))
                .collect();
            let inner =
                http_body_util::StreamBody::new(futures_util::stream::iter(pieces)).boxed_unsync();
            let mut r = Response::new(inner);
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
            let r = gzip_response(r);
            assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
            assert!(!r.headers().contains_key(header::CONTENT_LENGTH));
            let mut body = r.into_body();
            let mut decoder = GzDecoder::new(Vec::new());
            let mut i = 0;
            while let Some(frame) = body.frame().await {
                let data = frame.unwrap().into_data().unwrap();
                decoder.write_all(&data).unwrap();
                decoder.flush().unwrap();
                if i < 50 {
                    // the line is readable before the next chunk is compressed
                    let text = String::from_utf8(std::mem::take(decoder.get_mut())).unwrap();
                    assert_eq!(text, format!("data: line {i}\n\n"));
                }
                i += 1;
            }
            decoder.try_finish().unwrap();
        });
    }

    #[test]
    fn only_a_plain_200_is_compressed() {
        let mut r = Response::new(crate::body::full("x"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        assert!(!gzip_response(r)
            .headers()
            .contains_key(header::CONTENT_ENCODING));
    }
}
