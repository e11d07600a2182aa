/*
 * minimal.c: a Sortie provider plugin in plain C, proving that the ABI of sortie_plugin.h
 * is enough without any Rust. The tests compile it with
 *     cc -shared -fPIC -I sdk/abi -o libsortie_plugin_cdemo.so tests/plugins/c/minimal.c
 * and each misbehaviour a plugin may have is one -D macro (below), so that a test builds
 * exactly the faulty plugin it needs.
 *
 * Scheme `cdemo` (`cdemo://anything`), setting `items` (how many `bulk/NNN.txt` items to
 * add, 3 when not given). The listing, three items a page (the cursor is the index of the
 * page's first item):
 *     readme.txt            "hello from a C plugin\n"
 *     docs/guide/intro.md   "# intro\nnested two levels down\n"
 *     empty.txt             ""
 *     docs/pattern.bin      300000 bytes, byte i = (i * 7) % 251 (several reads)
 *     bulk/000.txt …        "item 0\n" …
 * Bytes are pulled with `read`, each body keeping its own position, so concurrent calls
 * on different bodies need no lock. Everything returned is malloc'd; free_buf frees it.
 *
 * Misbehaviours (each a -D macro):
 *   BAD_MAGIC             the table's magic is not "SRTP"
 *   ABI_MAJOR_IS=N        the table claims ABI major N
 *   NEWER_MINOR           ABI 1.1: a larger table with a function appended (never called)
 *   NO_ENTRY              the entry symbol is missing (named otherwise)
 *   NULL_ENTRY            the entry returns NULL (the plugin cannot start)
 *   SCHEME="s"            the scheme is s (`file`: a built-in's)
 *   BAD_JSON_DESCRIBE     describe returns text that is not JSON
 *   BAD_JSON_LIST         the second page is text that is not JSON
 *   HANG_IN_LIST          the second page never comes
 *   HANG_IN_READ          reading readme.txt never returns
 *   FAIL_KIND="k"         opening readme.txt fails with an error of kind k ...
 *   FAIL_TEMPORARY        ... marked temporary, with retry_after_ms 10 ...
 *   FAIL_TIMES=N          ... the first N times only (0, the default: always)
 *   FAIL_IN_LIST          ... the error is the second page's instead
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sortie_plugin.h"

#ifndef SCHEME
#define SCHEME "cdemo"
#endif
#ifndef ABI_MAJOR_IS
#define ABI_MAJOR_IS SORTIE_ABI_MAJOR
#endif
#ifndef FAIL_TIMES
#define FAIL_TIMES 0
#endif
#ifdef FAIL_TEMPORARY
#define FAIL_TEMPORARY_JSON "true,\"retry_after_ms\":10"
#else
#define FAIL_TEMPORARY_JSON "false"
#endif

#define PAGE_SIZE 3
#define FIXED 4
#define PATTERN_LEN 300000

/* What the source stands for: its number of generated items. */
typedef struct source {
    unsigned long items;
} source;

/* One open body: its bytes (static text, a generated item's text in `own`, or the pattern
 * when `text` is NULL) and how far the host has read. */
typedef struct body {
    const char *text;
    size_t len;
    size_t pos;
    int hang;
    char own[32];
} body;

static const char *const FIXED_IDS[FIXED] = {"readme.txt", "docs/guide/intro.md", "empty.txt", "docs/pattern.bin"};
static const char *const FIXED_TEXT[FIXED] = {"hello from a C plugin\n", "# intro\nnested two levels down\n", "", NULL};

#ifdef FAIL_KIND
/* Calls that were told to fail so far, for FAIL_TIMES. */
static atomic_uint failing_calls;

/* Whether this call fails: always, or while fewer than FAIL_TIMES did. */
static int should_fail(void) {
    unsigned times = FAIL_TIMES;
    return times == 0 || atomic_fetch_add(&failing_calls, 1) < times;
}
#endif

/* A malloc'd copy of `len` bytes into *out; {NULL, 0} when there is no memory. */
static void put(sortie_buf *out, const char *bytes, size_t len) {
    out->ptr = NULL;
    out->len = 0;
    if (len == 0) {
        return;
    }
    out->ptr = malloc(len);
    if (out->ptr != NULL) {
        memcpy(out->ptr, bytes, len);
        out->len = len;
    }
}

