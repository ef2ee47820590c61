#include "ccurl_shim.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void do_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void shim_curl_global_init(void) { pthread_once(&init_once, do_global_init); }

static size_t append(shim_buffer *buf, const char *ptr, size_t n) {
    if (buf->len + n > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 4096;
        while (cap < buf->len + n) cap *= 2;
        uint8_t *data = realloc(buf->data, cap);
        if (!data) return 0;
        buf->data = data;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, ptr, n);
    buf->len += n;
    return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    return append((shim_buffer *)userdata, ptr, size * nmemb);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
    return append((shim_buffer *)userdata, ptr, size * nmemb);
}

void *shim_curl_handle_new(void) {
    shim_curl_global_init();
    return curl_easy_init();
}

void shim_curl_handle_free(void *handle) {
    if (handle) curl_easy_cleanup((CURL *)handle);
}

void shim_curl_perform(void *handle, const char *method, const char *url,
                       const char *const *headers, size_t header_count,
                       const uint8_t *body, size_t body_len,
                       long connect_timeout_ms, long timeout_ms, int fresh_connection,
                       shim_response *out) {
    CURL *curl = (CURL *)handle;
    memset(out, 0, sizeof(*out));
    curl_easy_reset(curl);  /* keeps the connection cache, clears the options */

    struct curl_slist *list = NULL;
    for (size_t i = 0; i < header_count; i++) list = curl_slist_append(list, headers[i]);
    /* Headers curl would add on its own and that we did not sign. */
    list = curl_slist_append(list, "Expect:");
    list = curl_slist_append(list, "Accept:");

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, out->error);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (fresh_connection) curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);

    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0 || body_len > 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_len > 0 ? (const char *)body : "");
        }
    }

    CURLcode code = curl_easy_perform(curl);
    out->curl_code = (int)code;
    if (code == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    } else if (out->error[0] == 0) {
        strncpy(out->error, curl_easy_strerror(code), sizeof(out->error) - 1);
    }
    curl_slist_free_all(list);
}

void shim_response_free(shim_response *response) {
    free(response->headers.data);
    free(response->body.data);
    response->headers.data = NULL;
    response->body.data = NULL;
}

int shim_curl_is_connection_error(int code) {
    switch ((CURLcode)code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return 1;
    default:
        return 0;
    }
}

int shim_curl_is_timeout(int code) { return (CURLcode)code == CURLE_OPERATION_TIMEDOUT; }

int shim_curl_is_bad_url(int code) {
    switch ((CURLcode)code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return 1;
    default:
        return 0;
    }
}
