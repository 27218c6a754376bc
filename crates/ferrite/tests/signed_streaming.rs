//! SigV4 signed streaming uploads (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, aws-chunked with a
//! signature per chunk), signed here by hand as the AWS documentation describes, since
//! the SDKs in the other tests use unsigned trailers over plain HTTP.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STREAMING: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

/// Builds a signed aws-chunked PUT of `data` in `chunk` sized pieces. `tamper` flips one
/// byte of the second chunk after signing.
fn signed_put(host: &str, path: &str, data: &[u8], chunk: usize, tamper: bool) -> Vec<u8> {
    let sig = SigV4::now();
    let amz_date = sig.amz_date.clone();
    let pieces: Vec<&[u8]> = data.chunks(chunk).chain(std::iter::once(&[][..])).collect();
    let sig_len = 64;
    let encoded_len: usize = pieces
        .iter()
        .map(|p| format!("{:x}", p.len()).len() + ";chunk-signature=".len() + sig_len + 2 + p.len() + 2)
        .sum();

    let signed_headers =
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length";
    let canonical = format!(
        "PUT\n{path}\n\ncontent-encoding:aws-chunked\ncontent-length:{encoded_len}\nhost:{host}\nx-amz-content-sha256:{STREAMING}\nx-amz-date:{amz_date}\nx-amz-decoded-content-length:{}\n\n{signed_headers}\n{STREAMING}",
        data.len()
    );
    let seed = sig.sign(&canonical);

    let mut out = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Encoding: aws-chunked\r\nContent-Length: {encoded_len}\r\nx-amz-content-sha256: {STREAMING}\r\nx-amz-date: {amz_date}\r\nx-amz-decoded-content-length: {}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        data.len(),
        sig.authorization(signed_headers, &seed)
    )
    .into_bytes();
    let mut prev = seed;
    for (i, piece) in pieces.iter().enumerate() {
        let chunk_sig = sig.sign_chunk(&prev, piece);
        out.extend_from_slice(format!("{:x};chunk-signature={chunk_sig}\r\n", piece.len()).as_bytes());
        let mut body = piece.to_vec();
        if tamper && i == 1 {
            body[0] ^= 0xff;
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\r\n");
        prev = chunk_sig;
    }
    out
}

async fn send(addr: &str, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).to_string()
}

#[tokio::test]
async fn signed_chunked_uploads_are_verified_chunk_by_chunk() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let data = pattern(300_000, 21);

    let resp = send(&s.addr, &signed_put(&s.addr, "/bkt/signed", &data, 64 * 1024, false)).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let got = read_all(c.get_object().bucket("bkt").key("signed").send().await.unwrap()).await;
    assert_eq!(got, data);
    let head = c.head_object().bucket("bkt").key("signed").send().await.unwrap();
    assert_eq!(head.e_tag().unwrap().trim_matches('"'), md5_hex(&data));
    assert!(
        head.content_encoding().is_none(),
        "aws-chunked is not stored as the object's encoding"
    );

    // A chunk altered after signing is refused, and the object is unchanged.
    let resp = send(
        &s.addr,
        &signed_put(&s.addr, "/bkt/signed", &pattern(300_000, 22), 64 * 1024, true),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    assert!(resp.contains("<Code>SignatureDoesNotMatch</Code>"), "{resp}");
    let got = read_all(c.get_object().bucket("bkt").key("signed").send().await.unwrap()).await;
    assert_eq!(got, data);
    assert_eq!(s.temp_files(), 0);
}