/* Formats into a malloc'd *out (at most 64 KiB, enough for a page of this plugin). */
#define PUTF(out, ...)                                          \
    do {                                                        \
        char *text_ = malloc(65536);                            \
        int n_ = text_ ? snprintf(text_, 65536, __VA_ARGS__) : 0; \
        (out)->ptr = (uint8_t *)text_;                          \
        (out)->len = n_ > 0 ? (size_t)n_ : 0;                   \
    } while (0)

static int32_t fail(sortie_buf *out, const char *kind, const char *message, const char *temporary) {
    PUTF(out, "{\"kind\":\"%s\",\"message\":\"%s\",\"temporary\":%s}", kind, message, temporary);
    return SORTIE_ERROR;
}

/* The text of a `sortie_str` as a NUL-terminated malloc'd string (NULL for none). */
static char *text_of(sortie_str s) {
    if (s.ptr == NULL) {
        return NULL;
    }
    char *text = malloc(s.len + 1);
    if (text != NULL) {
        memcpy(text, s.ptr, s.len);
        text[s.len] = '\0';
    }
    return text;
}

/* The whole number after `"key":` in a JSON text, or `otherwise`. This plugin's JSON is
 * flat enough for a search: its only setting is a number. */
static unsigned long number_after(const char *json, const char *key, unsigned long otherwise) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (at == NULL) {
        return otherwise;
    }
    at += strlen(pattern);
    while (*at == ' ') {
        at++;
    }
    if (*at < '0' || *at > '9') {
        return otherwise;
    }
    return strtoul(at, NULL, 10);
}

static int32_t describe(sortie_buf *out) {
#ifdef BAD_JSON_DESCRIBE
    put(out, "providers: cdemo", 16);
    return SORTIE_OK;
#endif
    PUTF(out,
         "{\"providers\":[{\"scheme\":\"%s\",\"description\":\"Demonstration items served by a plugin "
         "written in C\",\"example\":\"%s://anything\",\"settings\":[{\"name\":\"items\",\"type\":"
         "\"integer\",\"help\":\"How many bulk items to list.\",\"default\":3,\"secret\":false}]}]}",
         SCHEME, SCHEME);
    return SORTIE_OK;
}

static int32_t make_source(sortie_str scheme, sortie_str url, sortie_str settings, sortie_buf *out) {
    char *url_text = text_of(url);
    char *settings_text = text_of(settings);
    const char *prefix = SCHEME "://";
    int32_t status;
    (void)scheme;
    if (url_text == NULL || strncmp(url_text, prefix, strlen(prefix)) != 0 || strpbrk(url_text, "\"\\\n\t")) {
        /* Refused rather than escaped: this plugin writes JSON strings as they are. */
        status = fail(out, "invalid-input", "a " SCHEME " source is written " SCHEME "://NAME", "false");
    } else {
        /* The id: the name's letters and digits, other characters as '-'. */
        char id[64] = SCHEME "-";
        size_t at = strlen(id);
        for (const char *c = url_text + strlen(prefix); *c && at < sizeof id - 1; c++) {
            int plain = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
            id[at++] = plain ? *c : '-';
        }
        id[at] = '\0';
        unsigned long items = number_after(settings_text, "items", (unsigned long)-1);
        char values[48] = "";
        if (items != (unsigned long)-1) {
            snprintf(values, sizeof values, "\"items\":%lu", items);
        }
        PUTF(out, "{\"scheme\":\"%s\",\"url\":\"%s\",\"id\":\"%s\",\"settings\":{%s},\"secret\":[]}", SCHEME,
             url_text, id, values);
        status = SORTIE_OK;
    }
    free(url_text);
    free(settings_text);
    return status;
}

static int32_t resolve(sortie_str source, sortie_str context, sortie_buf *out) {
    (void)context;
    /* The source stands for itself: [source]. */
    out->ptr = malloc(source.len + 2);
    out->len = 0;
    if (out->ptr != NULL) {
        out->ptr[0] = '[';
        memcpy(out->ptr + 1, source.ptr, source.len);
        out->ptr[source.len + 1] = ']';
        out->len = source.len + 2;
    }
    return SORTIE_OK;
}

static int32_t check_plan(sortie_str scheme, sortie_str plan, sortie_buf *out) {
    (void)scheme;
    (void)plan;
    put(out, NULL, 0);
    return SORTIE_OK;
}

static int32_t open_source(sortie_str source_json, sortie_str context, void **handle, sortie_buf *out) {
    (void)context;
    char *text = text_of(source_json);
    source *opened = malloc(sizeof *opened);
    if (opened == NULL) {
        free(text);
        return fail(out, "io", "out of memory", "false");
    }
    opened->items = number_after(text, "items", 3);
    free(text);
    *handle = opened;
    const char *capabilities = "{\"flat_namespace\":false,\"local\":false,\"max_concurrency\":null}";
    put(out, capabilities, strlen(capabilities));
    return SORTIE_OK;
}

