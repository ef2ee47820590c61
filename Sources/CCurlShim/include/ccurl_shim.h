#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// A growable byte buffer filled by libcurl's callbacks.
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} shim_buffer;

/// What one transfer produced. `curl_code` is a CURLcode (0 = OK); `error` holds
/// curl's human-readable reason when it is not 0.
typedef struct {
    long status;
    int curl_code;
    shim_buffer headers;  /* raw header lines of every response block, CRLF separated */
    shim_buffer body;
    char error[256];
} shim_response;

/// Initialises libcurl once per process (thread-safe).
void shim_curl_global_init(void);

/// An easy handle; it keeps its connection cache between transfers (connection reuse).
void *shim_curl_handle_new(void);
void shim_curl_handle_free(void *handle);

/// Performs one request. `headers` are full "Name: value" lines. The URL is sent exactly
/// as given (no dot-segment squashing), so what was signed is what goes on the wire.
/// `fresh_connection` forbids reusing a pooled connection: libcurl silently re-sends a
/// request whose reused connection died, which for a create could make a second resource.
void shim_curl_perform(void *handle, const char *method, const char *url,
                       const char *const *headers, size_t header_count,
                       const uint8_t *body, size_t body_len,
                       long connect_timeout_ms, long timeout_ms, int fresh_connection,
                       shim_response *out);

void shim_response_free(shim_response *response);

/// Whether curl's code means "the connection failed before or during the exchange"
/// (retryable transport error) rather than, say, a malformed URL.
int shim_curl_is_connection_error(int code);
/// Whether the code is a timeout.
int shim_curl_is_timeout(int code);
/// Whether the code means the URL itself is unusable.
int shim_curl_is_bad_url(int code);

#endif
