/*
 * sortie_plugin.h: the C ABI of a Sortie provider plugin, version 1.0.
 *
 * A plugin is a shared library exporting one function, `sortie_plugin_entry`, which
 * returns a table of functions that live as long as the process (Sortie never unloads a
 * plugin). Everything else crosses as JSON in UTF-8: settings, sources, items, pages and
 * errors, in the shapes docs/PLUGINS.md gives. The Rust definitions in
 * sdk/abi/src/lib.rs are checked against this header by the crate's tests.
 *
 * Memory: what the host passes (sortie_str, the read buffer) is the host's, valid for the
 * call only. What the plugin returns in a sortie_buf is the plugin's, handed back to its
 * free_buf once the host has read it.
 *
 * Handles: `open` and `open_item` set their handle only when they return SORTIE_OK; a
 * handle set by a call that failed is ignored (never closed by the host).
 *
 * Threads: the host calls the plugin from several threads at once, on the same source
 * handle too (listing one page while opening items). A body handle is used by one thread
 * at a time. No call may unwind or longjmp across the boundary.
 */
#ifndef SORTIE_PLUGIN_H
#define SORTIE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "SRTP": the first field of every table, so that a library that is not a plugin is told. */
#define SORTIE_PLUGIN_MAGIC 0x53525450u
/* A host refuses another major; it accepts any minor, using only the fields `size` covers. */
#define SORTIE_ABI_MAJOR 1
#define SORTIE_ABI_MINOR 0
#define SORTIE_PLUGIN_ENTRY "sortie_plugin_entry"

/* Every function returns one of these. */
#define SORTIE_OK 0
/* `out` holds an error as JSON: {"kind","message","temporary","retry_after_ms"}. */
#define SORTIE_ERROR 1

/* Bytes the caller owns, valid for the call. `ptr` is NULL for "none" (the first page). */
typedef struct sortie_str {
    const uint8_t *ptr;
    size_t len;
} sortie_str;

/* Bytes the plugin allocated, returned to it with free_buf. {NULL, 0} is empty. */
typedef struct sortie_buf {
    uint8_t *ptr;
    size_t len;
} sortie_buf;

typedef struct sortie_plugin {
    uint32_t magic;     /* SORTIE_PLUGIN_MAGIC */
    uint16_t abi_major; /* SORTIE_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /* SORTIE_ABI_MINOR the plugin was built with */
    uint32_t size;      /* sizeof(sortie_plugin) as the plugin was built: later minors append */
    uint32_t str_size;  /* sizeof(sortie_str) */
    uint32_t buf_size;  /* sizeof(sortie_buf) */
    uint32_t reserved;  /* 0 */
    const char *name;    /* the plugin's name, NUL-terminated, static */
    const char *version; /* the plugin's version, NUL-terminated, static */

    /* {"providers": [ProviderInfo, ...]}: every scheme, with its settings schema. */
    int32_t (*describe)(sortie_buf *out);
    /* The source the user wrote, with its settings ({"values": {...}, "secret": [names]})
     * -> a source ({"scheme","url","id","settings","secret"}). Reads no network. */
    int32_t (*source)(sortie_str scheme, sortie_str url, sortie_str settings, sortie_buf *out);
    /* A source and the run's context ({"retries","exclude"}) -> [source, ...]. */
    int32_t (*resolve)(sortie_str source, sortie_str context, sortie_buf *out);
    /* Every source of a plan that has this scheme, [source, ...] -> nothing, or an error. */
    int32_t (*check_plan)(sortie_str scheme, sortie_str plan, sortie_buf *out);
    /* A resolved source and the context -> a source handle in *handle, and its
     * capabilities ({"flat_namespace","local","max_concurrency"}) in out. */
    int32_t (*open)(sortie_str source, sortie_str context, void **handle, sortie_buf *out);
    /* Checks that the source exists and the credentials work. */
    int32_t (*check)(void *source, sortie_buf *out);
    /* One page ({"items": [...], "next": cursor or null}) from a cursor (NULL: the first). */
    int32_t (*list_page)(void *source, sortie_str cursor, sortie_buf *out);
    /* An item as listed -> a body handle in *body, and what the response announced
     * ({"size","checksum","content_type","meta","modified","incomplete"}) in out. */
    int32_t (*open_item)(void *source, sortie_str item, void **body, sortie_buf *out);
    /* Up to `cap` next bytes into `buf`, their number in *filled; 0 bytes: the end. */
    int32_t (*read)(void *body, uint8_t *buf, size_t cap, size_t *filled, sortie_buf *out);
    /* Releases a body handle, read to its end or not. */
    void (*close_body)(void *body);
    /* Releases a source handle, once no call on it or its bodies is running. */
    void (*close_source)(void *source);
    /* Releases a buffer this plugin returned. */
    void (*free_buf)(sortie_buf buf);
} sortie_plugin;

/* The one exported symbol: the table, or NULL if the plugin cannot start. */
typedef const sortie_plugin *(*sortie_plugin_entry_fn)(void);
const sortie_plugin *sortie_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* SORTIE_PLUGIN_H */
