//! The webhook's authentication: which token each instance presents, and how a notification is
//! matched to its instance before it is handled.

use std::collections::HashMap;
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::event::{Event, ParseError};
use crate::gateway::GatewayKind;
use crate::instance::{Family, Instances};
use crate::secret::Secret;

/// How a webhook call presents its token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Door<'a> {
    /// `POST /webhook`, with `Authorization: Bearer <token>` (GREEN-API) or none.
    Header(Option<&'a [u8]>),
    /// `POST /webhook/{token}` (Z-API, or a GREEN-API URL that carries its token).
    Path(&'a [u8]),
}

impl<'a> Door<'a> {
    fn presented(self) -> Option<&'a [u8]> {
        match self {
            Door::Header(presented) => presented,
            Door::Path(presented) => Some(presented),
        }
    }
}

/// Why a webhook call is not handled.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The token is missing or wrong for the instance (401).
    Unauthorized,
    /// The notification names an instance the bot does not serve here (404).
    UnknownInstance,
    /// The body is not a notification (400).
    Malformed(ParseError),
}

/// Who may post to the webhook: each instance's gateway, id and token.
pub(crate) struct Directory {
    entries: Vec<Entry>,
    /// Positions in `entries` of the GREEN-API instances, by id.
    green_api: HashMap<Arc<str>, usize>,
    /// One entry that takes every notification posted with its token, whatever instance the
    /// notification names.
    lenient: bool,
}

struct Entry {
    kind: GatewayKind,
    id: Arc<str>,
    token: Option<Secret>,
}

impl Entry {
    /// Whether `presented` is this entry's token, compared in constant time; an entry without
    /// a token takes anything.
    fn accepts(&self, presented: Option<&[u8]>) -> bool {
        match (&self.token, presented) {
            (None, _) => true,
            (Some(expected), Some(presented)) => {
                bool::from(expected.expose().as_bytes().ct_eq(presented))
            }
            (Some(_), None) => false,
        }
    }

    /// Whether this entry's token is `presented` (an entry without one never matches).
    fn is_token(&self, presented: &[u8]) -> bool {
        self.token
            .as_ref()
            .is_some_and(|token| bool::from(token.expose().as_bytes().ct_eq(presented)))
    }

    fn family(&self) -> Family {
        Family::of(self.kind)
    }

    /// Whether notifications reach this entry through `POST /webhook`: GREEN-API's, and a
    /// Z-API instance's without a token (then the only instance, as the registry checks).
    fn serves_header(&self) -> bool {
        self.family() == Family::GreenApi || self.token.is_none()
    }
}

