//! `image history`: the layers of an image and the steps that made them,
//! newest first, in Podman's columns.

use clap::Args;
use serde_json::json;

use crate::format;
use crate::image::ImageStore;
use crate::{Context, Result};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Display sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub human: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Display the numeric IDs only
    #[arg(short, long)]
    pub quiet: bool,
    /// Change the output to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

/// Podman cuts CREATED BY at 45 characters.
const CREATED_BY_WIDTH: usize = 45;

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let cut: String = s.chars().take(width - 3).collect();
    format!("{cut}...")
}

/// One layer's entry as `history --format` sees it.
fn history_item(
    id: &str,
    created: &str,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    by: &str,
    size: u64,
    comment: &str,
) -> serde_json::Value {
    json!({
        "ID": id, "Created": created, "CreatedAt": created_at.map(rfc3339_secs),
        "CreatedBy": by, "Size": size, "Comment": comment,
    })
}

/// A time as Go's `time.RFC3339` prints a UTC time: `2026-12-01T04:02:58Z`.
fn rfc3339_secs(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One layer of `history --format json`, Podman's shape: its
/// ImageHistoryLayer (`id` in full, `created` to the nanosecond, the empty
/// `CreatedBy` and `comment` left out) and `Created` in RFC 3339.
fn history_json(
    id: &str,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    by: &str,
    size: u64,
    comment: &str,
) -> serde_json::Value {
    let at = created_at.unwrap_or_default();
    let mut m = serde_json::Map::new();
    m.insert("id".into(), id.into());
    m.insert(
        "created".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            .into(),
    );
    if !by.is_empty() {
        m.insert("CreatedBy".into(), by.into());
    }
    m.insert("size".into(), size.into());
    if !comment.is_empty() {
        m.insert("comment".into(), comment.into());
    }
    m.insert("Created".into(), rfc3339_secs(at).into());
    serde_json::Value::Object(m)
}

pub fn history(ctx: &Context, a: HistoryArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let img = store.lookup(&a.image)?;
    let history = img.config.history().clone();
    let mut sizes = Vec::new();
    for d in &img.layers {
        sizes.push(store.layer(d)?.map(|r| r.size).unwrap_or(0));
    }
    // Entries that made a layer take the layer sizes in order; an image
    // without history (import) shows one entry per layer.
    let mut rows_data = Vec::new();
    let mut layer_i = 0;
    if history.is_empty() {
        for s in &sizes {
            rows_data.push((None, String::new(), *s, String::new()));
        }
    }
    for h in &history {
        let empty = h.empty_layer().unwrap_or(false);
        let size = if empty {
            0
        } else {
            let s = sizes.get(layer_i).copied().unwrap_or(0);
            layer_i += 1;
            s
        };
        let created = h
            .created()
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&chrono::Utc));
        rows_data.push((
            created,
            h.created_by().clone().unwrap_or_default(),
            size,
            h.comment().clone().unwrap_or_default(),
        ));
    }
    rows_data.reverse();
    let all = if history.len() > 1 {
        store.list()?
    } else {
        Vec::new()
    };
    let show = |i: &crate::image::Image| {
        if a.no_trunc {
            i.id.clone()
        } else {
            i.short_id().to_string()
        }
    };
    let mut rows = Vec::new();
    let mut items = Vec::new();
    let mut json_items = Vec::new();
    for (i, (created, by, size, comment)) in rows_data.into_iter().enumerate() {
        // The images of earlier build steps, where they are still stored.
        let id = if i == 0 {
            show(&img)
        } else {
            history
                .len()
                .checked_sub(i)
                .and_then(|n| crate::image::store::ancestor(&img, &all, n))
                .map(show)
                .unwrap_or_else(|| "<missing>".to_string())
        };
        let created_s = match created {
            Some(t) if a.human => format::human_ago(t),
            Some(t) => rfc3339_secs(t),
            None => String::new(),
        };
        let size_s = if a.human {
            format::human_size_compact(size)
        } else {
            size.to_string()
        };
        // JSON has the full id, whatever --no-trunc says.
        let full_id = all
            .iter()
            .chain(std::iter::once(&img))
            .find(|x| id != "<missing>" && x.id.starts_with(&id))
            .map_or_else(|| id.clone(), |x| x.id.clone());
        json_items.push(history_json(&full_id, created, &by, size, &comment));
        items.push(history_item(&id, &created_s, created, &by, size, &comment));
        if a.quiet {
            println!("{id}");
            continue;
        }
        let by = if a.no_trunc {
            by
        } else {
            truncate(&by, CREATED_BY_WIDTH)
        };
        rows.push(vec![id, created_s, by, size_s, comment]);
    }
    if a.quiet {
        return Ok(0);
    }
    match a.format.as_deref() {
        // Podman encodes it on one line.
        Some("json") => println!("{}", serde_json::to_string(&json_items).unwrap_or_default()),
        Some(f) => {
            let sample = history_item("", "", None, "", 0, "");
            let shape = format::Shape::new("images.historyReporter", &sample);
            format::print_formatted(f, &items, &shape)?
        }
        None => format::print_table(
            &["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &rows,
            false,
        ),
    }
    Ok(0)
}
