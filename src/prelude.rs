//! What a bot's code needs, in one `use`:
//!
//! ```
//! use hookbot::prelude::*;
//!
//! async fn hello(cx: Context) -> hookbot::Result<()> {
//!     cx.reply("Hello!").quote().await?;
//!     Ok(())
//! }
//!
//! let router: Router = Router::new().route(filter::incoming() & filter::private(), hello);
//! # let _ = router;
//! ```

pub use crate::bot::{Bot, BotBuilder};
pub use crate::context::Context;
pub use crate::filter;
pub use crate::reply;
pub use crate::router::Router;
pub use crate::{ChatId, Contact, ContactCard, Error, Event, MessageId, Result};
