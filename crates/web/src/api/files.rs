//! `/documents/{did}/files` and `/files/{id}`: attachments, streamed in
//! both directions.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use turva_app::files::{self, Download};
use turva_app::{App, AppError};

use super::documents::{file_json, FileJson};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{id, ApiPath, Auth, ClientCtx};

/// The upload's body as described in OpenAPI: one part named `file`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file (its type is found from its bytes, not from this part's
    /// header).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a file to a document (edit): multipart with one part named
/// `file`; streamed, never held whole in memory.
#[utoipa::path(post, path = "/api/v1/documents/{did}/files", tag = "files", params(("did" = String, Path, description = "document id")), request_body(content = UploadForm, content_type = "multipart/form-data"), responses(
    (status = 201, description = "stored (encrypted); the document has a new version", body = FileJson),
    (status = 400, description = "malformed upload", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not edit the document", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem),
    (status = 413, description = "larger than allowed, or the company's quota is full", body = Problem),
    (status = 415, description = "not multipart/form-data", body = Problem)))]
pub async fn upload(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(did): ApiPath<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let did = id("did", &did)?;
    let mut multipart = multipart.map_err(|_| ApiError::UnsupportedMediaType)?;
    let bad = |detail: &str| ApiError::BadInput {
        field: Some("file".into()),
        detail: detail.into(),
    };
    let field = multipart
        .next_field()
        .await
        .map_err(|_| bad("the multipart body is malformed"))?
        .ok_or_else(|| bad("a part named file is required"))?;
    if field.name() != Some("file") {
        return Err(bad("only one part, named file, is accepted"));
    }
    let name = field.file_name().unwrap_or("file").to_string();
    let stream = Box::pin(field.map(|chunk| chunk.map_err(|e| e.body_text())));
    let f = files::upload(&app, &ctx, &actor, &did, &name, stream).await?;
    Ok((StatusCode::CREATED, Json(file_json(f))).into_response())
}

/// `Content-Disposition` with a safe file name (RFC 6266 / RFC 8187): an
/// ASCII fallback and the UTF-8 name percent-encoded.
pub fn disposition(kind: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.as_bytes() {
        let c = *b as char;
        if c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c) {
            encoded.push(c);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let value = format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn stream_response(d: Download, inline: bool) -> Response {
    let Download { file, body } = d;
    let body = Body::from_stream(body.map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))));
    let mut res = Response::new(body);
    let h = res.headers_mut();
    let kind = if inline { "inline" } else { "attachment" };
    h.insert(header::CONTENT_DISPOSITION, disposition(kind, &file.name));
    let ct = if inline {
        HeaderValue::from_str(&file.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"))
    } else {
        HeaderValue::from_static("application/octet-stream")
    };
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(len) = HeaderValue::from_str(&file.size.to_string()) {
        h.insert(header::CONTENT_LENGTH, len);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", file.sha256)) {
        h.insert(header::ETAG, etag);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if inline {
        // Shown as an image only: no script, no plugin, no same-origin.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
            ),
        );
    }
    res
}

/// Downloads a file (view on its document), as an attachment.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path, description = "file id")), responses(
    (status = 200, description = "the file's bytes (Content-Disposition: attachment)", content_type = "application/octet-stream"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such file, or not visible", body = Problem)))]
pub async fn download(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
) -> ApiResult<Response> {
    let fid = id("id", &fid)?;
    let d = files::download(&app, &ctx, &actor, &fid).await?;
    Ok(stream_response(d, false))
}

/// Shows an image file inline, in a sandbox (view on its document); any
/// other file is refused.
#[utoipa::path(get, path = "/api/v1/files/{id}/inline", tag = "files", params(("id" = String, Path, description = "file id")), responses(
    (status = 200, description = "the image (sandboxed)", content_type = "image/*"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such file, or not visible", body = Problem),
    (status = 422, description = "not an image: download it instead", body = Problem)))]
pub async fn inline(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
) -> ApiResult<Response> {
    let fid = id("id", &fid)?;
    let d = files::download(&app, &ctx, &actor, &fid).await?;
    if !files::is_inline_image(&d.file.content_type) {
        return Err(AppError::invalid("id", "is not an image: download it instead").into());
    }
    Ok(stream_response(d, true))
}

/// Removes a file from its document (edit): a new version; the file stays
/// restorable from the history for 30 days.
#[utoipa::path(delete, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path, description = "file id")), responses(
    (status = 204, description = "removed from the newest version"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not edit the document", body = Problem),
    (status = 404, description = "no such file, or not visible", body = Problem)))]
pub async fn delete(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let fid = id("id", &fid)?;
    files::delete(&app, &ctx, &actor, &fid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_in_the_header() {
        let v = disposition("attachment", "työmaa \"kuva\".jpg");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"ty_maa _kuva_.jpg\"; filename*=UTF-8''ty%C3%B6maa%20%22kuva%22.jpg"
        );
        let v = disposition("attachment", "a\r\nSet-Cookie: x");
        assert!(!v.to_str().unwrap().contains('\n'));
    }
}
