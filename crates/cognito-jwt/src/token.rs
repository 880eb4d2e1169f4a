//! Steps 1 and 2 of the pipeline: split the compact JWT, decode its segments, and check the
//! header (RS256 only, a `kid`, no key source of its own, no `crit`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::claims::Str;
use crate::error::{HeaderRejected, Malformed};
use crate::MAX_TOKEN_BYTES;

/// The header fields we look at. `alg` and `kid` borrow from the decoded header unless they
/// contain JSON escapes.
#[derive(Deserialize)]
pub(crate) struct Header<'a> {
    #[serde(borrow)]
    alg: Option<Str<'a>>,
    #[serde(borrow)]
    kid: Option<Str<'a>>,
    jku: Option<serde::de::IgnoredAny>,
    x5u: Option<serde::de::IgnoredAny>,
    x5c: Option<serde::de::IgnoredAny>,
    jwk: Option<serde::de::IgnoredAny>,
    crit: Option<serde::de::IgnoredAny>,
}

/// Step 1: the three segments, still encoded, and the bytes the signature covers.
pub(crate) struct Segments<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    pub signing_input: &'a [u8],
}

pub(crate) fn split(token: &str) -> Result<Segments<'_>, Malformed> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Malformed::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed::Segments);
    };
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input: &token.as_bytes()[..header.len() + 1 + payload.len()],
    })
}

/// Decodes base64url `segment` into `stack` when it fits (headers and signatures always do for
/// Cognito), else into `heap`: no allocation on the usual path.
pub(crate) fn decode<'b>(
    segment: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], Malformed> {
    if segment.len() / 4 * 3 + 3 <= stack.len() {
        let n = URL_SAFE_NO_PAD
            .decode_slice(segment, stack)
            .map_err(|_| Malformed::Base64)?;
        Ok(&stack[..n])
    } else {
        *heap = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| Malformed::Base64)?;
        Ok(heap)
    }
}

pub(crate) fn parse_header(decoded: &[u8]) -> Result<Header<'_>, Malformed> {
    let text = std::str::from_utf8(decoded)
        .map_err(|_| Malformed::HeaderJson("the header is not UTF-8".into()))?;
    serde_json::from_str(text).map_err(|e| Malformed::HeaderJson(e.to_string()))
}

/// Step 2: returns the `kid`.
pub(crate) fn check_header<'h>(header: &'h Header<'_>) -> Result<&'h str, HeaderRejected> {
    for (present, name) in [
        (header.jku.is_some(), "jku"),
        (header.x5u.is_some(), "x5u"),
        (header.x5c.is_some(), "x5c"),
        (header.jwk.is_some(), "jwk"),
    ] {
        if present {
            return Err(HeaderRejected::KeySource(name));
        }
    }
    if header.crit.is_some() {
        return Err(HeaderRejected::Critical);
    }
    match header.alg.as_ref().map(|a| &*a.0) {
        Some("RS256") => {}
        other => {
            return Err(HeaderRejected::Algorithm(
                other.unwrap_or_default().to_owned(),
            ))
        }
    }
    header
        .kid
        .as_ref()
        .map(|k| &*k.0)
        .ok_or(HeaderRejected::MissingKid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Rejected;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn decode_header(segment: &str) -> Result<Vec<u8>, Malformed> {
        let (mut stack, mut heap) = ([0u8; 384], Vec::new());
        decode(segment, &mut stack, &mut heap).map(<[u8]>::to_vec)
    }

    #[test]
    fn segments_and_size() {
        assert_eq!(split("a.b").err(), Some(Malformed::Segments));
        assert_eq!(split("a.b.c.d").err(), Some(Malformed::Segments));
        assert_eq!(
            split(&"a".repeat(MAX_TOKEN_BYTES + 1)).err(),
            Some(Malformed::TooLong)
        );
        assert_eq!(decode_header("a=").err(), Some(Malformed::Base64));
        let s = split("aGk.cA.c2ln").unwrap();
        assert_eq!(s.signing_input, b"aGk.cA");
        assert_eq!(decode_header(s.header).unwrap(), b"hi");
    }

    #[test]
    fn stack_and_heap_decoding_agree() {
        for len in [
            0, 1, 2, 3, 280, 281, 282, 283, 284, 285, 286, 287, 288, 400, 2000,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let segment = b64(&String::from_utf8_lossy(&bytes));
            let expected = URL_SAFE_NO_PAD.decode(&segment).unwrap();
            assert_eq!(decode_header(&segment).unwrap(), expected, "{len}");
        }
        for bad in ["a", "ab=c", "a*bc", &"a".repeat(1001)] {
            assert_eq!(decode_header(bad).err(), Some(Malformed::Base64), "{bad}");
        }
    }

    #[test]
    fn header_refusals() {
        let check = |h: &str| {
            let decoded = decode_header(&b64(h)).map_err(Rejected::from)?;
            let header = parse_header(&decoded).map_err(Rejected::from)?;
            check_header(&header)
                .map(str::to_owned)
                .map_err(Rejected::from)
        };
        assert_eq!(check(r#"{"alg":"RS256","kid":"k"}"#), Ok("k".to_owned()));
        assert_eq!(
            check(r#"{"alg":"RS\u0032\u00356","kid":"k\/1"}"#),
            Ok("k/1".to_owned()),
            "escaped strings are decoded, not borrowed"
        );
        for alg in ["none", "HS256", "RS512", "ES256", "PS256"] {
            let h = format!(r#"{{"alg":"{alg}","kid":"k"}}"#);
            assert_eq!(check(&h), Err(HeaderRejected::Algorithm(alg.into()).into()));
        }
        assert_eq!(
            check(r#"{"alg":"RS256"}"#),
            Err(HeaderRejected::MissingKid.into())
        );
        for src in ["jku", "x5u", "x5c", "jwk"] {
            let h = format!(r#"{{"alg":"RS256","kid":"k","{src}":"x"}}"#);
            assert!(matches!(
                check(&h),
                Err(Rejected::Header(HeaderRejected::KeySource(_)))
            ));
        }
        assert_eq!(
            check(r#"{"alg":"RS256","kid":"k","crit":["b64"]}"#),
            Err(HeaderRejected::Critical.into())
        );
        assert!(matches!(
            check(r#"{"alg":"RS256","alg":"none","kid":"k"}"#),
            Err(Rejected::Malformed(Malformed::HeaderJson(_)))
        ));
    }
}
