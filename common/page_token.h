/* AIP-158 keyset pagination shared by list methods: page sizes and the opaque page token
 * base64url("<kind>1:<created µs>:<row id>") naming the last row of the previous page. */
#ifndef METRO_PAGE_TOKEN_H
#define METRO_PAGE_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/rpc_server.h"
#include "common/status.h"

typedef struct page_cursor {
  int page_size;            /* what the caller asked, bounded (0 -> default) */
  const char *after_us;     /* decimal µs of the last row shown, or NULL on the first page */
  const char *after_id;     /* its id (a uuid unless parsed with page_cursor_parse_ids), or NULL */
} page_cursor;

/* The token after a row (in ctx's arena). kind is a short tag ("pay", "cb") so a token of one
 * list is refused by another. */
const char *page_token_make(rpc_ctx *ctx, const char *kind, int64_t created_us, const char *id);

/* Reads pageSize (0 -> default_size, negative or above max_size -> INVALID_PAGE_SIZE on field
 * "pageSize") and pageToken (not one of `kind` -> INVALID_PAGE_TOKEN on "pageToken"). */
rpc_status page_cursor_parse(rpc_ctx *ctx, const char *kind, int32_t page_size, const char *page_token,
                             int default_size, int max_size, page_cursor *out);
/* The same for a list whose row ids are not UUIDs (API keys' 16 hex digits): id_valid says
 * which ids a token may carry, since they reach SQL as parameters of a typed comparison. */
rpc_status page_cursor_parse_ids(rpc_ctx *ctx, const char *kind, int32_t page_size, const char *page_token,
                                 int default_size, int max_size, bool (*id_valid)(const char *id),
                                 page_cursor *out);

#endif
