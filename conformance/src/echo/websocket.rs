//! The WebSocket echo on `/ws`, as echo-basic serves it (every message comes back as sent), and
//! the frame codec the probe uses on the other end of the same connection (RFC 6455).

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Appended to the client's key before hashing (RFC 6455, section 1.3).
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Larger messages are refused: the echo and the probe exchange short texts.
const MAX_PAYLOAD: u64 = 1 << 20;

pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// The `Sec-WebSocket-Accept` value that answers `key`.
pub(crate) fn accept_key(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{ACCEPT_GUID}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

fn header_has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

/// Whether a request asks for a WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    header_has_token(headers, "connection", "upgrade")
        && header_has_token(headers, "upgrade", "websocket")
}

/// Answers an upgrade request: 101 and an echo of every message on the upgraded connection,
/// or 400 when the handshake is incomplete.
pub(crate) fn answer(mut req: hyper::Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let key = req
        .headers()
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let version_ok = req
        .headers()
        .get("sec-websocket-version")
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = key.filter(|_| version_ok) else {
        let mut res = Response::new(Full::new(Bytes::from_static(
            b"a WebSocket handshake needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
        )));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        return res;
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let _ = echo_frames(TokioIo::new(upgraded)).await;
        }
    });
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = res.headers_mut();
    headers.insert("upgrade", HeaderValue::from_static("websocket"));
    headers.insert("connection", HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept_key(&key)) {
        headers.insert("sec-websocket-accept", accept);
    }
    res
}

/// Echoes data frames as they came (opcode and FIN kept), answers pings, and ends on close.
async fn echo_frames<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) -> std::io::Result<()> {
    loop {
        let frame = read_frame(&mut io).await?;
        match frame.opcode {
            OP_CLOSE => {
                write_frame(&mut io, true, OP_CLOSE, &frame.payload, false).await?;
                return io.shutdown().await;
            }
            OP_PING => write_frame(&mut io, true, OP_PONG, &frame.payload, false).await?,
            OP_PONG => {}
            OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                write_frame(&mut io, frame.fin, frame.opcode, &frame.payload, false).await?;
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unknown WebSocket opcode {other:#x}"),
                ));
            }
        }
    }
}

/// One frame, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

pub(crate) async fn read_frame<R: AsyncRead + Unpin>(io: &mut R) -> std::io::Result<Frame> {
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await?;
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0F;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7F {
        126 => u64::from(io.read_u16().await?),
        127 => io.read_u64().await?,
        n => u64::from(n),
    };
    if len > MAX_PAYLOAD {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("WebSocket frame of {len} bytes is larger than {MAX_PAYLOAD}"),
        ));
    }
    let mut mask = [0u8; 4];
    if masked {
        io.read_exact(&mut mask).await?;
    }
    let mut payload = vec![0u8; len as usize];
    io.read_exact(&mut payload).await?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Ok(Frame {
        fin,
        opcode,
        payload,
    })
}

/// Writes one frame; a client masks (RFC 6455 requires it), a server does not.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    io: &mut W,
    fin: bool,
    opcode: u8,
    payload: &[u8],
    mask: bool,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let mask_bit = if mask { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if mask {
        let mut key = [0u8; 4];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| std::io::Error::other("no randomness for a WebSocket mask"))?;
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    io.write_all(&out).await?;
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_follows_rfc_6455() {
        // The worked example of RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[tokio::test]
    async fn frames_round_trip_masked_and_not() {
        for (mask, size) in [(true, 5), (false, 300), (true, 70_000)] {
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut buf = Vec::new();
            write_frame(&mut buf, true, OP_BINARY, &payload, mask)
                .await
                .unwrap();
            let frame = read_frame(&mut buf.as_slice()).await.unwrap();
            assert_eq!(
                frame,
                Frame {
                    fin: true,
                    opcode: OP_BINARY,
                    payload
                }
            );
        }
    }
}
