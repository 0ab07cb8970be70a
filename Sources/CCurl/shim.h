#ifndef RELAIS_CCURL_SHIM_H
#define RELAIS_CCURL_SHIM_H
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, so Swift cannot call them:
 * one typed wrapper per kind of argument. The option must match the type, as
 * libcurl's documentation for each option says. */

/// Sets an option that takes a `long` (flags, timeouts, sizes below 2 GiB).
static inline CURLcode relais_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets an option that takes a C string; libcurl copies it (except CURLOPT_POSTFIELDS).
static inline CURLcode relais_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets an option that takes a pointer (callback data, error buffer, curl_slist, post fields).
static inline CURLcode relais_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets an option that takes a `curl_off_t` (the *_LARGE sizes).
static inline CURLcode relais_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets CURLOPT_WRITEFUNCTION or CURLOPT_HEADERFUNCTION: both take a write callback.
static inline CURLcode relais_curl_setopt_write_function(CURL *handle, CURLoption option, curl_write_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

/// Reads a `long` piece of information (CURLINFO_RESPONSE_CODE, CURLINFO_NUM_CONNECTS…).
static inline CURLcode relais_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// Reads a `curl_off_t` piece of information (CURLINFO_*_T sizes and times).
static inline CURLcode relais_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// curl_global_init with the default flags (a macro Swift cannot import as such).
static inline CURLcode relais_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

/// Sets CURLOPT_OPENSOCKETFUNCTION: called with each address libcurl is about to connect to.
static inline CURLcode relais_curl_setopt_opensocket_function(CURL *handle, curl_opensocket_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, callback);
}

/// Copies the IP address of `address` (network byte order) into `out` (16 bytes of
/// room); returns 4 for IPv4, 16 for IPv6, 0 for anything else (nothing copied).
/// In C because libcurl's `struct sockaddr` member is really a larger storage.
static inline int relais_curl_sockaddr_ip(const struct curl_sockaddr *address, unsigned char *out) {
    if (address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&address->addr;
        memcpy(out, &in->sin_addr, 4);
        return 4;
    }
    if (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&address->addr;
        memcpy(out, &in6->sin6_addr, 16);
        return 16;
    }
    return 0;
}

/// curl_multi_setopt for an option that takes a `long` (variadic in C).
static inline CURLMcode relais_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

/// The result of a finished transfer (`data.result` of a CURLMSG_DONE message; a union in C).
static inline CURLcode relais_curl_msg_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
