//! What every HTTP and websocket adapter shares beyond the router: fair use per key.
pub mod throttle;