static int32_t check(void *source, sortie_buf *out) {
    (void)source;
    put(out, NULL, 0);
    return SORTIE_OK;
}

/* The id of item `index` into `id`. */
static void id_of(unsigned long index, char *id, size_t cap) {
    if (index < FIXED) {
        snprintf(id, cap, "%s", FIXED_IDS[index]);
    } else {
        snprintf(id, cap, "bulk/%03lu.txt", index - FIXED);
    }
}

static size_t size_of_item(unsigned long index) {
    if (index < FIXED) {
        return FIXED_TEXT[index] ? strlen(FIXED_TEXT[index]) : PATTERN_LEN;
    }
    char text[32];
    return (size_t)snprintf(text, sizeof text, "item %lu\n", index - FIXED);
}

/* `id` as JSON segments: "a/b.txt" -> "a","b.txt" (no id of this plugin needs escaping). */
static int segments_of(const char *id, char *json, size_t cap) {
    size_t at = 0;
    json[at++] = '"';
    for (const char *c = id; *c && at < cap - 4; c++) {
        if (*c == '/') {
            json[at++] = '"';
            json[at++] = ',';
            json[at++] = '"';
        } else {
            json[at++] = *c;
        }
    }
    json[at++] = '"';
    json[at] = '\0';
    return (int)at;
}

static int32_t list_page(void *handle, sortie_str cursor, sortie_buf *out) {
    source *opened = handle;
    unsigned long start = 0;
    if (cursor.ptr != NULL) {
        char *text = text_of(cursor);
        char *end = NULL;
        start = text ? strtoul(text, &end, 10) : 0;
        int valid = text && end && *end == '\0' && end != text;
        free(text);
        if (!valid) {
            return fail(out, "invalid-input", "this cursor is not one cdemo returned", "false");
        }
#ifdef BAD_JSON_LIST
        put(out, "{\"items\": [ not json", 20);
        return SORTIE_OK;
#endif
#ifdef HANG_IN_LIST
        for (;;) {
            sleep(1000);
        }
#endif
#if defined(FAIL_KIND) && defined(FAIL_IN_LIST)
        if (should_fail()) {
            return fail(out, FAIL_KIND, "cdemo was told to fail listing with " FAIL_KIND, FAIL_TEMPORARY_JSON);
        }
#endif
    }
    unsigned long total = FIXED + opened->items;
    unsigned long end = start + PAGE_SIZE < total ? start + PAGE_SIZE : total;
    char *json = malloc(65536);
    if (json == NULL) {
        return fail(out, "io", "out of memory", "false");
    }
    int at = snprintf(json, 65536, "{\"items\":[");
    for (unsigned long i = start; i < end; i++) {
        char id[64];
        char segments[128];
        id_of(i, id, sizeof id);
        segments_of(id, segments, sizeof segments);
        at += snprintf(json + at, 65536 - at,
                       "%s{\"id\":\"%s\",\"segments\":[%s],\"kind\":\"file\",\"has_body\":true,\"size\":%zu,"
                       "\"modified\":{\"secs_since_epoch\":1700000000,\"nanos_since_epoch\":0},"
                       "\"content_type\":null,\"checksum\":null,\"meta\":{},\"skip\":null}",
                       i == start ? "" : ",", id, segments, size_of_item(i));
    }
    if (end < total) {
        at += snprintf(json + at, 65536 - at, "],\"next\":\"%lu\"}", end);
    } else {
        at += snprintf(json + at, 65536 - at, "],\"next\":null}");
    }
    out->ptr = (uint8_t *)json;
    out->len = (size_t)at;
    return SORTIE_OK;
}

/* The string value after `"key":"` in a JSON text, into `value` (no escapes expected). */
static int string_after(const char *json, const char *key, char *value, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (at == NULL) {
        return 0;
    }
    at += strlen(pattern);
    size_t n = 0;
    while (at[n] && at[n] != '"' && n < cap - 1) {
        value[n] = at[n];
        n++;
    }
    value[n] = '\0';
    return at[n] == '"';
}

