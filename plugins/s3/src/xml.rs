//! The S3 API's XML answers, as far as Sortie reads them.

use serde::Deserialize;
use sortie_sdk::{Error, ErrorKind, Result};

/// Parses one XML document; a body that is not the expected document is a server fault
/// worth one more try (a proxy's HTML error page, a truncated answer).
pub fn parse<'de, T: Deserialize<'de>>(what: &str, text: &'de str) -> Result<T> {
    quick_xml::de::from_str(text).map_err(|e| {
        Error::new(ErrorKind::Unavailable, format!("the server's answer to {what} is not the expected XML: {e}"))
            .temporary()
    })
}

/// The name of a document's root element, past the XML declaration and comments.
pub fn root_element(text: &str) -> Option<&str> {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("<?") {
            rest = after.split_once("?>")?.1.trim_start();
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.split_once("-->")?.1.trim_start();
        } else {
            let name = rest.strip_prefix('<')?;
            let end = name.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
            return Some(&name[..end]);
        }
    }
}

/// Whether `text` is one well-formed XML document: every element closed, in order, and one
/// root. A configuration document is archived as served, so an answer damaged on the way
/// (a cut, a flipped byte in the markup) must be told from a document and asked again.
pub fn well_formed(text: &str) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut depth, mut roots) = (0u32, 0u32);
    loop {
        match reader.read_event() {
            Err(_) => return false,
            Ok(Event::Eof) => return depth == 0 && roots == 1,
            Ok(Event::Start(_)) => {
                roots += u32::from(depth == 0);
                depth += 1;
            }
            Ok(Event::Empty(_)) => roots += u32::from(depth == 0),
            Ok(Event::End(_)) => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Ok(Event::Text(t)) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => return false,
            Ok(_) => {}
        }
    }
}

/// `<Error>`, the body of every failed request that has one.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub region: Option<String>,
    pub request_id: Option<String>,
}

/// ListObjectsV2.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResult {
    #[serde(default)]
    pub contents: Vec<ObjectEntry>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
    pub encoding_type: Option<String>,
}

/// An object of ListObjectsV2, or a version or delete marker of ListObjectVersions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectEntry {
    pub key: String,
    /// Versions only; S3 calls the version of an object written while versioning was off
    /// `null`.
    pub version_id: Option<String>,
    #[serde(default)]
    pub is_latest: bool,
    pub last_modified: Option<String>,
    #[serde(rename = "ETag")]
    pub etag: Option<String>,
    #[serde(default)]
    pub size: u64,
    pub storage_class: Option<String>,
}

/// ListObjectVersions. Versions and delete markers arrive interleaved, in key order and
/// newest first within a key; that order is kept by reading the children as one sequence.
#[derive(Debug, Deserialize)]
pub struct ListVersionsResult {
    #[serde(rename = "$value", default)]
    pub children: Vec<VersionsChild>,
}

#[derive(Debug, Deserialize)]
pub enum VersionsChild {
    Version(ObjectEntry),
    DeleteMarker(ObjectEntry),
    IsTruncated(bool),
    NextKeyMarker(String),
    NextVersionIdMarker(String),
    EncodingType(String),
    #[serde(other)]
    Other,
}

/// ListBuckets.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAllMyBucketsResult {
    #[serde(default)]
    pub buckets: Buckets,
    pub continuation_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Buckets {
    #[serde(default)]
    pub bucket: Vec<BucketEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEntry {
    pub name: String,
}

/// GetBucketVersioning.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VersioningConfiguration {
    pub status: Option<String>,
}

/// GetObjectTagging.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tagging {
    pub tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagSet {
    pub tag: Vec<Tag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_delete_markers_keep_their_order() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>
  <NextKeyMarker>k2</NextKeyMarker><NextVersionIdMarker>v9</NextVersionIdMarker>
  <MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>
  <DeleteMarker><Key>k1</Key><VersionId>d1</VersionId><IsLatest>true</IsLatest>
    <LastModified>2026-11-22T10:00:00.000Z</LastModified><Owner><ID>x</ID></Owner></DeleteMarker>
  <Version><Key>k1</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest>
    <LastModified>2026-11-22T09:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>3</Size>
    <StorageClass>STANDARD</StorageClass><Owner><ID>x</ID></Owner></Version>
</ListVersionsResult>"#;
        let result: ListVersionsResult = parse("test", xml).unwrap();
        let kinds: Vec<String> = result
            .children
            .iter()
            .filter_map(|c| match c {
                VersionsChild::Version(v) => {
                    Some(format!("v:{}:{}", v.version_id.as_deref().unwrap(), v.etag.as_deref().unwrap()))
                }
                VersionsChild::DeleteMarker(d) => {
                    Some(format!("d:{}:{}", d.version_id.as_deref().unwrap(), d.is_latest))
                }
                VersionsChild::NextKeyMarker(k) => Some(format!("next:{k}")),
                VersionsChild::IsTruncated(t) => Some(format!("truncated:{t}")),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, ["next:k2", "truncated:true", "d:d1:true", "v:v2:\"abc\""]);
    }

    #[test]
    fn root_elements_past_declarations_and_comments() {
        assert_eq!(
            root_element("<?xml version=\"1.0\"?>\n<!-- x --><Tagging xmlns=\"u\"><TagSet/></Tagging>"),
            Some("Tagging")
        );
        assert_eq!(root_element("<CORSConfiguration/>"), Some("CORSConfiguration"));
        assert_eq!(root_element("{\"Version\": 1}"), None);
        assert_eq!(root_element("binary \0 body"), None);
    }

    #[test]
    fn damaged_documents_are_not_well_formed() {
        let cors = "<?xml version=\"1.0\"?>\n<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>";
        assert!(well_formed(cors));
        assert!(!well_formed(&cors[..cors.len() - 3]), "cut");
        assert!(!well_formed(&cors.replacen("<CORSRule>", "<CORSRulf>", 1)), "a flipped byte in a tag");
        assert!(!well_formed(&cors.replacen("<CORSC", "=CORSC", 1)), "a flipped first byte");
        assert!(!well_formed("<a/><b/>"), "two roots");
    }

    #[test]
    fn object_listings_and_errors() {
        let xml = r#"<ListBucketResult><Name>b</Name><KeyCount>1</KeyCount><IsTruncated>true</IsTruncated>
            <NextContinuationToken>tok</NextContinuationToken>
            <Contents><Key>a%0Ab</Key><LastModified>2026-11-22T10:00:00Z</LastModified><ETag>"e"</ETag>
            <Size>5</Size><StorageClass>GLACIER</StorageClass></Contents></ListBucketResult>"#;
        let result: ListBucketResult = parse("test", xml).unwrap();
        assert!(result.is_truncated);
        assert_eq!(result.contents[0].key, "a%0Ab");
        assert_eq!(result.contents[0].storage_class.as_deref(), Some("GLACIER"));
        let empty: ListBucketResult =
            parse("test", "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>").unwrap();
        assert!(empty.contents.is_empty());
        let error: ErrorBody =
            parse("test", "<Error><Code>NoSuchBucket</Code><Message>gone</Message><BucketName>b</BucketName></Error>")
                .unwrap();
        assert_eq!(error.code, "NoSuchBucket");
        let tags: Tagging =
            parse("test", "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>").unwrap();
        assert_eq!(tags.tag_set.tag[0].value, "v");
    }
}