impl Directory {
    /// The directory of `instances`; a registry of one client (see
    /// [`Instances::is_lenient`]) takes any instance id its token comes with.
    pub(crate) fn new(instances: &Instances) -> Self {
        let entries: Vec<Entry> = instances
            .iter()
            .map(|instance| Entry {
                kind: instance.kind(),
                id: Arc::from(instance.id()),
                token: instance.webhook_token().cloned(),
            })
            .collect();
        let green_api = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.family() == Family::GreenApi)
            .map(|(at, entry)| (entry.id.clone(), at))
            .collect();
        Self {
            entries,
            green_api,
            lenient: instances.is_lenient(),
        }
    }

    /// Warns of each instance whose webhook takes notifications without a token.
    pub(crate) fn warn_open(&self) {
        for entry in self.entries.iter().filter(|entry| entry.token.is_none()) {
            tracing::warn!(gateway = %entry.kind, instance = %entry.id, "ANONYMOUS WEBHOOK: this instance's webhook has no token, so anyone who can reach it can post notifications and make the bot send from the number; set a webhook token");
        }
    }

    /// The gateway of the first entry, for logs.
    pub(crate) fn kind(&self) -> Option<GatewayKind> {
        self.entries.first().map(|entry| entry.kind)
    }

    /// Whether some instance reachable through `door` takes its token: the check before the
    /// body is read. Every entry is compared, so that the time taken does not tell which.
    pub(crate) fn knock(&self, door: Door<'_>) -> bool {
        let presented = door.presented();
        let reachable =
            |entry: &&Entry| self.lenient || matches!(door, Door::Path(_)) || entry.serves_header();
        self.entries
            .iter()
            .filter(reachable)
            .fold(false, |any, entry| any | entry.accepts(presented))
    }

    /// Reads `body` into the event of the instance it names, and checks that instance's
    /// token. A lenient directory reads it as its one gateway's, of any instance.
    pub(crate) fn admit(&self, door: Door<'_>, body: &[u8]) -> Result<Event, Refusal> {
        if self.lenient {
            let kind = self.kind().unwrap_or(GatewayKind::GreenApiWhatsApp);
            return Event::parse(kind, body).map_err(Refusal::Malformed);
        }
        let value = Event::read_object(body).map_err(Refusal::Malformed)?;
        let entry = match self.zapi_entry(door) {
            Some(entry) => {
                let named = Event::instance_of(GatewayKind::ZApi, &value);
                if !named.is_empty() && *named != *entry.id {
                    return Err(Refusal::UnknownInstance);
                }
                entry
            }
            None => self.green_api_entry(door, &value)?,
        };
        let mut event = Event::from_json(entry.kind, value).map_err(Refusal::Malformed)?;
        if event.instance.is_empty() {
            event.instance = entry.id.clone();
        }
        Ok(event)
    }

    /// The Z-API instance a call is for: the one whose token ends the path, or else the one
    /// without a token (then the bot's only instance).
    fn zapi_entry(&self, door: Door<'_>) -> Option<&Entry> {
        let mut zapi = self
            .entries
            .iter()
            .filter(|entry| entry.family() == Family::ZApi);
        let by_token = match door {
            Door::Path(presented) => zapi.find(|entry| entry.is_token(presented)),
            Door::Header(_) => None,
        };
        by_token.or_else(|| {
            self.entries
                .iter()
                .find(|entry| entry.family() == Family::ZApi && entry.token.is_none())
        })
    }

    /// The GREEN-API instance the notification names, if it takes the call's token.
    fn green_api_entry(
        &self,
        door: Door<'_>,
        value: &serde_json::Value,
    ) -> Result<&Entry, Refusal> {
        let named = Event::instance_of(GatewayKind::GreenApiWhatsApp, value);
        let entry = self
            .green_api
            .get(named.as_str())
            .and_then(|&at| self.entries.get(at))
            .ok_or(Refusal::UnknownInstance)?;
        if entry.accepts(door.presented()) {
            Ok(entry)
        } else {
            Err(Refusal::Unauthorized)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strict directory of `entries`: (gateway, id, webhook token).
    fn directory(entries: &[(GatewayKind, &str, Option<&str>)]) -> Directory {
        let mut green_api = HashMap::new();
        let entries = entries
            .iter()
            .enumerate()
            .map(|(at, &(kind, id, token))| {
                if Family::of(kind) == Family::GreenApi {
                    green_api.insert(Arc::from(id), at);
                }
                Entry {
                    kind,
                    id: Arc::from(id),
                    token: token.map(Secret::from),
                }
            })
            .collect();
        Directory {
            entries,
            green_api,
            lenient: false,
        }
    }

    fn green_api(id: u64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "typeWebhook": "stateInstanceChanged",
            "instanceData": {"idInstance": id},
            "stateInstance": "authorized"
        }))
        .unwrap()
    }

    fn zapi(id: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"type": "ConnectedCallback", "instanceId": id}))
            .unwrap()
    }

    #[test]
    fn a_green_api_notification_finds_its_instance_and_needs_its_token() {
        let directory = directory(&[
            (GatewayKind::GreenApiWhatsApp, "1", Some("a")),
            (GatewayKind::GreenApiMax, "2", Some("b")),
        ]);
        let door = Door::Header(Some(b"b"));
        assert!(directory.knock(door));
        let event = directory.admit(door, &green_api(2)).unwrap();
        assert_eq!(
            (event.gateway, &*event.instance),
            (GatewayKind::GreenApiMax, "2")
        );
        assert!(matches!(
            directory.admit(door, &green_api(1)),
            Err(Refusal::Unauthorized)
        ));
        assert!(matches!(
            directory.admit(door, &green_api(3)),
            Err(Refusal::UnknownInstance)
        ));
        assert!(!directory.knock(Door::Header(Some(b"c"))));
        assert!(!directory.knock(Door::Header(None)));
        assert!(matches!(
            directory.admit(door, b"[]"),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn a_zapi_callback_is_the_instance_of_its_path_token() {
        let directory = directory(&[
            (GatewayKind::GreenApiWhatsApp, "1", Some("a")),
            (GatewayKind::ZApi, "Z1", Some("z1")),
            (GatewayKind::ZApi, "Z2", Some("z2")),
        ]);
        let door = Door::Path(b"z2");
        assert!(directory.knock(door));
        assert_eq!(&*directory.admit(door, &zapi("Z2")).unwrap().instance, "Z2");
        // A callback that names no instance is the path's.
        assert_eq!(&*directory.admit(door, &zapi("")).unwrap().instance, "Z2");
        assert!(matches!(
            directory.admit(door, &zapi("Z1")),
            Err(Refusal::UnknownInstance)
        ));
        // Z-API tokens open no door of their own on `POST /webhook`.
        assert!(!directory.knock(Door::Header(Some(b"z1"))));
        assert!(!directory.knock(Door::Path(b"zz")));
    }

    #[test]
    fn a_lenient_directory_takes_any_instance_with_its_token() {
        let directory = Directory {
            lenient: true,
            ..directory(&[(GatewayKind::GreenApiWhatsApp, "1", Some("a"))])
        };
        for door in [Door::Header(Some(b"a")), Door::Path(b"a")] {
            assert!(directory.knock(door));
            assert_eq!(
                &*directory.admit(door, &green_api(99)).unwrap().instance,
                "99"
            );
        }
        assert!(!directory.knock(Door::Header(Some(b"b"))));
    }
}
