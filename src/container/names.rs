//! Random container names in Docker's adjective_noun style.

use rand::seq::SliceRandom;

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "busy",
    "calm",
    "clever",
    "cool",
    "dazzling",
    "eager",
    "elegant",
    "festive",
    "focused",
    "gallant",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "zealous",
];

const NOUNS: &[&str] = &[
    "albatross",
    "beacon",
    "cormorant",
    "dinghy",
    "ferry",
    "galleon",
    "harbor",
    "ketch",
    "lighthouse",
    "mariner",
    "narwhal",
    "oar",
    "pelican",
    "quay",
    "rudder",
    "schooner",
    "skiff",
    "sloop",
    "tern",
    "trawler",
    "voyager",
    "wharf",
    "yawl",
    "keel",
];

/// A random name such as `brave_schooner`.
pub fn random() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}_{}",
        ADJECTIVES.choose(&mut rng).unwrap_or(&"calm"),
        NOUNS.choose(&mut rng).unwrap_or(&"skiff")
    )
}