static int32_t open_item(void *handle, sortie_str item, void **out_body, sortie_buf *out) {
    source *opened = handle;
    char *text = text_of(item);
    char id[64];
    int found = string_after(text, "id", id, sizeof id);
    free(text);
    if (!found) {
        return fail(out, "invalid-input", "the host passed an item without an id", "false");
    }
    body *opened_body = calloc(1, sizeof *opened_body);
    if (opened_body == NULL) {
        return fail(out, "io", "out of memory", "false");
    }
    unsigned long index = 0;
    for (; index < FIXED && strcmp(id, FIXED_IDS[index]) != 0; index++) {
    }
    unsigned long bulk = 0;
    char rest = 0;
    if (index == FIXED && sscanf(id, "bulk/%3lu.tx%c", &bulk, &rest) == 2 && rest == 't' && bulk < opened->items &&
        strlen(id) == strlen("bulk/000.txt")) {
        opened_body->len = (size_t)snprintf(opened_body->own, sizeof opened_body->own, "item %lu\n", bulk);
        opened_body->text = opened_body->own;
    } else if (index < FIXED) {
        opened_body->text = FIXED_TEXT[index];
        opened_body->len = size_of_item(index);
    } else {
        free(opened_body);
        return fail(out, "not-found", "cdemo has no such item", "false");
    }
#if defined(FAIL_KIND) && !defined(FAIL_IN_LIST)
    if (index == 0 && should_fail()) {
        free(opened_body);
        return fail(out, FAIL_KIND, "cdemo was told to fail opening readme.txt with " FAIL_KIND,
                    FAIL_TEMPORARY_JSON);
    }
#endif
#ifdef HANG_IN_READ
    if (index == 0) {
        opened_body->hang = 1;
    }
#endif
    *out_body = opened_body;
    PUTF(out,
         "{\"size\":%zu,\"checksum\":null,\"content_type\":null,\"meta\":{},\"modified\":null,\"incomplete\":null}",
         opened_body->len);
    return SORTIE_OK;
}

static int32_t read_body(void *handle, uint8_t *buf, size_t cap, size_t *filled, sortie_buf *out) {
    body *b = handle;
    out->ptr = NULL;
    out->len = 0;
    if (b->hang == 1) {
        for (;;) {
            sleep(1000);
        }
    }
    size_t n = b->len - b->pos < cap ? b->len - b->pos : cap;
    if (b->text != NULL) {
        memcpy(buf, b->text + b->pos, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            buf[i] = (uint8_t)(((b->pos + i) * 7) % 251);
        }
    }
    b->pos += n;
    *filled = n;
    return SORTIE_OK;
}

static void close_body(void *handle) {
    free(handle);
}

static void close_source(void *handle) {
    free(handle);
}

static void free_buf(sortie_buf buf) {
    free(buf.ptr);
}

#ifdef NEWER_MINOR
/* A function ABI 1.1 would append: a 1.0 host must never call it. */
static int32_t from_the_future(void) {
    abort();
}

typedef struct sortie_plugin_1_1 {
    sortie_plugin v1_0;
    int32_t (*from_the_future)(void);
} sortie_plugin_1_1;
#define TABLE_MINOR 1
#define TABLE_SIZE sizeof(sortie_plugin_1_1)
#else
#define TABLE_MINOR SORTIE_ABI_MINOR
#define TABLE_SIZE sizeof(sortie_plugin)
#endif

#ifdef BAD_MAGIC
#define TABLE_MAGIC 0x7f454c46u
#else
#define TABLE_MAGIC SORTIE_PLUGIN_MAGIC
#endif

#define TABLE_V1_0                                                                                     \
    {                                                                                                  \
        TABLE_MAGIC, ABI_MAJOR_IS, TABLE_MINOR, (uint32_t)TABLE_SIZE, sizeof(sortie_str),              \
            sizeof(sortie_buf), 0, "minimal-c", "0.3.1", describe, make_source, resolve, check_plan,       \
            open_source, check, list_page, open_item, read_body, close_body, close_source, free_buf    \
    }

#ifdef NEWER_MINOR
static const sortie_plugin_1_1 TABLE = {TABLE_V1_0, from_the_future};
#define TABLE_ADDRESS (&TABLE.v1_0)
#else
static const sortie_plugin TABLE = TABLE_V1_0;
#define TABLE_ADDRESS (&TABLE)
#endif

#ifdef NO_ENTRY
const sortie_plugin *sortie_plugin_entry_misspelled(void) {
    return TABLE_ADDRESS;
}
#else
const sortie_plugin *sortie_plugin_entry(void) {
#ifdef NULL_ENTRY
    return NULL;
#endif
    return TABLE_ADDRESS;
}
#endif
