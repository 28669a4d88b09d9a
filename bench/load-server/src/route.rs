//! Which route a handshake's request target asks for.

use tokio_tungstenite::tungstenite::http::Uri;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Flood(FloodSpec),
    Sink,
    Echo,
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
            _ => None,
        }
    }
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
    }
}
