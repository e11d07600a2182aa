/* hostile.c: a plugin that tries to break the archive, leak a secret or crash the host, one behaviour per value of the EVIL environment variable (see the is(...) calls); tests/plugins.rs runs it. Scheme "evil", secret setting "password". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sortie_plugin.h"

static const char *mode(void) { const char *m = getenv("EVIL"); return m ? m : ""; }
static int is(const char *m) { return strstr(mode(), m) != NULL; }

static void put(sortie_buf *out, const char *s) {
    size_t n = strlen(s);
    out->ptr = n ? malloc(n) : NULL; out->len = n;
    if (n) memcpy(out->ptr, s, n);
}
static char *dup_str(sortie_str s) { char *t = malloc(s.len + 1); if (s.len) memcpy(t, s.ptr, s.len); t[s.len] = 0; return t; }
static void hang(const char *where) { if (is(where)) for (;;) sleep(1000); }

/* the secret value given, for echo attacks */
static char secret[256];
static void grab_secret(const char *json) {
    const char *p = strstr(json, "\"password\":\"");
    if (!p) return;
    p += 12; size_t i = 0;
    while (p[i] && p[i] != '"' && i < 255) { secret[i] = p[i]; i++; }
    secret[i] = 0;
}
static int32_t fail_with_secret(sortie_buf *out, const char *call) {
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"kind\":\"unauthenticated\",\"message\":\"%s refused password %s\",\"temporary\":false}", call, secret);
    put(out, buf); return SORTIE_ERROR;
}

static int32_t describe(sortie_buf *out) {
    hang("hang-describe");
    const char *scheme = getenv("EVIL_SCHEME") ? getenv("EVIL_SCHEME") : "evil";
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"providers\":[{\"scheme\":\"%s\",\"description\":\"evil\",\"example\":\"evil://x\",\"settings\":["
        "{\"name\":\"password\",\"type\":\"text\",\"help\":\"pw\",\"secret\":true}]}]}", scheme);
    put(out, buf); return SORTIE_OK;
}

static int32_t source(sortie_str scheme, sortie_str url, sortie_str settings, sortie_buf *out) {
    (void)scheme;
    hang("hang-source");
    char *s = dup_str(settings); grab_secret(s);
    char *u = dup_str(url);
    char buf[2048];
    if (is("leak-secret-public")) /* plugin returns the secret as a non-secret setting */
        snprintf(buf, sizeof buf, "{\"scheme\":\"evil\",\"url\":\"%s\",\"id\":\"%s\",\"settings\":{\"password\":\"%s\"},\"secret\":[]}", u,
                 getenv("EVIL_ID") ? getenv("EVIL_ID") : "evil", secret);
    else
        snprintf(buf, sizeof buf, "{\"scheme\":\"evil\",\"url\":\"%s\",\"id\":\"%s\",\"settings\":%s}", u,
                 getenv("EVIL_ID") ? getenv("EVIL_ID") : "evil", strstr(s, "\"values\":") ? strchr(strstr(s, "\"values\":"), '{') : "{}");
    /* crude: settings values object reused; 'secret' names appended by json below */
    free(u); free(s);
    /* Replace trailing '}' of values (which ends with "]}" from secret list); keep it simple: rebuild */
    {
        char *u2 = dup_str(url);
        if (!is("leak-secret-public")) {
            if (secret[0])
                snprintf(buf, sizeof buf, "{\"scheme\":\"evil\",\"url\":\"%s\",\"id\":\"%s\",\"settings\":{\"password\":\"%s\"},\"secret\":[\"password\"]}", u2,
                         getenv("EVIL_ID") ? getenv("EVIL_ID") : "evil", secret);
            else
                snprintf(buf, sizeof buf, "{\"scheme\":\"evil\",\"url\":\"%s\",\"id\":\"%s\",\"settings\":{}}", u2,
                         getenv("EVIL_ID") ? getenv("EVIL_ID") : "evil");
        }
        free(u2);
    }
    put(out, buf); return SORTIE_OK;
}

static int32_t resolve(sortie_str src, sortie_str context, sortie_buf *out) {
    (void)context;
    hang("hang-resolve");
    char *s = dup_str(src); grab_secret(s); free(s);
    out->ptr = malloc(src.len + 2);
    out->ptr[0] = '['; memcpy(out->ptr + 1, src.ptr, src.len); out->ptr[src.len + 1] = ']';
    out->len = src.len + 2;
    return SORTIE_OK;
}

static int32_t check_plan(sortie_str scheme, sortie_str plan, sortie_buf *out) {
    (void)scheme;
    hang("hang-check-plan");
    char *s = dup_str(plan); grab_secret(s);
    if (getenv("EVIL_DUMP")) { FILE *f = fopen(getenv("EVIL_DUMP"), "a"); fprintf(f, "check_plan: %s\n", s); fclose(f); }
    free(s);
    if (is("secret-check-plan")) return fail_with_secret(out, "check_plan");
    out->ptr = NULL; out->len = 0; return SORTIE_OK;
}

static int handle_storage;
static int32_t open_source(sortie_str src, sortie_str context, void **handle, sortie_buf *out) {
    (void)context;
    hang("hang-open");
    char *s = dup_str(src); grab_secret(s); free(s);
    *handle = &handle_storage;
    if (is("maxconc")) { put(out, "{\"max_concurrency\":18446744073709551615}"); return SORTIE_OK; }
    put(out, "{}"); return SORTIE_OK;
}
static int32_t check(void *h, sortie_buf *out) { (void)h; hang("hang-check"); out->ptr = NULL; out->len = 0; return SORTIE_OK; }

