//! The webhook's authentication: which token each instance presents, and how a notification is
//! matched to its instance before it is handled.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::event::{Event, ParseError};
use crate::gateway::GatewayKind;
use crate::hashing::FoldHashing;
use crate::instance::{Family, Instances};
use crate::metrics::{self, EventSeries, InstanceSeries};
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
    green_api: HashMap<Arc<str>, usize, FoldHashing>,
    /// Positions in `entries` of the instances with a token, by the token's [`digest`]: a
    /// call's token is compared with the few entries of its digest, not with all of them. Of
    /// several instances of one family with the same token (a bot's default webhook token),
    /// the first stands for all: they take the same calls.
    ///
    /// [`digest`]: Directory::digest
    by_token: HashMap<u64, Vec<usize>, FoldHashing>,
    /// Positions in `entries` of the instances without a token (they take any call).
    open: Vec<usize>,
    /// The keyed hash of the digests, its key this process's own and random: which bucket a
    /// presented token falls in tells nothing of the tokens it is compared with.
    digest: RandomState,
    /// One entry that takes every notification posted with its token, whatever instance the
    /// notification names.
    lenient: bool,
}

struct Entry {
    kind: GatewayKind,
    id: Arc<str>,
    token: Option<Secret>,
    /// What this instance's events are counted on.
    series: &'static InstanceSeries,
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
                series: metrics::served(instance.id()),
            })
            .collect();
        Self::of(entries, instances.is_lenient())
    }

    /// The directory of `entries`, indexed by GREEN-API id and by token.
    fn of(entries: Vec<Entry>, lenient: bool) -> Self {
        let green_api = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.family() == Family::GreenApi)
            .map(|(at, entry)| (entry.id.clone(), at))
            .collect();
        let digest = RandomState::new();
        let mut by_token: HashMap<u64, Vec<usize>, FoldHashing> = HashMap::default();
        let mut open = Vec::new();
        for (at, entry) in entries.iter().enumerate() {
            let Some(token) = &entry.token else {
                open.push(at);
                continue;
            };
            let same_digest = by_token
                .entry(digest.hash_one(token.expose().as_bytes()))
                .or_default();
            let stood_for = same_digest.iter().any(|&other| {
                let other = &entries[other];
                other.family() == entry.family() && other.token.as_ref() == Some(token)
            });
            if !stood_for {
                same_digest.push(at);
            }
        }
        Self {
            entries,
            green_api,
            by_token,
            open,
            digest,
            lenient,
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
    /// body is read. The token is compared, in constant time, only with the entries of its
    /// keyed digest, so that a thousand instances cost no more than one and the time taken
    /// does not tell which entry it was.
    pub(crate) fn knock(&self, door: Door<'_>) -> bool {
        let reachable = |at: &usize| {
            self.entries.get(*at).filter(|entry| {
                self.lenient || matches!(door, Door::Path(_)) || entry.serves_header()
            })
        };
        if self.open.iter().find_map(reachable).is_some() {
            return true;
        }
        let Some(presented) = door.presented() else {
            return false;
        };
        let Some(positions) = self.by_token.get(&self.digest.hash_one(presented)) else {
            return false;
        };
        positions
            .iter()
            .filter_map(reachable)
            .fold(false, |any, entry| any | entry.accepts(Some(presented)))
    }

    /// Reads `body` into the event of the instance it names, and checks that instance's
    /// token; the event comes with the series it is counted on. A lenient directory reads it
    /// as its one gateway's, of any instance.
    pub(crate) fn admit(
        &self,
        door: Door<'_>,
        body: &[u8],
    ) -> Result<(Event, &'static EventSeries), Refusal> {
        if self.lenient {
            let kind = self.kind().unwrap_or(GatewayKind::GreenApiWhatsApp);
            let event = Event::parse(kind, body).map_err(Refusal::Malformed)?;
            let counted = match self.entries.first() {
                Some(entry) if entry.series.is_of(&event.instance) => entry.series.of(&event),
                _ => EventSeries::of(&event),
            };
            return Ok((event, counted));
        }
        let (entry, event) = match self.zapi_entry(door) {
            Some(entry) => (entry, Self::admit_zapi(entry, body)?),
            None => self.admit_green_api(door, body)?,
        };
        let counted = entry.series.of(&event);
        Ok((event, counted))
    }

    /// Reads `body` as a callback of the Z-API instance `entry`: one that names another
    /// instance is refused, one that names none is `entry`'s.
    fn admit_zapi(entry: &Entry, body: &[u8]) -> Result<Event, Refusal> {
        let value = Event::read_object(body).map_err(Refusal::Malformed)?;
        let named = Event::instance_of(GatewayKind::ZApi, &value);
        if !named.is_empty() && *named != *entry.id {
            return Err(Refusal::UnknownInstance);
        }
        let mut event = Event::from_json(entry.kind, value).map_err(Refusal::Malformed)?;
        if event.instance.is_empty() {
            event.instance = entry.id.clone();
        }
        Ok(event)
    }

    /// Reads `body` as a notification of the GREEN-API instance it names, if that instance
    /// takes the call's token.
    ///
    /// The body is read once, as WhatsApp's (through [`Event::parse`]'s pass over the text for
    /// the messages bots get most, as a bot of one instance reads it): the instance a
    /// notification names does not depend on the gateway assumed. Only a notification without
    /// `instanceData.typeInstance` for a MAX or Telegram instance is read again, as its
    /// instance's gateway.
    fn admit_green_api(&self, door: Door<'_>, body: &[u8]) -> Result<(&Entry, Event), Refusal> {
        let assumed = GatewayKind::GreenApiWhatsApp;
        let event = Event::parse(assumed, body).map_err(Refusal::Malformed)?;
        let entry = self.green_api_entry(door, &event.instance)?;
        if entry.kind != assumed && event.gateway == assumed {
            let event = Event::parse(entry.kind, body).map_err(Refusal::Malformed)?;
            return Ok((entry, event));
        }
        Ok((entry, event))
    }

    /// The Z-API instance a call is for: the one whose token ends the path, or else the one
    /// without a token (then the bot's only instance).
    fn zapi_entry(&self, door: Door<'_>) -> Option<&Entry> {
        let zapi = |at: &usize| {
            self.entries
                .get(*at)
                .filter(|entry| entry.family() == Family::ZApi)
        };
        let by_token = match door {
            Door::Path(presented) => self
                .by_token
                .get(&self.digest.hash_one(presented))
                .and_then(|positions| {
                    positions
                        .iter()
                        .filter_map(&zapi)
                        .find(|entry| entry.is_token(presented))
                }),
            Door::Header(_) => None,
        };
        by_token.or_else(|| self.open.iter().find_map(&zapi))
    }

    /// The GREEN-API instance `named`, if it takes the call's token.
    fn green_api_entry(&self, door: Door<'_>, named: &str) -> Result<&Entry, Refusal> {
        let entry = self
            .green_api
            .get(named)
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
        let entries = entries
            .iter()
            .map(|&(kind, id, token)| Entry {
                kind,
                id: Arc::from(id),
                token: token.map(Secret::from),
                series: metrics::served(id),
            })
            .collect();
        Directory::of(entries, false)
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
        let (event, _) = directory.admit(door, &green_api(2)).unwrap();
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
        assert_eq!(
            &*directory.admit(door, &zapi("Z2")).unwrap().0.instance,
            "Z2"
        );
        // A callback that names no instance is the path's.
        assert_eq!(&*directory.admit(door, &zapi("")).unwrap().0.instance, "Z2");
        assert!(matches!(
            directory.admit(door, &zapi("Z1")),
            Err(Refusal::UnknownInstance)
        ));
        // Z-API tokens open no door of their own on `POST /webhook`.
        assert!(!directory.knock(Door::Header(Some(b"z1"))));
        assert!(!directory.knock(Door::Path(b"zz")));
    }

    #[test]
    fn among_a_thousand_instances_each_token_opens_the_door_and_no_other_does() {
        let tokens: Vec<String> = (0..1000).map(|n| format!("token-{n}")).collect();
        let ids: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
        let mut entries: Vec<_> = (0..1000)
            .map(|n| {
                let token = Some(tokens[n].as_str());
                (GatewayKind::GreenApiWhatsApp, ids[n].as_str(), token)
            })
            .collect();
        entries.push((GatewayKind::GreenApiMax, "1000", Some("token-7")));
        entries.push((GatewayKind::ZApi, "Z1", Some("z1")));
        let directory = directory(&entries);
        for token in ["token-0", "token-7", "token-999"] {
            assert!(
                directory.knock(Door::Header(Some(token.as_bytes()))),
                "{token}"
            );
        }
        let door = Door::Header(Some(b"token-7"));
        assert_eq!(
            &*directory.admit(door, &green_api(1000)).unwrap().0.instance,
            "1000"
        );
        assert_eq!(
            &*directory.admit(door, &green_api(7)).unwrap().0.instance,
            "7"
        );
        for wrong in [&b"token-1000"[..], b"token-", b"", b"z1"] {
            assert!(!directory.knock(Door::Header(Some(wrong))));
        }
        assert!(directory.knock(Door::Path(b"z1")));
        assert!(directory.knock(Door::Path(b"token-3")));
    }

    #[test]
    fn a_token_shared_by_a_thousand_instances_is_compared_once_and_still_admits_each() {
        let ids: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
        let mut entries: Vec<_> = ids
            .iter()
            .map(|id| (GatewayKind::GreenApiWhatsApp, id.as_str(), Some("shared")))
            .collect();
        entries.push((GatewayKind::ZApi, "Z1", Some("shared")));
        let directory = directory(&entries);
        let compared: usize = directory.by_token.values().map(Vec::len).sum();
        assert_eq!(
            compared, 2,
            "one GREEN-API and one Z-API entry stand for all"
        );
        let door = Door::Header(Some(b"shared"));
        assert!(directory.knock(door));
        assert!(!directory.knock(Door::Header(Some(b"other"))));
        assert_eq!(
            &*directory.admit(door, &green_api(999)).unwrap().0.instance,
            "999"
        );
        let path = Door::Path(b"shared");
        assert_eq!(
            &*directory.admit(path, &zapi("Z1")).unwrap().0.instance,
            "Z1"
        );
    }

    #[test]
    fn an_instance_without_a_token_takes_any_call_it_is_reachable_by() {
        let open = directory(&[
            (GatewayKind::GreenApiWhatsApp, "1", Some("a")),
            (GatewayKind::GreenApiWhatsApp, "2", None),
        ]);
        assert!(open.knock(Door::Header(None)));
        assert!(open.knock(Door::Header(Some(b"anything"))));
        assert!(open.knock(Door::Path(b"anything")));
        let zapi_only = directory(&[(GatewayKind::ZApi, "Z1", None)]);
        assert!(zapi_only.knock(Door::Header(None)));
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
                &*directory.admit(door, &green_api(99)).unwrap().0.instance,
                "99"
            );
        }
        assert!(!directory.knock(Door::Header(Some(b"b"))));
    }

    /// A GREEN-API text message to instance `id`, with `instanceData.typeInstance` when given.
    fn text_message(id: serde_json::Value, type_instance: Option<&str>) -> Vec<u8> {
        let mut instance = serde_json::json!({"idInstance": id, "wid": "79001234567@c.us"});
        if let Some(type_instance) = type_instance {
            instance["typeInstance"] = type_instance.into();
        }
        serde_json::to_vec(&serde_json::json!({
            "typeWebhook": "incomingMessageReceived",
            "instanceData": instance,
            "timestamp": 1700000000,
            "idMessage": "BAE5F4886F6F2D05",
            "senderData": {"chatId": "79001112233@c.us", "sender": "79001112233@c.us", "senderName": "Ivan"},
            "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "contact Ivan"}}
        }))
        .unwrap()
    }

    #[test]
    fn a_green_api_notification_reads_as_its_instances_gateway_as_read_from_its_json() {
        let directory = directory(&[
            (GatewayKind::GreenApiWhatsApp, "1", Some("t")),
            (GatewayKind::GreenApiMax, "2", Some("t")),
            (GatewayKind::GreenApiTelegram, "3", Some("t")),
        ]);
        let door = Door::Header(Some(b"t"));
        let mut bodies = vec![b"{}".to_vec(), b"[]".to_vec(), b"{".to_vec()];
        for id in ["1", "2", "3", "4"] {
            let number: u64 = id.parse().unwrap();
            for type_instance in [
                None,
                Some("whatsapp"),
                Some("v3"),
                Some("telegram"),
                Some("x"),
            ] {
                bodies.push(text_message(number.into(), type_instance));
                bodies.push(text_message(id.into(), type_instance));
            }
            bodies.push(green_api(number));
        }
        for body in bodies {
            // What the directory read before its pass over the text: the JSON tree, read as
            // the named instance's gateway.
            let expected = Event::read_object(&body)
                .map_err(Refusal::Malformed)
                .and_then(|value| {
                    let named = Event::instance_of(GatewayKind::GreenApiWhatsApp, &value);
                    let entry = directory.green_api_entry(door, &named)?;
                    Event::from_json(entry.kind, value).map_err(Refusal::Malformed)
                });
            let admitted = directory.admit(door, &body).map(|(event, _)| event);
            let text = String::from_utf8_lossy(&body);
            match (admitted, expected) {
                (Ok(admitted), Ok(expected)) => assert_eq!(admitted, expected, "{text}"),
                (Err(Refusal::UnknownInstance), Err(Refusal::UnknownInstance))
                | (Err(Refusal::Malformed(_)), Err(Refusal::Malformed(_))) => {}
                (admitted, expected) => panic!("{text}: {admitted:?}, not {expected:?}"),
            }
        }
        let (max, _) = directory
            .admit(door, &text_message(2.into(), None))
            .unwrap();
        assert_eq!(
            (max.gateway, &*max.instance),
            (GatewayKind::GreenApiMax, "2")
        );
    }
}
