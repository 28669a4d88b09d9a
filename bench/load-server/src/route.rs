//! Which route a handshake's request target asks for.

use tokio_tungstenite::tungstenite::http::Uri;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Flood(FloodSpec),
    Sink,
    Echo,
    /// `/deflate/flood?count=N&message=M`: N copies of the text message M
    /// (percent-encoded UTF-8), each one compressed frame.
    DeflateFlood(DeflateFloodSpec),
    /// `/deflate/sink`: the sink of compressed messages.
    DeflateSink,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateFloodSpec {
    pub count: u64,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodSpec {
    pub count: u64,
    pub size: usize,
    pub text: bool,
}

impl Route {
    /// `None` for an unknown path or a malformed flood query.
    pub fn parse(uri: &Uri) -> Option<Route> {
        match uri.path() {
            "/echo" => Some(Route::Echo),
            "/sink" => Some(Route::Sink),
            "/flood" => parse_flood(uri.query().unwrap_or("")).map(Route::Flood),
            "/deflate/flood" => {
                parse_deflate_flood(uri.query().unwrap_or("")).map(Route::DeflateFlood)
            }
            "/deflate/sink" => Some(Route::DeflateSink),
            _ => None,
        }
    }

    /// The routes that negotiate permessage-deflate (and only them).
    pub fn deflates(&self) -> bool {
        matches!(self, Route::DeflateFlood(_) | Route::DeflateSink)
    }
}

fn parse_deflate_flood(query: &str) -> Option<DeflateFloodSpec> {
    let (mut count, mut message) = (None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=')?;
        match name {
            "count" => count = Some(value.parse().ok()?),
            "message" => message = Some(percent_decode(value)?),
            _ => return None,
        }
    }
    Some(DeflateFloodSpec {
        count: count?,
        message: message?,
    })
}

/// `%XX` escapes (what JavaScript's encodeURIComponent makes) to UTF-8 text.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn parse_flood(query: &str) -> Option<FloodSpec> {
    let mut spec = FloodSpec {
        count: 0,
        size: 0,
        text: false,
    };
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=')?;
        match name {
            "count" => spec.count = value.parse().ok()?,
            "size" => spec.size = value.parse().ok()?,
            "type" => {
                spec.text = match value {
                    "text" => true,
                    "binary" => false,
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_routes() {
        let flood: Uri = "/flood?count=3&size=16&type=text".parse().unwrap();
        assert_eq!(
            Route::parse(&flood),
            Some(Route::Flood(FloodSpec {
                count: 3,
                size: 16,
                text: true
            }))
        );
        assert_eq!(Route::parse(&"/sink".parse().unwrap()), Some(Route::Sink));
        assert_eq!(Route::parse(&"/echo".parse().unwrap()), Some(Route::Echo));
        assert_eq!(Route::parse(&"/nope".parse().unwrap()), None);
        assert_eq!(Route::parse(&"/flood?type=utf16".parse().unwrap()), None);
        assert_eq!(
            Route::parse(&"/deflate/sink".parse().unwrap()),
            Some(Route::DeflateSink)
        );
    }

    #[test]
    fn parses_deflate_floods() {
        let uri: Uri = "/deflate/flood?count=5&message=%7B%22a%22%3A%22%C3%A9%20b%22%7D"
            .parse()
            .unwrap();
        let route = Route::parse(&uri).unwrap();
        assert!(route.deflates());
        assert_eq!(
            route,
            Route::DeflateFlood(DeflateFloodSpec {
                count: 5,
                message: "{\"a\":\"\u{e9} b\"}".to_owned()
            })
        );
        assert!(!Route::Sink.deflates());
        for bad in [
            "/deflate/flood?count=5",
            "/deflate/flood?message=x",
            "/deflate/flood?count=5&message=%4",
            "/deflate/flood?count=5&message=%ff",
        ] {
            assert_eq!(Route::parse(&bad.parse().unwrap()), None, "{bad}");
        }
    }
}