static int32_t list_page(void *h, sortie_str cursor, sortie_buf *out) {
    (void)h;
    hang("hang-list");
    if (is("huge-page")) { /* 65 MiB of blanks: over the host's 64 MiB bound for an answer */
        out->len = (size_t)65 << 20;
        out->ptr = malloc(out->len);
        if (out->ptr == NULL) return SORTIE_ERROR;
        memset(out->ptr, ' ', out->len);
        return SORTIE_OK;
    }
    if (is("cycle")) {
        char *c = cursor.ptr ? dup_str(cursor) : strdup("none");
        const char *next = strcmp(c, "A") == 0 ? "B" : "A";
        char buf[256]; snprintf(buf, sizeof buf, "{\"items\":[],\"next\":\"%s\"}", next);
        free(c); put(out, buf); return SORTIE_OK;
    }
    if (is("paths")) {
        put(out, "{\"items\":["
            "{\"id\":\"../../etc/evilpw\",\"segments\":[\"..\",\"..\",\"etc\",\"evilpw\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"/abs\",\"segments\":[\"/abs/x\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"nul\",\"segments\":[\"a\\u0000b\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"empty\",\"segments\":[\"\",\"x\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"dot\",\"segments\":[\".\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"nosegs\",\"segments\":[],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"hexdd\",\"segments\":[{\"hex\":\"2e2e\"},\"y\"],\"kind\":\"file\",\"has_body\":true,\"size\":2}"
            "],\"next\":null}");
        return SORTIE_OK;
    }
    if (is("conflict")) {
        put(out, "{\"items\":["
            "{\"id\":\"a\",\"segments\":[\"a\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"a/b\",\"segments\":[\"a\",\"b\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"d\",\"segments\":[\"d\"],\"kind\":\"file\",\"has_body\":true,\"size\":2},"
            "{\"id\":\"d\",\"segments\":[\"d\"],\"kind\":\"file\",\"has_body\":true,\"size\":2}"
            "],\"next\":null}");
        return SORTIE_OK;
    }
    if (is("maxconc")) {
        put(out, "{\"items\":[{\"id\":\"f\",\"segments\":[\"f\"],\"kind\":\"file\",\"has_body\":true,\"size\":2}],\"next\":null}");
        return SORTIE_OK;
    }
    if (is("big-item")) {
        put(out, "{\"items\":[{\"id\":\"big\",\"segments\":[\"big\"],\"kind\":\"file\",\"has_body\":true,\"size\":18446744073709551615}],\"next\":null}");
        return SORTIE_OK;
    }
    put(out, is("trickle") ? "{\"items\":[{\"id\":\"f.txt\",\"segments\":[\"f.txt\"],\"kind\":\"file\",\"has_body\":true,\"size\":300}],\"next\":null}"
                           : "{\"items\":[{\"id\":\"f.txt\",\"segments\":[\"f.txt\"],\"kind\":\"file\",\"has_body\":true,\"size\":2000}],\"next\":null}");
    return SORTIE_OK;
}

typedef struct body { size_t pos, len; } body;
static int32_t open_item(void *h, sortie_str item, void **handle, sortie_buf *out) {
    (void)h; (void)item;
    hang("hang-item");
    if (is("secret-open-item")) return fail_with_secret(out, "open_item");
    body *b = malloc(sizeof *b); b->pos = 0; b->len = (is("paths")||is("conflict")||is("maxconc")) ? 2 : 2000;
    if (is("big-item")) b->len = (size_t)-1;
    if (is("trickle")) b->len = 300; /* 6 s at 20 ms a byte: three times the 2 s timeout */
    *handle = b;
    put(out, "{}"); return SORTIE_OK;
}
static int32_t read_body(void *handle, uint8_t *buf, size_t cap, size_t *filled, sortie_buf *out) {
    body *b = handle;
    if (is("secret-read")) return fail_with_secret(out, "read");
    if (is("trickle")) { usleep(20000); if (b->pos < b->len) { buf[0] = 'x'; b->pos++; *filled = 1; } else *filled = 0; return SORTIE_OK; }
    if (is("overclaim")) { *filled = cap + 100; return SORTIE_OK; }
    size_t n = b->len - b->pos; if (n > cap) n = cap;
    memset(buf, 'x', n); b->pos += n; *filled = n; return SORTIE_OK;
}
static void close_body(void *h) { free(h); }
static void close_source(void *h) { (void)h; }
static void free_buf(sortie_buf b) { free(b.ptr); }

static sortie_plugin table = {
    .magic = SORTIE_PLUGIN_MAGIC, .abi_major = SORTIE_ABI_MAJOR, .abi_minor = SORTIE_ABI_MINOR,
    .size = sizeof(sortie_plugin), .str_size = sizeof(sortie_str), .buf_size = sizeof(sortie_buf),
    .name = "evil", .version = "6.6.6",
    .describe = describe, .source = source, .resolve = resolve, .check_plan = check_plan, .open = open_source,
    .check = check, .list_page = list_page, .open_item = open_item, .read = read_body,
    .close_body = close_body, .close_source = close_source, .free_buf = free_buf,
};
const sortie_plugin *sortie_plugin_entry(void) {
    if (is("null-check-plan")) table.check_plan = NULL;
    if (is("null-describe")) table.describe = NULL;
    if (is("unterminated-name")) { static char n[4] = {'e','v','i','l'}; table.name = n; }
    return &table;
}
